"""Contract scenario: Redmine (`mappings/redmine.yaml`), polled; answers shaped as the recorded
ones in tests/fixtures/redmine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import respx

from gateway.adapter.base import Adapter
from gateway.adapter.models import InboundEvent
from tests.contract.scenarios import Remote, Scenario

BASE = "https://redmine.contract.test"
API_KEY = "5eed-contract-api-key-value"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "redmine"
PRIORITY = {
    "less urgent": "Normal",
    "urgent": "High",
    "very urgent": "Urgent",
    "top priority": "Immediate",
}
VALUES = {
    "project": "ngi-cz",
    "hub_id_field": 1,
    "api_user_id": 1,
    "accepts_new_tickets": True,
    "submitter_email": "ngi-cz-helpdesk@example.org",
    "status_ids": {
        "New": 1,
        "In Progress": 2,
        "Resolved": 3,
        "Feedback": 4,
        "Closed": 5,
        "Rejected": 6,
    },
    "priority_ids": {"Low": 1, "Normal": 2, "High": 3, "Urgent": 4, "Immediate": 5},
}


def issue(remote: Remote, *, journals: list[dict[str, Any]], hub_id: str = "") -> dict[str, Any]:
    """An issue as GET /issues/:id.json?include=journals answers (see the recorded one)."""
    recorded = json.loads((FIXTURES / "issue_with_journals.json").read_text())["issue"]
    return {
        **recorded,
        "id": int(remote.remote_id),
        "subject": remote.subject,
        "description": remote.description,
        "priority": {"id": 4, "name": PRIORITY[remote.priority]},
        "author": {"id": 5, "name": remote.submitter_name},
        "custom_fields": [{"id": 1, "name": "Hub ID", "value": hub_id}],
        "updated_on": "2026-11-23T21:42:50Z",
        "journals": journals,
    }


async def polled(
    adapter: Adapter[Any], mock: respx.MockRouter, document: dict[str, Any]
) -> list[InboundEvent]:
    listed = {
        "issues": [{k: v for k, v in document.items() if k != "journals"}],
        "total_count": 1,
        "offset": 0,
        "limit": 100,
    }
    mock.get(f"{BASE}/issues.json").mock(return_value=httpx.Response(200, json=listed))
    mock.get(f"{BASE}/issues/{document['id']}.json").mock(
        return_value=httpx.Response(200, json={"issue": document})
    )
    result = await adapter.poll({"since": "2026-11-23T21:00:00Z", "seen": {}})
    return result.events


async def opened_remotely(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    return await polled(adapter, mock, issue(remote, journals=[]))


async def internal_note(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    note = {
        "id": 9,
        "user": {"id": 5, "name": "Eve"},
        "notes": remote.note,
        "created_on": "2026-11-23T21:42:50Z",
        "private_notes": True,
        "details": [],
    }
    return await polled(adapter, mock, issue(remote, journals=[note], hub_id="42"))


def mock_lookup(mock: respx.MockRouter, remote_ids: Any) -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        issues = [
            {"id": int(rid), "custom_fields": [{"id": 1, "name": "Hub ID", "value": "42"}]}
            for rid in remote_ids()
        ]
        return httpx.Response(200, json={"issues": issues, "total_count": len(issues)})

    mock.get(f"{BASE}/issues.json", params={"cf_1": "42"}).mock(side_effect=answer)


def mock_attach(mock: respx.MockRouter) -> None:
    """Redmine's two steps: the bytes to /uploads.json (a token back), then the issue update."""
    mock.post(f"{BASE}/uploads.json").respond(
        201, json={"upload": {"id": 7, "token": "7.ed32257a2ab0f7526c0d72c32994c58b"}}
    )
    mock.put(f"{BASE}/issues/77.json").respond(204)


def created(remote_id: str) -> httpx.Response:
    recorded = json.loads((FIXTURES / "create_issue_201.json").read_text())
    recorded["issue"]["id"] = int(remote_id)
    return httpx.Response(201, json=recorded)


SCENARIOS = [
    Scenario(
        name="redmine",
        kind="rest",
        settings={
            "base_url": BASE,
            "secrets": {"api_key": {"env": "CONTRACT_REDMINE_KEY"}},
            "values": VALUES,
        },
        environ={"CONTRACT_REDMINE_KEY": API_KEY},
        secret_values=[API_KEY],
        mapping="redmine.yaml",
        invalid=[
            ({"base_url": "redmine.contract.test"}, "settings.base_url"),
            ({"base_url": BASE, "values": "ngi-cz"}, "settings.values"),
        ],
        create_route=lambda mock: mock.post(f"{BASE}/issues.json"),
        created=created,
        check_route=lambda mock: mock.get(f"{BASE}/users/current.json"),
        mock_lookup=mock_lookup,
        opened_remotely=opened_remotely,
        internal_note=internal_note,
        inbound="poll",
        mock_attach=mock_attach,
    )
]
