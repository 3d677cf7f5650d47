"""Relation routes under a ticket: relate, unrelate, list, and open children for many units.

Support staff and admins only: a relation decides who else is solved with a ticket."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from gateway.api.deps import Config, CurrentCaller, Session, Sync, TicketId
from gateway.auth.models import Caller, Role
from gateway.errors import Forbidden
from gateway.relation import service
from gateway.sync.outbox import commit
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes
from gateway.ticket.enums import RelationKind
from gateway.ticket.models import ChildrenCreate, Relation, RelationCreate, Ticket

router = APIRouter(prefix="/api/v1/tickets", tags=["relations"])
STAFF: dict[int | str, dict[str, Any]] = {
    403: {"description": "Needs a unit's or an admin's key"},
    404: {"description": "No such ticket (or not one this key sees)"},
}


def _staff(caller: Caller) -> None:
    if caller.role == Role.SUBMITTER:
        raise Forbidden("tickets are related by support units' staff and admins")


async def _rendered(session: Session, ticket_id: int, caller: Caller) -> Ticket:
    row = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller)
    return (await tickets.render(session, rows=[row], internal=caller.sees_internal))[0]


@router.get("/{ticket_id}/relations", response_model=list[Relation], responses=STAFF)
async def list_relations(ticket_id: TicketId, session: Session, caller: CurrentCaller) -> Any:
    """What other tickets are to this one: parent, children, master, slaves, duplicates."""
    return (await _rendered(session, ticket_id, caller)).relations


@router.post(
    "/{ticket_id}/relations",
    response_model=Ticket,
    status_code=status.HTTP_201_CREATED,
    responses={
        **STAFF,
        200: {"description": "The relation was already there", "model": Ticket},
        409: {"description": "The ticket already holds a relation of this kind"},
    },
)
async def add_relation(
    ticket_id: TicketId,
    data: RelationCreate,
    session: Session,
    caller: CurrentCaller,
    sync: Sync,
    response: Response,
) -> Ticket:
    """Make this ticket a child, slave or duplicate of another. A slave or duplicate of a ticket
    already solved is solved with it at once."""
    _staff(caller)
    row = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller, for_update=True)
    changes = Changes()
    added = await service.relate(session, row=row, data=data, caller=caller, changes=changes)
    await commit(session, sync, changes)
    if not added:
        response.status_code = status.HTTP_200_OK
    return await _rendered(session, ticket_id, caller)


@router.delete(
    "/{ticket_id}/relations/{kind}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=STAFF,
)
async def remove_relation(
    ticket_id: TicketId, kind: RelationKind, session: Session, caller: CurrentCaller, sync: Sync
) -> Response:
    """Remove the relation of this kind that the ticket holds (its parent, master, original)."""
    _staff(caller)
    row = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller, for_update=True)
    changes = Changes()
    await service.unrelate(session, row=row, kind=kind, caller=caller, changes=changes)
    await commit(session, sync, changes)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{ticket_id}/children",
    response_model=list[Ticket],
    status_code=status.HTTP_201_CREATED,
    responses={**STAFF, 422: {"description": "Too many units, a unit twice, a closed parent"}},
)
async def open_children(
    ticket_id: TicketId,
    data: ChildrenCreate,
    session: Session,
    caller: CurrentCaller,
    config: Config,
    sync: Sync,
) -> list[Ticket]:
    """One report to many sites: a child ticket for each unit, all or none; the parent is solved
    when every child is."""
    _staff(caller)
    parent = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller, for_update=True)
    changes = Changes()
    created = await service.open_children(
        session, parent=parent, data=data, caller=caller, config=config, changes=changes
    )
    ids = [child.id for child in created]
    await commit(session, sync, changes)
    rows = [await tickets.load_ticket(session, ticket_id=i, caller=caller) for i in ids]
    return await tickets.render(session, rows=rows, internal=caller.sees_internal)
