"""Releases as announced, with the tickets each one solved and those it passed over."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database.base import Base, UTCDateTime, utcnow


class ReleaseRow(Base):
    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    product: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    component: Mapped[str | None] = mapped_column(String(128))
    notes: Mapped[str | None] = mapped_column(Text)
    announced_by: Mapped[str] = mapped_column(String(255))
    announced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    solved: Mapped[list[int]] = mapped_column(JSON, default=list)
    skipped: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
