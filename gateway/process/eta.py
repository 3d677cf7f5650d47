"""An ETA that passes without a solution escalates: an internal entry on the ticket, a notice to
the unit holding it and to the second-line unit that handed it over, and a metric. Once per ETA
value: a revised ETA is a new promise, and its expiry escalates again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.process.deadlines import PROCESS, Waiting, once
from gateway.process.notice import record_notice
from gateway.scheduler.job import JobContext
from gateway.support_unit.tables import SupportUnitRow
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes
from gateway.ticket.enums import OPEN_STATES, Visibility
from gateway.ticket.models import JournalEntryCreate
from gateway.ticket.tables import TicketChangeRow, TicketRow

ETA_EXPIRED = "eta-expired"
BATCH = 200

ETAS_EXPIRED = Counter(
    "gateway_eta_expired_total",
    "ETAs that passed while their ticket was still open (escalated once per ETA).",
    ["support_unit"],
)


async def escalate_expired_etas(ctx: JobContext) -> str:
    today = ctx.now.astimezone(ctx.working_time.zone).date()
    escalated = 0
    async for item in _expired(ctx, today):
        escalated += await once(ctx, item, ETA_EXPIRED, _escalate)
    return f"{escalated} expired ETAs escalated"


async def _expired(ctx: JobContext, today: date) -> AsyncIterator[Waiting]:
    """Open tickets whose ETA day is over, each with the ETA (as a moment) as its mark's key."""
    last_id = 0
    while True:
        async with ctx.reads() as session:
            rows = list(
                await session.scalars(
                    select(TicketRow)
                    .where(
                        TicketRow.status.in_([s.value for s in OPEN_STATES]),
                        TicketRow.eta < today,
                        TicketRow.id > last_id,
                    )
                    .order_by(TicketRow.id)
                    .limit(BATCH)
                )
            )
        if not rows:
            return
        last_id = rows[-1].id
        for row in rows:
            assert row.eta is not None
            yield Waiting(row, datetime.combine(row.eta, time(0), tzinfo=ctx.working_time.zone))


async def assigned_by(session: AsyncSession, ticket: TicketRow) -> SupportUnitRow | None:
    """The second-line unit that handed the ticket to its current unit, if one did."""
    current = await session.get(SupportUnitRow, ticket.support_unit_id)
    if current is None:
        return None
    moves = await session.scalars(
        select(TicketChangeRow.changes)
        .where(TicketChangeRow.ticket_id == ticket.id, TicketChangeRow.action == "updated")
        .order_by(TicketChangeRow.id.desc())
    )
    for diff in moves:
        moved = diff.get("support_unit")
        if isinstance(moved, dict) and moved.get("to") == current.name:
            previous = await session.scalar(
                select(SupportUnitRow).where(SupportUnitRow.name == str(moved.get("from")))
            )
            return previous if previous is not None and previous.level == "second" else None
    return None


async def _escalate(
    ctx: JobContext, session: AsyncSession, item: Waiting, changes: Changes, **facts: Any
) -> None:
    ticket = item.ticket
    unit = await session.get(SupportUnitRow, ticket.support_unit_id)
    second = await assigned_by(session, ticket)
    holder = unit.name if unit else "no unit"
    text = (
        f"The ETA {ticket.eta} of ticket #{ticket.id} ({ticket.priority}) has passed and the "
        f"ticket is still {ticket.status} with {holder}. Please solve it or revise the ETA."
    )
    await tickets.add_entry(
        session,
        row=ticket,
        entry=JournalEntryCreate(body=text, visibility=Visibility.INTERNAL),
        actor=PROCESS,
        changes=changes,
    )
    to = [u.email for u in (unit, second) if u is not None and u.email]
    if to:
        record_notice(
            session,
            ticket,
            to=to,
            kind=ETA_EXPIRED,
            subject=f"ETA expired: {ticket.subject}",
            text=text,
            actor=PROCESS,
            changes=changes,
        )
    ETAS_EXPIRED.labels(holder).inc()
