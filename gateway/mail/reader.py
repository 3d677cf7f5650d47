"""Mail readers: turn the messages the listener stored into tickets and entries, in the worker.

The listener answers 250 once a message is stored, which is all SMTP promises, so a burst of mail
never waits on ticket work (DESIGN: accept, store, answer quickly). Readers run where the worker
runs (`gateway serve`, `gateway worker`), claim stored messages a batch at a time (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so several readers in several processes share the work; SQLite has one
writer and gets one reader) and read them in one transaction with the ticket changes they make: a
crash in between leaves them stored, to be read again; a batch one of whose messages fails is
read again one message at a time. The listener wakes them (in-process, and
by NOTIFY on PostgreSQL); a poll is the fallback. A message whose reading fails for a reason
the hub does not know is quarantined saying so, never retried forever; a database that is away
is waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.attachment.service import AttachmentLimits
from gateway.config.models import GatewayConfig
from gateway.delivery.worker import DATABASE_DOWN, MAX_PAUSE_SECONDS, disconnected
from gateway.mail.service import (
    QUARANTINED,
    claim_stored,
    read_batch,
    read_stored,
    settle_unread,
)
from gateway.sync.outbox import SyncContext

log = logging.getLogger("gateway.mail")
DATABASE_TRIES = 3  # a message the database refuses this often is held, not retried forever


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
        batch: int = 16,
        poll_interval: float = 1.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.sync = sync
        self.config = config
        self.limits = limits
        self.readers = readers
        self.batch = batch  # messages read in one transaction (one commit, one wake-up)
        self.poll_interval = poll_interval
        self._wakes: list[asyncio.Event] = []
        self._failures: dict[int, int] = {}  # database errors per message, this process

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
        while count := await self.read_some():
            read += count
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
                    while not stop.is_set() and await self.read_some():
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

    async def read_some(self) -> int:
        """Read the oldest stored messages no other reader holds, up to `batch` in one
        transaction; how many (0: there were none)."""
        async with self.sessionmaker() as session:
            rows = await claim_stored(session, limit=self.batch)
            if not rows:
                return 0
            ids = [row.id for row in rows]
            if len(rows) > 1:
                try:
                    await read_batch(
                        session, self.sync, config=self.config, rows=rows, limits=self.limits
                    )
                    return len(rows)
                except Exception as exc:
                    if disconnected(exc):
                        raise
                    await session.rollback()  # one of them is refused: each on its own now
        for mail_id in ids:
            await self._read_alone(mail_id)
        return len(ids)

    async def _read_alone(self, mail_id: int) -> None:
        async with self.sessionmaker() as session:
            claimed = await claim_stored(session, mail_id=mail_id)
            if not claimed:  # another reader took it in between and is done
                return
            try:
                await read_stored(
                    session, self.sync, config=self.config, row=claimed[0], limits=self.limits
                )
            except Exception as exc:
                if disconnected(exc):
                    raise
                tries = self._failures[mail_id] = self._failures.get(mail_id, 0) + 1
                if isinstance(exc, DBAPIError) and tries < DATABASE_TRIES:
                    raise  # a deadlock or a lock timeout: waited out, then read again
                # a bug, or a value the database keeps refusing: held for an admin
                log.exception("a stored message could not be read", extra={"mail_id": mail_id})
                await session.rollback()
                reason = f"could not be read ({type(exc).__name__}); kept for an admin"
                await settle_unread(session, mail_id, QUARANTINED, reason)
            self._failures.pop(mail_id, None)


async def _idle(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
