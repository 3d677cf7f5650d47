"""Paused connections come back by themselves once their credentials work again.

A connection is paused when its remote refuses our credentials (see results.py). Every
`every` seconds one instance (whichever takes the check first) asks the adapter's `check()`; when
it passes, the connection resumes and its waiting deliveries go out at once. An admin can also
resume it through the API.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.connection import state as connection_state
from gateway.connection.service import Connections

log = logging.getLogger("gateway.delivery")


async def resume_when_healthy(
    sessionmaker: async_sessionmaker[AsyncSession], connections: Connections, *, every: float
) -> list[str]:
    """Check the paused connections this process serves; the ones resumed."""
    async with sessionmaker() as session:
        paused = await connection_state.paused(session)
    resumed = []
    for name in paused:
        connection = connections.get(name)
        if connection is None:
            continue
        async with sessionmaker() as session:
            mine = await connection_state.take_check(session, name=name, every=every)
            await session.commit()
        if not mine:
            continue
        result = await connection.adapter.check()
        if not result.ok:
            log.info(
                "connection still refused", extra={"connection": name, "detail": result.detail}
            )
            continue
        async with sessionmaker() as session:
            if await connection_state.resume(session, name=name):
                resumed.append(name)
            await session.commit()
        log.warning("connection resumed: its check passed", extra={"connection": name})
    return resumed
