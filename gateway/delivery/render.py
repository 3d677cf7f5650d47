"""Build what an adapter sends from the canonical ticket as it is now, not from the event."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.errors import AdapterError, PermanentError
from gateway.adapter.models import Action, Delivery, RemoteRef
from gateway.delivery.claim import Claim
from gateway.ticket import service as tickets
from gateway.ticket.enums import LinkRole
from gateway.ticket.models import JournalEntry, Ticket
from gateway.ticket.tables import TicketChangeRow, TicketRow


async def render_deliveries(
    session: AsyncSession, claimed: Sequence[Claim]
) -> dict[int, Delivery | AdapterError]:
    """Deliveries for a batch of claims (by outbox id) in a few queries for the whole batch."""
    if not claimed:
        return {}
    rows = (
        await session.execute(
            select(TicketRow).where(TicketRow.id.in_({c.ticket_id for c in claimed}))
        )
    ).scalars()
    rendered = {t.id: t for t in await tickets.render(session, rows=list(rows), internal=False)}
    change_ids = {c.change_id for c in claimed if c.change_id is not None}
    changes = {
        change.id: change.changes
        for change in (
            await session.execute(select(TicketChangeRow).where(TicketChangeRow.id.in_(change_ids)))
        ).scalars()
    }
    out: dict[int, Delivery | AdapterError] = {}
    for claim in claimed:
        ticket = rendered.get(claim.ticket_id)
        try:
            if ticket is None:
                raise PermanentError(f"ticket #{claim.ticket_id} no longer exists")
            out[claim.outbox_id] = _delivery(claim, ticket, changes.get(claim.change_id or 0, {}))
        except AdapterError as error:
            out[claim.outbox_id] = error
    return out


async def render_delivery(session: AsyncSession, claim: Claim) -> Delivery:
    """The delivery for one claimed row (see `render_deliveries`)."""
    result = (await render_deliveries(session, [claim]))[claim.outbox_id]
    if isinstance(result, AdapterError):
        raise result
    return result


def _delivery(claim: Claim, ticket: Ticket, changes: dict[str, object]) -> Delivery:
    """The public view of the ticket as it is now, with its remote ref at this connection."""
    links = {link.role: link for link in ticket.links if link.connection == claim.connection}
    link = links.get(LinkRole.ASSIGNEE) or links.get(LinkRole.ORIGIN)
    remote = RemoteRef(link.external_id, link.external_url) if link and link.external_id else None
    action = Action(claim.action)
    if action == Action.CREATE and LinkRole.ASSIGNEE in links and remote is not None:
        action = Action.UPDATE  # assigned back to a unit that already has the ticket
    return Delivery(
        action=action,
        ticket=ticket,
        idempotency_key=claim.idempotency_key,
        attempt=claim.attempt,
        remote=remote,
        entry=_entry(ticket, claim),
        changes=changes,
    )


def _entry(ticket: Ticket, claim: Claim) -> JournalEntry | None:
    """The entry to send, from the public journal (an internal one is never there)."""
    if claim.entry_id is None:
        return None
    for entry in ticket.journal:
        if entry.id == claim.entry_id:
            return entry
    raise PermanentError(f"journal entry {claim.entry_id} is not a public entry")
