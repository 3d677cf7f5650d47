"""Open, link, unlink and list requirements. Nothing here calls the queue: each request is a
change in the ticket's history, and the sync policy sends it to the requirements connection
through the outbox (the worker opens the counter-ticket, or writes the hub id and link into an
existing one, or takes them out); the link keeps the remote id and, as polls read it, the state.
One requirement per ticket and queue (the link is unique per ticket, connection and role).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.models import Action
from gateway.connection.service import Connection, Connections
from gateway.database.base import utcnow
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.requirement.models import Requirement
from gateway.sync.tables import DEAD, OutboxRow
from gateway.ticket.changes import Changes
from gateway.ticket.enums import LinkRole, Status
from gateway.ticket.service import Actor, record_change
from gateway.ticket.tables import LinkRow, TicketRow

REQUESTED, LINKED, UNLINKED = "requirement_requested", "requirement_linked", "requirement_unlinked"


def queues(connections: Connections) -> list[Connection]:
    return [c for c in connections if c.adapter.requirement_tag is not None]


def queue_named(connections: Connections, name: str | None) -> Connection:
    """The requirements connection asked for, or the only one."""
    found = queues(connections)
    if not found:
        raise Conflict(
            "no requirements queue is configured (an rt connection with requirement_tag)"
        )
    if name is None:
        if len(found) > 1:
            names = ", ".join(c.name for c in found)
            raise InvalidInput(
                f"connection: say which requirements queue ({names})",
                details=[{"field": "connection", "message": f"one of {names}"}],
            )
        return found[0]
    for connection in found:
        if connection.name == name:
            return connection
    raise InvalidInput(
        f"connection: {name!r} is not a requirements queue",
        details=[{"field": "connection", "message": "not a requirements queue"}],
    )


async def _link(session: AsyncSession, ticket_id: int, connection: str) -> LinkRow | None:
    found: LinkRow | None = await session.scalar(
        select(LinkRow).where(
            LinkRow.ticket_id == ticket_id,
            LinkRow.connection == connection,
            LinkRow.role == LinkRole.REQUIREMENT.value,
        )
    )
    return found


async def _pending(session: AsyncSession, ticket_id: int, connection: str) -> bool:
    """A counter-ticket being opened (asked for, or by a new Change Request): its create is in
    the outbox, neither done nor dead (a dead one may be asked for again)."""
    found = await session.scalar(
        select(OutboxRow.id)
        .where(
            OutboxRow.ticket_id == ticket_id,
            OutboxRow.connection == connection,
            OutboxRow.action == Action.CREATE.value,
            OutboxRow.done_at.is_(None),
            OutboxRow.state != DEAD,
        )
        .limit(1)
    )
    return found is not None


def _record(
    session: AsyncSession,
    row: TicketRow,
    action: str,
    requirement: dict[str, Any],
    actor: Actor,
    changes: Changes,
) -> None:
    diff = {"requirement": requirement}
    record_change(session, changes, row, action=action, actor=actor, diff=diff, at=utcnow())


async def request(
    session: AsyncSession,
    *,
    row: TicketRow,
    connection: Connection,
    remote_id: str | None,
    actor: Actor,
    changes: Changes,
) -> None:
    """Open a counter-ticket (`remote_id` None) or link the existing one."""
    if await _link(session, row.id, connection.name) is not None or await _pending(
        session, row.id, connection.name
    ):
        raise Conflict(f"#{row.id} has a requirement in {connection.name} already; unlink it first")
    requirement: dict[str, Any] = {
        "connection": connection.name,
        "tag": connection.adapter.requirement_tag,
    }
    if remote_id is None:
        _record(session, row, REQUESTED, requirement, actor, changes)
        return
    taken = await session.scalar(
        select(LinkRow.ticket_id).where(
            LinkRow.connection == connection.name,
            LinkRow.external_id == remote_id,
            LinkRow.role == LinkRole.REQUIREMENT.value,
        )
    )
    if taken is not None:
        raise Conflict(f"{connection.name} ticket {remote_id} is the requirement of #{taken}")
    session.add(
        LinkRow(
            ticket_id=row.id,
            connection=connection.name,
            external_id=remote_id,
            role=LinkRole.REQUIREMENT.value,
        )
    )
    _record(session, row, LINKED, {**requirement, "remote_id": remote_id}, actor, changes)


async def unlink(
    session: AsyncSession, *, row: TicketRow, connection: Connection, actor: Actor, changes: Changes
) -> str:
    """Take the link away now; the worker takes the hub id and link out of the remote ticket."""
    link = await _link(session, row.id, connection.name)
    if link is None or link.external_id is None:
        raise NotFound(f"#{row.id} has no requirement in {connection.name}")
    remote_id = link.external_id
    await session.execute(delete(LinkRow).where(LinkRow.id == link.id))
    requirement = {"connection": connection.name, "remote_id": remote_id}
    _record(session, row, UNLINKED, requirement, actor, changes)
    return remote_id


async def listed(
    session: AsyncSession,
    connections: Connections,
    *,
    ticket_ids: list[int] | None = None,
    tag: str | None = None,
    state: str | None = None,
    visible: Any = None,
    limit: int = 500,
) -> list[Requirement]:
    """Requirements by tag and state (the board's digest), or those of some tickets; a ticket
    whose counter-ticket is still being opened shows with no remote id yet."""
    tags = {c.name: c.adapter.requirement_tag for c in queues(connections)}
    names = [n for n, t in tags.items() if tag is None or t == tag]
    if not names:
        return []
    query = (
        select(LinkRow, TicketRow)
        .join(TicketRow, TicketRow.id == LinkRow.ticket_id)
        .where(LinkRow.role == LinkRole.REQUIREMENT.value, LinkRow.connection.in_(names))
        .order_by(LinkRow.ticket_id, LinkRow.connection)
        .limit(limit)
    )
    if state is not None:
        query = query.where(LinkRow.state == state)
    if ticket_ids is not None:
        query = query.where(LinkRow.ticket_id.in_(ticket_ids))
    if visible is not None:
        query = query.where(visible)
    out = [
        Requirement(
            ticket_id=ticket.id,
            subject=ticket.subject,
            ticket_status=Status(ticket.status),
            connection=link.connection,
            tag=tags.get(link.connection),
            remote_id=link.external_id,
            remote_url=link.external_url,
            state=link.state,
            linked_at=link.created_at,
        )
        for link, ticket in (await session.execute(query)).all()
    ]
    if ticket_ids is not None and state is None:
        linked = {(r.ticket_id, r.connection) for r in out}
        out += await _opening(session, ticket_ids, names, tags, linked)
    return out


async def _opening(
    session: AsyncSession,
    ticket_ids: list[int],
    names: list[str],
    tags: dict[str, str | None],
    linked: set[tuple[int, str]],
) -> list[Requirement]:
    out = []
    for ticket_id in ticket_ids:
        row = await session.get(TicketRow, ticket_id)
        if row is None:
            continue
        for name in names:
            if (ticket_id, name) not in linked and await _pending(session, ticket_id, name):
                out.append(
                    Requirement(
                        ticket_id=row.id,
                        subject=row.subject,
                        ticket_status=Status(row.status),
                        connection=name,
                        tag=tags.get(name),
                        remote_id=None,
                        remote_url=None,
                        state=None,
                        linked_at=None,
                    )
                )
    return out
