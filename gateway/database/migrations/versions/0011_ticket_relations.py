"""ticket relations: parent/child, master/slave, duplicate-of

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_relations",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("related_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_relations_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["related_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_relations_related_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "kind", name=op.f("pk_ticket_relations")),
    )
    op.create_index(
        op.f("ix_ticket_relations_related_id"), "ticket_relations", ["related_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_relations_related_id"), table_name="ticket_relations")
    op.drop_table("ticket_relations")
