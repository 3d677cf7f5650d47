"""Reading the delivery log, listing and replaying dead letters, and queue figures."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.database.base import utcnow
from gateway.delivery.models import DeliveryAttempt, DeliveryStatus
from gateway.errors import Conflict, NotFound
from gateway.sync.tables import (
    DEAD,
    DISCARDED,
    DONE,
    IN_FLIGHT,
    PENDING,
    DeliveryAttemptRow,
    OutboxRow,
)
from gateway.ticket import service as tickets


async def _with_attempts(session: AsyncSession, rows: list[OutboxRow]) -> list[DeliveryStatus]:
    attempts: dict[int, list[DeliveryAttempt]] = defaultdict(list)
    if rows:
        result = await session.execute(
            select(DeliveryAttemptRow)
            .where(DeliveryAttemptRow.outbox_id.in_([r.id for r in rows]))
            .order_by(DeliveryAttemptRow.id)
        )
        for attempt in result.scalars():
            attempts[attempt.outbox_id].append(DeliveryAttempt.model_validate(attempt))
    return [
        DeliveryStatus.model_validate(row).model_copy(update={"attempts": attempts[row.id]})
        for row in rows
    ]


async def for_ticket(session: AsyncSession, *, ticket_id: int) -> list[DeliveryStatus]:
    """Every delivery of one ticket, with each attempt."""
    result = await session.execute(
        select(OutboxRow).where(OutboxRow.ticket_id == ticket_id).order_by(OutboxRow.id)
    )
    return await _with_attempts(session, list(result.scalars()))


async def dead_letters(
    session: AsyncSession, *, connection: str | None = None, limit: int = 100
) -> list[DeliveryStatus]:
    """Dead letters, oldest first."""
    query = select(OutboxRow).where(OutboxRow.state == DEAD)
    if connection is not None:
        query = query.where(OutboxRow.connection == connection)
    result = await session.execute(query.order_by(OutboxRow.id).limit(limit))
    return await _with_attempts(session, list(result.scalars()))


async def _dead_letter(session: AsyncSession, outbox_id: int) -> OutboxRow:
    row = await session.get(OutboxRow, outbox_id, with_for_update=True)
    if row is None:
        raise NotFound(f"delivery {outbox_id} not found")
    if row.state != DEAD:
        raise Conflict(f"delivery {outbox_id} is {row.state}, not a dead letter")
    return row


async def discard(
    session: AsyncSession, *, outbox_id: int, reason: str, actor: tickets.Actor
) -> DeliveryStatus:
    """Give up on a dead letter, with the reason kept in the ticket's history; the deliveries
    behind it (same ticket and connection) go on."""
    row = await _dead_letter(session, outbox_id)
    row.state, row.outcome, row.updated_at = DISCARDED, "discarded", utcnow()
    await tickets.note(
        session,
        ticket_id=row.ticket_id,
        action="delivery_discarded",
        actor=actor,
        diff={
            "delivery": {
                "id": row.id,
                "connection": row.connection,
                "action": row.action,
                "reason": reason,
            }
        },
    )
    await session.flush()
    return (await _with_attempts(session, [row]))[0]


async def replay(session: AsyncSession, *, outbox_id: int) -> DeliveryStatus:
    """Put a dead letter back in the queue, due now; retries start again from the first step."""
    row = await _dead_letter(session, outbox_id)
    now = utcnow()
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id)
        .values(
            state=PENDING,
            outcome="replayed",
            next_attempt_at=now,
            retry_base=row.attempt,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(row)
    return (await _with_attempts(session, [row]))[0]


async def queue_figures(session: AsyncSession) -> tuple[dict[str, int], float]:
    """Undelivered rows by state, and the age in seconds of the oldest one."""
    states = await session.execute(
        select(OutboxRow.state, func.count())
        .where(OutboxRow.state != DONE)
        .group_by(OutboxRow.state)
    )
    depth = {PENDING: 0, IN_FLIGHT: 0, DEAD: 0} | {state: count for state, count in states.all()}
    oldest: datetime | None = await session.scalar(
        select(func.min(OutboxRow.created_at)).where(OutboxRow.state.in_([PENDING, IN_FLIGHT]))
    )
    if oldest is not None and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    age = (utcnow() - oldest).total_seconds() if oldest else 0.0
    return depth, max(age, 0.0)
