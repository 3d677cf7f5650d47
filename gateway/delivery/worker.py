"""The delivery worker: claims due outbox rows and pushes them, many at once, in order per pair.

Rows for one (ticket, connection) are never claimable together (see claim.py), so running many
deliveries concurrently keeps each pair in order while one slow or failing ticket holds up no
other. Wake-ups come from LISTEN/NOTIFY on PostgreSQL and from in-process commits; polling is the
fallback that always works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.adapter.errors import AdapterError, PermanentError, RetryableError
from gateway.adapter.mail import MailAdapter
from gateway.adapter.models import Delivery, PushResult
from gateway.connection.service import Connection, Connections
from gateway.database import ids
from gateway.database.base import utcnow
from gateway.delivery import claim as claims
from gateway.delivery import metrics
from gateway.delivery.pause import resume_when_healthy
from gateway.delivery.render import render_deliveries
from gateway.delivery.results import (
    check_fences,
    preload_links,
    record_failure,
    record_success,
    record_unwritable,
    write_fenced,
)
from gateway.sync.outbox import NOTIFY_CHANNEL

log = logging.getLogger("gateway.worker")
DRAIN_SECONDS = 10.0
MAX_PAUSE_SECONDS = 1.0  # a refused connect costs nothing; deliveries resume within 1 s
LISTEN_RETRY_SECONDS = 1.0
DATABASE_DOWN = (SQLAlchemyError, OSError, TimeoutError, asyncpg.PostgresError)
DISCONNECTED = (OperationalError, InterfaceError, OSError, TimeoutError)
Stage = Callable[[AsyncSession], Awaitable[bool]]


def disconnected(exc: BaseException) -> bool:
    """The database went away (asyncpg's closed connection arrives as a bare DBAPIError)."""
    if isinstance(exc, DISCONNECTED):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Worker:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        connections: Connections,
        read_sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        database_url: str,
        name: str | None = None,
        concurrency: int = 32,
        lease_seconds: float = 60.0,
        poll_interval: float = 1.0,
        max_attempts: int = 12,
        pause_check_seconds: float = 60.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.read_sessionmaker = read_sessionmaker  # set where reads have their own engine
        self.connections = connections
        # connections that send mail learn which addresses bounced for good (`suppressed`)
        self.mailed = frozenset(c.name for c in connections if isinstance(c.adapter, MailAdapter))
        self.database_url = database_url
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.pause_check_seconds = pause_check_seconds
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[Stage] = asyncio.Queue()
        self._flusher: asyncio.Task[None] | None = None
        self._listener: Any = None
        # other channels heard on the same LISTEN connection (the mail readers' wake-ups)
        self.also_listen: dict[str, Callable[[], None]] = {}
        self._listen_tried: float | None = None  # None: not PostgreSQL, never listens

    def wake(self) -> None:
        """Look for work now (called after a commit that wrote outbox rows)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, then let in-flight deliveries finish (bounded)."""
        log.info("worker started", extra={"worker": self.name, "concurrency": self.concurrency})
        await self._listen()
        self._start_flusher()
        checker = asyncio.create_task(self._check_paused(stop))
        failures = 0
        try:
            while not stop.is_set():
                self._wake.clear()  # before claiming: a wake-up during the claim is kept
                try:
                    claimed = await self._claim_some()
                except DATABASE_DOWN as exc:  # the rows wait in the outbox meanwhile
                    failures += 1
                    pause = min(MAX_PAUSE_SECONDS, 0.25 * 2**failures)
                    log.warning(
                        "claiming failed; retrying",
                        extra={"error": f"{type(exc).__name__}: {exc}", "retry_in": pause},
                    )
                    await self._idle(stop, wait_seconds=pause)
                    continue
                failures = 0
                if not claimed:
                    await self._idle(stop, wait_seconds=await self._keep_listening())
        finally:
            checker.cancel()
            await self._drain()
            await self._stop_flusher()
            await self._unlisten()
            log.info("worker stopped", extra={"worker": self.name})

    async def _check_paused(self, stop: asyncio.Event) -> None:
        """Resume paused connections whose check passes again (one instance per period)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.pause_check_seconds)
            try:
                every = self.pause_check_seconds
                if await resume_when_healthy(self.sessionmaker, self.connections, every=every):
                    self.wake()
            except DATABASE_DOWN:
                log.warning("checking paused connections failed", exc_info=True)

    async def run_until_idle(self, limit_seconds: float = 30.0) -> None:
        """Deliver everything due now and return (for tests and one-shot runs)."""
        deadline = time.monotonic() + limit_seconds
        self._start_flusher()
        try:
            while time.monotonic() < deadline:
                if await self._claim_some():
                    continue
                if self._tasks:
                    await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                await self._results.join()  # written: the next rows of those pairs are due
                if not await self._claim_some():
                    return
        finally:
            await self._drain()
            await self._stop_flusher()
        raise TimeoutError("deliveries still pending after run_until_idle timeout")

    def _start_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_results())

    async def _stop_flusher(self) -> None:
        if self._flusher is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._results.join(), DRAIN_SECONDS)
        self._flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._flusher
        self._flusher = None

    async def _flush_results(self) -> None:
        """Write queued results, as many as are waiting, in one transaction each time."""
        while True:
            batch = [await self._results.get()]
            while not self._results.empty():
                batch.append(self._results.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._results.task_done()
                self._wake.set()

    async def _write(self, batch: list[Stage]) -> None:
        try:
            async with self.sessionmaker() as session:
                claimed = [stage.keywords["claim"] for stage in batch]  # type: ignore[attr-defined]
                await check_fences(session, claimed)
                await preload_links(session, claimed)
                # new rows go in together, one INSERT per table (keys chosen here on SQLite)
                async with ids.allocating(session):
                    with session.no_autoflush:
                        for stage in batch:
                            await stage(session)
                    await write_fenced(session)
                    await session.flush()
                await session.commit()
        except Exception as exc:
            if disconnected(exc):  # the leases expire and the rows are delivered again, same keys
                log.warning("writing delivery results failed: database unreachable")
                return
            # one result the database refuses must not take the others along
            log.exception("writing delivery results failed; writing them one by one")
            for stage in batch:
                await self._write_alone(stage)

    async def _write_alone(self, stage: Stage) -> None:
        """Write one result; one that cannot be stored becomes a dead letter saying so, or it
        would be pushed again every time its lease ran out."""
        try:
            async with self.sessionmaker() as session:
                await stage(session)
                await session.commit()
            return
        except Exception as exc:
            if disconnected(exc):
                return
            log.exception("a delivery result cannot be stored")
            why = type(exc).__name__
        claim: claims.Claim = stage.keywords["claim"]  # type: ignore[attr-defined]
        try:
            async with self.sessionmaker() as session:
                await record_unwritable(session, claim, worker=self.name, why=why)
                await session.commit()
        except Exception:
            log.exception(
                "could not even mark a delivery unwritable", extra={"id": claim.outbox_id}
            )

    async def _claim_some(self) -> int:
        """Claim and render a batch; with deliveries in flight, wait until a quarter is free."""
        free = self.concurrency - len(self._tasks)
        if self._tasks and free < max(1, self.concurrency // 4):
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            return 1
        if self.read_sessionmaker is None:
            async with self.sessionmaker() as session:  # claim and render in one transaction
                claimed = await claims.claim(
                    session,
                    worker=self.name,
                    limit=free,
                    lease_seconds=self.lease_seconds,
                    commit=False,
                )
                rendered = await render_deliveries(session, claimed, mailed=self.mailed)
                await session.commit()
        else:  # SQLite: hold the one write lock for the claim only, render from a read
            async with self.sessionmaker() as session:
                claimed = await claims.claim(
                    session, worker=self.name, limit=free, lease_seconds=self.lease_seconds
                )
            async with self.read_sessionmaker() as session:
                rendered = await render_deliveries(session, claimed, mailed=self.mailed)
        for item in claimed:
            task = asyncio.create_task(self._deliver(item, rendered[item.outbox_id]))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # the next row of that pair may be due now
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task crashed", exc_info=task.exception())

    async def _idle(self, stop: asyncio.Event, wait_seconds: float | None = None) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(
                waiters,
                timeout=self.poll_interval if wait_seconds is None else wait_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _drain(self) -> None:
        """Let deliveries in flight finish; stop the ones that will not (their rows are handed
        back when the instance leaves, and resent under the same idempotency key)."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=DRAIN_SECONDS)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def _deliver(self, claim: claims.Claim, rendered: Delivery | AdapterError) -> None:
        started = utcnow()
        connection = self.connections.get(claim.connection)
        try:
            if connection is None:
                raise PermanentError(f"connection '{claim.connection}' is no longer configured")
            if isinstance(rendered, AdapterError):
                raise rendered
            delivery = rendered
            result = await self._push(connection, delivery)
        except AdapterError as error:
            await self._failed(claim, started, error)
            return
        except Exception as exc:  # an adapter bug must not lose the row: retry it
            log.exception("unexpected error in delivery", extra={"outbox_id": claim.outbox_id})
            await self._failed(claim, started, RetryableError(f"{type(exc).__name__}: {exc}"))
            return
        self._results.put_nowait(
            partial(
                record_success,
                claim=claim,
                worker=self.name,
                started=started,
                delivery=delivery,
                result=result,
                commit=False,
            )
        )

    async def _push(self, connection: Connection, delivery: Delivery) -> PushResult:
        timer = time.perf_counter()
        try:  # a retried create looks the ticket up first: the adapter contract's job
            return await connection.adapter.push(delivery)
        finally:
            metrics.PUSH_DURATION.labels(connection.name).observe(time.perf_counter() - timer)

    async def _failed(self, claim: claims.Claim, started: Any, error: AdapterError) -> None:
        self._results.put_nowait(
            partial(
                record_failure,
                claim=claim,
                worker=self.name,
                started=started,
                error=error,
                max_attempts=self.max_attempts,
                commit=False,
            )
        )

    async def _listen(self) -> None:
        url = make_url(self.database_url)
        if url.get_backend_name() != "postgresql":
            return
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listen_tried = time.monotonic()
        try:
            listener = await asyncpg.connect(dsn, timeout=5)
            await listener.add_listener(NOTIFY_CHANNEL, lambda *_: self.wake())
            for channel, callback in self.also_listen.items():
                await listener.add_listener(channel, lambda *_, wake=callback: wake())
            # a lost connection (database restart) wakes the loop, which listens again
            listener.add_termination_listener(lambda *_: self.wake())
            self._listener = listener
            self.wake()  # a commit between the last claim and this LISTEN sent its NOTIFY to nobody
            for callback in self.also_listen.values():
                callback()
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            log.warning("LISTEN failed; polling until it works", extra={"error": str(exc)})
            self._listener = None

    async def _keep_listening(self) -> float:
        """Listen again after the connection was lost (at most once a second); how long to idle.

        While not listening, idle only until the next try, not a whole poll interval.
        """
        if self._listen_tried is None:  # not PostgreSQL: in-process wake-ups and polling
            return self.poll_interval
        if self._listener is not None and not self._listener.is_closed():
            return self.poll_interval
        since = time.monotonic() - self._listen_tried
        if since < LISTEN_RETRY_SECONDS:
            return min(self.poll_interval, LISTEN_RETRY_SECONDS - since)
        await self._listen()
        return self.poll_interval if self._listener is not None else LISTEN_RETRY_SECONDS

    async def _unlisten(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await self._listener.close()
            self._listener = None
