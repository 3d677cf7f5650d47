"""Polling a remote for what changed: one list request, then per changed item an optional detail.

The cursor is `{"since": <version>, "seen": {<key>: <version>}}`. The list asks for items changed
at or after `since` (an overlap: a change in the same second as the last poll is not missed); an
item listed by the previous poll at the same version is skipped without a detail request, so a
poll that finds nothing new costs one request. Versions are often whole seconds (Redmine's
`updated_on`): an item changed in the very second the remote answered may change again within
that second without its version moving, so such an item is remembered only once it is settled,
older than the answer's own `Date` by a second or more (or than our clock by two, for a remote
that sends no `Date`); until then it is read again. Events are
applied by id, so even an item handled twice changes nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from adapters.rest import inbound
from adapters.rest.mapping import RestMapping
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
    settled_before = _remote_clock(answer.exchange.response_headers.get("date"))
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
    after = _next_cursor(cursor, versions, settled_before)
    full = len(items) >= spec.page_size
    if full and after["since"] == cursor["since"]:
        # a full page of one instant cannot move the cursor: page on, from the same instant
        after["offset"] = int(cursor.get("offset") or 0) + len(items)
        after["seen"] = {**seen, **after["seen"]}
    return PollResult(found, after, more=full, exchanges=requests)


def _next_cursor(
    cursor: dict[str, Any], versions: list[tuple[str, str]], settled_before: datetime | None = None
) -> dict[str, Any]:
    """Start the next poll at the newest version seen, remembering the items this poll listed
    whose version is settled.

    The next list asks from that version on, and a remote may round it down (Redmine lists what
    changed in the second before it too): whatever it lists again at a settled version was seen.
    """
    since = max([cursor["since"], *(v for _, v in versions)])
    return {
        "since": since,
        "seen": {k: v for k, v in versions if _settled(v, settled_before)},
    }


def _remote_clock(date: str | None) -> datetime:
    """One second before the remote's own time of answering (its `Date` header); a remote that
    does not say (Redmine under thin sends no Date) is taken to share our clock, with a second more
    of margin (keep clocks in step, NTP)."""
    if date:
        try:
            return parsedate_to_datetime(date).astimezone(UTC) - timedelta(seconds=1)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC) - timedelta(seconds=2)


def _settled(version: str, before: datetime | None) -> bool:
    """A version (an ISO time) older than `before` cannot be changing any more; without a clock,
    or for versions that are not times, the version is trusted as it is."""
    if before is None:
        return True
    try:
        when = datetime.fromisoformat(version.replace("Z", "+00:00"))
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when < before


def _value(templates: Templates, template: str, context: dict[str, Any]) -> Any:
    try:
        return templates.render(template, context)
    except MappingTemplateError as exc:
        raise PermanentError(f"mapping cannot read the poll answer: {exc}") from None


def _text(templates: Templates, template: str, context: dict[str, Any]) -> str:
    value = _value(templates, template, context)
    return "" if value is None else str(value)
