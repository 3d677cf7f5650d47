"""The scheduler: each job runs once per due time across every gateway process.

Why not a library: APScheduler 3's SQLAlchemy job store keeps jobs in the database but each
scheduler runs every due job it sees (its documentation: do not share a job store between
schedulers), and APScheduler 4, which coordinates schedulers through the data store, is still a
pre-release. The rule we need is small: the job's row is the lock. A process claims a due run
with one UPDATE that succeeds only for the due time it read and only when nobody holds the row
(or the holder's claim expired): on SQLite the write lock and on PostgreSQL the row lock make
exactly one UPDATE win. The winner runs the job, renewing its claim while it runs, then moves
the due time on. A process that dies mid-run leaves a claim that expires; the next process runs
that due time again, and the jobs' once-only marks keep it from doing anything twice. A restart
keeps the stored due time: nothing is skipped (a due time missed while every process was down
runs once at start) and nothing runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config.models import GatewayConfig
from gateway.database.base import utcnow
from gateway.process.working_time import WorkingTime
from gateway.scheduler.job import Job, JobContext
from gateway.scheduler.tables import ScheduledJobRow
from gateway.sync.outbox import SyncContext

log = logging.getLogger(__name__)

OK, ERROR = "ok", "error"
RETRY_AFTER_ERROR_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Claim:
    name: str
    due: datetime


class Scheduler:
    """Runs this process's share of the jobs; every process runs one."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        sync: SyncContext,
        config: GatewayConfig,
        jobs: Sequence[Job],
        owner: str,
        lease_seconds: float = 30.0,
        tick_seconds: float = 1.0,
        stop_grace_seconds: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
        read_sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.read_sessionmaker = read_sessionmaker
        self.sync = sync
        self.config = config
        self.jobs = {job.name: job for job in jobs}
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self.tick_seconds = tick_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.clock = clock
        self.working_time = WorkingTime(config.process.working_time)

    async def register(self) -> None:
        """Add the jobs this version knows; a job already there keeps its due time."""
        async with self.sessionmaker() as session:
            known = {
                row.name: row for row in (await session.scalars(select(ScheduledJobRow))).all()
            }
            for job in self.jobs.values():
                row = known.get(job.name)
                if row is None:
                    session.add(
                        ScheduledJobRow(
                            name=job.name,
                            every_seconds=job.every_seconds,
                            next_run_at=self.clock(),
                            runs=0,
                            created_at=self.clock(),
                        )
                    )
                elif row.every_seconds != job.every_seconds:
                    row.every_seconds = job.every_seconds
            try:
                await session.commit()
            except IntegrityError:  # another process registered them at the same moment
                await session.rollback()

    async def run(self, stop: asyncio.Event) -> None:
        """Run due jobs until stopped; a database that is away (even at start) is waited for."""
        registered = False
        while not stop.is_set():
            try:
                if not registered:
                    await self.register()
                    registered = True
                await self._until_stopped(self.run_due(), stop)
            except (DBAPIError, OSError) as exc:  # the database is away: try again next tick
                log.warning("scheduler: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.tick_seconds)

    async def _until_stopped(
        self, work: Coroutine[object, object, object], stop: asyncio.Event
    ) -> None:
        """Let a run finish, but a stopping process waits for it only `stop_grace_seconds`: the
        rest is cancelled, its claim handed back, and the next process runs that due time."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                await asyncio.wait({task}, timeout=self.stop_grace_seconds)
            if not task.done():
                log.warning("scheduler: stopping; a run still going is handed back")
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return
            task.result()
        finally:
            stopping.cancel()

    async def run_due(self) -> list[str]:
        """Claim and run every job due now; the names of those this process ran."""
        ran = []
        for claim in await self._due():
            if await self._claim(claim):
                await self._run(claim)
                ran.append(claim.name)
        return ran

    async def _due(self) -> list[Claim]:
        now = self.clock()
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(ScheduledJobRow.name, ScheduledJobRow.next_run_at).where(
                    ScheduledJobRow.name.in_(list(self.jobs)),
                    ScheduledJobRow.next_run_at <= now,
                    or_(
                        ScheduledJobRow.claimed_until.is_(None), ScheduledJobRow.claimed_until < now
                    ),
                )
            )
            return [Claim(name, due) for name, due in rows.all()]

    async def _claim(self, claim: Claim) -> bool:
        now = self.clock()
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(ScheduledJobRow)
                .where(
                    ScheduledJobRow.name == claim.name,
                    ScheduledJobRow.next_run_at == claim.due,
                    or_(
                        ScheduledJobRow.claimed_until.is_(None), ScheduledJobRow.claimed_until < now
                    ),
                )
                .values(owner=self.owner, claimed_until=now + self.lease, last_started_at=now)
            )
            await session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _run(self, claim: Claim) -> None:
        job = self.jobs[claim.name]
        context = JobContext(
            sessionmaker=self.sessionmaker,
            sync=self.sync,
            config=self.config,
            working_time=self.working_time,
            now=self.clock(),
            read_sessionmaker=self.read_sessionmaker,
        )
        renew = asyncio.create_task(self._renew(claim))
        try:
            summary = await job.run(context)
        except asyncio.CancelledError:
            await asyncio.shield(self._hand_back(claim))
            raise
        except Exception as exc:
            log.exception("scheduler: job %s failed", claim.name)
            await self._finish(claim, ERROR, None, f"{type(exc).__name__}: {exc}"[:2000])
        else:
            await self._finish(claim, OK, summary[:2000], None)
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew

    async def _renew(self, claim: Claim) -> None:
        """Keep the claim while a long run goes on, so nobody takes the same due time."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            async with self.sessionmaker() as session:
                await session.execute(
                    update(ScheduledJobRow)
                    .where(ScheduledJobRow.name == claim.name, ScheduledJobRow.owner == self.owner)
                    .values(claimed_until=self.clock() + self.lease)
                )
                await session.commit()

    async def _hand_back(self, claim: Claim) -> None:
        """Give up a claim without a result: the due time stays, so it runs again soon."""
        with contextlib.suppress(DBAPIError, OSError):
            async with self.sessionmaker() as session:
                await session.execute(
                    update(ScheduledJobRow)
                    .where(ScheduledJobRow.name == claim.name, ScheduledJobRow.owner == self.owner)
                    .values(owner=None, claimed_until=None)
                )
                await session.commit()

    async def _finish(
        self, claim: Claim, status: str, summary: str | None, error: str | None
    ) -> None:
        now = self.clock()
        job = self.jobs[claim.name]
        if status == OK:
            next_run = _next_due(claim.due, job.every_seconds, now)
        else:
            next_run = now + timedelta(seconds=min(job.every_seconds, RETRY_AFTER_ERROR_SECONDS))
        async with self.sessionmaker() as session:
            await session.execute(
                update(ScheduledJobRow)
                .where(ScheduledJobRow.name == claim.name, ScheduledJobRow.owner == self.owner)
                .values(
                    next_run_at=next_run,
                    owner=None,
                    claimed_until=None,
                    last_due_at=claim.due,
                    last_finished_at=now,
                    last_status=status,
                    last_result=summary,
                    last_error=error,
                    runs=ScheduledJobRow.runs + 1,
                )
            )
            await session.commit()

    async def run_now(self, name: str) -> None:
        """Make a job due at once (an operator's request); the next tick of any process runs it."""
        async with self.sessionmaker() as session:
            await request_run(session, name=name, at=self.clock())
            await session.commit()


def _next_due(due: datetime, every_seconds: float, now: datetime) -> datetime:
    """The first due time on the job's grid after `now`: due times missed while the gateway was
    down are not run one after another (the run just made caught up on all of them)."""
    step = timedelta(seconds=every_seconds)
    if now < due + step:
        return due + step
    missed = (now - due) // step
    return due + step * (missed + 1)


async def jobs(session: AsyncSession) -> list[ScheduledJobRow]:
    return list(await session.scalars(select(ScheduledJobRow).order_by(ScheduledJobRow.name)))


async def request_run(session: AsyncSession, *, name: str, at: datetime) -> bool:
    """Move a job's due time to `at` (a run in progress finishes first and then the job is due
    on its grid again); False when there is no such job."""
    row = await session.get(ScheduledJobRow, name)
    if row is None:
        return False
    if row.owner is None and row.next_run_at > at:
        row.next_run_at = at
    return True
