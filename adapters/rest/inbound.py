"""Translate a remote's webhook payload into canonical commands, as the mapping says."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from adapters.rest.mapping import EventSpec, RestMapping
from adapters.rest.pointer import PointerMissing, resolve
from gateway.adapter.models import Command
from gateway.config.loader import key_path
from gateway.webhook.errors import InboundUnreadable

COMMAND = TypeAdapter[Command](Command)


def translate(mapping: RestMapping, body: bytes) -> list[Command]:
    """Zero or one command per event; unknown event types are ignored, not errors."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InboundUnreadable(f"payload is not JSON: {exc}") from None
    spec_in = mapping.inbound
    event_type = _required(payload, spec_in.event_type, "event type")
    spec = spec_in.events.get(str(event_type))
    if spec is None:
        return []
    data: dict[str, Any] = {
        "kind": spec.command,
        "remote_id": str(_required(payload, spec_in.remote_id, "remote id")),
    }
    hub_id = _optional(payload, spec_in.hub_id)
    if hub_id is not None and str(hub_id).isdigit():
        data["hub_id"] = int(hub_id)
    if spec.command == "create" and spec_in.remote_url:
        data["remote_url"] = _optional(payload, spec_in.remote_url)
    for field, value in _fields(payload, spec, mapping, str(event_type)).items():
        _set(data, field, value)
    try:
        return [COMMAND.validate_python(data)]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = key_path(error["loc"][1:] if len(error["loc"]) > 1 else error["loc"])
        pointer = spec.fields.get(field, "")
        where = f" (from {pointer})" if pointer else ""
        raise InboundUnreadable(f"{event_type}: {field}{where}: {error['msg']}") from None


def _fields(payload: Any, spec: EventSpec, mapping: RestMapping, event: str) -> dict[str, Any]:
    values: dict[str, Any] = dict(spec.constants)
    for field, pointer in spec.fields.items():
        value = _optional(payload, pointer)
        if value is None:
            continue
        map_name = spec.maps.get(field)
        if map_name is not None:
            table = mapping.maps[map_name].inbound
            if str(value) not in table:
                raise InboundUnreadable(
                    f"{event}: {pointer} value '{value}' has no inbound '{map_name}' mapping"
                )
            value = table[str(value)]
        values[field] = value
    return values


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _required(payload: Any, pointer: str, what: str) -> Any:
    try:
        return resolve(payload, pointer)
    except PointerMissing:
        raise InboundUnreadable(f"payload has no {what} at {pointer}") from None


def _optional(payload: Any, pointer: str | None) -> Any:
    if pointer is None:
        return None
    try:
        return resolve(payload, pointer)
    except PointerMissing:
        return None
