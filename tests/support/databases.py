"""Throwaway databases for tests and benchmarks that run the gateway in its own processes."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import Iterator

import asyncpg

PG = {"host": "127.0.0.1", "user": "postgres"}


@contextlib.contextmanager
def database(backend: str, prefix: str = "gw_tmp") -> Iterator[str]:
    """A fresh database URL of the backend ("sqlite" or "postgresql"), removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/gateway.sqlite3"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{PG['user']}@{PG['host']}:5432/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_database() -> contextlib.AbstractContextManager[str]:
    return database("postgresql", prefix="gw_cluster")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(database="postgres", **PG)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
