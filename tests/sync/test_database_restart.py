"""A PostgreSQL restart drops every connection: the API and the worker must carry on.

Terminating all of the test database's server processes does to the gateway what a restart
does. The API may answer one request per stale pooled connection with a 503 that says to retry,
then works again; the worker keeps running, listens again and delivers what arrives afterwards.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from gateway.delivery.worker import Worker
from tests.conftest import new_ticket


async def _drop_connections(database_url: str) -> int:
    url = make_url(database_url)
    conn = await asyncpg.connect(host=url.host, user=url.username, database="postgres")
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                url.database,
            )
        )
    finally:
        await conn.close()


async def _create(client, admin, key: str) -> int:  # type: ignore[no-untyped-def]
    """Create a ticket for DMSU as a careful client does: retry a 503 with the same key."""
    body = new_ticket(support_unit="DMSU")
    for _ in range(5):
        response = await client.post(
            "/api/v1/tickets", json=body, headers={**admin, "Idempotency-Key": key}
        )
        if response.status_code != 503:
            assert response.status_code == 201, response.text
            return int(response.json()["id"])
        assert response.json()["error"]["code"] == "unavailable"
        assert response.headers["retry-after"] == "1"
    raise AssertionError("still 503 after five tries")


async def test_api_and_worker_survive_a_database_restart(
    app, client, admin, connections, settings, remotes
) -> None:
    url = settings.resolved_database_url()
    if not url.startswith("postgresql"):
        pytest.skip("a database server restart is a PostgreSQL matter")
    worker = Worker(
        sessionmaker=app.state.sessionmaker,
        connections=connections,
        database_url=url,
        poll_interval=30.0,  # so a delivery within seconds needs a LISTEN wake-up
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        first = await _create(client, admin, "first")
        for _ in range(500):
            if remotes["dmsu"].received:
                break
            await asyncio.sleep(0.01)
        assert await _drop_connections(url) >= 2  # the API's pool and the worker's LISTEN
        await asyncio.sleep(1.5)  # the worker notices and listens again
        started = time.monotonic()
        second = await _create(client, admin, "second")
        for _ in range(500):
            if len(remotes["dmsu"].received) == 2:
                break
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
        assert not task.done(), "the worker stopped"
    finally:
        stop.set()
        await task
    assert [d.ticket.id for d in remotes["dmsu"].received] == [first, second] == [1, 2]
    assert elapsed < 3.0, f"delivery took {elapsed:.1f}s: the worker did not listen again"


async def test_a_request_on_a_dropped_connection_gets_503_and_changes_nothing(
    app, client, admin, settings
) -> None:
    url = settings.resolved_database_url()
    if not url.startswith("postgresql"):
        pytest.skip("a database server restart is a PostgreSQL matter")
    assert (await client.get("/api/v1/tickets", headers=admin)).status_code == 200  # pooled
    await _drop_connections(url)
    body = new_ticket(support_unit="DMSU")
    refused = await client.post("/api/v1/tickets", json=body, headers=admin)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "unavailable"
    assert refused.headers["retry-after"] == "1"
    retried = await client.post("/api/v1/tickets", json=body, headers=admin)
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == 1  # the refused attempt wrote nothing
