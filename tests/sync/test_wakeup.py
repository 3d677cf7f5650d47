"""Workers wake on new outbox rows: LISTEN/NOTIFY on PostgreSQL, in-process wake on SQLite.

The poll interval is set to 30 s, so a delivery within a second can only come from a wake-up.
"""

from __future__ import annotations

import asyncio
import time

from gateway.delivery.worker import Worker
from tests.conftest import new_ticket


async def test_new_change_wakes_an_idle_worker(
    app, client, admin, connections, settings, remotes
) -> None:
    worker = Worker(
        sessionmaker=app.state.sessionmaker,
        connections=connections,
        database_url=settings.resolved_database_url(),
        poll_interval=30.0,
    )
    if settings.resolved_database_url().startswith("sqlite"):
        app.state.sync.wakers.append(worker.wake)  # in-process: the commit wakes it
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.3)  # idle, listening
        started = time.monotonic()
        await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
        for _ in range(500):  # at most 5 s
            if remotes["dmsu"].received:
                break
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        await task
    assert remotes["dmsu"].actions() == ["create"]
    assert elapsed < 1.0, f"delivery took {elapsed:.2f}s: the worker was not woken"
