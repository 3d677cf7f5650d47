"""What the hub knows of each connection at run time, shared by every instance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database.base import Base, UTCDateTime


class ConnectionStateRow(Base):
    """Paused or not, the last success and error, and a polled connection's cursor."""

    __tablename__ = "connection_states"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last check while paused
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    poll_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    poll_failures: Mapped[int] = mapped_column(Integer, default=0)
