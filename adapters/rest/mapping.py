"""The REST mapping file: one request per action, value maps both ways, inbound events.

`schemas/mapping-rest.schema.json` is exported from these models. `load_mapping` reports every
problem with its key in one go, including the cross-references that the models alone cannot
check (see `checks.py`), so an operator fixes a mapping file in one round.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.rest.checks import Problem, mapping_problems
from adapters.rest.pointer import Pointer
from gateway.adapter.errors import AdapterConfigError
from gateway.config.loader import key_path

CommandKind = Literal["create", "comment", "question", "solve", "reassign", "status", "update"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_M = TypeVar("_M", bound=_Strict)


class RequestSpec(_Strict):
    """One HTTP request: method, path template, JSON body template, where the remote id is."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(
        pattern=r"^/",
        description="Template relative to base_url, e.g. `/tickets/{{ remote.remote_id }}`; "
        "values are percent-encoded.",
    )
    body: Any = Field(
        default=None, description="JSON template; strings may hold `{{ path | map }}`."
    )
    remote_id: Pointer | None = Field(
        default=None, description="JSON pointer to the remote ticket id in the response."
    )
    remote_url: Pointer | None = Field(
        default=None, description="JSON pointer to the remote ticket URL in the response."
    )


class Outbound(_Strict):
    """A request per delivery action, plus the look-up done before a create is retried."""

    create: RequestSpec
    update: RequestSpec
    entry: RequestSpec
    solve: RequestSpec
    lookup: RequestSpec | None = Field(
        default=None,
        description="Find the remote ticket carrying `{{ hub_id }}`; done before a create is "
        "retried, so a create whose answer was lost does not make a second ticket.",
    )
    check: RequestSpec | None = Field(
        default=None, description="A cheap request for the health check (default: GET /)."
    )


class ValueMap(_Strict):
    """Explicit both ways: a value missing from the direction in use is an error, not a guess."""

    outbound: dict[str, str] = Field(description="Canonical value -> remote value.")
    inbound: dict[str, str] = Field(description="Remote value -> canonical value.")


class EventSpec(_Strict):
    """How one remote event type becomes one canonical command."""

    command: CommandKind
    fields: dict[str, Pointer] = Field(
        default_factory=dict,
        description="Command field (dotted, e.g. `ticket.submitter.email`) -> JSON pointer.",
    )
    maps: dict[str, str] = Field(
        default_factory=dict, description="Command field -> name of the value map to apply."
    )
    constants: dict[str, Any] = Field(
        default_factory=dict, description="Command field -> fixed value."
    )


class Inbound(_Strict):
    """Where the common parts of every webhook payload are, and the known event types."""

    event_type: Pointer = Field(description="JSON pointer to the event type.")
    event_id: Pointer | None = Field(
        default=None,
        description="JSON pointer to the remote's event id; default: the `webhook-id` header.",
    )
    remote_id: Pointer = Field(description="JSON pointer to the remote ticket id.")
    hub_id: Pointer | None = Field(
        default=None, description="JSON pointer to our hub id, if the remote keeps it."
    )
    remote_url: Pointer | None = Field(
        default=None, description="JSON pointer to the remote ticket URL (create events)."
    )
    events: dict[str, EventSpec] = Field(
        default_factory=dict, description="Event type -> command; other types are ignored."
    )


class RestMapping(_Strict):
    """A mapping file for the generic REST adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="REST adapter mapping")

    version: Literal[1]
    outbound: Outbound
    maps: dict[str, ValueMap] = Field(default_factory=dict)
    inbound: Inbound

    def outbound_maps(self) -> dict[str, dict[str, str]]:
        return {name: table.outbound for name, table in self.maps.items()}


def load_mapping(path: Path) -> RestMapping:
    """Read and check a mapping file, or raise AdapterConfigError listing every problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AdapterConfigError(
            f"cannot read mapping {path}", [{"key": "(file)", "message": str(exc)}]
        ) from None
    return parse_mapping(raw, source=str(path))


def parse_mapping(raw: Any, *, source: str = "mapping") -> RestMapping:
    """Validate already-parsed mapping data (YAML or JSON)."""
    if not isinstance(raw, dict):
        problem = {"key": "(top level)", "message": "the mapping must be a YAML mapping"}
        raise AdapterConfigError(f"{source} is invalid", [problem])
    try:
        mapping = RestMapping.model_validate(raw)
    except ValidationError as exc:
        problems = _errors(exc) + mapping_problems(*_valid_parts(raw))
        raise AdapterConfigError(f"{source} has {len(problems)} problem(s)", problems) from None
    requests = {action: spec for action, spec in mapping.outbound if spec is not None}
    problems = mapping_problems(requests, mapping.maps, set(mapping.maps), mapping.inbound.events)
    if problems:
        raise AdapterConfigError(f"{source} has {len(problems)} problem(s)", problems)
    return mapping


def _errors(exc: ValidationError) -> list[Problem]:
    return [{"key": key_path(e["loc"]) or "(top level)", "message": e["msg"]} for e in exc.errors()]


def _valid_parts(
    raw: dict[str, Any],
) -> tuple[dict[str, RequestSpec], dict[str, ValueMap], set[str], dict[str, EventSpec]]:
    """The parts of a malformed mapping that are valid on their own, to cross-check them too."""
    outbound, maps, inbound = (_dict(raw.get(part)) for part in ("outbound", "maps", "inbound"))
    return (
        _valid(RequestSpec, {k: v for k, v in outbound.items() if k in Outbound.model_fields}),
        _valid(ValueMap, maps),
        set(maps),
        _valid(EventSpec, _dict(inbound.get("events"))),
    )


def _valid(model: type[_M], items: dict[str, Any]) -> dict[str, _M]:
    valid: dict[str, _M] = {}
    for name, value in items.items():
        try:
            valid[name] = model.model_validate(value)
        except ValidationError:
            continue
    return valid


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
