"""Instances know of each other: heartbeats, the judgement of death, and taking over at once."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.auth.models import Role
from gateway.database.base import utcnow
from gateway.idempotency.tables import IdempotencyKeyRow
from gateway.instance import service
from gateway.instance.presence import Presence
from gateway.instance.tables import DEAD, InstanceRow, LeaseRow
from gateway.settings import Settings
from gateway.sync.tables import IN_FLIGHT, OutboxRow
from tests.conftest import new_ticket


def presence_for(app: FastAPI, settings: Settings, **kwargs: float) -> Presence:
    return Presence(
        sessionmaker=app.state.sessionmaker,
        database_url=settings.resolved_database_url(),
        role="worker",
        **kwargs,  # type: ignore[arg-type]
    )


async def holds_work(app: FastAPI, client, admin, instance_id: str) -> int:
    """Give `instance_id` a claimed delivery, an in-flight key and a lease; the ticket id."""
    created = await client.post("/api/v1/tickets", json=new_ticket(), headers=admin)
    ticket_id = created.json()["id"]
    async with app.state.sessionmaker() as session:
        session.add(
            OutboxRow(
                ticket_id=ticket_id,
                connection="sink",
                action="create",
                rule="test",
                state=IN_FLIGHT,
                attempt=1,
                lease_owner=instance_id,
                lease_until=utcnow() + timedelta(seconds=60),
            )
        )
        session.add(
            IdempotencyKeyRow(
                caller="c", key="k", request_hash="h", state="in_flight", owner=instance_id
            )
        )
        await session.commit()
        assert await service.acquire_lease(
            session, name="poller:ngi", instance_id=instance_id, seconds=60
        )
        await session.commit()
    return int(ticket_id)


async def test_an_instance_lists_itself_with_what_it_holds(app: FastAPI, client, admin, keys):
    listed = await client.get("/api/v1/instances", headers=admin)
    assert listed.status_code == 200
    [me] = listed.json()
    assert me["id"] == app.state.presence.id
    assert (me["role"], me["state"]) == ("api", "alive")
    assert me["held"] == {"deliveries": 0, "idempotency_keys": 0, "leases": []}
    unit = await keys.headers(Role.UNIT, unit="DMSU")
    assert (await client.get("/api/v1/instances", headers=unit)).status_code == 403


async def test_a_silent_instance_is_dead_and_its_work_is_taken_over_in_one_beat(
    app: FastAPI, client, admin, settings: Settings
) -> None:
    other = presence_for(app, settings)
    async with app.state.sessionmaker() as session:
        await service.register(session, instance_id=other.id, role="worker")
        await session.commit()
    ticket_id = await holds_work(app, client, admin, other.id)
    listed = {i["id"]: i for i in (await client.get("/api/v1/instances", headers=admin)).json()}
    assert listed[other.id]["held"] == {
        "deliveries": 1,
        "idempotency_keys": 1,
        "leases": ["poller:ngi"],
    }
    async with app.state.sessionmaker() as session:  # its last beat was 6 s ago
        row = await session.get(InstanceRow, other.id)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(seconds=6)
        await session.commit()

    assert await app.state.presence.tick() == [other.id]

    async with app.state.sessionmaker() as session:
        claim = await session.scalar(select(OutboxRow).where(OutboxRow.ticket_id == ticket_id))
        assert claim is not None and claim.lease_until <= utcnow()  # claimable now
        assert await session.scalar(select(IdempotencyKeyRow)) is None
        lease = await session.get(LeaseRow, "poller:ngi")
        assert lease is not None and lease.holder is None
        assert (await session.get(InstanceRow, other.id)).state == DEAD  # type: ignore[union-attr]
    assert await app.state.presence.tick() == []  # once


async def test_a_live_instance_is_left_alone(app: FastAPI, client, admin, settings) -> None:
    other = presence_for(app, settings)
    await other.start()
    try:
        await holds_work(app, client, admin, other.id)
        await asyncio.sleep(1.2)  # its own beats keep it alive
        assert await app.state.presence.tick() == []
    finally:
        await other.leave()


async def test_a_process_seen_gone_is_taken_over_after_two_missed_beats(
    app: FastAPI, client, admin, settings: Settings
) -> None:
    """SIGKILL, as each backend sees it: PostgreSQL drops its lock, SQLite finds no process.

    The app's own presence notices in its background beats, long before the 5 s limit.
    """
    other = presence_for(app, settings)
    await other.start()
    await holds_work(app, client, admin, other.id)
    if settings.resolved_database_url().startswith("sqlite"):
        exited = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        await exited.wait()
        async with app.state.sessionmaker() as session:
            row = await session.get(InstanceRow, other.id)
            assert row is not None
            row.pid = exited.pid  # a process of this host that has exited
            await session.commit()
    assert other._task is not None
    other._task.cancel()  # its beats stop ...
    await other._release_lock()  # ... and its connections close, as the kernel would do
    started = asyncio.get_running_loop().time()
    while True:
        await asyncio.sleep(0.05)
        async with app.state.sessionmaker() as session:
            row = await session.get(InstanceRow, other.id)
            assert row is not None
            if row.state == DEAD:
                break
    taken_over_in = asyncio.get_running_loop().time() - started
    assert taken_over_in < 2.0, taken_over_in
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(IdempotencyKeyRow)) is None


async def test_leaving_hands_back_what_it_holds(app: FastAPI, client, admin, settings) -> None:
    other = presence_for(app, settings)
    await other.start()
    ticket_id = await holds_work(app, client, admin, other.id)
    await other.leave()
    async with app.state.sessionmaker() as session:
        claim = await session.scalar(select(OutboxRow).where(OutboxRow.ticket_id == ticket_id))
        assert claim is not None and claim.lease_until <= utcnow()
        assert await session.scalar(select(IdempotencyKeyRow)) is None
        assert await session.get(InstanceRow, other.id) is None


async def test_an_instance_judged_dead_rejoins(app: FastAPI, settings: Settings) -> None:
    me = app.state.presence
    async with app.state.sessionmaker() as session:
        await service.take_over(session, instance_id=me.id)  # the others judged it dead
        await session.commit()
    await me.tick()
    async with app.state.sessionmaker() as session:
        row = await session.get(InstanceRow, me.id)
        assert row is not None and row.state == "alive"


async def test_a_lease_is_held_by_one_instance_until_it_expires(app: FastAPI) -> None:
    async with app.state.sessionmaker() as session:
        assert await service.acquire_lease(session, name="job", instance_id="a", seconds=60)
        await session.commit()
        assert not await service.acquire_lease(session, name="job", instance_id="b", seconds=60)
        assert await service.acquire_lease(session, name="job", instance_id="a", seconds=60)
        await session.commit()
        await service.release_lease(session, name="job", instance_id="a")
        await session.commit()
        assert await service.acquire_lease(session, name="job", instance_id="b", seconds=-1)
        await session.commit()
        assert await service.acquire_lease(session, name="job", instance_id="c", seconds=60)
        await session.commit()


@pytest.mark.parametrize(
    ("age", "locks", "pid_runs", "dead"),
    [
        (0.4, set(), False, False),  # beating: alive, whatever else
        (6.0, {7}, True, True),  # silent past the limit: dead, whatever else
        (1.5, {7}, False, False),  # late, but its lock is held (PostgreSQL)
        (1.5, set(), False, True),  # late, and its lock is gone
        (1.5, None, True, False),  # late, its process runs (SQLite, same host)
        (1.5, None, False, True),  # late, no such process
    ],
)
def test_the_judgement_of_death(age, locks, pid_runs, dead, monkeypatch) -> None:
    monkeypatch.setattr(service, "process_runs", lambda pid: pid_runs)
    now = utcnow()
    row = InstanceRow(
        id="x", host="here", pid=1, lock_key=7, heartbeat_at=now - timedelta(seconds=age)
    )
    assert (
        service.is_dead(row, now=now, dead_after=5.0, quick_after=1.0, locks=locks, host="here")
        is dead
    )
