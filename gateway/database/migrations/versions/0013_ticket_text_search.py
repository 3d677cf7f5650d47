"""ticket text search by trigram indexes on PostgreSQL

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 14:00:00

`?q=` finds text anywhere in the subject or description (`lower(...) LIKE '%text%'`): without an
index PostgreSQL reads every ticket (seconds at a million). pg_trgm's GIN indexes answer it from
the index. pg_trgm ships with PostgreSQL and is a trusted extension (13+), so the database's owner
may create it; where it cannot be created the search stays correct, only slow, and a warning says
so. On SQLite nothing changes (the embedded store is for small installations).
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")
INDEXES = {"ix_tickets_subject_trgm": "subject", "ix_tickets_description_trgm": "description"}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm cannot be created (%s): text search reads every ticket", exc)
        return
    for name, column in INDEXES.items():
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON tickets USING gin (lower({column}) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
