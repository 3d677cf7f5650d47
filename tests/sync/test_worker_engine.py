"""The worker's commits skip the WAL flush on PostgreSQL; the API's never do."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gateway.database.engine import create_engine, create_worker_engines


async def _synchronous_commit(engine) -> str:  # type: ignore[no-untyped-def]
    try:
        async with engine.connect() as conn:
            return str(await conn.scalar(text("SHOW synchronous_commit")))
    finally:
        await engine.dispose()


async def test_only_the_worker_commits_asynchronously(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one kind of write engine (WAL, synchronous=NORMAL)")
    assert await _synchronous_commit(create_worker_engines(database_url).write) == "off"
    assert await _synchronous_commit(create_engine(database_url)) == "on"
