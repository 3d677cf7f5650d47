"""Run Alembic migrations from inside the app, and tell whether the schema is current."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
PG_MIGRATION_LOCK = 7_346_001  # advisory lock id: several processes may start at once
# indexes only PostgreSQL has (trigram search, migration 0013): no table describes them
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_tickets_subject_trgm", "ix_tickets_description_trgm"})


def include_object(
    obj: object, name: str | None, kind: str, reflected: bool, compare_to: object
) -> bool:
    """Leave the PostgreSQL-only indexes out when comparing the schema with the tables."""
    return not (kind == "index" and reflected and name in POSTGRESQL_ONLY_INDEXES)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def head_revisions() -> frozenset[str]:
    """The heads in the code; read once, they only change with a new release."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database to the newest revision; safe to call from several processes."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def current_revisions(engine: AsyncEngine) -> frozenset[str]:
    async with engine.connect() as connection:
        heads = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_heads()
        )
    return frozenset(heads)


async def is_current(engine: AsyncEngine) -> bool:
    return await current_revisions(engine) == head_revisions()
