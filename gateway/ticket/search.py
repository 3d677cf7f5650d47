"""Text search on PostgreSQL: the tickets of a page that contain a text, the planner aside.

A page is the first matches in hub-id order. Left alone, PostgreSQL picks between walking the
primary key and filtering, and the trigram indexes (migration 0013), by its estimate of how many
tickets match; that estimate comes from a sample and is wrong by a hundredfold for words in a few
hundred tickets of a million, and a cached generic plan does not look at the text at all. The
wrong pick walks most of the table (a second at a million tickets). So the page is found in
three bounded steps, each a plan that cannot go wrong on its own terms:

1. walk the next `WALK` tickets in hub-id order: enough when the text is common;
2. otherwise ask the trigram indexes for at most `CANDIDATES` matches after those: when there are
   fewer, they are all of them, and the page is their first ids;
3. otherwise the text is common further on, and the planner's own walk finds it quickly.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.ticket.tables import TicketRow

WALK = 1_000
CANDIDATES = 5_000
_PLANNER = ("enable_indexscan", "enable_seqscan")


def contains(
    text: str,
    subject: ColumnElement[str] = TicketRow.subject,  # type: ignore[assignment]
    description: ColumnElement[str] = TicketRow.description,  # type: ignore[assignment]
) -> ColumnElement[bool]:
    """Case-insensitive substring of subject or description; `%`, `_` and `\\` match themselves."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(
        func.lower(subject).like(pattern, escape="\\"),
        func.lower(description).like(pattern, escape="\\"),
    )


async def page_ids(
    session: AsyncSession,
    *,
    conditions: Sequence[ColumnElement[bool]],
    text: str,
    after: int,
    limit: int,
) -> list[int]:
    """The first `limit` ids after `after` that meet the conditions and contain the text."""
    ahead = select(TicketRow.id).where(*conditions, TicketRow.id > after).order_by(TicketRow.id)
    walked = ahead.add_columns(TicketRow.subject, TicketRow.description).limit(WALK).subquery()
    hits = list(
        (
            await session.execute(
                select(walked.c.id)
                .where(contains(text, walked.c.subject, walked.c.description))
                .order_by(walked.c.id)
                .limit(limit)
            )
        ).scalars()
    )
    if len(hits) == limit:
        return hits
    edge = (await session.execute(ahead.offset(WALK - 1).limit(1))).scalar()
    if edge is None:  # the walk saw every ticket left
        return hits
    later = [*conditions, contains(text), TicketRow.id > edge]
    candidates = await _from_indexes(session, later)
    if len(candidates) < CANDIDATES:
        return [*hits, *sorted(candidates)[: limit - len(hits)]]
    rest = await session.execute(
        select(TicketRow.id).where(*later).order_by(TicketRow.id).limit(limit - len(hits))
    )
    return [*hits, *rest.scalars()]


async def _from_indexes(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]]
) -> list[int]:
    """At most `CANDIDATES` matching ids, by bitmap scans of the indexes (in no order).

    The planner is kept from walking the primary key for this one statement and then given its
    settings back; they are local to the transaction, so an error in between undoes them too.
    """
    off = ", ".join(
        f"current_setting('{name}'), set_config('{name}', 'off', true)" for name in _PLANNER
    )
    before = (await session.execute(sql(f"SELECT {off}"))).one()
    found = await session.execute(select(TicketRow.id).where(*conditions).limit(CANDIDATES))
    ids = list(found.scalars())
    back = ", ".join(f"set_config('{name}', :v{i}, true)" for i, name in enumerate(_PLANNER))
    values = {f"v{i}": before[2 * i] for i in range(len(_PLANNER))}
    await session.execute(sql(f"SELECT {back}"), values)
    return ids
