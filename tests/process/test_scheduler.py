"""The scheduler on SQLite and PostgreSQL: one run per due time across processes (each with its
own engine, as separate gateway processes have), restarts that neither skip nor repeat, a
crashed run taken over after its claim expires, failures kept on the job, the jobs in the API,
and the whole way from `gateway serve`'s scheduler to a reminder at a real SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI

from gateway.adapter.registry import AdapterRegistry
from gateway.api.app import create_app
from gateway.auth.models import Role
from gateway.connection.service import build_connections
from gateway.database.engine import create_engine, create_sessionmaker
from gateway.scheduler.job import Job, JobContext
from gateway.scheduler.service import Scheduler
from gateway.settings import Settings
from tests.conftest import Keys, asgi_client
from tests.contract.smtp import SmtpSink, serve
from tests.process.conftest import backdate, open_ticket, process_config

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Counting:
    """A job that counts its runs and can be made slow or failing."""

    def __init__(self) -> None:
        self.runs: list[datetime] = []
        self.fail = False
        self.hold: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def __call__(self, ctx: JobContext) -> str:
        self.runs.append(ctx.now)
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            raise RuntimeError("the digest server is down")
        return f"run {len(self.runs)}"


def gone() -> object:
    raise ConnectionRefusedError(111, "Connect call failed")


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[list[object]]:
    """Two engines on one database: two gateway processes."""
    from gateway.database import migrate

    first, second = create_engine(database_url), create_engine(database_url)
    await migrate.upgrade(first)
    yield [first, second]
    await first.dispose()
    await second.dispose()


def scheduler(engine: object, owner: str, job: Counting, clock: Clock, **kw: float) -> Scheduler:
    from gateway.connection.service import Connections
    from gateway.sync.outbox import SyncContext

    return Scheduler(
        sessionmaker=create_sessionmaker(engine),  # type: ignore[arg-type]
        sync=SyncContext(Connections([])),
        config=process_config(),
        jobs=[Job("count", 300.0, job)],
        owner=owner,
        clock=clock,
        **kw,
    )


async def test_each_due_time_runs_once_across_two_processes(engines: list[object]) -> None:
    clock, job = Clock(), Counting()
    a = scheduler(engines[0], "gw-a", job, clock)
    b = scheduler(engines[1], "gw-b", job, clock)
    await asyncio.gather(a.register(), b.register())
    for minute in range(0, 16):  # a quarter of an hour, both ticking every minute
        clock.now = T0 + timedelta(minutes=minute)
        await asyncio.gather(a.run_due(), b.run_due(), a.run_due(), b.run_due())
    assert job.runs == [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=10),
                        T0 + timedelta(minutes=15)]  # fmt: skip


async def test_a_restart_neither_skips_nor_repeats(engines: list[object]) -> None:
    clock, job = Clock(), Counting()
    first = scheduler(engines[0], "gw-a", job, clock)
    await first.register()
    assert await first.run_due() == ["count"]
    # restarted two minutes later: the run at T0 is not repeated
    clock.now = T0 + timedelta(minutes=2)
    again = scheduler(engines[0], "gw-a2", job, clock)
    await again.register()
    assert await again.run_due() == []
    # down from 03:00 to 08:00 past the hour: the missed due times make one run, not 60
    clock.now = T0 + timedelta(hours=5, minutes=7)
    later = scheduler(engines[1], "gw-a3", job, clock)
    await later.register()
    assert await later.run_due() == ["count"]
    assert await later.run_due() == []
    clock.now = T0 + timedelta(hours=5, minutes=10)  # back on the five-minute grid
    assert await later.run_due() == ["count"]
    assert len(job.runs) == 3


async def test_a_run_whose_process_died_is_taken_over_when_its_claim_expires(
    engines: list[object],
) -> None:
    clock, job = Clock(), Counting()
    job.hold = asyncio.Event()
    dying = scheduler(engines[0], "gw-dies", job, clock, lease_seconds=30.0)
    other = scheduler(engines[1], "gw-lives", job, clock, lease_seconds=30.0)
    await dying.register()
    job.started = asyncio.Event()
    run = asyncio.create_task(dying.run_due())
    await job.started.wait()
    dying.sessionmaker = gone  # type: ignore[assignment]  # the process is gone mid-run ...
    run.cancel()  # ... so it cannot hand its claim back: the claim stays until it expires
    with pytest.raises(asyncio.CancelledError):
        await run
    job.hold = None
    clock.now = T0 + timedelta(seconds=20)
    assert await other.run_due() == []  # still claimed
    clock.now = T0 + timedelta(seconds=31)
    assert await other.run_due() == ["count"]  # the same due time, once more
    assert job.runs == [T0, T0 + timedelta(seconds=31)]


async def test_a_failed_run_is_kept_and_tried_again_within_a_minute(
    engines: list[object], database_url: str
) -> None:
    clock, job = Clock(), Counting()
    job.fail = True
    one = scheduler(engines[0], "gw-a", job, clock)
    await one.register()
    assert await one.run_due() == ["count"]
    from gateway.scheduler import service

    async with create_sessionmaker(engines[0])() as session:  # type: ignore[arg-type]
        (row,) = await service.jobs(session)
    assert (row.last_status, row.last_error) == ("error", "RuntimeError: the digest server is down")
    assert row.next_run_at == T0 + timedelta(seconds=60)
    job.fail = False
    clock.now = T0 + timedelta(seconds=60)
    assert await one.run_due() == ["count"]


async def test_a_stopping_process_hands_a_long_run_back_for_the_next_to_take(
    engines: list[object],
) -> None:
    clock, job = Clock(), Counting()
    job.hold = asyncio.Event()  # a run that would outlast the stop
    stopping = scheduler(engines[0], "gw-a", job, clock, tick_seconds=0.01, stop_grace_seconds=0.2)
    other = scheduler(engines[1], "gw-b", job, clock)
    stop = asyncio.Event()
    run = asyncio.create_task(stopping.run(stop))
    await asyncio.wait_for(job.started.wait(), 10)
    stop.set()
    await asyncio.wait_for(run, 5)  # stops within its grace, not when the run would end
    job.hold = None
    assert await other.run_due() == ["count"]  # the same due time, at once: no lease to wait out
    assert job.runs == [T0, T0]


async def test_a_scheduler_started_while_the_database_is_away_runs_when_it_is_back(
    engines: list[object],
) -> None:
    clock, job = Clock(), Counting()
    one = scheduler(engines[0], "gw-a", job, clock, tick_seconds=0.01)
    working = one.sessionmaker
    refused = 0

    def away() -> object:
        nonlocal refused
        if refused < 3:  # the first three sessions find no database
            refused += 1
            raise ConnectionRefusedError(111, "Connect call failed")
        return working()

    one.sessionmaker = away  # type: ignore[assignment]
    stop = asyncio.Event()
    run = asyncio.create_task(one.run(stop))
    await asyncio.wait_for(job.started.wait(), 10)
    stop.set()
    await asyncio.wait_for(run, 10)  # ends cleanly instead of dying at start
    assert (refused, job.runs) == (3, [T0])


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[FastAPI, SmtpSink]]:
    """`gateway serve` with its worker and scheduler, mailing through a real SMTP server, on a
    clock that is always office hours so the test need not wait for Monday morning."""
    sink = SmtpSink(username="gateway", password="secret")
    async with serve(sink):
        config = process_config(
            working_time={
                "timezone": "UTC",
                "start": "00:00",
                "end": "23:59:59",
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            },
            waiting_for_reply={"reminders_after_days": [1.0], "unsolved_after_days": 5.0},
            check_every_seconds=1.0,
        )
        mail = config.connections[0].settings
        mail.update(
            smtp_port=sink.port,
            smtp_username="gateway",
            smtp_password={"env": "TEST_SMTP_PASSWORD"},
        )
        connections = build_connections(
            config, AdapterRegistry.from_entry_points(), environ={"TEST_SMTP_PASSWORD": "secret"}
        )
        settings = Settings(database_url=database_url, data_dir=tmp_path, worker_poll_interval=0.2)
        app = create_app(settings, config, connections=connections, run_worker=True)
        async with app.router.lifespan_context(app):
            yield app, sink


async def test_serve_mails_a_due_reminder_once_and_shows_its_jobs(
    served: tuple[FastAPI, SmtpSink],
) -> None:
    app, sink = served
    async with asgi_client(app) as api:
        api.headers.update(await Keys(app).headers())
        ticket = await open_ticket(api)
        current = (await api.get(f"/api/v1/tickets/{ticket['id']}")).json()
        asked = await api.patch(
            f"/api/v1/tickets/{ticket['id']}",
            json={"status": "waiting for reply"},
            headers={"If-Match": f'"{current["version"]}"'},
        )
        assert asked.status_code == 200
        await backdate(app, ticket["id"], datetime.now(UTC) - timedelta(days=2))

        async def reminded() -> list[str]:
            return [str(r.message["Subject"]) for r in sink.received if "Reminder" in r.text]

        for _ in range(100):
            if await reminded():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # a further tick or two sends nothing more
        (subject,) = await reminded()
        assert subject.startswith("[GGUS #") and "Reminder 1: waiting for your reply" in subject
        message = next(r for r in sink.received if "Reminder" in r.text)
        assert sorted(message.recipients) == ["ann@example.org", "bob@example.org"]
        assert message.message["Auto-Submitted"] == "auto-generated"

        jobs = (await api.get("/api/v1/scheduler/jobs")).json()
        names = [j["name"] for j in jobs]
        assert names == [
            "auto-close",
            "eta-expiry",
            "reply-reminders",
            "response-targets",
            "unit-metrics",
            "weekly-digest",
        ]
        reminders = next(j for j in jobs if j["name"] == "reply-reminders")
        assert reminders["last_status"] == "ok" and reminders["runs"] >= 1
        # the next due time follows the last run's (the job runs every second: it may be running
        # now, having started after its own due time, which is still next_run_at until it ends)
        assert reminders["next_run_at"] > reminders["last_due_at"]

        ran = await api.post("/api/v1/scheduler/jobs/auto-close/run")
        assert ran.status_code == 202, ran.text
        assert (await api.post("/api/v1/scheduler/jobs/nothing/run")).status_code == 404
        staff = await Keys(app).headers(Role.UNIT, unit="DMSU")
        assert (await api.get("/api/v1/scheduler/jobs", headers=staff)).status_code == 403


async def test_the_api_without_a_scheduler_lists_no_jobs(app: FastAPI) -> None:
    async with asgi_client(app) as api:
        api.headers.update(await Keys(app).headers())
        answer = await api.get("/api/v1/scheduler/jobs")
    assert answer.status_code == 200
    assert answer.json() == []
