"""Async engines and session factories for SQLite (embedded default) and PostgreSQL (production).

SQLite has one writer at a time. Write transactions start with `BEGIN IMMEDIATE`: a deferred
transaction that reads and then writes fails with SQLITE_BUSY when another writer got in between,
and the busy timeout cannot help it, while an immediate one waits on the busy timeout, across
threads and processes. (A one-connection write pool, queueing writers in the event loop instead,
measured slower: commits no longer overlap with the next request's work.) Reads use a second
engine with deferred transactions and run concurrently under WAL. PostgreSQL uses one pooled
engine for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_POOL_SIZE = 8


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


@dataclass(frozen=True)
class Engines:
    write: AsyncEngine
    read: AsyncEngine

    async def dispose(self) -> None:
        await self.write.dispose()
        if self.read is not self.write:
            await self.read.dispose()


def create_engines(url: str, *, pool_size: int = 10) -> Engines:
    if not is_sqlite(url):
        engine = create_engine(url, pool_size=pool_size)
        return Engines(engine, engine)
    return Engines(create_engine(url), _sqlite_engine(url, immediate=False))


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """The write engine (for SQLite: `BEGIN IMMEDIATE`)."""
    if is_sqlite(url):
        return _sqlite_engine(url, immediate=True)
    # Pre-ping: a connection that a database restart dropped is replaced at checkout, so
    # callers never see the restart.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,  # error messages (and so logs) never quote ticket data
    )


def create_worker_engines(url: str, *, pool_size: int = 4) -> Engines:
    """The delivery worker's engines: on PostgreSQL its commits do not wait for the disk.

    Everything a worker commits (claims, results, retry schedules) is safe to lose in a database
    crash: the row is then claimed and sent again under the same idempotency key, which the
    crash tests show the remote applies once. Waiting for a WAL flush on each of them would put
    the disk's latency, twice, between an inbound change and its delivery. What the API commits
    (tickets, inbound events) stays synchronous. SQLite gets the ordinary engines.
    """
    if is_sqlite(url):
        return create_engines(url)
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # as create_engine: results are not lost to a stale connection
        hide_parameters=True,
        connect_args={"server_settings": {"synchronous_commit": "off"}},
    )
    return Engines(engine, engine)


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        poolclass=AsyncAdaptedQueuePool,
        hide_parameters=True,
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=SQLITE_POOL_SIZE,
    )
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
