"""Remote data -> events, as the mapping's rules say. Pure: no I/O and no state.

The same rules read a webhook's payload and a polled item, so `gateway translate` can show what
any sample turns into. Each rule that applies (its `when`), for each element of its `for_each`,
makes one event: an id (how the hub applies it once) and one or more commands. Command templates
that render null are left out, so optional fields are simply `| default(none)`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import TypeAdapter, ValidationError

from adapters.rest.mapping import RestMapping, Rule
from adapters.rest.outbound import now_iso
from adapters.rest.templates import MappingTemplateError, Templates, without_nulls
from gateway.adapter.errors import InboundUnreadable
from gateway.adapter.models import Command, InboundEvent
from gateway.config.loader import key_path

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
MAX_EVENT_ID = 255  # the column that remembers applied events


def events(
    mapping: RestMapping,
    templates: Templates,
    payload: Any,
    *,
    headers: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> list[InboundEvent]:
    """The events the rules make of one document, in rule order."""
    base = {"payload": payload, "headers": headers or {}, "values": values or {}, "now": now_iso()}
    found: list[InboundEvent] = []
    for index, rule in enumerate(mapping.inbound.rules):
        where = f"inbound.rules[{index}]" + (f" ({rule.name})" if rule.name else "")
        for context in _contexts(templates, rule, base, where):
            if not _render(templates, rule.when, context, f"{where}.when"):
                continue
            event_id = str(_render(templates, rule.event_id, context, f"{where}.event_id"))
            commands = [
                _command(templates, template, context, f"{where}.commands[{n}]")
                for n, template in enumerate(rule.commands)
            ]
            found.append(InboundEvent(_bounded(event_id), commands))
    return found


def _contexts(
    templates: Templates, rule: Rule, base: dict[str, Any], where: str
) -> list[dict[str, Any]]:
    if rule.for_each is None:
        return [base]
    items = _render(templates, rule.for_each, base, f"{where}.for_each")
    if items is None:
        return []
    if not isinstance(items, list):
        raise InboundUnreadable(f"{where}.for_each is not a list in this payload")
    return [{**base, rule.as_: item} for item in items]


def _command(
    templates: Templates, template: dict[str, Any], context: dict[str, Any], where: str
) -> Command:
    data = without_nulls(_render(templates, template, context, where))
    try:
        return COMMAND.validate_python(data)
    except ValidationError as exc:
        problems = [
            {
                "key": where,
                "field": key_path(e["loc"][1:] if len(e["loc"]) > 1 else e["loc"]),
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise InboundUnreadable(f"{where}: {summary}", details=problems) from None


def _render(templates: Templates, template: Any, context: dict[str, Any], where: str) -> Any:
    try:
        return templates.render(template, context)
    except MappingTemplateError as exc:
        problem = {"key": where, "message": str(exc)}
        raise InboundUnreadable(f"{where}: {exc}", details=[problem]) from None


def _bounded(event_id: str) -> str:
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
