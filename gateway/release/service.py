"""Announce a release: every ticket on hold that it fixes is solved, naming the release, in one
transaction through the ticket service (so the submitter is mailed and the origin updated like
for any solution)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import Caller
from gateway.database.base import utcnow
from gateway.release.models import ReleaseCreate
from gateway.release.tables import ReleaseRow
from gateway.ticket import access
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes
from gateway.ticket.enums import Status
from gateway.ticket.models import TicketPatch
from gateway.ticket.tables import TicketRow

MAX_SOLVED = 1000  # a component-wide release solving more is refused: name the tickets


def solution(data: ReleaseCreate) -> str:
    text = f"Fixed in {data.product} {data.version}."
    return f"{text}\n\n{data.notes}" if data.notes else text


async def announce(
    session: AsyncSession, *, data: ReleaseCreate, caller: Caller, changes: Changes
) -> ReleaseRow:
    visible = access.visible(caller)
    named = set(data.tickets)
    rows: dict[int, TicketRow] = {}
    if named:
        found = await session.scalars(
            select(TicketRow).where(TicketRow.id.in_(named), visible).with_for_update()
        )
        rows.update({row.id: row for row in found})
    if data.component is not None:
        found = await session.scalars(
            select(TicketRow)
            .where(
                func.lower(TicketRow.component) == data.component.lower(),
                TicketRow.status == Status.ON_HOLD.value,
                visible,
            )
            .order_by(TicketRow.id)
            .limit(MAX_SOLVED)
            .with_for_update()
        )
        rows.update({row.id: row for row in found})
    skipped = [{"ticket": t, "reason": "no such ticket"} for t in sorted(named - set(rows))]
    solved = []
    actor = tickets.Actor.from_caller(caller)
    patch = TicketPatch.model_validate({"status": Status.SOLVED, "solution": solution(data)})
    for ticket_id in sorted(rows):
        row = rows[ticket_id]
        if row.status != Status.ON_HOLD.value:
            skipped.append({"ticket": ticket_id, "reason": f"'{row.status}', not on hold"})
            continue
        await tickets.update_ticket(session, row=row, patch=patch, actor=actor, changes=changes)
        solved.append(ticket_id)
    release = ReleaseRow(
        product=data.product,
        version=data.version,
        component=data.component,
        notes=data.notes,
        announced_by=caller.name,
        announced_at=utcnow(),
        solved=solved,
        skipped=sorted(skipped, key=lambda s: int(s["ticket"])),
    )
    session.add(release)
    await session.flush()
    return release
