"""Build what an adapter sends from the canonical ticket as it is now, not from the event."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.errors import PermanentError
from gateway.adapter.models import Action, Delivery, RemoteRef
from gateway.delivery.claim import Claim
from gateway.ticket import service as tickets
from gateway.ticket.enums import LinkRole, Visibility
from gateway.ticket.models import JournalEntry
from gateway.ticket.tables import JournalEntryRow, LinkRow, TicketChangeRow, TicketRow


async def render_delivery(session: AsyncSession, claim: Claim) -> Delivery:
    """The delivery for a claimed row, with the public view of the ticket and its remote ref."""
    row = await session.get(TicketRow, claim.ticket_id)
    if row is None:
        raise PermanentError(f"ticket #{claim.ticket_id} no longer exists")
    ticket = (await tickets.render(session, rows=[row], internal=False))[0]
    links = {
        link.role: link
        for link in (
            await session.execute(
                select(LinkRow).where(
                    LinkRow.ticket_id == claim.ticket_id, LinkRow.connection == claim.connection
                )
            )
        ).scalars()
    }
    link = links.get(LinkRole.ASSIGNEE.value) or links.get(LinkRole.ORIGIN.value)
    remote = RemoteRef(link.external_id, link.external_url) if link and link.external_id else None
    action = Action(claim.action)
    if action == Action.CREATE and LinkRole.ASSIGNEE.value in links and remote is not None:
        action = Action.UPDATE  # assigned back to a unit that already has the ticket
    change = await session.get(TicketChangeRow, claim.change_id) if claim.change_id else None
    return Delivery(
        action=action,
        ticket=ticket,
        idempotency_key=claim.idempotency_key,
        attempt=claim.attempt,
        remote=remote,
        entry=await _entry(session, claim),
        changes=change.changes if change else {},
    )


async def _entry(session: AsyncSession, claim: Claim) -> JournalEntry | None:
    if claim.entry_id is None:
        return None
    entry = await session.get(JournalEntryRow, claim.entry_id)
    if entry is None or entry.visibility != Visibility.PUBLIC.value:
        raise PermanentError(f"journal entry {claim.entry_id} is not a public entry")
    return JournalEntry.model_validate(entry)
