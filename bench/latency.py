"""Shared parts of the latency benchmarks: a steady open-loop sender, arrivals at the reference
helpdesk, and where the time went, from the database's own timestamps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import InstrumentedAttribute

from bench.common import percentile
from examples.helpdesk import Helpdesk, serving
from gateway.sync.tables import DeliveryAttemptRow, OutboxRow
from gateway.ticket.tables import TicketRow

Send = Callable[[str], Awaitable[str | None]]


async def steady(
    rate: float, seconds: float, send: Send, title: Callable[[int], str] | None = None
) -> dict[str, float]:
    """Fire `send(title)` at a steady rate (open loop); return title -> time sent. `send`
    answers None, or the error it met (counted and shown; the run goes on)."""
    sent: dict[str, float] = {}
    tasks: list[asyncio.Task[str | None]] = []
    start = time.monotonic()
    for n in range(int(rate * seconds)):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        name = title(n) if title else f"probe-{time.time_ns()}-{n}"
        sent[name] = time.time()
        tasks.append(asyncio.create_task(send(name)))
    errors = [r for r in await asyncio.gather(*tasks) if r is not None]
    if errors:
        print(f"  ! {len(errors)} sends failed, first: {errors[0]}", flush=True)
    return sent


def arrivals(desk: Helpdesk, sent: dict[str, float], wait: float = 15) -> dict[str, float]:
    """Title -> when the helpdesk received its create, waiting up to `wait` s for all."""
    deadline = time.monotonic() + wait
    while True:
        received = {
            r.body.get("title"): r.at
            for r in list(desk.received)
            if r.path == "/tickets" and isinstance(r.body, dict)
        }
        if all(t in received for t in sent) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    missing = [t for t in sent if t not in received]
    if missing:
        print(f"  ! {len(missing)} of {len(sent)} never arrived", flush=True)
    return {t: received[t] for t in sent if t in received}


def direct(
    rate: float,
    seconds: float,
    ticket: Callable[[str], dict[str, Any]],
    title: Callable[[int], str] | None = None,
) -> list[float]:
    """The baseline: the same creates posted straight to a reference helpdesk at the same rate;
    latencies (ms) from sending to its arrival, the floor of this machine's loopback HTTP."""
    desk = Helpdesk(name="sink", token="bench-token")
    with serving(desk.app()) as sink_url:

        async def load() -> dict[str, float]:
            headers = {"Authorization": "Bearer bench-token"}
            async with httpx.AsyncClient(base_url=sink_url, headers=headers, timeout=30) as client:

                async def send(name: str) -> str | None:
                    response = await client.post("/tickets", json=ticket(name))
                    return None if response.status_code == 201 else str(response.status_code)

                return await steady(rate, seconds, send, title)

        sent = asyncio.run(load())
        return [(at - sent[t]) * 1000 for t, at in arrivals(desk, sent).items()]


async def stages(
    url: str,
    sent: dict[str, float],
    arrived: dict[str, float],
    *,
    written: InstrumentedAttribute[Any],
    first: str,
    connection: str | None = None,
) -> dict[str, Any]:
    """Where the time goes, per ticket (matched by subject): sent -> `written` (the change's
    row, named `first`) -> the push started ("claimed") -> the helpdesk received it."""
    query = (
        select(TicketRow.subject, written, func.min(DeliveryAttemptRow.started_at))
        .join(OutboxRow, OutboxRow.ticket_id == TicketRow.id)
        .join(DeliveryAttemptRow, DeliveryAttemptRow.outbox_id == OutboxRow.id)
        .where(TicketRow.subject.in_(list(arrived)))
        .group_by(TicketRow.subject, written)
    )
    if connection is not None:
        query = query.where(OutboxRow.connection == connection)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
    finally:
        await engine.dispose()
    spans: dict[str, list[float]] = {first: [], "claimed": [], "pushed": []}
    for subject, at, started in rows:
        spans[first].append((at.timestamp() - sent[subject]) * 1000)
        spans["claimed"].append((started.timestamp() - at.timestamp()) * 1000)
        spans["pushed"].append((arrived[subject] - started.timestamp()) * 1000)
    return {
        stage: {"p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99)}
        for stage, v in spans.items()
    }
