"""Alembic environment: runs on the connection the gateway hands it (see `migrate.py`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gateway.database.migrate import include_object
from gateway.database.registry import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `gateway migrate`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
