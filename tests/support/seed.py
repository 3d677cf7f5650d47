"""Fill the outbox fast, through the ticket service and the sync engine, for load and crash runs."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.config.models import GatewayConfig
from gateway.connection.service import Connections
from gateway.database.engine import create_engine, create_sessionmaker
from gateway.support_unit import service as support_units
from gateway.sync.outbox import enqueue
from gateway.sync.tables import OutboxRow
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes
from gateway.ticket.models import JournalEntryCreate, TicketCreate


async def seed_outbox(
    database_url: str,
    config: GatewayConfig,
    connections: Connections,
    *,
    unit: str,
    n_tickets: int,
    entries_per_ticket: int,
) -> int:
    """Tickets `t0..` for `unit`, each with public entries `t<n> entry <e>`; returns outbox rows."""
    engine = create_engine(database_url)
    actor = tickets.Actor(name="seed", source="api")
    try:
        async with create_sessionmaker(engine)() as session:
            await support_units.ensure_units(session, units=config.support_units)
            await session.commit()
            target = await support_units.get_by_name(session, name=unit)
            for n in range(n_tickets):
                data = TicketCreate.model_validate(
                    {
                        "subject": f"t{n}",
                        "description": "seeded",
                        "support_unit": unit,
                        "submitter": {"name": "A", "email": "a@example.org"},
                    }
                )
                changes = Changes()
                row = await tickets.create_ticket(
                    session, data=data, actor=actor, support_unit=target, changes=changes
                )
                for e in range(entries_per_ticket):
                    entry = JournalEntryCreate(body=f"t{n} entry {e}")
                    await tickets.add_entry(
                        session, row=row, entry=entry, actor=actor, changes=changes
                    )
                await enqueue(session, changes, connections)
                if n % 50 == 49:
                    await session.commit()
            await session.commit()
            return int(await session.scalar(select(func.count()).select_from(OutboxRow)) or 0)
    finally:
        await engine.dispose()
