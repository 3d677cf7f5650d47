"""Relating tickets and opening child tickets for many units, through the ticket service, so
every relation is in both tickets' history and reaches their units' systems like any change."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import Caller
from gateway.config.models import GatewayConfig
from gateway.database.base import utcnow
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.relation import queries
from gateway.routing import service as routing
from gateway.routing.service import Assigner
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes
from gateway.ticket.enums import RELATION_ROLES, SOLVING_STATES, RelationKind, Status
from gateway.ticket.models import (
    ChildrenCreate,
    RelationCreate,
    Submitter,
    TicketCreate,
    TicketPatch,
)
from gateway.ticket.tables import RelationRow, TicketRow

FOLLOWING = (RelationKind.SLAVE_OF, RelationKind.DUPLICATE_OF)


async def relate(
    session: AsyncSession, *, row: TicketRow, data: RelationCreate, caller: Caller, changes: Changes
) -> bool:
    """Make `row` a child, slave or duplicate of `data.ticket`; False if it already was.

    Refused: a ticket related to itself, a second relation of a kind, a parent below its own
    child, a slave of a slave (or a master becoming a slave): chains of masters would solve
    tickets nobody related."""
    if data.ticket == row.id:
        raise InvalidInput("a ticket cannot be related to itself")
    try:
        other = await tickets.load_ticket(
            session, ticket_id=data.ticket, caller=caller, for_update=True
        )
    except NotFound as missing:  # the request's ticket exists; the one it names does not
        raise InvalidInput(
            f"ticket: {missing.message}",
            details=[{"field": "ticket", "message": missing.message}],
        ) from None
    held = await queries.held(session, row.id)
    if held.get(data.kind) == other.id:
        return False
    if data.kind in held:
        raise Conflict(
            f"ticket #{row.id} is already {data.kind.value} #{held[data.kind]}; "
            "remove that relation first"
        )
    await _check_shape(session, row=row, other=other, kind=data.kind, held=held)
    actor = tickets.Actor.from_caller(caller)
    session.add(
        RelationRow(
            ticket_id=row.id, kind=data.kind.value, related_id=other.id, created_by=actor.name
        )
    )
    _record(session, changes, row, other, data.kind, actor, "added")
    if (
        data.kind in FOLLOWING
        and Status(other.status) in SOLVING_STATES
        and Status(row.status).is_open
    ):
        patch = TicketPatch.model_validate({"status": other.status, "solution": other.solution})
        await tickets.update_ticket(
            session,
            row=row,
            patch=patch,
            actor=tickets.Actor(name=actor.name, source=tickets.RELATED),
            changes=changes,
            because={"solved_with": other.id},
        )
    return True


async def _check_shape(
    session: AsyncSession,
    *,
    row: TicketRow,
    other: TicketRow,
    kind: RelationKind,
    held: dict[RelationKind, int],
) -> None:
    if kind == RelationKind.CHILD_OF:
        if row.id in await queries.ancestors(session, other.id):
            raise InvalidInput(
                f"ticket #{other.id} is below #{row.id}: "
                "a ticket cannot be a child of its own child"
            )
        return
    following = next((k for k in FOLLOWING if k in held), None)
    if following is not None:
        raise Conflict(
            f"ticket #{row.id} is already {following.value} #{held[following]}; "
            "remove that relation first"
        )
    other_held = await queries.held(session, other.id)
    leads = next((k for k in FOLLOWING if k in other_held), None)
    if leads is not None:
        raise InvalidInput(
            f"ticket #{other.id} is itself a {leads.value.removesuffix('_of')} of another "
            "ticket: relate to that one"
        )
    if await queries.has_followers(session, row.id):
        raise InvalidInput(
            f"ticket #{row.id} has slaves or duplicates of its own and cannot follow another ticket"
        )


async def unrelate(
    session: AsyncSession, *, row: TicketRow, kind: RelationKind, caller: Caller, changes: Changes
) -> None:
    """Remove the relation `row` holds of this kind; 404 if it holds none."""
    related_id = (await queries.held(session, row.id)).get(kind)
    if related_id is None:
        raise NotFound(f"ticket #{row.id} is no {kind.value.replace('_', ' ')} any ticket")
    other = await session.get(TicketRow, related_id, with_for_update=True)
    await session.execute(
        delete(RelationRow).where(RelationRow.ticket_id == row.id, RelationRow.kind == kind.value)
    )
    if other is not None:
        _record(session, changes, row, other, kind, tickets.Actor.from_caller(caller), "removed")


def _record(
    session: AsyncSession,
    changes: Changes,
    row: TicketRow,
    other: TicketRow,
    kind: RelationKind,
    actor: tickets.Actor,
    how: str,
) -> None:
    """One change on each ticket, each saying what the other is to it."""
    other_is, row_is = RELATION_ROLES[kind]
    now = utcnow()
    for ticket, role, named in ((row, other_is, other), (other, row_is, row)):
        diff = {"relations": {how: [{"role": role.value, "ticket": named.id}]}}
        tickets.bump(session, changes, ticket, action="related", actor=actor, diff=diff, at=now)


async def open_children(
    session: AsyncSession,
    *,
    parent: TicketRow,
    data: ChildrenCreate,
    caller: Caller,
    config: GatewayConfig,
    changes: Changes,
) -> list[TicketRow]:
    """A child ticket of `parent` for each unit, in one transaction: all or none.

    The children carry the parent's submitter, who is not mailed their acknowledgements or
    solutions (the parent's, made of all of theirs, says it once) but does get their questions.
    """
    limit = config.process.relations.max_children
    if len(data.support_units) > limit:
        raise InvalidInput(
            f"support_units: {len(data.support_units)} units, at most {limit} children per request "
            "(process.relations.max_children)"
        )
    twice = [name for name, n in Counter(data.support_units).items() if n > 1]
    if twice:
        raise InvalidInput(f"support_units: '{twice[0]}' is named twice")
    if Status(parent.status) not in {s for s in Status if s.is_open}:
        raise InvalidInput(
            f"ticket #{parent.id} is '{parent.status}': only an open ticket gets children"
        )
    actor = tickets.Actor.from_caller(caller)
    assigner = Assigner.for_caller(caller)
    created: list[TicketRow] = []
    for name in data.support_units:
        draft = _child_draft(parent, name, data.description)
        unit = await routing.unit_for_new_ticket(
            session, data=draft, routing=config.routing, assigner=assigner
        )
        child = await tickets.create_ticket(
            session,
            data=draft,
            actor=actor,
            support_unit=unit,
            changes=changes,
            origin_unit_id=caller.unit_id,
        )
        session.add(
            RelationRow(
                ticket_id=child.id,
                kind=RelationKind.CHILD_OF.value,
                related_id=parent.id,
                created_by=actor.name,
            )
        )
        created.append(child)
    diff = {"relations": {"added": [{"role": "child", "ticket": c.id} for c in created]}}
    tickets.bump(session, changes, parent, action="related", actor=actor, diff=diff, at=utcnow())
    return created


def _child_draft(parent: TicketRow, unit: str, description: str | None) -> TicketCreate:
    return TicketCreate(
        subject=parent.subject,
        description=description or parent.description,
        submitter=Submitter(
            name=parent.submitter_name, email=parent.submitter_email, dn=parent.submitter_dn
        ),
        type=parent.type,
        category=parent.category,
        priority=parent.priority,
        support_unit=unit,
        component=parent.component,
        affected_site=parent.affected_site,
        vo=parent.vo,
    )
