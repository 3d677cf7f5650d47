"""A connection's run-time state in the database: paused, last success and error, poll cursor.

Every instance reads and writes the same rows, so a pause decided by one worker holds for all,
and a poll cursor survives whichever instance polled last.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connection.tables import ConnectionStateRow
from gateway.database.base import utcnow
from gateway.sync.tables import DEAD, IN_FLIGHT, PENDING, OutboxRow

MAX_ERROR_CHARS = 2000


async def state_of(
    session: AsyncSession, *, name: str, for_update: bool = False
) -> ConnectionStateRow:
    """The connection's state row, created on first use."""
    row = await session.get(ConnectionStateRow, name, with_for_update=for_update)
    if row is not None:
        return row
    try:
        async with session.begin_nested():
            row = ConnectionStateRow(name=name, poll_failures=0)
            session.add(row)
    except IntegrityError:  # another instance created it first
        row = await session.get(ConnectionStateRow, name, with_for_update=for_update)
        assert row is not None
    return row


async def pause(session: AsyncSession, *, name: str, reason: str) -> bool:
    """Pause deliveries to the connection; False if it was paused already."""
    row = await state_of(session, name=name, for_update=True)
    if row.paused_at is not None:
        return False
    row.paused_at, row.paused_reason, row.checked_at = utcnow(), reason[:MAX_ERROR_CHARS], utcnow()
    return True


async def resume(session: AsyncSession, *, name: str) -> bool:
    """Deliver to the connection again; False if it was not paused."""
    row = await state_of(session, name=name, for_update=True)
    if row.paused_at is None:
        return False
    row.paused_at = row.paused_reason = None
    return True


async def paused(session: AsyncSession) -> dict[str, str]:
    """Paused connections and why."""
    rows = await session.execute(
        select(ConnectionStateRow.name, ConnectionStateRow.paused_reason).where(
            ConnectionStateRow.paused_at.is_not(None)
        )
    )
    return {name: reason or "" for name, reason in rows.all()}


async def take_check(session: AsyncSession, *, name: str, every: float) -> bool:
    """Whether this instance should check the paused connection now (one instance per period)."""
    now = utcnow()
    taken = await session.execute(
        update(ConnectionStateRow)
        .where(
            ConnectionStateRow.name == name,
            ConnectionStateRow.paused_at.is_not(None),
            or_(
                ConnectionStateRow.checked_at.is_(None),
                ConnectionStateRow.checked_at < now - timedelta(seconds=every),
            ),
        )
        .values(checked_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


async def request_poll(session: AsyncSession, *, name: str) -> datetime:
    row = await state_of(session, name=name, for_update=True)
    row.poll_requested_at = utcnow()
    return row.poll_requested_at


async def polled(
    session: AsyncSession,
    *,
    name: str,
    started: datetime,
    cursor: dict[str, Any] | None,
    next_at: datetime,
    error: str | None = None,
) -> None:
    """Record a poll's end: the new cursor and the next due time, or the error."""
    row = await state_of(session, name=name, for_update=True)
    row.polled_at, row.next_poll_at = utcnow(), next_at
    if row.poll_requested_at is not None and row.poll_requested_at <= started:
        row.poll_requested_at = None
    if error is None:
        row.cursor, row.last_success_at, row.poll_failures = cursor, utcnow(), 0
    else:
        row.last_error, row.last_error_at = error[:MAX_ERROR_CHARS], utcnow()
        row.poll_failures += 1


async def queue_counts(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Per connection: deliveries pending, in flight and dead."""
    rows = await session.execute(
        select(OutboxRow.connection, OutboxRow.state, func.count())
        .where(OutboxRow.state.in_([PENDING, IN_FLIGHT, DEAD]))
        .group_by(OutboxRow.connection, OutboxRow.state)
    )
    out: dict[str, dict[str, int]] = {}
    for connection, state, count in rows.all():
        out.setdefault(connection, {PENDING: 0, IN_FLIGHT: 0, DEAD: 0})[state] = count
    return out


async def delivery_news(
    session: AsyncSession,
) -> dict[str, tuple[datetime | None, OutboxRow | None]]:
    """Per connection: when a delivery last succeeded, and the last one that failed."""
    done = await session.execute(
        select(OutboxRow.connection, func.max(OutboxRow.done_at)).group_by(OutboxRow.connection)
    )
    last_failed = (
        select(OutboxRow.connection, func.max(OutboxRow.id).label("id"))
        .where(OutboxRow.last_error.is_not(None))
        .group_by(OutboxRow.connection)
        .subquery()
    )
    failed = await session.execute(
        select(OutboxRow).join(last_failed, last_failed.c.id == OutboxRow.id)
    )
    out: dict[str, tuple[datetime | None, OutboxRow | None]] = {
        name: (at, None) for name, at in done.all()
    }
    for row in failed.scalars():
        out[row.connection] = (out.get(row.connection, (None, None))[0], row)
    return out
