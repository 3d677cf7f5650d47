"""Process marks: what the support process did to a ticket, once.

A mark is unique per (ticket, kind, key): the reminder, the warning, the violation or the
escalation is written in the same transaction as the mark, so whichever gateway process gets
there first does it and a second one's insert fails. Marks are also the record the metrics read
(target violations, escalations).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database.base import Base, UTCDateTime, utcnow


class ProcessMarkRow(Base):
    __tablename__ = "process_marks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "key"),
        Index("ix_process_marks_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))  # e.g. the deadline's start, the ETA's date
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
