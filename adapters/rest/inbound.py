"""Translate a remote's webhook payload into canonical commands, as the mapping says.

Pure: no I/O and no state, so the hub can run it inside the request that received the webhook and
`gateway translate` can show what a sample payload would do.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import TypeAdapter, ValidationError

from adapters.rest.mapping import EventSpec, Inbound, RestMapping
from adapters.rest.pointer import PointerMissing, get, resolve
from gateway.adapter.errors import InboundUnreadable
from gateway.adapter.models import Command
from gateway.config.loader import key_path
from gateway.inputs import load_json

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
MAX_EVENT_ID = 255  # the column that remembers applied events


def translate(mapping: RestMapping, body: bytes) -> list[Command]:
    """One command for a known event type; none for an unknown one (ignored, not an error)."""
    payload = _json(body)
    spec_in = mapping.inbound
    event_type = _required(payload, spec_in.event_type, "event type")
    if not isinstance(event_type, str):
        raise _unreadable(f"the event type at {spec_in.event_type} is not a string")
    spec = spec_in.events.get(event_type)
    if spec is None:
        return []
    data = _common(payload, spec_in, spec)
    problems: list[dict[str, str]] = []
    for field, value in _fields(payload, spec, mapping, problems).items():
        _set(data, field, value)
    if problems:
        raise _unreadable(f"{event_type}: {_summary(problems)}", problems)
    try:
        return [COMMAND.validate_python(data)]
    except ValidationError as exc:
        problems = [_problem(spec, error) for error in exc.errors()]
        raise _unreadable(f"{event_type}: {_summary(problems)}", problems) from None


def event_id(mapping: RestMapping, headers: dict[str, str], body: bytes) -> str | None:
    """The mapping's event id pointer if it finds one, else the `webhook-id` header."""
    found: Any = None
    if mapping.inbound.event_id is not None:
        try:
            found = get(load_json(body), mapping.inbound.event_id)
        except ValueError:  # unreadable: translate() says why
            found = None
    value = str(found) if isinstance(found, str | int) else headers.get("webhook-id")
    if value and len(value) > MAX_EVENT_ID:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value or None


def _json(body: bytes) -> Any:
    try:
        return load_json(body)
    except ValueError as exc:
        raise _unreadable(f"payload is not JSON: {exc}") from None


def _common(payload: Any, spec_in: Inbound, spec: EventSpec) -> dict[str, Any]:
    """kind, remote id, hub id (and remote URL for a create): the same place in every event."""
    remote_id = _required(payload, spec_in.remote_id, "remote ticket id")
    if not isinstance(remote_id, str | int) or isinstance(remote_id, bool):
        raise _unreadable(f"the remote ticket id at {spec_in.remote_id} is not a string or number")
    data: dict[str, Any] = {"kind": spec.command, "remote_id": str(remote_id)}
    hub_id = get(payload, spec_in.hub_id)
    if hub_id not in (None, ""):
        data["hub_id"] = _hub_id(hub_id, str(spec_in.hub_id))
    if spec.command == "create":
        url = get(payload, spec_in.remote_url)
        if url is not None:
            data["remote_url"] = str(url)
    return data


def _hub_id(value: Any, pointer: str) -> int:
    """Our id as the remote kept it: 42, "42" or "#42"."""
    text = str(value).removeprefix("#") if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not text.isdigit():
        raise _unreadable(
            f"the hub id at {pointer} is not a ticket number: {value!r}",
            [{"key": pointer, "message": "not a hub ticket number"}],
        )
    return int(text)


def _fields(
    payload: Any, spec: EventSpec, mapping: RestMapping, problems: list[dict[str, str]]
) -> dict[str, Any]:
    values: dict[str, Any] = dict(spec.constants)
    for field, pointer in spec.fields.items():
        value = get(payload, pointer)
        if value is None:
            continue  # absent: the command's own validation says whether it was needed
        map_name = spec.maps.get(field)
        if map_name is not None:
            table = mapping.maps[map_name].inbound
            if str(value) not in table:
                known = ", ".join(sorted(table))
                message = f"'{value}' has no inbound '{map_name}' mapping (known: {known})"
                problems.append({"key": pointer, "message": message})
                continue
            value = table[str(value)]
        values[field] = value
    return values


def _problem(spec: EventSpec, error: Any) -> dict[str, str]:
    """A validation error keyed by the payload pointer the field came from (or the field)."""
    loc = error["loc"][1:] if len(error["loc"]) > 1 else error["loc"]  # drop the union tag
    field = key_path(loc)
    pointer = next(
        (p for f, p in spec.fields.items() if field == f or field.startswith(f"{f}.")), None
    )
    message = error["msg"]
    if error["type"] != "missing" and isinstance(error.get("input"), str | int | float):
        message = f"{message} (got {error['input']!r})"
    return {"key": pointer or field, "field": field, "message": message}


def _summary(problems: list[dict[str, str]]) -> str:
    parts = []
    for p in problems:
        field = p.get("field")
        where = f"{field} (from {p['key']})" if field and field != p["key"] else p["key"]
        parts.append(f"{where}: {p['message']}")
    return "; ".join(parts)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _required(payload: Any, pointer: str, what: str) -> Any:
    try:
        return resolve(payload, pointer)
    except PointerMissing:
        raise _unreadable(
            f"payload has no {what} at {pointer}", [{"key": pointer, "message": "missing"}]
        ) from None


def _unreadable(message: str, details: list[dict[str, str]] | None = None) -> InboundUnreadable:
    return InboundUnreadable(message, details=list(details or []))
