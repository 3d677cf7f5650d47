"""Each remote event type of the default mapping becomes its canonical command."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.adapter.errors import InboundUnreadable
from gateway.adapter.models import (
    AddComment,
    AskSubmitter,
    Command,
    CreateTicket,
    InboundRequest,
    Reassign,
    SetStatus,
    Solve,
    UpdateFields,
)
from gateway.ticket.enums import Priority, Status
from gateway.ticket.models import Submitter, TicketCreate
from tests.adapters.rest.conftest import make_adapter

TICKET = {
    "id": 9,
    "external_id": "42",
    "url": "https://helpdesk.test/tickets/9",
    "title": "Transfers to DESY fail",
    "body": "FTS says: connection reset",
    "requester": {"name": "Bob Remote", "email": "bob@ngi.example"},
    "priority": "critical",
    "status": "open",
}
COMMENT = {"body": "Which endpoint?", "author": "Carla"}


def translate(event: dict[str, Any]) -> list[Command]:
    return make_adapter().translate_inbound(
        InboundRequest(headers={}, body=json.dumps(event).encode())
    )


def test_created_becomes_a_create_with_mapped_priority_unit_and_component() -> None:
    ticket = {**TICKET, "group": "DMSU", "component": "dCache"}
    del ticket["external_id"]
    assert translate({"type": "ticket.created", "ticket": ticket}) == [
        CreateTicket(
            remote_id="9",
            remote_url="https://helpdesk.test/tickets/9",
            ticket=TicketCreate(
                subject="Transfers to DESY fail",
                description="FTS says: connection reset",
                submitter=Submitter(name="Bob Remote", email="bob@ngi.example"),
                priority=Priority.TOP_PRIORITY,
                support_unit="DMSU",
                component="dCache",
            ),
        )
    ]


@pytest.mark.parametrize(
    ("event", "command"),
    [
        (
            {"type": "ticket.commented", "comment": COMMENT},
            AddComment(remote_id="9", hub_id=42, body="Which endpoint?", author="Carla"),
        ),
        (
            {"type": "ticket.question", "comment": COMMENT},
            AskSubmitter(remote_id="9", hub_id=42, body="Which endpoint?", author="Carla"),
        ),
        (
            {"type": "ticket.solved", "solution": "Restarted the pool"},
            Solve(remote_id="9", hub_id=42, status=Status.SOLVED, solution="Restarted the pool"),
        ),
        (
            {"type": "ticket.unsolved", "solution": "Cannot reproduce"},
            Solve(remote_id="9", hub_id=42, status=Status.UNSOLVED, solution="Cannot reproduce"),
        ),
        (
            {"type": "ticket.reassigned", "ticket": {**TICKET, "group": "dCache"}},
            Reassign(remote_id="9", hub_id=42, support_unit="dCache"),
        ),
        (
            {"type": "ticket.updated", "ticket": {**TICKET, "priority": "low"}},
            UpdateFields(
                remote_id="9",
                hub_id=42,
                priority=Priority.LESS_URGENT,
                subject="Transfers to DESY fail",
            ),
        ),
        (
            {"type": "ticket.status", "ticket": {**TICKET, "status": "waiting"}},
            SetStatus(remote_id="9", hub_id=42, status=Status.WAITING_FOR_REPLY),
        ),
    ],
    ids=lambda value: value["type"] if isinstance(value, dict) else "",
)
def test_each_event_type_becomes_its_command(event: dict[str, Any], command: Command) -> None:
    assert translate({"ticket": TICKET, **event}) == [command]


@pytest.mark.parametrize("kind", ["ticket.deleted", "ticket.viewed", ""])
def test_unknown_event_types_are_ignored(kind: str) -> None:
    assert translate({"type": kind, "ticket": TICKET}) == []


@pytest.mark.parametrize(
    ("hub_id", "expected"), [(42, 42), ("42", 42), ("#42", 42), (None, None), ("", None)]
)
def test_hub_id_as_the_remote_kept_it(hub_id: Any, expected: int | None) -> None:
    event = {"type": "ticket.solved", "ticket": {"id": 9, "external_id": hub_id}, "solution": "x"}
    [command] = translate(event)
    assert command.hub_id == expected


@pytest.mark.parametrize(
    ("event", "key", "message"),
    [
        ({"ticket": {"id": 1}}, "/type", "payload has no event type at /type"),
        ({"type": 5, "ticket": {"id": 1}}, None, "event type at /type is not a string"),
        ({"type": "ticket.solved", "solution": "x"}, "/ticket/id", "no remote ticket id"),
        (
            {"type": "ticket.solved", "ticket": {"id": {"n": 1}}, "solution": "x"},
            None,
            "remote ticket id at /ticket/id is not a string or number",
        ),
        (
            {"type": "ticket.solved", "ticket": {"id": 1, "external_id": "INC-7"}, "solution": "x"},
            "/ticket/external_id",
            "hub id at /ticket/external_id is not a ticket number",
        ),
        (
            {"type": "ticket.solved", "ticket": {"id": 1}},
            "/solution",
            "solution (from /solution): Field required",
        ),
        (
            {"type": "ticket.solved", "ticket": {"id": 1}, "solution": ""},
            "/solution",
            "solution (from /solution): String should have at least 1 character",
        ),
        (
            {"type": "ticket.status", "ticket": {"id": 1, "status": "exploded"}},
            "/ticket/status",
            "/ticket/status: 'exploded' has no inbound 'status' mapping (known: closed, open,",
        ),
        (
            {
                "type": "ticket.created",
                "ticket": {**TICKET, "requester": {"name": "B", "email": "x"}},
            },
            "/ticket/requester/email",
            "ticket.submitter.email (from /ticket/requester/email): String should match pattern",
        ),
    ],
)
def test_unreadable_payload_names_the_field(
    event: dict[str, Any], key: str | None, message: str
) -> None:
    with pytest.raises(InboundUnreadable) as raised:
        translate(event)
    assert message in raised.value.message
    if key is not None:
        assert key in [d["key"] for d in raised.value.details]


def test_every_problem_of_one_event_is_listed() -> None:
    ticket = {"id": 9, "priority": "whenever", "requester": {"name": "", "email": "b@x.org"}}
    with pytest.raises(InboundUnreadable) as raised:
        translate({"type": "ticket.created", "ticket": ticket})
    assert [d["key"] for d in raised.value.details] == ["/ticket/priority"]  # first: values
    with pytest.raises(InboundUnreadable) as raised:
        translate({"type": "ticket.created", "ticket": {**ticket, "priority": "low"}})
    keys = {d["key"] for d in raised.value.details}
    assert keys == {"/ticket/title", "/ticket/body", "/ticket/requester/name"}


@pytest.mark.parametrize("body", [b"<xml/>", b"", b"\xff\xfe", b"{'single': 'quotes'}"])
def test_a_payload_that_is_not_json_is_unreadable(body: bytes) -> None:
    with pytest.raises(InboundUnreadable, match="payload is not JSON"):
        make_adapter().translate_inbound(InboundRequest(headers={}, body=body))
