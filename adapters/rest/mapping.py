"""The REST mapping file: requests per action, value maps both ways, and inbound events.

`schemas/mapping-rest.schema.json` is exported from these models; `load_mapping` reports every
problem with its key, including placeholders and maps that the models alone cannot check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.rest.template import placeholders
from gateway.adapter.errors import AdapterConfigError
from gateway.config.loader import key_path

CONTEXT_ROOTS = frozenset({"ticket", "entry", "remote", "hub_id", "changes"})
COMMAND_KINDS = Literal["create", "comment", "question", "solve", "reassign", "status", "update"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestSpec(_Strict):
    """One HTTP request: method, path template, JSON body template, where the remote id is."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(min_length=1, description="Template, e.g. /tickets/{{ remote.remote_id }}")
    body: Any = Field(default=None, description="JSON template; placeholders in strings.")
    remote_id: str | None = Field(default=None, description="JSON pointer to the remote id.")
    remote_url: str | None = Field(default=None, description="JSON pointer to the remote URL.")


class Outbound(_Strict):
    create: RequestSpec
    update: RequestSpec
    entry: RequestSpec
    solve: RequestSpec
    lookup: RequestSpec | None = Field(
        default=None, description="Find the remote ticket carrying {{ hub_id }} (retried creates)."
    )
    check: RequestSpec | None = Field(default=None, description="A cheap request for `check()`.")


class ValueMap(_Strict):
    outbound: dict[str, str] = Field(description="Canonical value -> remote value.")
    inbound: dict[str, str] = Field(description="Remote value -> canonical value.")


class EventSpec(_Strict):
    """How one remote event type becomes one canonical command."""

    command: COMMAND_KINDS
    fields: dict[str, str] = Field(
        default_factory=dict, description="Command field (dotted) -> JSON pointer in the payload."
    )
    maps: dict[str, str] = Field(
        default_factory=dict, description="Command field -> name of the value map to apply."
    )
    constants: dict[str, Any] = Field(default_factory=dict, description="Fixed command fields.")


class Inbound(_Strict):
    event_type: str = Field(description="JSON pointer to the event type.")
    remote_id: str = Field(description="JSON pointer to the remote ticket id.")
    hub_id: str | None = Field(default=None, description="JSON pointer to our hub id, if echoed.")
    remote_url: str | None = None
    events: dict[str, EventSpec] = Field(default_factory=dict)


class RestMapping(_Strict):
    """A mapping file for the generic REST adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="REST adapter mapping")

    version: Literal[1]
    outbound: Outbound
    maps: dict[str, ValueMap] = Field(default_factory=dict)
    inbound: Inbound


def load_mapping(path: Path) -> RestMapping:
    """Read and check a mapping file, or raise AdapterConfigError listing every problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AdapterConfigError(
            f"cannot read mapping {path}", [{"key": "(file)", "message": str(exc)}]
        ) from None
    try:
        mapping = RestMapping.model_validate(raw)
    except ValidationError as exc:
        problems = [
            {"key": key_path(e["loc"]) or "(top level)", "message": e["msg"]} for e in exc.errors()
        ]
        raise AdapterConfigError(f"mapping {path} is invalid", problems) from None
    problems = reference_problems(mapping)
    if problems:
        raise AdapterConfigError(f"mapping {path} is invalid", problems)
    return mapping


def reference_problems(mapping: RestMapping) -> list[dict[str, str]]:
    """Placeholders must start at a known root and maps must exist."""
    problems: list[dict[str, str]] = []
    for action, spec in mapping.outbound:
        if spec is None:
            continue
        for part in ("path", "body"):
            for ref, map_name in placeholders(getattr(spec, part)):
                key = f"outbound.{action}.{part}"
                if ref.split(".")[0] not in CONTEXT_ROOTS:
                    problems.append({"key": key, "message": f"unknown placeholder '{ref}'"})
                if map_name is not None and map_name not in mapping.maps:
                    problems.append({"key": key, "message": f"unknown map '{map_name}'"})
    for event, spec in mapping.inbound.events.items():
        for field, map_name in spec.maps.items():
            if map_name not in mapping.maps:
                key = f"inbound.events.{event}.maps.{field}"
                problems.append({"key": key, "message": f"unknown map '{map_name}'"})
    return problems
