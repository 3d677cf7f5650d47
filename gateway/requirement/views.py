"""Requirement routes: open or link a ticket's requirement, unlink it, list them (the board's
digest by tag and state). Support staff only: submitters never see the requirements queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from gateway.api.deps import CurrentCaller, Session, Sync, TicketId
from gateway.auth.models import Caller
from gateway.errors import Forbidden
from gateway.requirement import service
from gateway.requirement.models import Requirement, RequirementRequest
from gateway.sync.outbox import commit
from gateway.ticket import access
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes

router = APIRouter(prefix="/api/v1", tags=["requirements"])
STAFF_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "A submitter key"}}
ConnectionName = Annotated[str, Path(max_length=64, description="The requirements connection")]


def _staff(caller: Caller) -> None:
    if not caller.sees_internal:
        raise Forbidden("requirements are for support staff; a submitter key may not see them")


@router.post(
    "/tickets/{ticket_id}/requirements",
    response_model=list[Requirement],
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **STAFF_ONLY,
        409: {"description": "No requirements queue, or the ticket has one there already"},
        422: {"description": "An unknown queue, or several and none named"},
    },
)
async def add_requirement(
    ticket_id: TicketId,
    body: RequirementRequest,
    session: Session,
    sync: Sync,
    caller: CurrentCaller,
) -> list[Requirement]:
    """Open a counter-ticket in the requirements queue (tagged, with the hub id and a link to
    this ticket), or link an existing one by its id; the worker does it in the queue, soon."""
    _staff(caller)
    connection = service.queue_named(sync.connections, body.connection)
    row = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller, for_update=True)
    changes = Changes()
    await service.request(
        session,
        row=row,
        connection=connection,
        remote_id=body.remote_id,
        actor=tickets.Actor.from_caller(caller),
        changes=changes,
    )
    await commit(session, sync, changes)
    return await service.listed(session, sync.connections, ticket_ids=[row.id])


@router.get(
    "/tickets/{ticket_id}/requirements",
    response_model=list[Requirement],
    responses=STAFF_ONLY,
)
async def ticket_requirements(
    ticket_id: TicketId, session: Session, sync: Sync, caller: CurrentCaller
) -> list[Requirement]:
    """This ticket's requirements, with their state in the queue."""
    _staff(caller)
    row = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller)
    return await service.listed(session, sync.connections, ticket_ids=[row.id])


@router.delete(
    "/tickets/{ticket_id}/requirements/{connection}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **STAFF_ONLY,
        404: {"description": "No such ticket, or no requirement there"},
        409: {"description": "No requirements queue is configured"},
        422: {"description": "Not a requirements queue"},
    },
)
async def remove_requirement(
    ticket_id: TicketId,
    connection: ConnectionName,
    session: Session,
    sync: Sync,
    caller: CurrentCaller,
) -> None:
    """Unlink: the link goes now, the hub id and the link leave the counter-ticket soon."""
    _staff(caller)
    queue = service.queue_named(sync.connections, connection)
    row = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller, for_update=True)
    changes = Changes()
    await service.unlink(
        session, row=row, connection=queue, actor=tickets.Actor.from_caller(caller), changes=changes
    )
    await commit(session, sync, changes)


@router.get("/requirements", response_model=list[Requirement], responses=STAFF_ONLY)
async def list_requirements(
    session: Session,
    sync: Sync,
    caller: CurrentCaller,
    tag: Annotated[str | None, Query(max_length=200, description="The queue's tag")] = None,
    state: Annotated[
        str | None, Query(max_length=64, description="Their state in the queue (e.g. open)")
    ] = None,
) -> list[Requirement]:
    """Requirements by tag and state, for the technical board's digest (a unit key sees those
    of its own tickets)."""
    _staff(caller)
    return await service.listed(
        session, sync.connections, tag=tag, state=state, visible=access.visible(caller)
    )
