"""Cross-reference rules of a mapping file that its models cannot express.

Each rule turns a mistake that would otherwise surface as a dead letter or a 422 on some later
webhook into a start-up error naming the key: placeholders that name nothing, maps that do not
exist or do not cover every canonical value, inbound fields the command does not have.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields as dataclass_fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Union

from pydantic import BaseModel

from adapters.rest.template import malformed, placeholders
from gateway.adapter.models import Command, RemoteRef
from gateway.ticket.enums import Priority, Status
from gateway.ticket.models import JournalEntry, Ticket

if TYPE_CHECKING:
    from adapters.rest.mapping import EventSpec, RequestSpec, ValueMap

Problem = dict[str, str]

# What each outbound request may use: `find(hub_id)` knows only the hub id, `check()` nothing.
ROOTS: dict[str, frozenset[str]] = {
    "create": frozenset({"ticket", "hub_id", "changes"}),
    "update": frozenset({"ticket", "remote", "hub_id", "changes"}),
    "entry": frozenset({"ticket", "entry", "remote", "hub_id", "changes"}),
    "solve": frozenset({"ticket", "remote", "hub_id", "changes"}),
    "lookup": frozenset({"hub_id"}),
    "check": frozenset(),
}
ROOT_MODELS: dict[str, type[BaseModel] | None] = {"ticket": Ticket, "entry": JournalEntry}
REMOTE_FIELDS = frozenset(f.name for f in dataclass_fields(RemoteRef))
NEEDS_REMOTE_ID = ("create", "lookup")
# Maps with these names translate canonical enums, so both sides can be checked.
CANONICAL: dict[str, type[StrEnum]] = {"status": Status, "priority": Priority}
# Taken from the inbound section's own pointers, not from an event's fields.
COMMON_FIELDS = frozenset({"kind", "remote_id", "hub_id", "remote_url"})


def mapping_problems(
    requests: dict[str, RequestSpec],
    maps: dict[str, ValueMap],
    map_names: set[str],
    events: dict[str, EventSpec],
) -> list[Problem]:
    """Every cross-reference problem among the parts given.

    Parts that are malformed on their own are left out by the caller (their shape errors are
    reported already); `map_names` holds every map name present, valid or not.
    """
    problems: list[Problem] = []
    for action, spec in requests.items():
        problems += _request_problems(f"outbound.{action}", action, spec, map_names)
    for name, table in maps.items():
        problems += _map_problems(f"maps.{name}", name, table)
    for event, event_spec in events.items():
        problems += _event_problems(f"inbound.events.{event}", event_spec, map_names)
    return problems


def _request_problems(key: str, action: str, spec: RequestSpec, maps: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for part in ("path", "body"):
        template = getattr(spec, part)
        for text in malformed(template):
            problems.append(_p(f"{key}.{part}", f"malformed placeholder in '{text}'"))
        for path, map_name in placeholders(template):
            reason = _context_problem(action, path)
            if reason:
                problems.append(_p(f"{key}.{part}", f"placeholder '{path}': {reason}"))
            if map_name is not None and map_name not in maps:
                problems.append(_p(f"{key}.{part}", f"unknown map '{map_name}'"))
    if not _is_json(spec.body):
        problems.append(_p(f"{key}.body", "must be JSON (quote dates and other YAML values)"))
    if action in NEEDS_REMOTE_ID and spec.remote_id is None:
        what = "created" if action == "create" else "found"
        problems.append(_p(f"{key}.remote_id", f"required: JSON pointer to the {what} ticket id"))
    return problems


def _context_problem(action: str, path: str) -> str | None:
    root, *rest = path.split(".")
    allowed = ROOTS[action]
    if root not in allowed:
        known = ", ".join(sorted(allowed)) or "nothing"
        return f"'{root}' is not available in {action} (available: {known})"
    if root == "hub_id" and rest:
        return "hub_id is a number, it has no fields"
    if root == "remote" and (len(rest) != 1 or rest[0] not in REMOTE_FIELDS):
        return f"use one of {', '.join(f'remote.{f}' for f in sorted(REMOTE_FIELDS))}"
    model = ROOT_MODELS.get(root)
    if model is not None and rest:
        return _field_path_problem(model, rest)
    return None


def _field_path_problem(model: type[BaseModel], parts: list[str]) -> str | None:
    name, *rest = parts
    if name not in model.model_fields:
        return f"{model.__name__} has no field '{name}'"
    if not rest:
        return None
    inner = _model_in(model.model_fields[name].annotation)
    if inner is None:
        return f"{model.__name__}.{name} has no fields"
    return _field_path_problem(inner, rest)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X`, `X | None` or `Optional[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _map_problems(key: str, name: str, table: ValueMap) -> list[Problem]:
    enum = CANONICAL.get(name)
    if enum is None:
        return []
    canonical = {member.value for member in enum}
    problems = [
        _p(f"{key}.outbound.{value}", f"not a canonical {name}")
        for value in table.outbound
        if value not in canonical
    ]
    missing = sorted(canonical - set(table.outbound))
    if missing:
        problems.append(_p(f"{key}.outbound", f"no remote value for: {', '.join(missing)}"))
    problems += [
        _p(f"{key}.inbound.{remote}", f"'{value}' is not a canonical {name}")
        for remote, value in table.inbound.items()
        if value not in canonical
    ]
    return problems


def _event_problems(key: str, spec: EventSpec, maps: set[str]) -> list[Problem]:
    model = COMMAND_MODELS[spec.command]
    problems: list[Problem] = []
    for section, names in (("fields", spec.fields), ("constants", spec.constants)):
        for name in names:
            reason = _command_field_problem(model, name)
            if reason:
                problems.append(_p(f"{key}.{section}.{name}", reason))
    for name, map_name in spec.maps.items():
        if name not in spec.fields:
            problems.append(_p(f"{key}.maps.{name}", f"'{name}' is not in fields"))
        if map_name not in maps:
            problems.append(_p(f"{key}.maps.{name}", f"unknown map '{map_name}'"))
    given = set(spec.fields) | set(spec.constants)
    for required in required_paths(model):
        if not any(required == g or required.startswith(f"{g}.") for g in given):
            problems.append(
                _p(f"{key}.fields", f"command '{spec.command}' needs '{required}' (or a constant)")
            )
    return problems


def _command_field_problem(model: type[BaseModel], dotted: str) -> str | None:
    name = dotted.split(".")[0]
    if name in COMMON_FIELDS:
        return f"'{name}' comes from the inbound section's pointers, not from an event"
    return _field_path_problem(model, dotted.split("."))


def required_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of the required leaf fields (nested models expanded)."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        if name in COMMON_FIELDS or not info.is_required():
            continue
        inner = _model_in(info.annotation)
        path = f"{prefix}{name}"
        out += required_paths(inner, f"{path}.") if inner is not None else [path]
    return out


def _command_models() -> dict[str, type[BaseModel]]:
    union = typing.get_args(Command)[0]  # Annotated[Union[...], discriminator]
    models: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(union):
        models[str(model.model_fields["kind"].default)] = model
    return models


COMMAND_MODELS = _command_models()


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _p(key: str, message: str) -> Problem:
    return {"key": key, "message": message}
