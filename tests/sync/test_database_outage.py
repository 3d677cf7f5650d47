"""The database goes away and comes back: the API and the worker must carry on, losing nothing.

The gateway reaches PostgreSQL through a TCP proxy the test cuts (open connections broken, new
ones refused) and restores. A restart is also simulated by terminating the server processes.
SQLite is a file in the gateway's own process: there is no server to lose.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from gateway.api.app import create_app
from gateway.config.models import GatewayConfig
from gateway.connection.service import Connections
from gateway.delivery.worker import Worker
from gateway.settings import Settings
from tests.conftest import Keys, new_ticket
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def postgres_only(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("a database server outage is a PostgreSQL matter")
    return database_url


@pytest.fixture
async def proxy(postgres_only: str) -> AsyncIterator[TcpProxy]:
    url = make_url(postgres_only)
    tcp = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await tcp.start()
    yield tcp
    await tcp.cut()


@pytest.fixture
def proxied_url(postgres_only: str, proxy: TcpProxy) -> str:
    return make_url(postgres_only).set(port=proxy.port).render_as_string(hide_password=False)


async def _create(client: httpx.AsyncClient, admin: dict[str, str], key: str) -> httpx.Response:
    body = new_ticket(support_unit="DMSU")
    return await client.post(
        "/api/v1/tickets", json=body, headers={**admin, "Idempotency-Key": key}
    )


async def _wait_for(predicate, seconds: float = 5.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > seconds:
            break
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_an_outage_gets_503_and_loses_nothing(
    proxy: TcpProxy,
    proxied_url: str,
    tmp_path,
    config: GatewayConfig,
    connections: Connections,
    remotes,
) -> None:
    settings = Settings(database_url=proxied_url, data_dir=tmp_path)
    app = create_app(settings, config, connections=connections)
    async with app.router.lifespan_context(app):
        admin = await Keys(app).headers()
        worker = Worker(
            sessionmaker=app.state.sessionmaker,
            connections=connections,
            database_url=proxied_url,
            poll_interval=30.0,  # so a delivery within seconds needs a LISTEN wake-up
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                assert (await _create(client, admin, "before")).status_code == 201
                await _wait_for(lambda: len(remotes["dmsu"].received) == 1)

                await proxy.cut()
                refused = await _create(client, admin, "during")
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "unavailable"
                assert refused.headers["retry-after"] == "1"
                await asyncio.sleep(1.0)  # the worker meets the outage too
                assert not task.done(), "the worker stopped"

                await proxy.restore()
                retried = await _create(client, admin, "during")  # the client's retry
                assert retried.status_code == 201, retried.text
                took = await _wait_for(lambda: len(remotes["dmsu"].received) == 2)
                assert not task.done(), "the worker stopped"
        finally:
            stop.set()
            await task
    assert [d.ticket.id for d in remotes["dmsu"].received] == [1, 2]  # the 503 wrote nothing
    assert took < 5.0, f"delivery took {took:.1f}s after the database came back"


async def test_a_restart_is_invisible_to_callers(
    postgres_only: str, app, client, admin, connections, remotes
) -> None:
    worker = Worker(
        sessionmaker=app.state.sessionmaker,
        connections=connections,
        database_url=postgres_only,
        poll_interval=30.0,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        assert (await _create(client, admin, "first")).status_code == 201
        await _wait_for(lambda: len(remotes["dmsu"].received) == 1)
        assert await _terminate_connections(postgres_only) >= 2  # the pool and the LISTEN
        second = await _create(client, admin, "second")
        assert second.status_code == 201, second.text  # the stale connection was replaced
        took = await _wait_for(lambda: len(remotes["dmsu"].received) == 2)
        assert not task.done(), "the worker stopped"
    finally:
        stop.set()
        await task
    assert [d.ticket.id for d in remotes["dmsu"].received] == [1, 2]
    assert took < 3.0, f"delivery took {took:.1f}s: the worker did not listen again"


async def _terminate_connections(database_url: str) -> int:
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
