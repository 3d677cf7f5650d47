"""The registry of running gateway processes, and named leases held by one of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database.base import Base, UTCDateTime, utcnow

ALIVE = "alive"
STOPPING = "stopping"
DEAD = "dead"


class InstanceRow(Base):
    """One gateway process (API, worker or both), kept alive by its heartbeat."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    lock_key: Mapped[int] = mapped_column(Integer)  # its PostgreSQL advisory lock, while alive
    state: Mapped[str] = mapped_column(String(16), default=ALIVE)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LeaseRow(Base):
    """Something only one instance at a time may do (a connection's poller, a scheduled job)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    until: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
