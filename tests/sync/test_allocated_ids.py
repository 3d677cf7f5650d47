"""A mail batch's new rows get their keys from the process on SQLite (gateway.database.ids)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.auth.models import Role
from gateway.database import ids
from gateway.database.engine import create_engines, create_sessionmaker
from gateway.ticket.tables import TicketChangeRow
from tests.conftest import new_ticket


def _change(ticket_id: int) -> TicketChangeRow:
    return TicketChangeRow(ticket_id=ticket_id, version=1, action="t", actor="a", source="s")


async def _open_ticket(client, keys) -> int:
    headers = await keys.headers(Role.SUBMITTER, email="ann@example.org")
    created = await client.post("/api/v1/tickets", json=new_ticket(), headers=headers)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


@pytest.mark.asyncio
async def test_keys_follow_the_stored_ones_and_the_rows_go_in_together(
    client, keys, database_url: str
) -> None:
    ticket_id = await _open_ticket(client, keys)  # its change row is there already
    engines = create_engines(database_url)
    try:
        async with create_sessionmaker(engines.write)() as session, session.begin():
            largest = max(await session.scalars(select(TicketChangeRow.id)))
            async with ids.allocating(session) as allocator:
                assert (allocator is not None) == database_url.startswith("sqlite")
                rows = [_change(ticket_id) for _ in range(3)]
                session.add_all(rows)
                await session.flush()
            assert [row.id for row in rows] == [largest + 1, largest + 2, largest + 3]
        async with create_sessionmaker(engines.read)() as session:
            stored = await session.scalars(
                select(TicketChangeRow.id).where(TicketChangeRow.id > largest)
            )
            assert sorted(stored) == [largest + 1, largest + 2, largest + 3]
    finally:
        await engines.dispose()


@pytest.mark.asyncio
async def test_a_row_naming_a_missing_ticket_fails_the_batch_and_keeps_nothing(
    client, keys, database_url: str
) -> None:
    ticket_id = await _open_ticket(client, keys)
    engines = create_engines(database_url)
    try:
        maker = create_sessionmaker(engines.write)
        async with maker() as session:
            before = len(list(await session.scalars(select(TicketChangeRow.id))))
        with pytest.raises(IntegrityError):  # at the flush, or at the commit (deferred checks)
            async with maker() as session, session.begin(), ids.allocating(session):
                session.add_all([_change(ticket_id), _change(ticket_id + 1000)])
                await session.flush()
        async with maker() as session:
            assert len(list(await session.scalars(select(TicketChangeRow.id)))) == before
    finally:
        await engines.dispose()
