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

from sqlalchemy import Integer, String, and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.connection.tables import ConnectionStateRow
from gateway.database.base import utcnow
from gateway.sync.tables import IN_FLIGHT, PENDING, SETTLED, OutboxRow


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


def _claim_statement(*, skip_locked: bool):  # type: ignore[no-untyped-def]
    """Claim the rows due at `:now` whose earlier rows for the same (ticket, connection) are
    settled, for connections that are not paused.

    Built once per dialect with bound parameters: building it (an alias of the outbox) costs more
    CPU than running it.
    """
    now = bindparam("now", type_=OutboxRow.__table__.c.next_attempt_at.type)
    earlier = aliased(OutboxRow)
    blocked = exists().where(
        earlier.ticket_id == OutboxRow.ticket_id,
        earlier.connection == OutboxRow.connection,
        earlier.id < OutboxRow.id,
        earlier.state.not_in(SETTLED),
    )
    paused = select(ConnectionStateRow.name).where(ConnectionStateRow.paused_at.is_not(None))
    due = or_(
        and_(OutboxRow.state == PENDING, OutboxRow.next_attempt_at <= now),
        and_(OutboxRow.state == IN_FLIGHT, OutboxRow.lease_until < now),
    )
    ids = (
        select(OutboxRow.id)
        .where(due, ~blocked, OutboxRow.connection.not_in(paused))
        .order_by(OutboxRow.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if skip_locked:
        ids = ids.with_for_update(skip_locked=True)
    return (
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids.scalar_subquery()))
        .values(
            state=IN_FLIGHT,
            attempt=OutboxRow.attempt + 1,
            lease_owner=bindparam("worker", type_=String),
            lease_until=bindparam("lease_until", type_=OutboxRow.__table__.c.lease_until.type),
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


_CLAIM = {False: _claim_statement(skip_locked=False), True: _claim_statement(skip_locked=True)}


async def claim(
    session: AsyncSession, *, worker: str, limit: int, lease_seconds: float, commit: bool = True
) -> list[Claim]:
    """Claim up to `limit` due rows for `worker` (and commit the claim unless told not to)."""
    now = utcnow()
    statement = _CLAIM[session.get_bind().dialect.name == "postgresql"]
    result = await session.execute(
        statement,
        {
            "now": now,
            "limit": limit,
            "worker": worker,
            "lease_until": now + timedelta(seconds=lease_seconds),
        },
    )
    claims = sorted((Claim(*row) for row in result.all()), key=lambda c: c.outbox_id)
    if commit:
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
