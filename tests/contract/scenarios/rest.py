"""Contract scenario: the reference helpdesk's API (`mappings/rest-default.yaml`), webhooks signed
the Standard Webhooks way."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import respx

from gateway.adapter.base import Adapter
from gateway.adapter.models import InboundEvent
from gateway.inbound.signatures import sign
from tests.contract.scenarios import Remote, Scenario, through_webhook

BASE = "https://helpdesk.contract.test/api"
TOKEN = "tok-s3cr3t-value"
WEBHOOK_SECRET = "whsec_c2VjcmV0LWZvci1jb250cmFjdA=="
PRIORITY = {
    "less urgent": "low",
    "urgent": "normal",
    "very urgent": "high",
    "top priority": "critical",
}


def signed(event: dict[str, Any], msg_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    now = int(time.time())
    return body, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(WEBHOOK_SECRET, msg_id, now, body),
    }


async def opened_remotely(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    event = {
        "type": "ticket.created",
        "ticket": {
            "id": remote.remote_id,
            "title": remote.subject,
            "body": remote.description,
            "requester": {"name": remote.submitter_name, "email": remote.submitter_email},
            "priority": PRIORITY[remote.priority],
            "status": "open",
        },
    }
    return await through_webhook(adapter, *signed(event, f"msg-{remote.remote_id}-created"))


async def internal_note(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    event = {
        "type": "ticket.commented",
        "ticket": {"id": remote.remote_id, "external_id": 42},
        "comment": {"body": remote.note, "author": "Eve", "internal": True},
    }
    return await through_webhook(adapter, *signed(event, f"msg-{remote.remote_id}-note"))


def mock_lookup(mock: respx.MockRouter, remote_ids: Any) -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        items = [{"id": rid, "url": f"{BASE}/tickets/{rid}"} for rid in remote_ids()]
        return httpx.Response(200, json={"items": items})

    mock.get(f"{BASE}/tickets", params={"external_id": "42"}).mock(side_effect=answer)


SCENARIOS = [
    Scenario(
        name="rest-default",
        kind="rest",
        settings={
            "base_url": BASE,
            "token": {"env": "CONTRACT_TOKEN"},
            "webhook_secrets": [{"env": "CONTRACT_SECRET"}],
            "timeout_seconds": 2,
        },
        environ={"CONTRACT_TOKEN": TOKEN, "CONTRACT_SECRET": WEBHOOK_SECRET},
        secret_values=[TOKEN, WEBHOOK_SECRET],
        mapping="rest-default.yaml",
        invalid=[
            ({"base_url": "ftp://helpdesk.contract.test"}, "settings.base_url"),
            ({"base_url": "https://helpdesk .test"}, "settings.base_url"),
            ({"base_url": BASE, "timeout_seconds": 0}, "settings.timeout_seconds"),
            ({"base_url": BASE, "timeout_seconds": 500}, "settings.timeout_seconds"),
            ({"base_url": BASE, "colour": "red"}, "settings.colour"),
            ({}, "settings.base_url"),
        ],
        create_route=lambda mock: mock.post(f"{BASE}/tickets"),
        created=lambda rid: httpx.Response(201, json={"id": rid, "url": f"{BASE}/tickets/{rid}"}),
        check_route=lambda mock: mock.get(f"{BASE}/tickets"),
        mock_lookup=mock_lookup,
        opened_remotely=opened_remotely,
        internal_note=internal_note,
        forged={"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
        mock_attach=lambda mock: mock.post(f"{BASE}/tickets/77/attachments").respond(
            201, json={"id": 1}
        ),
    )
]
