"""Every message the gateway received, what became of it, and addresses that bounce for good."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database.base import Base, UTCDateTime


class MailMessageRow(Base):
    """One received message. Quarantined ones keep their raw bytes until released or dropped;
    the rest keep only what the per-sender cap and the log need (the ticket holds the .eml)."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        Index("ix_mail_messages_sender_received_at", "sender", "received_at"),
        Index("ix_mail_messages_outcome", "outcome"),
        Index("ix_mail_messages_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(998))
    sender: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    connection: Mapped[str | None] = mapped_column(String(64))
    # applied | ignored | bounce | quarantined | released | dropped
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    decided_by: Mapped[str | None] = mapped_column(String(255))  # who released or dropped it
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailSuppressionRow(Base):
    """An address whose mail bounced for good (RFC 3464 `failed`, 5.x.x): no more mail to it."""

    __tablename__ = "mail_suppressions"

    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
