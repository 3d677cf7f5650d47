"""Connections at run time (admin): state, queues, cursor; poll now; resume after a pause."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from gateway.api.deps import AdminCaller, Session, Sync
from gateway.api.openapi import ADMIN_ONLY
from gateway.connection import state as connection_state
from gateway.connection.models import (
    ConnectionStatus,
    DeliveryFigures,
    PollFigures,
    PollRequested,
)
from gateway.connection.service import Connection
from gateway.connection.tables import ConnectionStateRow
from gateway.errors import Conflict, NotFound
from gateway.sync.outbox import notify_workers
from gateway.sync.tables import DEAD, IN_FLIGHT, PENDING

router = APIRouter(prefix="/api/v1/connections", tags=["connections"])
ConnectionName = Annotated[str, Path(max_length=64)]


@router.get("", response_model=list[ConnectionStatus], responses=ADMIN_ONLY)
async def list_connections(session: Session, sync: Sync, _: AdminCaller) -> list[ConnectionStatus]:
    """Every configured connection: paused or not, its queues, its last success and error."""
    return await _statuses(session, list(sync.connections))


@router.get("/{name}", response_model=ConnectionStatus, responses=ADMIN_ONLY)
async def get_connection(
    name: ConnectionName, session: Session, sync: Sync, _: AdminCaller
) -> ConnectionStatus:
    """One connection, with its poll cursor when it is polled."""
    return (await _statuses(session, [_configured(sync, name)]))[0]


@router.post(
    "/{name}/poll",
    response_model=PollRequested,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**ADMIN_ONLY, 409: {"description": "The connection is not polled"}},
)
async def poll_now(
    name: ConnectionName, request: Request, session: Session, sync: Sync, _: AdminCaller
) -> PollRequested:
    """Ask for a poll now, whichever instance holds the connection's poller."""
    connection = _configured(sync, name)
    if connection.poll_interval is None:
        raise Conflict(f"connection '{name}' is not polled (it has no poll_interval_seconds)")
    requested = await connection_state.request_poll(session, name=name)
    await session.commit()
    if request.app.state.poller is not None:
        request.app.state.poller.wake()
    return PollRequested(connection=name, requested_at=requested)


@router.post(
    "/{name}/resume",
    response_model=ConnectionStatus,
    responses={**ADMIN_ONLY, 409: {"description": "The connection is not paused"}},
)
async def resume(
    name: ConnectionName, session: Session, sync: Sync, _: AdminCaller
) -> ConnectionStatus:
    """Deliver to a paused connection again (after its credentials were fixed)."""
    connection = _configured(sync, name)
    if not await connection_state.resume(session, name=name):
        raise Conflict(f"connection '{name}' is not paused")
    await session.commit()
    sync.wake()
    await notify_workers(session)
    return (await _statuses(session, [connection]))[0]


def _configured(sync: Sync, name: str) -> Connection:
    connection = sync.connections.get(name)
    if connection is None:
        raise NotFound(f"no connection named '{name}'")
    return connection


async def _statuses(session: Session, connections: list[Connection]) -> list[ConnectionStatus]:
    counts = await connection_state.queue_counts(session)
    news = await connection_state.delivery_news(session)
    out = []
    for connection in connections:
        row = await session.get(ConnectionStateRow, connection.name) or ConnectionStateRow(
            name=connection.name, poll_failures=0
        )
        queue = counts.get(connection.name, {})
        last_success, failed = news.get(connection.name, (None, None))
        out.append(
            ConnectionStatus(
                name=connection.name,
                adapter=connection.adapter.kind,
                support_unit=connection.support_unit,
                policy=connection.policy,
                state="paused" if row.paused_at else "active",
                paused_at=row.paused_at,
                paused_reason=row.paused_reason,
                deliveries=DeliveryFigures(
                    pending=queue.get(PENDING, 0),
                    in_flight=queue.get(IN_FLIGHT, 0),
                    dead=queue.get(DEAD, 0),
                    last_success_at=last_success,
                    last_error=failed.last_error if failed else None,
                    last_error_at=failed.updated_at if failed else None,
                ),
                polling=_polling(connection, row),
            )
        )
    await session.rollback()
    return out


def _polling(connection: Connection, row: ConnectionStateRow) -> PollFigures | None:
    if connection.poll_interval is None:
        return None
    return PollFigures(
        interval_seconds=connection.poll_interval,
        cursor=row.cursor,
        polled_at=row.polled_at,
        next_poll_at=row.next_poll_at,
        poll_requested_at=row.poll_requested_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        failures=row.poll_failures,
    )
