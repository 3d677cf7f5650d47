"""Record the outcome of one delivery attempt, only while its claim still holds.

With `commit=False` the result is staged in the caller's transaction, so a worker can write many
results with one commit; a result lost before its commit only means the row is delivered again,
under the same idempotency key, once its lease expires.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.errors import AdapterError, AuthenticationError, Exchange, RetryableError
from gateway.adapter.models import Action, Delivery, PushResult
from gateway.connection import state as connection_state
from gateway.database.base import utcnow
from gateway.delivery import metrics
from gateway.delivery.claim import Claim, fenced
from gateway.delivery.schedule import retry_delay
from gateway.sync.policy import is_requirement_rule
from gateway.sync.tables import (
    DEAD,
    DONE,
    IN_FLIGHT,
    PENDING,
    DeliveryAttemptRow,
    EchoRow,
    OutboxRow,
)
from gateway.ticket.enums import LinkRole
from gateway.ticket.tables import LinkRow

log = logging.getLogger("gateway.delivery")


def entry_fingerprint(connection: str, remote_id: str | None, body: str) -> str:
    """What an echo of a journal entry we wrote to `connection` looks like."""
    return hashlib.sha256(f"{connection}\x00{remote_id}\x00{body.strip()}".encode()).hexdigest()


async def record_success(
    session: AsyncSession,
    claim: Claim,
    *,
    worker: str,
    started: datetime,
    delivery: Delivery,
    result: PushResult,
    commit: bool = True,
) -> bool:
    """Mark the row done, keep the remote id on the link; False if the claim was lost."""
    now = utcnow()
    exchange = _exchange(result.exchange)
    done = {
        "state": DONE,
        "outcome": "delivered",
        "done_at": now,
        "updated_at": now,
        "lease_owner": None,
        "lease_until": None,
        "last_error": None,
        "last_exchange": exchange,
    }
    fences: _Fences | None = session.info.get(_FENCES)
    if fences is not None and claim.outbox_id in fences.checked:
        if (claim.outbox_id, claim.attempt) not in fences.held:
            return await _lease_lost(session, claim, worker)
        fences.done.append({"id": claim.outbox_id, **done})
    else:
        updated = await session.execute(fenced(claim).values(**done))
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            return await _lease_lost(session, claim, worker)
    if delivery.action == Action.CREATE and result.remote is not None:
        await _keep_link(session, claim, result)
    written = _written_text(delivery)
    if written is not None:  # what we wrote may come back as the remote's own comment: an echo
        remote = result.remote or delivery.remote
        remote_id = remote.remote_id if remote else None
        fingerprint = entry_fingerprint(claim.connection, remote_id, written)
        session.add(EchoRow(connection=claim.connection, fingerprint=fingerprint))
    _attempt(session, claim, worker, started, "delivered", None, exchange)
    if commit:
        await session.commit()
    metrics.DELIVERIES.labels(claim.connection, "delivered").inc()
    metrics.DELIVERY_LATENCY.labels(claim.connection).observe(
        (now - claim.created_at).total_seconds()
    )
    return True


async def record_failure(
    session: AsyncSession,
    claim: Claim,
    *,
    worker: str,
    started: datetime,
    error: AdapterError,
    max_attempts: int,
    commit: bool = True,
) -> bool:
    """Schedule a retry, or make a dead letter keeping the request, response and rule.

    Refused credentials are the connection's problem, not the delivery's: the connection is
    paused and the row waits, due as soon as it resumes, instead of becoming a dead letter.
    """
    now = utcnow()
    exchange = _exchange(error.exchange)
    if isinstance(error, AuthenticationError):
        return await _paused(session, claim, worker=worker, started=started, error=error)
    retry = isinstance(error, RetryableError) and claim.attempt - claim.retry_base < max_attempts
    values: dict[str, Any] = {
        "updated_at": now,
        "lease_owner": None,
        "lease_until": None,
        "last_error": error.message,
        "last_exchange": exchange,
    }
    if retry:
        retry_after = error.retry_after if isinstance(error, RetryableError) else None
        delay = retry_delay(claim.attempt - claim.retry_base, retry_after)  # a replay starts over
        values.update(
            state=PENDING, outcome="retry", next_attempt_at=now + timedelta(seconds=delay)
        )
    else:
        values.update(state=DEAD, outcome="dead")
    updated = await session.execute(fenced(claim).values(**values))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        return await _lease_lost(session, claim, worker)
    outcome = "retry" if retry else "dead"
    _attempt(session, claim, worker, started, outcome, error.message, exchange)
    if commit:
        await session.commit()
    metrics.DELIVERIES.labels(claim.connection, outcome).inc()
    if not retry:
        log.error(
            "delivery dead-lettered",
            extra={
                "outbox_id": claim.outbox_id,
                "ticket_id": claim.ticket_id,
                "connection": claim.connection,
                "action": claim.action,
                "rule": claim.rule,
                "attempt": claim.attempt,
                "error": error.message,
            },
        )
    return True


async def _paused(
    session: AsyncSession, claim: Claim, *, worker: str, started: datetime, error: AdapterError
) -> bool:
    now = utcnow()
    exchange = _exchange(error.exchange)
    updated = await session.execute(
        fenced(claim).values(
            state=PENDING,
            outcome="paused",
            next_attempt_at=now,
            updated_at=now,
            lease_owner=None,
            lease_until=None,
            last_error=error.message,
            last_exchange=exchange,
        )
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        return await _lease_lost(session, claim, worker)
    _attempt(session, claim, worker, started, "paused", error.message, exchange)
    if await connection_state.pause(session, name=claim.connection, reason=error.message):
        metrics.CONNECTION_PAUSES.labels(claim.connection).inc()
        log.error(
            "connection paused: the remote refused our credentials",
            extra={"connection": claim.connection, "error": error.message},
        )
    metrics.DELIVERIES.labels(claim.connection, "paused").inc()
    return True


async def record_unwritable(session: AsyncSession, claim: Claim, *, worker: str, why: str) -> bool:
    """The result of a push could not be stored: a dead letter saying so, with nothing else,
    so the row is never pushed again and again when its lease runs out."""
    now = utcnow()
    message = f"the result of the push could not be stored ({why}); check the remote"
    updated = await session.execute(
        fenced(claim).values(
            state=DEAD,
            outcome="unwritable",
            updated_at=now,
            lease_owner=None,
            lease_until=None,
            last_error=message,
            last_exchange=None,
        )
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        return await _lease_lost(session, claim, worker)
    _attempt(session, claim, worker, now, "unwritable", message, None)
    metrics.DELIVERIES.labels(claim.connection, "unwritable").inc()
    log.error("delivery result unwritable", extra={"outbox_id": claim.outbox_id, "why": why})
    return True


def _written_text(delivery: Delivery) -> str | None:
    """The text a delivery wrote at the remote as a comment: an entry, or a solution."""
    if delivery.action == Action.ENTRY and delivery.entry is not None:
        return delivery.entry.body
    if delivery.action == Action.SOLVE and delivery.ticket.solution:
        return delivery.ticket.solution
    return None


async def _lease_lost(session: AsyncSession, claim: Claim, worker: str) -> bool:
    """The fenced update matched nothing, so nothing was written for this claim."""
    metrics.DELIVERIES.labels(claim.connection, "lease_lost").inc()
    log.warning(
        "claim lost before the result was written; another worker owns the row",
        extra={"outbox_id": claim.outbox_id, "attempt": claim.attempt, "worker": worker},
    )
    return False


_FENCES = "delivery.fences"  # session.info: the claims check_fences found still held


@dataclass
class _Fences:
    checked: set[int]  # outbox ids
    held: set[tuple[int, int]]  # (outbox id, attempt) of the claims that still hold
    done: list[dict[str, Any]] = field(default_factory=list)  # their rows' updates, pending


async def check_fences(session: AsyncSession, claims: list[Claim]) -> None:
    """Check at once which of the claims whose results are written together still hold, and
    lock their rows (on SQLite the write transaction does); `record_success` then leaves each
    row's update for `write_fenced`, one statement for them all instead of one each, which
    on SQLite is one trip to the driver's thread while the write lock is held."""
    wanted = {claim.outbox_id for claim in claims}
    rows = await session.execute(
        select(OutboxRow.id, OutboxRow.attempt)
        .where(OutboxRow.id.in_(wanted), OutboxRow.state == IN_FLIGHT)
        .with_for_update()
    )
    session.info[_FENCES] = _Fences(wanted, {(int(i), int(a)) for i, a in rows})


