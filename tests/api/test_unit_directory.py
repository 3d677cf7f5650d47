"""Units are routed from an in-memory directory: changes must still be seen when they matter.

Here: at once after this process changes a unit, at once for a unit another process has just
created, and within the directory's time-to-live for a level another process changed.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, update

from gateway.auth.models import Role
from gateway.database.engine import create_engine, create_sessionmaker
from gateway.support_unit import directory
from gateway.support_unit.tables import SupportUnitRow
from tests.conftest import new_ticket


async def _in_another_process(database_url: str, change) -> None:  # type: ignore[no-untyped-def]
    """Change units through a separate engine and plain SQL, as another gateway process would."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            await change(session)
            await session.commit()
    finally:
        await engine.dispose()


async def test_a_level_changed_here_counts_at_once(client, admin, keys) -> None:
    ngi = await keys.headers(Role.UNIT, unit="NGI_DE")
    refused = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="dCache"), headers=ngi
    )
    assert refused.status_code == 403  # a first-line unit may not assign to a third-line one
    changed = await client.patch(
        "/api/v1/support-units/dCache", json={"level": "first"}, headers=admin
    )
    assert changed.status_code == 200
    accepted = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="dCache"), headers=ngi
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["support_unit"] == "dCache"


async def test_a_unit_created_elsewhere_is_found_at_once(client, admin, database_url) -> None:
    listed = await client.post("/api/v1/tickets", json=new_ticket(), headers=admin)
    assert listed.status_code == 201  # the directory is loaded now

    async def create(session) -> None:  # type: ignore[no-untyped-def]
        await session.execute(insert(SupportUnitRow).values(name="ARC", level="third"))

    await _in_another_process(database_url, create)
    routed = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="ARC"), headers=admin
    )
    assert routed.status_code == 201, routed.text
    assert routed.json()["support_unit"] == "ARC"
    unknown = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="NOPE"), headers=admin
    )
    assert unknown.status_code == 422
    assert "unknown support unit 'NOPE'" in unknown.json()["error"]["message"]


async def test_a_level_changed_elsewhere_is_seen_within_the_ttl(
    client, keys, database_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(directory, "TTL_SECONDS", 0.2)
    ngi = await keys.headers(Role.UNIT, unit="NGI_DE")
    body = new_ticket(support_unit="dCache")
    assert (await client.post("/api/v1/tickets", json=body, headers=ngi)).status_code == 403

    async def demote(session) -> None:  # type: ignore[no-untyped-def]
        await session.execute(
            update(SupportUnitRow).where(SupportUnitRow.name == "dCache").values(level="second")
        )

    await _in_another_process(database_url, demote)
    await asyncio.sleep(0.3)
    assert (await client.post("/api/v1/tickets", json=body, headers=ngi)).status_code == 201
