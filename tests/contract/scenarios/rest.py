"""Contract scenario for the generic REST adapter with `mappings/rest-default.yaml`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
import respx

from tests.contract.scenarios import Scenario

BASE = "https://helpdesk.contract.test/api"
TOKEN = "tok-s3cr3t-value"
WEBHOOK_SECRET = "whsec_c2VjcmV0LWZvci1jb250cmFjdA=="


def echo_of_create(sent: Any, remote_id: str) -> bytes:
    """The remote's `ticket.created` webhook for the ticket we just created there."""
    return json.dumps(
        {
            "type": "ticket.created",
            "ticket": {
                "id": remote_id,
                "external_id": str(sent["external_id"]),
                "title": sent["title"],
                "body": sent["body"],
                "requester": sent["requester"],
                "priority": sent["priority"],
                "status": sent["status"],
            },
        }
    ).encode()


def found(remote_ids: Sequence[str]) -> httpx.Response:
    items = [{"id": rid, "url": f"{BASE}/tickets/{rid}"} for rid in remote_ids]
    return httpx.Response(200, json={"items": items})


def lookup_route(mock: respx.MockRouter) -> respx.Route:
    return mock.get(f"{BASE}/tickets", params={"external_id": "42"})


SCENARIO = Scenario(
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
    lookup_route=lookup_route,
    found=found,
    check_route=lambda mock: mock.get(f"{BASE}/tickets"),
    echo_of_create=echo_of_create,
)
