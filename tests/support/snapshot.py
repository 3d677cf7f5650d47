"""The whole database's content, to assert that a refused request stored nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import select

from gateway.database.registry import metadata


async def database_state(app: FastAPI) -> dict[str, list[str]]:
    """Every row of every table, in a stable order."""
    state: dict[str, list[str]] = {}
    async with app.state.sessionmaker() as session:
        for table in metadata.sorted_tables:
            if table.name == "instances":  # heartbeats: the process's, not the request's
                continue
            rows = (await session.execute(select(table))).all()
            state[table.name] = sorted(repr(tuple(row)) for row in rows)
        await session.rollback()
    return state


@asynccontextmanager
async def unchanged(app: FastAPI) -> AsyncIterator[None]:
    """Fail if anything in the database differs after the block."""
    before = await database_state(app)
    yield
    after = await database_state(app)
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"tables changed by a refused request: {changed}"
