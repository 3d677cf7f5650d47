"""Contract scenario for the generic REST adapter with the default mapping."""

from __future__ import annotations

import json
from typing import Any

BASE = "https://helpdesk.contract.test"


def echo_of_create(sent: Any, remote_id: str) -> bytes:
    """The remote's `ticket.created` webhook for the ticket we just created there."""
    return json.dumps(
        {
            "type": "ticket.created",
            "ticket": {
                "id": remote_id,
                "title": sent["title"],
                "body": sent["body"],
                "requester": sent["requester"],
                "priority": sent["priority"],
            },
        }
    ).encode()


SCENARIO: dict[str, Any] = {
    "settings": {
        "base_url": BASE,
        "token": {"env": "CONTRACT_TOKEN"},
        "webhook_secrets": [{"env": "CONTRACT_SECRET"}],
        "timeout_seconds": 2,
    },
    "environ": {
        "CONTRACT_TOKEN": "tok-s3cr3t-value",
        "CONTRACT_SECRET": "whsec_c2VjcmV0LWZvci1jb250cmFjdA==",
    },
    "secret_values": ["tok-s3cr3t-value", "whsec_c2VjcmV0LWZvci1jb250cmFjdA=="],
    "mapping": "rest-default.yaml",
    "invalid": [
        ({"base_url": "ftp://nope"}, "settings.base_url"),
        ({"base_url": BASE, "timeout_seconds": 0}, "settings.timeout_seconds"),
        ({"base_url": BASE, "colour": "red"}, "settings.colour"),
        ({}, "settings.base_url"),
    ],
    "create_route": lambda mock: mock.post(f"{BASE}/tickets"),
    "lookup_route": lambda mock: mock.get(f"{BASE}/tickets"),
    "echo_of_create": echo_of_create,
}
