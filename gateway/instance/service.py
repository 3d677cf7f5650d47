"""Database functions for instances and leases: register, beat, judge, take over, lease.

Everything an instance holds is marked with its id: outbox claims (`lease_owner`), in-flight
idempotency keys (`owner`) and leases (`holder`). When an instance is judged dead, any other
instance hands all of it on at once, in one transaction: claims become claimable now, keys are
released for the client's retry, leases are free. Fencing keeps this safe even when the judgement
is wrong: a late delivery result is refused by its attempt number, a late create by its key.
"""

from __future__ import annotations

import os
import socket
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import __version__
from gateway.database.base import utcnow
from gateway.idempotency.tables import IdempotencyKeyRow
from gateway.instance.tables import ALIVE, DEAD, InstanceRow, LeaseRow
from gateway.sync.tables import IN_FLIGHT, OutboxRow

LOCK_NAMESPACE = 0x67770001  # first key of every instance's PostgreSQL advisory lock
KEEP_DEAD = timedelta(hours=1)  # how long a dead instance stays listed


@dataclass(frozen=True, slots=True)
class Holdings:
    """What one instance had, as handed on."""

    deliveries: int = 0
    idempotency_keys: int = 0
    leases: int = 0


def lock_key(instance_id: str) -> int:
    """The second key of the instance's advisory lock: 31 bits, so it reads the same everywhere."""
    return zlib.crc32(instance_id.encode()) & 0x7FFFFFFF


