"""The migrations build exactly the schema the tables describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.database.engine import create_engine
from gateway.database.migrate import include_object
from gateway.database.registry import metadata


async def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"include_object": include_object}),
                    metadata,
                )
            )
    finally:
        await engine.dispose()
    assert differences == [], differences
