"""Crash safety with real processes: SIGKILLed workers lose nothing and apply nothing twice.

The receiver is the reference helpdesk on loopback. It applies each Idempotency-Key once and
records every request, so a change sent twice under one key is harmless and visible, while a
change sent under two keys (a duplicate made by the gateway) would show as an extra comment.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from examples.helpdesk import Helpdesk, serving
from gateway.config.loader import parse_config
from gateway.connection.models import Policy
from gateway.connection.service import Connection, Connections
from gateway.database.engine import create_engine, create_sessionmaker
from gateway.sync.tables import OutboxRow
from tests.conftest import _truncate
from tests.support.configs import rest_connection
from tests.support.seed import seed_outbox
from tests.sync.harness import ScriptedAdapter

KILLS = 12  # then a last worker finishes the queue
TICKETS = 250
ENTRIES_PER_TICKET = 7  # 250 creates + 1750 entries = 2000 deliveries
CONFIG = {
    "support_units": [{"name": "DMSU", "level": "second"}],
    "connections": [rest_connection("sink", "DMSU", "", timeout_seconds=5)],
}


async def seed(database_url: str) -> int:
    config = parse_config({k: v for k, v in CONFIG.items() if k != "connections"})
    sink = ScriptedAdapter(name="sink")  # only the policy is used while seeding
    connections = Connections([Connection("sink", "DMSU", Policy.CLOSE_ONLY, sink)])
    return await seed_outbox(
        database_url,
        config,
        connections,
        unit="DMSU",
        n_tickets=TICKETS,
        entries_per_ticket=ENTRIES_PER_TICKET,
    )


async def undelivered(database_url: str) -> tuple[int, int]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            pending = await session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.state != "done")
            )
            dead = await session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.state == "dead")
            )
            return int(pending or 0), int(dead or 0)
    finally:
        await engine.dispose()


def start_worker(config_path: Path, database_url: str, *, lease: float) -> subprocess.Popen[bytes]:
    log = (config_path.parent / "worker.log").open("ab")
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "worker",
            "--config",
            str(config_path),
            "--lease-seconds",
            str(lease),
            "--poll-interval",
            "0.1",
            "--concurrency",
            "16",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,  # a file: a pipe nobody reads would stall the worker
    )


def write_config(tmp_path: Path, sink_url: str) -> Path:
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["connections"][0]["settings"]["base_url"] = sink_url
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def assert_applied_exactly_once(desk: Helpdesk, total: int) -> Counter[str]:
    sent = Counter(desk.keys())
    assert set(sent) == {f"gw-{i}" for i in range(1, total + 1)}, "a change was lost"
    assert len(desk.tickets) == TICKETS, "a remote ticket was created twice"
    for remote in desk.tickets.values():
        n = remote["title"][1:]
        assert [c["body"] for c in remote["comments"]] == [
            f"t{n} entry {e}" for e in range(ENTRIES_PER_TICKET)
        ], "an entry was applied twice, lost, or out of order"
    return sent


@pytest.mark.slow
def test_sigkilled_worker_loses_nothing_and_applies_nothing_twice(
    database_url: str, tmp_path: Path
) -> None:
    total = asyncio.run(seed(database_url))
    assert total == TICKETS * (1 + ENTRIES_PER_TICKET)
    desk = Helpdesk(name="sink")
    rng = random.Random(7)
    kills = 0
    with serving(desk.app()) as sink_url:
        desk.base_url = sink_url
        config_path = write_config(tmp_path, sink_url)
        deadline = time.monotonic() + 240
        while (
            kills < KILLS
            and (left := asyncio.run(undelivered(database_url))[0])
            and time.monotonic() < deadline
        ):
            worker = start_worker(config_path, database_url, lease=1.0)
            while asyncio.run(undelivered(database_url))[0] == left and worker.poll() is None:
                time.sleep(0.05)  # started and delivering: now kill it at a random moment
            time.sleep(rng.uniform(0.05, 1.0))
            if worker.poll() is not None:
                log = (config_path.parent / "worker.log").read_text(errors="replace")
                pytest.fail(f"worker exited by itself: {log[-2000:]}")
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
        finisher = start_worker(config_path, database_url, lease=1.0)  # the last one may finish
        try:
            while asyncio.run(undelivered(database_url))[0] and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            finisher.send_signal(signal.SIGTERM)
            finisher.wait(timeout=20)
    pending, dead = asyncio.run(undelivered(database_url))
    assert (pending, dead) == (0, 0)
    assert kills >= 3, f"only {kills} kills: the run was too short to test anything"
    sent = assert_applied_exactly_once(desk, total)
    redelivered = sum(1 for count in sent.values() if count > 1)
    print(f"\n{total} deliveries, {kills} SIGKILLs, {redelivered} redelivered under the same key")


@pytest.fixture
def postgres_only(postgres_url: str) -> str:
    """Several workers sharing the work is the PostgreSQL deployment; an emptied database."""
    asyncio.run(_truncate(postgres_url))
    return postgres_url


@pytest.mark.slow
def test_two_workers_never_deliver_the_same_row_at_once(postgres_only: str, tmp_path: Path) -> None:
    database_url = postgres_only
    total = asyncio.run(seed(database_url))
    desk = Helpdesk(name="sink")
    desk.delay_seconds = 0.005
    with serving(desk.app()) as sink_url:
        desk.base_url = sink_url
        config_path = write_config(tmp_path, sink_url)
        workers = [start_worker(config_path, database_url, lease=60) for _ in range(2)]
        deadline = time.monotonic() + 180
        try:
            while asyncio.run(undelivered(database_url))[0] and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=20)
    assert asyncio.run(undelivered(database_url)) == (0, 0)
    assert desk.overlaps == [], "two workers delivered the same row at the same time"
    sent = assert_applied_exactly_once(desk, total)
    assert max(sent.values()) == 1, "a row was delivered twice without any crash"
    owners = asyncio.run(_owners(database_url))
    assert len(owners) == 2, f"both workers should have shared the work: {owners}"


async def _owners(database_url: str) -> set[str]:
    from gateway.sync.tables import DeliveryAttemptRow

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return set(
                (await session.execute(select(DeliveryAttemptRow.worker).distinct())).scalars()
            )
    finally:
        await engine.dispose()