async def write_fenced(session: AsyncSession) -> None:
    """Update the rows `record_success` left pending since `check_fences`."""
    fences: _Fences | None = session.info.pop(_FENCES, None)
    if fences is not None and fences.done:
        await session.execute(
            update(OutboxRow).execution_options(synchronize_session=False), fences.done
        )


_LINKS = "delivery.links"  # session.info: the links preload_links looked up, by ticket


async def preload_links(session: AsyncSession, claims: list[Claim]) -> None:
    """Look up at once the links that results written together may keep a remote id on (each
    created ticket's), instead of one query per result; `_keep_link` then asks the database
    only for tickets not preloaded."""
    tickets = {c.ticket_id for c in claims if c.action == Action.CREATE.value}
    if not tickets:
        return
    found: dict[tuple[int, str, str], LinkRow] = {}
    rows = await session.scalars(
        select(LinkRow).where(LinkRow.ticket_id.in_(tickets)).order_by(LinkRow.id.desc())
    )
    for link in rows:  # the oldest of several wins, as below
        found[(link.ticket_id, link.connection, link.role)] = link
    session.info[_LINKS] = (tickets, found)


async def _keep_link(session: AsyncSession, claim: Claim, result: PushResult) -> None:
    assert result.remote is not None
    role = LinkRole.REQUIREMENT if is_requirement_rule(claim.rule) else LinkRole.ASSIGNEE
    if claim.action == Action.UNLINK.value:
        return  # the link was taken away when the unlink was asked for
    key = (claim.ticket_id, claim.connection, role.value)
    preloaded, found = session.info.get(_LINKS, (set(), {}))
    if claim.ticket_id in preloaded:
        link = found.get(key)
    else:
        link = await session.scalar(
            select(LinkRow)
            .where(
                LinkRow.ticket_id == claim.ticket_id,
                LinkRow.connection == claim.connection,
                LinkRow.role == role.value,
            )
            .order_by(LinkRow.id)
            .limit(1)
        )
    if link is None:
        link = LinkRow(ticket_id=claim.ticket_id, connection=claim.connection, role=role.value)
        session.add(link)
        found[key] = link  # a second result on the same ticket finds it
    link.external_id = result.remote.remote_id
    link.external_url = result.remote.remote_url


def _attempt(
    session: AsyncSession,
    claim: Claim,
    worker: str,
    started: datetime,
    outcome: str,
    error: str | None,
    exchange: dict[str, Any] | None,
) -> None:
    session.add(
        DeliveryAttemptRow(
            outbox_id=claim.outbox_id,
            attempt=claim.attempt,
            worker=worker,
            outcome=outcome,
            error=error,
            exchange=exchange,
            started_at=started,
        )
    )


def _exchange(exchange: Exchange | None) -> dict[str, Any] | None:
    return exchange.as_dict() if exchange is not None else None
