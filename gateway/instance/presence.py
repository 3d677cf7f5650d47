"""This process in the instance registry: it registers, beats, and takes over from the dead.

Every instance watches every other one, so there is no leader to lose. A beat every
`heartbeat_seconds` (0.5 s) keeps an instance alive; one whose beat is older than `dead_after`
(5 s) is dead whatever the cause (a frozen machine, a partition). A process that simply died is
seen much sooner: on PostgreSQL each instance holds an advisory lock on a connection of its own,
which the database drops the moment the process dies; on SQLite, on one host, the process is
looked up. Either way, once a beat is missed, the dead instance's work is handed on: a
SIGKILLed instance's deliveries and idempotency keys move within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

import asyncpg
from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.database.base import utcnow
from gateway.instance import service
from gateway.instance.tables import STOPPING
from gateway.sync.outbox import notify_workers

log = logging.getLogger("gateway.instance")
TAKEOVERS = Counter(
    "gateway_instance_takeovers_total", "Dead instances whose work this instance handed on"
)
DATABASE_DOWN = (SQLAlchemyError, OSError, TimeoutError, asyncpg.PostgresError)


def new_instance_id() -> str:
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Presence:
    """Registers this process, keeps it alive in the registry, and reaps the dead."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        database_url: str,
        role: str,
        heartbeat_seconds: float = 0.5,
        dead_after: float = 5.0,
    ) -> None:
        self.id = new_instance_id()
        self.sessionmaker = sessionmaker
        self.database_url = database_url
        self.role = role
        self.heartbeat_seconds = heartbeat_seconds
        self.dead_after = dead_after
        self.wakers: list[Callable[[], None]] = []  # called when deliveries were taken over
        self._postgres = make_url(database_url).get_backend_name() == "postgresql"
        self._lock: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._host = socket.gethostname()[:255]

    async def start(self) -> None:
        """Register and start beating; if the database is away (or not migrated yet), the
        process still starts, answers /readyz with the reason, and registers once it can."""
        try:
            async with self.sessionmaker() as session:
                await service.register(session, instance_id=self.id, role=self.role)
                await session.commit()
            log.info("instance registered", extra={"instance": self.id, "role": self.role})
        except DATABASE_DOWN as exc:
            log.warning("not registered yet", extra={"error_type": type(exc).__name__})
        await self._hold_lock()
        self._task = asyncio.create_task(self._run())

    async def stopping(self) -> None:
        """Shown as stopping while it finishes what it holds (a graceful stop)."""
        with contextlib.suppress(*DATABASE_DOWN):
            async with self.sessionmaker() as session:
                await service.set_state(session, instance_id=self.id, state=STOPPING)
                await session.commit()

    async def leave(self) -> None:
        """Hand back whatever is still held and leave the registry."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with self.sessionmaker() as session:
                held = await service.take_over(session, instance_id=self.id, state=STOPPING)
                await service.forget(session, instance_id=self.id)
                await session.commit()
            if held is not None and held.deliveries:
                await self._wake_workers()
            log.info("instance left", extra={"instance": self.id, "handed_back": str(held)})
        except DATABASE_DOWN:
            log.warning("could not leave the registry; the others will judge this one dead")
        await self._release_lock()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self.tick()
            except DATABASE_DOWN as exc:
                log.warning("heartbeat failed", extra={"error_type": type(exc).__name__})

    async def tick(self) -> list[str]:
        """Beat once and take over from the instances found dead; their ids."""
        started = time.monotonic()
        async with self.sessionmaker() as session:
            if self._postgres:  # a lost beat is only a late one: no need to wait for the disk
                await session.execute(text("SET LOCAL synchronous_commit = off"))
            if not await service.beat(session, instance_id=self.id):
                log.warning("not alive in the registry; (re)joining", extra={"instance": self.id})
                await service.rejoin(session, instance_id=self.id, role=self.role)
            candidates = await service.others(session, instance_id=self.id)
            now = utcnow()
            quick_after = 1.5 * self.heartbeat_seconds  # one beat missed, and seen gone
            stale = [r for r in candidates if (now - r.heartbeat_at).total_seconds() > quick_after]
            locks = await service.held_locks(session) if stale and self._postgres else None
            dead = [
                row.id
                for row in stale
                if service.is_dead(
                    row,
                    now=now,
                    dead_after=self.dead_after,
                    quick_after=quick_after,
                    locks=locks,
                    host=self._host,
                )
            ]
            await session.commit()
        if self._postgres and (self._lock is None or self._lock.is_closed()):
            await self._hold_lock()
        for instance_id in dead:
            await self._take_over(instance_id, seen_in=time.monotonic() - started)
        return dead

    async def _take_over(self, instance_id: str, *, seen_in: float) -> None:
        async with self.sessionmaker() as session:
            held = await service.take_over(session, instance_id=instance_id)
            await session.commit()
        if held is None:  # another instance was quicker
            return
        TAKEOVERS.inc()
        log.warning(
            "took over from a dead instance",
            extra={
                "instance": self.id,
                "dead": instance_id,
                "deliveries": held.deliveries,
                "idempotency_keys": held.idempotency_keys,
                "leases": held.leases,
                "seconds": round(seen_in, 3),
            },
        )
        if held.deliveries:
            await self._wake_workers()

    async def _wake_workers(self) -> None:
        for wake in self.wakers:
            wake()
        with contextlib.suppress(*DATABASE_DOWN):
            async with self.sessionmaker() as session:
                await notify_workers(session)

    async def _hold_lock(self) -> None:
        """PostgreSQL: hold this instance's advisory lock on a connection of its own."""
        if not self._postgres:
            return
        await self._release_lock()
        url = make_url(self.database_url).set(drivername="postgresql")
        try:
            connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
            await connection.execute(
                "SELECT pg_advisory_lock($1, $2)",
                service.LOCK_NAMESPACE,
                service.lock_key(self.id),
            )
            self._lock = connection
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            log.warning("instance lock not held yet", extra={"error_type": type(exc).__name__})

    async def _release_lock(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await self._lock.close()
            self._lock = None
