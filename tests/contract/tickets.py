"""Canonical tickets and deliveries, as the delivery worker renders them, for adapter tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.adapter.models import Action, AttachedFile, Delivery, RemoteRef
from gateway.ticket.models import JournalEntry, Ticket

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REMOTE = RemoteRef("77", "https://remote.example/tickets/77")


def make_ticket(**overrides: Any) -> Ticket:
    """A valid public-view ticket (#42, assigned to NGI_DE); keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "id": 42,
        "subject": "SRM at DESY refuses writes",
        "description": "srmcp fails with SRM_AUTHORIZATION_FAILURE since 09:00",
        "submitter": {"name": "Ann Example", "email": "ann@example.org", "dn": None},
        "type": "USER",
        "category": "Incident",
        "priority": "very urgent",
        "status": "assigned",
        "support_unit": "NGI_DE",
        "origin_unit": None,
        "involved": [],
        "cc": [],
        "component": None,
        "affected_site": "DESY-HH",
        "vo": "atlas",
        "eta": None,
        "eta_history": [],
        "solution": None,
        "journal": [],
        "links": [],
        "relations": [],
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }
    fields.update(overrides)
    return Ticket.model_validate(fields)


def make_entry(body: str = "Please send the log", author: str = "Eve") -> JournalEntry:
    return JournalEntry(
        id=7, visibility="public", body=body, author=author, source="api", created_at=NOW
    )


def make_file(
    data: bytes = b"srmcp: SRM_AUTHORIZATION_FAILURE\n\x00\xff binary tail",
    filename: str = "srm.log",
    content_type: str = "text/plain",
) -> AttachedFile:
    return AttachedFile(
        id=5, filename=filename, content_type=content_type, size=len(data), data=data
    )


def make_delivery(
    action: str = "create",
    *,
    key: str = "gw-1",
    attempt: int = 1,
    remote: RemoteRef | None = REMOTE,
    entry: JournalEntry | None = None,
    changes: dict[str, Any] | None = None,
    attachment: AttachedFile | None = None,
    **ticket: Any,
) -> Delivery:
    """One outbox row's delivery: creates have no remote ref, entries carry a public entry,
    attachments a public file."""
    return Delivery(
        action=Action(action),
        ticket=make_ticket(**ticket),
        idempotency_key=key,
        attempt=attempt,
        remote=None if action == "create" else remote,
        entry=entry if entry is not None or action != "entry" else make_entry(),
        changes=changes or {},
        attachment=attachment if attachment is not None or action != "attach" else make_file(),
    )
