"""Standard Webhooks verification and translation of each remote event type."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.rest import RestAdapter, RestConfig
from adapters.rest.mapping import load_mapping
from gateway.adapter.models import (
    AddComment,
    AskSubmitter,
    CreateTicket,
    InboundRequest,
    Reassign,
    SetStatus,
    Solve,
    UpdateFields,
)
from gateway.webhook.errors import InboundRejected, InboundUnreadable
from gateway.webhook.standard import sign

OLD = "whsec_b2xkLXNlY3JldA=="
NEW = "whsec_bmV3LXNlY3JldA=="


def adapter(secrets: list[str]) -> RestAdapter:
    config = RestConfig.model_validate({"base_url": "https://r.test", "webhook_secrets": secrets})
    return RestAdapter(
        name="r", config=config, mapping=load_mapping(Path("mappings/rest-default.yaml"))
    )


def request(
    body: bytes, *, secret: str = NEW, at: float | None = None, msg_id: str = "msg_1"
) -> InboundRequest:
    timestamp = int(at if at is not None else time.time())
    return InboundRequest(
        headers={
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
        },
        body=body,
    )


async def test_valid_signature_from_either_rotated_secret_is_accepted() -> None:
    rest = adapter([OLD, NEW])
    await rest.verify_inbound(request(b"{}", secret=OLD))
    await rest.verify_inbound(request(b"{}", secret=NEW))
    assert rest.event_id(request(b"{}", msg_id="msg_77")) == "msg_77"


async def test_several_signatures_in_one_header() -> None:
    body = b'{"a": 1}'
    good = request(body, secret=NEW)
    bad = sign(OLD, "msg_1", int(good.headers["webhook-timestamp"]), body)
    headers = {**good.headers, "webhook-signature": f"{bad} {good.headers['webhook-signature']}"}
    await adapter([NEW]).verify_inbound(InboundRequest(headers=headers, body=body))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: request(b"{}", secret=OLD), "no webhook-signature matches"),
        (lambda: InboundRequest(headers={}, body=b"{}"), "missing webhook-id"),
        (lambda: request(b"{}", at=time.time() - 301), "more than 300 s"),
        (lambda: request(b"{}", at=time.time() + 301), "more than 300 s"),
        (
            lambda: InboundRequest(headers={**request(b"{}").headers}, body=b"{} "),
            "no webhook-signature matches",
        ),
    ],
    ids=["wrong-secret", "unsigned", "too-old", "from-the-future", "body-changed"],
)
async def test_bad_requests_are_rejected(make: Any, message: str) -> None:
    with pytest.raises(InboundRejected, match=message):
        await adapter([NEW]).verify_inbound(make())


async def test_no_secret_configured_refuses_everything() -> None:
    with pytest.raises(InboundRejected, match="no webhook secret"):
        await adapter([]).verify_inbound(request(b"{}"))


def translate(event: dict[str, Any]) -> list[Any]:
    return adapter([NEW]).translate_inbound(
        InboundRequest(headers={}, body=json.dumps(event).encode())
    )


def test_each_event_type_becomes_its_command() -> None:
    ticket = {"id": 9, "external_id": "42"}
    comment = {"body": "hi", "author": "Bob"}
    [created] = translate(
        {
            "type": "ticket.created",
            "ticket": {
                "id": 9,
                "title": "T",
                "body": "B",
                "requester": {"name": "A", "email": "a@x.org"},
                "priority": "critical",
                "group": "DMSU",
                "url": "https://r.test/9",
            },
        }
    )
    assert isinstance(created, CreateTicket)
    assert (
        created.remote_id,
        created.remote_url,
        created.ticket.priority,
        created.ticket.support_unit,
    ) == ("9", "https://r.test/9", "top priority", "DMSU")
    assert translate({"type": "ticket.commented", "ticket": ticket, "comment": comment}) == [
        AddComment(remote_id="9", hub_id=42, body="hi", author="Bob")
    ]
    assert isinstance(
        translate({"type": "ticket.question", "ticket": ticket, "comment": comment})[0],
        AskSubmitter,
    )
    assert translate({"type": "ticket.unsolved", "ticket": ticket, "solution": "no fix"}) == [
        Solve(remote_id="9", hub_id=42, status="unsolved", solution="no fix")
    ]
    assert translate({"type": "ticket.reassigned", "ticket": {**ticket, "group": "dCache"}}) == [
        Reassign(remote_id="9", hub_id=42, support_unit="dCache")
    ]
    assert translate({"type": "ticket.status", "ticket": {**ticket, "status": "waiting"}}) == [
        SetStatus(remote_id="9", hub_id=42, status="waiting for reply")
    ]
    assert translate({"type": "ticket.updated", "ticket": {**ticket, "priority": "low"}}) == [
        UpdateFields(remote_id="9", hub_id=42, priority="less urgent")
    ]
    assert translate({"type": "ticket.deleted", "ticket": ticket}) == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"ticket": {"id": 1}}, "no event type at /type"),
        ({"type": "ticket.solved", "ticket": {}}, "no remote id at /ticket/id"),
        (
            {"type": "ticket.solved", "ticket": {"id": 1}},
            "solution (from /solution): Field required",
        ),
        (
            {"type": "ticket.status", "ticket": {"id": 1, "status": "exploded"}},
            "/ticket/status value 'exploded'",
        ),
    ],
)
def test_unreadable_payload_names_the_field(event: dict[str, Any], message: str) -> None:
    with pytest.raises(InboundUnreadable) as raised:
        translate(event)
    assert message in raised.value.message


def test_non_json_payload_is_unreadable() -> None:
    with pytest.raises(InboundUnreadable, match="not JSON"):
        adapter([NEW]).translate_inbound(InboundRequest(headers={}, body=b"<xml/>"))
