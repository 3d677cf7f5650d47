"""Delivery log per ticket, dead letters (admin), and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.deps import AdminCaller, CurrentCaller, DeliveryId, Session, Sync, TicketId
from gateway.api.openapi import ADMIN_ONLY
from gateway.connection import state as connection_state
from gateway.delivery import metrics, service
from gateway.delivery.models import DeliveryStatus, DiscardRequest
from gateway.errors import Forbidden
from gateway.metrics import gauges as unit_gauges
from gateway.sync.outbox import notify_workers
from gateway.ticket import service as tickets

router = APIRouter(tags=["deliveries"])


@router.get(
    "/api/v1/tickets/{ticket_id}/deliveries",
    response_model=list[DeliveryStatus],
    responses={403: {"description": "The delivery log is for support staff, not submitters"}},
)
async def ticket_deliveries(
    ticket_id: TicketId, session: Session, caller: CurrentCaller
) -> list[DeliveryStatus]:
    """Where each change of this ticket stands with each connection: attempts, errors, responses."""
    if not caller.sees_internal:
        raise Forbidden("the delivery log is for support staff")
    await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller)
    return await service.for_ticket(session, ticket_id=ticket_id)


@router.get("/api/v1/dead-letters", response_model=list[DeliveryStatus], responses=ADMIN_ONLY)
async def list_dead_letters(
    session: Session,
    _: AdminCaller,
    connection: Annotated[str | None, Query(max_length=64)] = None,
) -> list[DeliveryStatus]:
    """Deliveries that exhausted their retries or were refused, with request, response and rule."""
    return await service.dead_letters(session, connection=connection)


@router.post(
    "/api/v1/dead-letters/{delivery_id}/replay",
    response_model=DeliveryStatus,
    responses={**ADMIN_ONLY, 409: {"description": "The delivery is not a dead letter"}},
)
async def replay_dead_letter(
    delivery_id: DeliveryId, session: Session, sync: Sync, _: AdminCaller
) -> DeliveryStatus:
    """Queue a dead letter again, due now."""
    replayed = await service.replay(session, outbox_id=delivery_id)
    await session.commit()
    sync.wake()
    await notify_workers(session)
    return replayed


@router.post(
    "/api/v1/dead-letters/{delivery_id}/discard",
    response_model=DeliveryStatus,
    responses={**ADMIN_ONLY, 409: {"description": "The delivery is not a dead letter"}},
)
async def discard_dead_letter(
    delivery_id: DeliveryId,
    request: DiscardRequest,
    session: Session,
    sync: Sync,
    caller: AdminCaller,
) -> DeliveryStatus:
    """Give up on a dead letter; the reason goes into the ticket's history, and the deliveries
    queued behind it go on."""
    actor = tickets.Actor.from_caller(caller)
    discarded = await service.discard(
        session, outbox_id=delivery_id, reason=request.reason, actor=actor
    )
    await session.commit()
    sync.wake()
    await notify_workers(session)
    return discarded


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(session: Session, sync: Sync) -> Response:
    depth, oldest = await service.queue_figures(session)
    paused = await connection_state.paused(session)
    await unit_gauges.refresh(session)
    await session.rollback()
    for name in {*paused, *(c.name for c in sync.connections)}:
        metrics.CONNECTION_PAUSED.labels(name).set(1 if name in paused else 0)
    for state, count in depth.items():
        metrics.QUEUE_DEPTH.labels(state).set(count)
    metrics.OLDEST_PENDING_AGE.set(oldest)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
