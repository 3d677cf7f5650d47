"""Assignments: one row per time a unit held a ticket, kept as the ticket changes (the facts the
metrics count, read by an index on (unit, assigned_at) instead of a walk through all history);
and the snapshot the Prometheus gauges show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database.base import Base, UTCDateTime, utcnow


class AssignmentRow(Base):
    __tablename__ = "ticket_assignments"
    __table_args__ = (
        Index("ix_ticket_assignments_unit_assigned", "support_unit_id", "assigned_at"),
        Index("ix_ticket_assignments_ticket_ended", "ticket_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    support_unit_id: Mapped[int] = mapped_column(ForeignKey("support_units.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    passed_by_unit_id: Mapped[int | None] = mapped_column(ForeignKey("support_units.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the unit's first answer
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its latest solution
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # passed on to another unit
    passed_to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("support_units.id"))


class MetricSnapshotRow(Base):
    __tablename__ = "metric_snapshots"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
