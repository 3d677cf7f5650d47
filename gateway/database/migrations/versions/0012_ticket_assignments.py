"""ticket assignments (the facts the unit metrics count) and the metrics snapshot

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 13:40:00

Tickets already held by a unit get one assignment from their creation; what happened before this
revision is not reconstructed from the history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _unit(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["support_units.id"],
        name=op.f(f"fk_ticket_assignments_{column}_support_units"),
    )


def upgrade() -> None:
    op.create_table(
        "ticket_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("support_unit_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passed_by_unit_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("solved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("passed_to_unit_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_assignments_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        _unit("support_unit_id"),
        _unit("passed_by_unit_id"),
        _unit("passed_to_unit_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_assignments")),
    )
    op.create_index(
        "ix_ticket_assignments_unit_assigned",
        "ticket_assignments",
        ["support_unit_id", "assigned_at"],
        unique=False,
    )
    op.create_index(
        "ix_ticket_assignments_ticket_ended",
        "ticket_assignments",
        ["ticket_id", "ended_at"],
        unique=False,
    )
    op.create_table(
        "metric_snapshots",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_metric_snapshots")),
    )
    op.execute(
        "INSERT INTO ticket_assignments (ticket_id, support_unit_id, assigned_at) "
        "SELECT id, support_unit_id, created_at FROM tickets WHERE support_unit_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("metric_snapshots")
    op.drop_index("ix_ticket_assignments_ticket_ended", table_name="ticket_assignments")
    op.drop_index("ix_ticket_assignments_unit_assigned", table_name="ticket_assignments")
    op.drop_table("ticket_assignments")
