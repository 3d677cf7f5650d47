"""Reading relations: what the ticket service needs to render them and to pass a solution on.

No writes here, so the ticket service can import it (writes are in `service.py`, on top of the
ticket service)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.ticket.enums import OPEN_STATES, RELATION_ROLES, RelationKind
from gateway.ticket.models import Relation
from gateway.ticket.tables import RelationRow, TicketRow

FOLLOWERS = (RelationKind.SLAVE_OF.value, RelationKind.DUPLICATE_OF.value)


async def relations_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[Relation]]:
    """Both sides of every relation of these tickets, in one query."""
    if not ids:
        return {}
    wanted = set(ids)
    rows = await session.scalars(
        select(RelationRow).where(
            or_(RelationRow.ticket_id.in_(wanted), RelationRow.related_id.in_(wanted))
        )
    )
    out: dict[int, list[Relation]] = defaultdict(list)
    for row in rows:
        other_is, holder_is = RELATION_ROLES[RelationKind(row.kind)]
        if row.ticket_id in wanted:
            out[row.ticket_id].append(Relation(role=other_is, ticket=row.related_id))
        if row.related_id in wanted:
            out[row.related_id].append(Relation(role=holder_is, ticket=row.ticket_id))
    for relations in out.values():
        relations.sort(key=lambda r: (r.role.value, r.ticket))
    return out


async def held(session: AsyncSession, ticket_id: int) -> dict[RelationKind, int]:
    """The relations this ticket holds: kind -> the ticket it names."""
    rows = await session.execute(
        select(RelationRow.kind, RelationRow.related_id).where(RelationRow.ticket_id == ticket_id)
    )
    return {RelationKind(kind): related for kind, related in rows}


async def has_followers(session: AsyncSession, ticket_id: int) -> bool:
    """Whether any ticket is a slave or a duplicate of this one."""
    found = await session.scalar(
        select(RelationRow.ticket_id)
        .where(RelationRow.related_id == ticket_id, RelationRow.kind.in_(FOLLOWERS))
        .limit(1)
    )
    return found is not None


async def open_followers(session: AsyncSession, ticket_id: int) -> list[TicketRow]:
    """The open slaves and duplicates of this ticket, locked: solving it solves them."""
    rows = await session.scalars(
        select(TicketRow)
        .join(RelationRow, RelationRow.ticket_id == TicketRow.id)
        .where(
            RelationRow.related_id == ticket_id,
            RelationRow.kind.in_(FOLLOWERS),
            TicketRow.status.in_([s.value for s in OPEN_STATES]),
        )
        .order_by(TicketRow.id)
        .with_for_update(of=TicketRow)
    )
    return list(rows)


async def children(session: AsyncSession, parent_id: int) -> list[TicketRow]:
    rows = await session.scalars(
        select(TicketRow)
        .join(RelationRow, RelationRow.ticket_id == TicketRow.id)
        .where(
            RelationRow.related_id == parent_id,
            RelationRow.kind == RelationKind.CHILD_OF.value,
        )
        .order_by(TicketRow.id)
    )
    return list(rows)


async def ancestors(session: AsyncSession, ticket_id: int, *, limit: int = 64) -> list[int]:
    """The chain of parents above this ticket, nearest first (a cycle cannot form, see
    `service.relate`; `limit` only bounds a walk through a damaged table)."""
    chain: list[int] = []
    current = ticket_id
    while len(chain) < limit:
        parent = await session.scalar(
            select(RelationRow.related_id).where(
                RelationRow.ticket_id == current,
                RelationRow.kind == RelationKind.CHILD_OF.value,
            )
        )
        if parent is None or parent in chain:
            break
        chain.append(parent)
        current = parent
    return chain
