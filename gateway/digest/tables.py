"""Digests as composed (Markdown, HTML, chart pictures), kept for the API, and their mailing.

One digest per (unit, scope, week): the unique key is what makes the weekly job safe to run in
several gateway processes and again after a crash.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database.base import Base, UTCDateTime, utcnow


class DigestRow(Base):
    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("support_unit", "scope", "week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    support_unit: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))  # unit | third-line
    week_start: Mapped[date] = mapped_column(Date)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    markdown: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestChartRow(Base):
    __tablename__ = "digest_charts"

    digest_id: Mapped[int] = mapped_column(
        ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
