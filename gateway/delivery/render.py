"""Build what an adapter sends from the canonical ticket as it is now, not from the event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.errors import AdapterError, PermanentError
from gateway.adapter.models import Action, AttachedFile, Delivery, RemoteRef
from gateway.attachment.tables import AttachmentRow, BlobRow
from gateway.delivery.claim import Claim
from gateway.mail.tables import MailSuppressionRow
from gateway.sync.policy import is_requirement_rule
from gateway.ticket import service as tickets
from gateway.ticket.enums import LinkRole, Visibility
from gateway.ticket.models import JournalEntry, Ticket
from gateway.ticket.tables import LinkRow, TicketChangeRow, TicketRow


async def render_deliveries(
    session: AsyncSession, claimed: Sequence[Claim], *, mailed: frozenset[str] = frozenset()
) -> dict[int, Delivery | AdapterError]:
    """Deliveries for a batch of claims (by outbox id) in a few queries for the whole batch.

    `mailed` names the connections that send mail: their deliveries learn which of the ticket's
    addresses bounced for good (one more query, only when the batch has such a delivery).
    """
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
    suppressed = await _suppressed(
        session,
        [
            t
            for c in claimed
            if c.connection in mailed
            if (t := rendered.get(c.ticket_id)) is not None
        ],
    )
    files = await _files(
        session,
        [
            changes.get(c.change_id or 0, {}).get("attachment", {}).get("id")
            for c in claimed
            if c.action == Action.ATTACH.value
        ],
    )
    related = await _related_remotes(session, claimed, rendered)
    out: dict[int, Delivery | AdapterError] = {}
    for claim in claimed:
        ticket = rendered.get(claim.ticket_id)
        try:
            if ticket is None:
                raise PermanentError(f"ticket #{claim.ticket_id} no longer exists")
            change = changes.get(claim.change_id or 0, {})
            out[claim.outbox_id] = _delivery(
                claim,
                ticket,
                change,
                suppressed if claim.connection in mailed else frozenset(),
                _file(claim, change, files) if claim.action == Action.ATTACH.value else None,
                related.get((claim.ticket_id, claim.connection), {}),
            )
        except AdapterError as error:
            out[claim.outbox_id] = error
    return out


async def _related_remotes(
    session: AsyncSession, claimed: Sequence[Claim], rendered: dict[int, Ticket]
) -> dict[tuple[int, str], dict[int, RemoteRef]]:
    """For each claim, the related tickets its connection also holds (one query per batch), so
    a relation travels as the remote system's own link where it has one."""
    wanted = {
        (c.ticket_id, c.connection, r.ticket)
        for c in claimed
        if (t := rendered.get(c.ticket_id)) is not None
        for r in t.relations
    }
    if not wanted:
        return {}
    rows = await session.execute(
        select(LinkRow.ticket_id, LinkRow.connection, LinkRow.external_id, LinkRow.external_url)
        .where(
            LinkRow.ticket_id.in_({w[2] for w in wanted}),
            LinkRow.connection.in_({w[1] for w in wanted}),
            LinkRow.role.in_([LinkRole.ASSIGNEE.value, LinkRole.ORIGIN.value]),
            LinkRow.external_id.is_not(None),
        )
        .order_by(LinkRow.role)  # assignee before origin
    )
    held: dict[tuple[int, str], RemoteRef] = {}
    for ticket_id, connection, external_id, external_url in rows:
        if external_id is not None:
            held.setdefault((ticket_id, connection), RemoteRef(external_id, external_url))
    out: dict[tuple[int, str], dict[int, RemoteRef]] = {}
    for ticket_id, connection, other in wanted:
        ref = held.get((other, connection))
        if ref is not None:
            out.setdefault((ticket_id, connection), {})[other] = ref
    return out


async def render_delivery(session: AsyncSession, claim: Claim) -> Delivery:
    """The delivery for one claimed row (see `render_deliveries`)."""
    result = (await render_deliveries(session, [claim]))[claim.outbox_id]
    if isinstance(result, AdapterError):
        raise result
    return result


async def _files(
    session: AsyncSession, ids: list[Any]
) -> dict[int, tuple[AttachmentRow, bytes | None]]:
    """The attachments of a batch's `attach` deliveries with their bytes (two queries)."""
    wanted = {i for i in ids if isinstance(i, int)}
    if not wanted:
        return {}
    rows = list(
        (await session.execute(select(AttachmentRow).where(AttachmentRow.id.in_(wanted)))).scalars()
    )
    blobs = {
        sha: bytes(data)
        for sha, data in await session.execute(
            select(BlobRow.sha256, BlobRow.data).where(
                BlobRow.sha256.in_({row.sha256 for row in rows})
            )
        )
    }
    return {row.id: (row, blobs.get(row.sha256)) for row in rows}


def _file(
    claim: Claim, change: dict[str, Any], files: dict[int, tuple[AttachmentRow, bytes | None]]
) -> AttachedFile:
    """The public file an `attach` row names, as it is now: one that is gone or became
    internal is never sent (a dead letter saying so)."""
    attachment_id = change.get("attachment", {}).get("id")
    found = files.get(attachment_id) if isinstance(attachment_id, int) else None
    row, data = found if found is not None else (None, None)
    if row is None or data is None or row.ticket_id != claim.ticket_id:
        raise PermanentError(f"attachment {attachment_id} of #{claim.ticket_id} no longer exists")
    if row.visibility != Visibility.PUBLIC.value:
        raise PermanentError(f"attachment {attachment_id} of #{claim.ticket_id} is internal")
    return AttachedFile(
        id=row.id, filename=row.filename, content_type=row.content_type, size=row.size, data=data
    )


async def _suppressed(session: AsyncSession, tickets_mailed: list[Ticket]) -> frozenset[str]:
    addresses = {a.lower() for t in tickets_mailed for a in [t.submitter.email, *t.cc]}
    if not addresses:
        return frozenset()
    found = await session.scalars(
        select(MailSuppressionRow.address).where(MailSuppressionRow.address.in_(addresses))
    )
    return frozenset(found)


def _delivery(
    claim: Claim,
    ticket: Ticket,
    changes: dict[str, Any],
    suppressed: frozenset[str],
    attachment: AttachedFile | None = None,
    related: dict[int, RemoteRef] | None = None,
) -> Delivery:
    """The public view of the ticket as it is now, with its remote ref at this connection."""
    links = {link.role: link for link in ticket.links if link.connection == claim.connection}
    link = links.get(LinkRole.ASSIGNEE) or links.get(LinkRole.ORIGIN)
    if is_requirement_rule(claim.rule):
        link = links.get(LinkRole.REQUIREMENT)
    remote = RemoteRef(link.external_id, link.external_url) if link and link.external_id else None
    named = changes.get("requirement", {}).get("remote_id")
    if remote is None and claim.action in (Action.LINK, Action.UNLINK) and isinstance(named, str):
        remote = RemoteRef(named)  # the link is gone (unlinked meanwhile); the remote ticket is not
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
        suppressed=suppressed,
        attachment=attachment,
        related=related or {},
    )


def _entry(ticket: Ticket, claim: Claim) -> JournalEntry | None:
    """The entry to send, from the public journal (an internal one is never there)."""
    if claim.entry_id is None:
        return None
    for entry in ticket.journal:
        if entry.id == claim.entry_id:
            return entry
    raise PermanentError(f"journal entry {claim.entry_id} is not a public entry")
