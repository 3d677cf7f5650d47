"""Outbox rows (one per delivery to one connection), their attempts, inbound events and echoes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database.base import Base, UTCDateTime, utcnow

PENDING = "pending"
IN_FLIGHT = "in_flight"
DONE = "done"
DEAD = "dead"
DISCARDED = "discarded"  # a dead letter an operator gave up on, with the reason
SETTLED = (DONE, DISCARDED)  # nothing more will be sent for these


class OutboxRow(Base):
    """A change one connection must hear of; written in the transaction that made the change."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_claimable", "state", "next_attempt_at"),
        Index("ix_outbox_pair", "ticket_id", "connection", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    connection: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(64))
    change_id: Mapped[int | None] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    retry_base: Mapped[int] = mapped_column(Integer, default=0)  # attempt count at last replay
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_exchange: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttemptRow(Base):
    """One try of one outbox row: the delivery log shown per ticket."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    exchange: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundEventRow(Base):
    """Inbound events already applied, so a redelivered event is applied once."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("connection", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(255))
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(16))  # applied, ignored, rejected
    detail: Mapped[str | None] = mapped_column(Text)  # why ignored or rejected
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EchoRow(Base):
    """Fingerprints of what we wrote to a connection, so its echo webhook can be dropped."""

    __tablename__ = "echoes"
    __table_args__ = (Index("ix_echoes_connection_fingerprint", "connection", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
