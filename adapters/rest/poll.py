"""Polling a remote for what changed: one list request, then per changed item an optional detail.

The cursor is `{"since": <version>, "seen": {<key>: <version>}}`. The list asks for items changed
at or after `since` (an overlap: a change in the same second as the last poll is not missed); an
item listed by the previous poll at the same version is skipped without a detail request, so a
poll that finds nothing new costs one request. Events are applied by id,
so even an item handled twice changes nothing twice.
"""

from __future__ import annotations

from typing import Any

from adapters.rest import inbound
from adapters.rest.mapping import Poll, RestMapping
from adapters.rest.outbound import Speaker, now_iso
from adapters.rest.templates import MappingTemplateError, Templates
from gateway.adapter.errors import PermanentError
from gateway.adapter.models import InboundEvent, PollResult


async def poll(
    speaker: Speaker,
    mapping: RestMapping,
    templates: Templates,
    cursor: dict[str, Any] | None,
    values: dict[str, Any],
) -> PollResult:
    spec = mapping.poll
    assert spec is not None
    now = now_iso()
    if not cursor or "since" not in cursor:
        cursor = {"since": _text(templates, spec.start, {"now": now, "values": values}), "seen": {}}
    context = {"cursor": cursor, "values": values, "now": now, "page_size": spec.page_size}
    answer = await speaker.send(spec.list, context)
    listed = {**context, "response": answer.body, "status": answer.status}
    items = _value(templates, spec.list.items, listed) or []
    if not isinstance(items, list):
        raise PermanentError(
            "poll.list.items is not a list in the answer", exchange=answer.exchange
        )
    seen: dict[str, str] = dict(cursor.get("seen") or {})
    versions: list[tuple[str, str]] = []
    found: list[InboundEvent] = []
    requests = 1
    for item in items:
        with_item = {**listed, "item": item}
        key = _text(templates, spec.list.key, with_item)
        version = _text(templates, spec.list.version, with_item)
        versions.append((key, version))
        if seen.get(key) == version:
            continue
        document = item
        if spec.detail is not None:
            detail = await speaker.send(spec.detail, {**context, "item": item})
            requests += 1
            document = _value(
                templates,
                spec.detail.document,
                {**context, "item": item, "response": detail.body, "status": detail.status},
            )
        found.extend(inbound.events(mapping, templates, document, values=values))
    return PollResult(
        found,
        _next_cursor(cursor, versions),
        more=_more(spec, items, cursor, versions),
        exchanges=requests,
    )


def _next_cursor(cursor: dict[str, Any], versions: list[tuple[str, str]]) -> dict[str, Any]:
    """Start the next poll at the newest version seen, remembering every item this poll listed.

    The next list asks from that version on, and a remote may round it down (Redmine lists what
    changed in the second before it too): whatever it lists again was seen at this version.
    """
    since = max([cursor["since"], *(v for _, v in versions)])
    return {"since": since, "seen": dict(versions)}


def _more(
    spec: Poll, items: list[Any], cursor: dict[str, Any], versions: list[tuple[str, str]]
) -> bool:
    """A full page that moved the cursor: ask again at once. (A full page of items changed in
    one instant cannot move it; the next poll, one interval later, carries on.)"""
    moved = _next_cursor(cursor, versions)["since"] != cursor["since"]
    return len(items) >= spec.page_size and moved


def _value(templates: Templates, template: str, context: dict[str, Any]) -> Any:
    try:
        return templates.render(template, context)
    except MappingTemplateError as exc:
        raise PermanentError(f"mapping cannot read the poll answer: {exc}") from None


def _text(templates: Templates, template: str, context: dict[str, Any]) -> str:
    value = _value(templates, template, context)
    return "" if value is None else str(value)
