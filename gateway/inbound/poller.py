"""Polling: for remotes that do not push (Redmine has no webhooks), the hub reads their changes.

Each connection with `poll_interval_seconds` is polled by one instance at a time: the one holding
its lease (`poll:<name>`), which a dead instance loses at once (gateway.instance). The cursor is
kept in the database, so whichever instance polls next starts where the last poll ended. A poll
reads what changed since the cursor, with some overlap; events are applied once by their ids, so
the overlap only costs a duplicate check, never a double change. Errors back off (doubling, up to
15 minutes), refused credentials pause the connection, and an event the hub refuses (a rule it
breaks) is recorded as rejected rather than blocking the ones after it. `poll_now` (the API)
makes the next tick poll at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.adapter.errors import AdapterError, AuthenticationError
from gateway.adapter.models import InboundEvent, PollResult
from gateway.config.models import GatewayConfig
from gateway.connection import state as connection_state
from gateway.connection.service import Connection, Connections
from gateway.database.base import utcnow
from gateway.delivery import metrics
from gateway.errors import GatewayError
from gateway.inbound.service import receive, rejected_event
from gateway.instance import service as instances
from gateway.sync.outbox import SyncContext

log = logging.getLogger("gateway.poller")
MAX_BACKOFF_SECONDS = 900.0
POLL_TIMEOUT_SECONDS = 120.0


class Poller:
    """Polls the pollable connections whose turn it is, holding each one's lease while it does."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        connections: Connections,
        config: GatewayConfig,
        sync: SyncContext,
        instance_id: str,
        tick_seconds: float = 1.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.connections = [c for c in connections if c.poll_interval is not None]
        self.config = config
        self.sync = sync
        self.instance_id = instance_id
        self.tick_seconds = tick_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        if not self.connections:
            return
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.poll_due()
            except Exception:  # one bad tick (a database restart) must not stop polling
                log.exception("polling tick failed")
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(
                    waiters, timeout=self.tick_seconds, return_when=asyncio.FIRST_COMPLETED
                )
            for waiter in waiters:
                waiter.cancel()

    async def poll_due(self) -> list[str]:
        """Poll every connection that is due and whose lease this instance holds or takes."""
        polled = []
        for connection in self.connections:
            if await self._take_turn(connection):
                await self.poll_once(connection)
                polled.append(connection.name)
        return polled

    async def _take_turn(self, connection: Connection) -> bool:
        assert connection.poll_interval is not None
        async with self.sessionmaker() as session:
            state = await connection_state.state_of(session, name=connection.name)
            now = utcnow()
            due = (
                state.poll_requested_at is not None
                or state.next_poll_at is None
                or state.next_poll_at <= now
            )
            if not due or state.paused_at is not None:
                await session.commit()
                return False
            lease = max(60.0, 3 * connection.poll_interval)
            mine = await instances.acquire_lease(
                session, name=f"poll:{connection.name}", instance_id=self.instance_id, seconds=lease
            )
            await session.commit()
            return mine

    async def poll_once(self, connection: Connection) -> PollResult | None:
        """One poll: read the changes, apply each event, keep the cursor; None if it failed."""
        assert connection.poll_interval is not None
        started = utcnow()
        async with self.sessionmaker() as session:
            cursor = (await connection_state.state_of(session, name=connection.name)).cursor
            await session.commit()
        timer = time.perf_counter()
        try:
            result = await asyncio.wait_for(
                connection.adapter.poll(cursor), timeout=POLL_TIMEOUT_SECONDS
            )
        except AuthenticationError as error:
            await self._failed(connection, error.message, pause=True)
            return None
        except (AdapterError, TimeoutError) as error:
            message = error.message if isinstance(error, AdapterError) else "poll timed out"
            await self._failed(connection, message)
            return None
        except Exception as error:  # an adapter bug: logged, backed off, polling goes on
            log.exception("poll failed unexpectedly", extra={"connection": connection.name})
            await self._failed(connection, f"{type(error).__name__} in the adapter")
            return None
        for event in result.events:
            await self._apply(connection, event)
        next_at = utcnow() + timedelta(seconds=0 if result.more else connection.poll_interval)
        async with self.sessionmaker() as session:
            await connection_state.polled(
                session,
                name=connection.name,
                started=started,
                cursor=result.cursor,
                next_at=next_at,
            )
            await session.commit()
        metrics.POLLS.labels(connection.name, "ok").inc()
        metrics.POLL_REQUESTS.labels(connection.name).inc(result.exchanges)
        log.debug(
            "polled",
            extra={
                "connection": connection.name,
                "events": len(result.events),
                "requests": result.exchanges,
                "seconds": round(time.perf_counter() - timer, 3),
            },
        )
        return result

    async def _apply(self, connection: Connection, event: InboundEvent) -> None:
        try:
            async with self.sessionmaker() as session:
                await receive(
                    session, self.sync, connection=connection, event=event, config=self.config
                )
        except GatewayError as refused:  # kept as rejected, so the events after it go on
            log.warning(
                "polled event rejected",
                extra={
                    "connection": connection.name,
                    "event": event.event_id,
                    "reason": refused.message,
                },
            )
            metrics.INBOUND_EVENTS.labels(connection.name, "rejected").inc()
            async with self.sessionmaker() as session:
                session.add(rejected_event(connection.name, event.event_id, refused.message))
                with contextlib.suppress(Exception):
                    await session.commit()

    async def _failed(self, connection: Connection, message: str, *, pause: bool = False) -> None:
        assert connection.poll_interval is not None
        metrics.POLLS.labels(connection.name, "failed").inc()
        async with self.sessionmaker() as session:
            state = await connection_state.state_of(session, name=connection.name)
            backoff = min(MAX_BACKOFF_SECONDS, connection.poll_interval * 2**state.poll_failures)
            await connection_state.polled(
                session,
                name=connection.name,
                started=utcnow(),
                cursor=state.cursor,
                next_at=utcnow() + timedelta(seconds=backoff),
                error=message,
            )
            if pause and await connection_state.pause(
                session, name=connection.name, reason=message
            ):
                metrics.CONNECTION_PAUSES.labels(connection.name).inc()
            await session.commit()
        log.warning(
            "poll failed", extra={"connection": connection.name, "error": message, "pause": pause}
        )
