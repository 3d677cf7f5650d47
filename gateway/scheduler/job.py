"""What a periodic job is given and returns.

A job reads the state it acts on (tickets waiting, ETAs passed) rather than counting on having
run at every due time, so one run after an outage catches up on everything missed; what it does
to a ticket it marks once (`gateway.process.tables.ProcessMarkRow`), so a run repeated after a
crash does nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config.models import GatewayConfig
from gateway.process.working_time import WorkingTime
from gateway.sync.outbox import SyncContext


@dataclass(frozen=True, slots=True)
class JobContext:
    sessionmaker: async_sessionmaker[AsyncSession]
    sync: SyncContext
    config: GatewayConfig
    working_time: WorkingTime
    now: datetime  # the clock this run acts at (tests move it through working days)
    # where a job looks for what to act on: on SQLite a read-only engine, whose transactions do
    # not take the database's one write lock (a scan of every open ticket held it for 0.6 s)
    read_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    def reads(self) -> AsyncSession:
        return (self.read_sessionmaker or self.sessionmaker)()


JobRun = Callable[[JobContext], Awaitable[str]]  # returns a one-line summary of what it did


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every_seconds: float
    run: JobRun
