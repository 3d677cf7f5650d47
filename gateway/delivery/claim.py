"""Claim outbox rows for one worker, and write a delivery's result only while the claim holds.

PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers on many machines take disjoint rows without
waiting on each other. SQLite has no row locks: every transaction starts with `BEGIN IMMEDIATE`
(see database/engine.py), so the claiming UPDATE runs under the database's single write lock and
two claimers, in any process, are serialised; the `state` condition then gives each row to one.

A claim is fenced by its attempt number: a worker that stalls past its lease finds the row
re-claimed (attempt + 1) and its late result is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.database.base import utcnow
from gateway.sync.tables import DONE, IN_FLIGHT, PENDING, OutboxRow


@dataclass(frozen=True, slots=True)
class Claim:
    outbox_id: int
    ticket_id: int
    connection: str
    action: str
    rule: str
    change_id: int | None
    entry_id: int | None
    attempt: int
    created_at: datetime
    retry_base: int = 0

    @property
    def idempotency_key(self) -> str:
        """Stable across every retry of this row, whichever worker sends it."""
        return f"gw-{self.outbox_id}"


def claimable(now: datetime, limit: int, *, skip_locked: bool):  # type: ignore[no-untyped-def]
    """Ids of rows due now whose earlier rows for the same (ticket, connection) are all done."""
    earlier = aliased(OutboxRow)
    blocked = exists().where(
        earlier.ticket_id == OutboxRow.ticket_id,
        earlier.connection == OutboxRow.connection,
        earlier.id < OutboxRow.id,
        earlier.state != DONE,
    )
    due = or_(
        and_(OutboxRow.state == PENDING, OutboxRow.next_attempt_at <= now),
        and_(OutboxRow.state == IN_FLIGHT, OutboxRow.lease_until < now),
    )
    query = select(OutboxRow.id).where(due, ~blocked).order_by(OutboxRow.id).limit(limit)
    return query.with_for_update(skip_locked=True) if skip_locked else query


async def claim(
    session: AsyncSession, *, worker: str, limit: int, lease_seconds: float
) -> list[Claim]:
    """Claim up to `limit` due rows for `worker` and commit the claim."""
    now = utcnow()
    skip_locked = session.get_bind().dialect.name == "postgresql"
    ids = claimable(now, limit, skip_locked=skip_locked).scalar_subquery()
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids))
        .values(
            state=IN_FLIGHT,
            attempt=OutboxRow.attempt + 1,
            lease_owner=worker,
            lease_until=now + timedelta(seconds=lease_seconds),
            updated_at=now,
        )
        .returning(
            OutboxRow.id,
            OutboxRow.ticket_id,
            OutboxRow.connection,
            OutboxRow.action,
            OutboxRow.rule,
            OutboxRow.change_id,
            OutboxRow.entry_id,
            OutboxRow.attempt,
            OutboxRow.created_at,
            OutboxRow.retry_base,
        )
        .execution_options(synchronize_session=False)
    )
    claims = sorted((Claim(*row) for row in result.all()), key=lambda c: c.outbox_id)
    await session.commit()
    return claims


def fenced(claim: Claim):  # type: ignore[no-untyped-def]
    """An UPDATE of this claim's row that matches only while the claim still holds."""
    return (
        update(OutboxRow)
        .where(
            OutboxRow.id == claim.outbox_id,
            OutboxRow.attempt == claim.attempt,
            OutboxRow.state == IN_FLIGHT,
        )
        .execution_options(synchronize_session=False)
    )
