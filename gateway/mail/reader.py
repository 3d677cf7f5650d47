"""Mail readers: turn the messages the listener stored into tickets and entries, in the worker.

The listener answers 250 once a message is stored, which is all SMTP promises, so a burst of mail
never waits on ticket work (DESIGN: accept, store, answer quickly). Readers run where the worker
runs (`gateway serve`, `gateway worker`), claim one stored message at a time (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so several readers in several processes share the work; SQLite has one
writer and gets one reader) and read it in one transaction with the ticket change it makes: a
crash in between leaves it stored, to be read again. The listener wakes them (in-process, and
by NOTIFY on PostgreSQL); a poll is the fallback. A message whose reading fails for a reason
the hub does not know is quarantined saying so, never retried forever; a database that is away
is waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.attachment.service import AttachmentLimits
from gateway.config.models import GatewayConfig
from gateway.delivery.worker import DATABASE_DOWN, MAX_PAUSE_SECONDS, disconnected
from gateway.mail.service import QUARANTINED, claim_stored, read_stored, settle_unread
from gateway.sync.outbox import SyncContext

log = logging.getLogger("gateway.mail")


class MailReader:
    """`readers` loops, each reading stored messages until none is left, then idling."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        sync: SyncContext,
        config: GatewayConfig,
        limits: AttachmentLimits,
        readers: int = 1,
        poll_interval: float = 1.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.sync = sync
        self.config = config
        self.limits = limits
        self.readers = readers
        self.poll_interval = poll_interval
        self._wakes: list[asyncio.Event] = []

    @property
    def configured(self) -> bool:
        return self.sync.connections.submitter_channel() is not None

    def wake(self) -> None:
        """Read now (a message was stored)."""
        for event in self._wakes:
            event.set()

    async def run(self, stop: asyncio.Event) -> None:
        if not self.configured:
            return
        await asyncio.gather(*(self._loop(stop) for _ in range(self.readers)))

    async def run_until_idle(self, limit_seconds: float = 30.0) -> int:
        """Read every stored message and return how many (for tests and one-shot runs)."""
        deadline, read = time.monotonic() + limit_seconds, 0
        while await self.read_one():
            read += 1
            if time.monotonic() > deadline:
                raise TimeoutError("stored mail still unread after run_until_idle timeout")
        return read

    async def _loop(self, stop: asyncio.Event) -> None:
        wake = asyncio.Event()
        self._wakes.append(wake)
        failures = 0
        try:
            while not stop.is_set():
                wake.clear()  # before reading: a message stored meanwhile is not missed
                try:
                    while not stop.is_set() and await self.read_one():
                        failures = 0
                except DATABASE_DOWN as exc:  # the messages wait, stored, meanwhile
                    failures += 1
                    pause = min(MAX_PAUSE_SECONDS, 0.25 * 2**failures)
                    log.warning(
                        "reading mail failed; retrying",
                        extra={"error": type(exc).__name__, "retry_in": pause},
                    )
                    await _idle(wake, stop, pause)
                    continue
                await _idle(wake, stop, self.poll_interval)
        finally:
            self._wakes.remove(wake)

    async def read_one(self) -> bool:
        """Read the oldest stored message no other reader holds; False when there was none."""
        async with self.sessionmaker() as session:
            row = await claim_stored(session)
            if row is None:
                return False
            mail_id = row.id
            try:
                await read_stored(
                    session, self.sync, config=self.config, row=row, limits=self.limits
                )
            except Exception as exc:
                if disconnected(exc):
                    raise
                # a bug or a value the database refuses: held for an admin, not read forever
                log.exception("a stored message could not be read", extra={"mail_id": mail_id})
                await session.rollback()
                reason = f"could not be read ({type(exc).__name__}); kept for an admin"
                await settle_unread(session, mail_id, QUARANTINED, reason)
        return True


async def _idle(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
