"""Build what an adapter sends from the canonical ticket as it is now, not from the event."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.errors import PermanentError
from gateway.adapter.models import Action, Delivery, RemoteRef
from gateway.delivery.claim import Claim
from gateway.ticket import service as tickets
from gateway.ticket.enums import LinkRole
from gateway.ticket.models import JournalEntry, Ticket
from gateway.ticket.tables import TicketChangeRow, TicketRow


async def render_delivery(session: AsyncSession, claim: Claim) -> Delivery:
    """The delivery for a claimed row, with the public view of the ticket and its remote ref."""
    row = await session.get(TicketRow, claim.ticket_id)
    if row is None:
        raise PermanentError(f"ticket #{claim.ticket_id} no longer exists")
    ticket = (await tickets.render(session, rows=[row], internal=False))[0]
    links = {link.role: link for link in ticket.links if link.connection == claim.connection}
    link = links.get(LinkRole.ASSIGNEE) or links.get(LinkRole.ORIGIN)
    remote = RemoteRef(link.external_id, link.external_url) if link and link.external_id else None
    action = Action(claim.action)
    if action == Action.CREATE and LinkRole.ASSIGNEE in links and remote is not None:
        action = Action.UPDATE  # assigned back to a unit that already has the ticket
    change = await session.get(TicketChangeRow, claim.change_id) if claim.change_id else None
    return Delivery(
        action=action,
        ticket=ticket,
        idempotency_key=claim.idempotency_key,
        attempt=claim.attempt,
        remote=remote,
        entry=_entry(ticket, claim),
        changes=change.changes if change else {},
    )


def _entry(ticket: Ticket, claim: Claim) -> JournalEntry | None:
    """The entry to send, from the public journal (an internal one is never there)."""
    if claim.entry_id is None:
        return None
    for entry in ticket.journal:
        if entry.id == claim.entry_id:
            return entry
    raise PermanentError(f"journal entry {claim.entry_id} is not a public entry")
