"""Canonical tickets and deliveries for adapter tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.adapter.models import Action, Delivery, RemoteRef
from gateway.ticket.models import JournalEntry, Ticket

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def make_ticket(**overrides: Any) -> Ticket:
    fields: dict[str, Any] = {
        "id": 42,
        "subject": "SRM at DESY refuses writes",
        "description": "srmcp fails with SRM_AUTHORIZATION_FAILURE",
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
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }
    fields.update(overrides)
    return Ticket.model_validate(fields)


def make_delivery(
    action: str = "create", *, key: str = "gw-1", attempt: int = 1, **ticket: Any
) -> Delivery:
    entry = None
    if action == "entry":
        entry = JournalEntry(
            id=7,
            visibility="public",
            body="Please send the log",
            author="Eve",
            source="api",
            created_at=NOW,
        )
    remote = None if action == "create" else RemoteRef("77", "https://remote.example/tickets/77")
    return Delivery(
        action=Action(action),
        ticket=make_ticket(**ticket),
        idempotency_key=key,
        attempt=attempt,
        remote=remote,
        entry=entry,
    )
