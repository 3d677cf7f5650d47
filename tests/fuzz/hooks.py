"""Schemathesis hooks for the API fuzz: a refused request must leave the database as it was.

Loaded by the `st` process (SCHEMATHESIS_HOOKS=tests.fuzz.hooks); FUZZ_DATABASE_URL names the
database the gateway under test writes to. Before each call the content of every table is
fingerprinted; after a 4xx answer it must be the same. The fuzz runs with one worker and the
gateway runs no delivery worker, so nothing else writes meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading
from typing import Any

import asyncpg
import schemathesis

DATABASE_URL = os.environ["FUZZ_DATABASE_URL"]
HEARTBEATS = {"instances"}  # written by the process on its own, not by requests
_before: dict[str, dict[str, tuple[int, str]]] = {}
_lock = threading.Lock()
_loop = asyncio.new_event_loop()
_pg: list[Any] = []


def _digest(rows: list[Any]) -> tuple[int, str]:
    text = sorted(repr(tuple(row)) for row in rows)
    return len(text), hashlib.sha256("\n".join(text).encode()).hexdigest()


def _sqlite_snapshot(path: str) -> dict[str, tuple[int, str]]:
    with sqlite3.connect(path) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            t: _digest(conn.execute(f'SELECT * FROM "{t}"').fetchall())
            for t in tables
            if t not in HEARTBEATS
        }


async def _pg_snapshot(dsn: str) -> dict[str, tuple[int, str]]:
    if not _pg:
        _pg.append(await asyncpg.connect(dsn))
    conn = _pg[0]
    tables = [
        r["tablename"]
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    out = {}
    for table in tables:
        if table in HEARTBEATS:
            continue
        rows = await conn.fetch(f'SELECT t::text FROM "{table}" t')
        out[table] = _digest([(r[0],) for r in rows])
    return out


def snapshot() -> dict[str, tuple[int, str]]:
    """Row count and content digest of every table."""
    if DATABASE_URL.startswith("sqlite"):
        return _sqlite_snapshot(DATABASE_URL.split(":///", 1)[1])
    dsn = DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://")
    with _lock:
        return _loop.run_until_complete(_pg_snapshot(dsn))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    _before[case.id] = snapshot()


@schemathesis.check
def refusal_changes_nothing(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx answer means nothing was stored, not even half of it."""
    before = _before.pop(case.id, None)
    if before is None or not 400 <= response.status_code < 500:
        return None
    after = snapshot()
    changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    if changed:
        raise AssertionError(
            f"answered {response.status_code} but changed table(s): {', '.join(changed)}"
        )
    return True
