"""Notices: mail the process sends to named addresses about a ticket (a reminder to the
submitter, an escalation to a unit, an ALARM to a site), through the outbox like any delivery.

A notice is a recorded change of the ticket (action `notice`, kept in its history) that leaves
the ticket itself and its version alone; the sync policy sends it to the mail channel only, to
exactly the addresses it names, never to the ticket's linked systems.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.database.base import utcnow
from gateway.ticket.changes import Changes
from gateway.ticket.enums import Visibility
from gateway.ticket.service import Actor, record_change
from gateway.ticket.tables import TicketRow

NOTICE = "notice"


def record_notice(
    session: AsyncSession,
    ticket: TicketRow,
    *,
    to: list[str],
    kind: str,
    subject: str,
    text: str,
    actor: Actor,
    changes: Changes,
    visibility: Visibility = Visibility.INTERNAL,
) -> dict[str, Any]:
    """Record a notice for `to`; an internal one (about the unit's work) is hidden from the
    submitter's view of the history."""
    notice = {
        "kind": kind,
        "to": sorted({address.strip().lower() for address in to if address.strip()}),
        "subject": subject,
        "text": text,
        "visibility": visibility.value,
    }
    record_change(
        session, changes, ticket, action=NOTICE, actor=actor, diff={NOTICE: notice}, at=utcnow()
    )
    return notice
