"""Ticket tables: the ticket row and everything that hangs off it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database.base import Base, UTCDateTime, utcnow


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_updated_at_id", "updated_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    submitter_name: Mapped[str] = mapped_column(String(255))
    submitter_email: Mapped[str] = mapped_column(String(254), index=True)
    submitter_dn: Mapped[str | None] = mapped_column(String(1024))
    type: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), index=True)
    support_unit_id: Mapped[int | None] = mapped_column(ForeignKey("support_units.id"), index=True)
    origin_unit_id: Mapped[int | None] = mapped_column(ForeignKey("support_units.id"), index=True)
    cc: Mapped[list[str]] = mapped_column(JSON, default=list)
    component: Mapped[str | None] = mapped_column(String(128))
    affected_site: Mapped[str | None] = mapped_column(String(128))
    vo: Mapped[str | None] = mapped_column(String(128))
    eta: Mapped[date | None] = mapped_column(Date)
    solution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class InvolvedUnitRow(Base):
    __tablename__ = "ticket_involved_units"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    support_unit_id: Mapped[int] = mapped_column(
        ForeignKey("support_units.id"), primary_key=True, index=True
    )


class EtaRevisionRow(Base):
    __tablename__ = "eta_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    eta: Mapped[date | None] = mapped_column(Date)
    set_by: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JournalEntryRow(Base):
    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    visibility: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkRow(Base):
    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("ticket_id", "connection", "role"),
        Index("ix_links_connection_external_id", "connection", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    connection: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255))
    external_url: Mapped[str | None] = mapped_column(String(2048))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # a requirement's state in its queue (RT's status), as last read
    state: Mapped[str | None] = mapped_column(String(64))


class RelationRow(Base):
    """`ticket_id` is `kind` of `related_id` (a child of its parent, a slave of its master, a
    duplicate of the original); a ticket holds at most one relation of each kind."""

    __tablename__ = "ticket_relations"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    related_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketChangeRow(Base):
    """One row per change: who, when, from which source, and each field's old and new value."""

    __tablename__ = "ticket_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(128))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