async def register(session: AsyncSession, *, instance_id: str, role: str) -> InstanceRow:
    now = utcnow()
    row = InstanceRow(
        id=instance_id,
        role=role,
        version=__version__,
        host=socket.gethostname()[:255],
        pid=os.getpid(),
        lock_key=lock_key(instance_id),
        state=ALIVE,
        started_at=now,
        heartbeat_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def beat(session: AsyncSession, *, instance_id: str) -> bool:
    """Renew the heartbeat; False if the others judged this instance dead meanwhile."""
    result = await session.execute(
        update(InstanceRow)
        .where(InstanceRow.id == instance_id, InstanceRow.state != DEAD)
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def rejoin(session: AsyncSession, *, instance_id: str, role: str) -> None:
    """Back after being judged dead (a long pause, a partition), or never registered (the
    database was away at start): alive again, holding nothing."""
    rejoined = await session.execute(
        update(InstanceRow)
        .where(InstanceRow.id == instance_id)
        .values(state=ALIVE, heartbeat_at=utcnow(), ended_at=None)
        .execution_options(synchronize_session=False)
    )
    if not rejoined.rowcount:  # type: ignore[attr-defined]
        await register(session, instance_id=instance_id, role=role)


async def set_state(session: AsyncSession, *, instance_id: str, state: str) -> None:
    await session.execute(
        update(InstanceRow)
        .where(InstanceRow.id == instance_id)
        .values(state=state)
        .execution_options(synchronize_session=False)
    )


async def others(session: AsyncSession, *, instance_id: str) -> list[InstanceRow]:
    """Every other instance not yet known to be dead."""
    result = await session.execute(
        select(InstanceRow).where(InstanceRow.id != instance_id, InstanceRow.state != DEAD)
    )
    return list(result.scalars())


async def held_locks(session: AsyncSession) -> set[int]:
    """The instance locks PostgreSQL sees held: a process that died has none, at once."""
    result = await session.execute(
        text(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid::bigint = :namespace AND granted"
        ),
        {"namespace": LOCK_NAMESPACE},
    )
    return {int(objid) for (objid,) in result}


def is_dead(
    row: InstanceRow,
    *,
    now: datetime,
    dead_after: float,
    quick_after: float,
    locks: set[int] | None,
    host: str,
) -> bool:
    """Whether an instance is gone.

    Its heartbeat is older than `dead_after`; or, once it is older than `quick_after` (a beat
    missed), the process is seen to be gone: on PostgreSQL its lock is no longer held (the
    database releases it when the connection drops), on one host its process no longer runs.
    """
    age = (now - row.heartbeat_at).total_seconds()
    if age > dead_after:
        return True
    if age <= quick_after:
        return False
    if locks is not None:
        return row.lock_key not in locks
    return row.host == host and not process_runs(row.pid)


def process_runs(pid: int) -> bool:
    """Whether a process of this host runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


async def take_over(
    session: AsyncSession, *, instance_id: str, state: str = DEAD
) -> Holdings | None:
    """Hand on everything `instance_id` holds; None if another instance already did.

    Called for a dead instance (state DEAD), and by an instance leaving on its own.
    """
    now = utcnow()
    marked = await session.execute(
        update(InstanceRow)
        .where(InstanceRow.id == instance_id, InstanceRow.state != DEAD)
        .values(state=state, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    if not marked.rowcount:  # type: ignore[attr-defined]
        return None
    deliveries = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.state == IN_FLIGHT, OutboxRow.lease_owner == instance_id)
        .values(lease_until=now)
        .execution_options(synchronize_session=False)
    )
    keys = await session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.owner == instance_id, IdempotencyKeyRow.state == "in_flight"
        )
    )
    leases = await session.execute(
        update(LeaseRow)
        .where(LeaseRow.holder == instance_id)
        .values(holder=None, until=now)
        .execution_options(synchronize_session=False)
    )
    return Holdings(
        deliveries=deliveries.rowcount,  # type: ignore[attr-defined]
        idempotency_keys=keys.rowcount,  # type: ignore[attr-defined]
        leases=leases.rowcount,  # type: ignore[attr-defined]
    )


async def forget(session: AsyncSession, *, instance_id: str) -> None:
    """Remove a stopped instance, and dead ones listed long enough."""
    await session.execute(delete(InstanceRow).where(InstanceRow.id == instance_id))
    await session.execute(
        delete(InstanceRow).where(
            InstanceRow.state == DEAD, InstanceRow.ended_at < utcnow() - KEEP_DEAD
        )
    )


async def listing(session: AsyncSession) -> list[tuple[InstanceRow, Holdings, list[str]]]:
    """Every listed instance with what it holds now."""
    rows = list(
        (await session.execute(select(InstanceRow).order_by(InstanceRow.started_at))).scalars()
    )
    claims = Counter(
        dict(
            (
                await session.execute(
                    select(OutboxRow.lease_owner, func.count())
                    .where(OutboxRow.state == IN_FLIGHT)
                    .group_by(OutboxRow.lease_owner)
                )
            ).all()
        )
    )
    keys = Counter(
        dict(
            (
                await session.execute(
                    select(IdempotencyKeyRow.owner, func.count())
                    .where(IdempotencyKeyRow.state == "in_flight")
                    .group_by(IdempotencyKeyRow.owner)
                )
            ).all()
        )
    )
    leases: dict[str, list[str]] = {}
    for name, holder in (await session.execute(select(LeaseRow.name, LeaseRow.holder))).all():
        if holder is not None:
            leases.setdefault(holder, []).append(name)
    return [
        (
            row,
            Holdings(claims[row.id], keys[row.id], len(leases.get(row.id, []))),
            sorted(leases.get(row.id, [])),
        )
        for row in rows
    ]


async def acquire_lease(
    session: AsyncSession, *, name: str, instance_id: str, seconds: float
) -> bool:
    """Take or renew the lease `name` for `seconds`; False while another live instance holds it."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    row = await session.get(LeaseRow, name, with_for_update=True)
    if row is None:
        try:
            async with session.begin_nested():
                session.add(LeaseRow(name=name, holder=instance_id, until=until, acquired_at=now))
        except IntegrityError:  # another instance created it first
            return False
        return True
    if row.holder not in (None, instance_id) and row.until > now:
        return False
    if row.holder != instance_id:
        row.acquired_at = now
    row.holder, row.until = instance_id, until
    return True


async def release_lease(session: AsyncSession, *, name: str, instance_id: str) -> None:
    await session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, LeaseRow.holder == instance_id)
        .values(holder=None, until=utcnow())
        .execution_options(synchronize_session=False)
    )
