"""Contract scenario: Request Tracker 5 (REST 2), polled; answers shaped as the recorded ones in
tests/fixtures/rt (a search, a history page, a transaction's parts, a ticket)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import respx

from gateway.adapter.base import Adapter
from gateway.adapter.models import InboundEvent
from tests.contract.scenarios import Remote, Scenario

URL = "https://rt.contract.test"
REST = f"{URL}/REST/2.0"
PASSWORD = "rt-contract-password-value"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rt"
PRIORITY = {"less urgent": "0", "urgent": "50", "very urgent": "75", "top priority": "100"}


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _transaction(txn: int, kind: str, creator: str = "jnovak") -> dict[str, Any]:
    return {
        "id": str(txn),
        "type": "transaction",
        "Type": kind,
        "Field": "",
        "OldValue": "",
        "NewValue": "",
        "Creator": {"id": creator, "type": "user"},
        "Created": "2026-12-03T17:41:45Z",
        "Data": "No Subject",
    }


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items, "page": 1, "pages": 1, "per_page": 100, "count": len(items)}


async def polled(
    adapter: Adapter[Any],
    mock: respx.MockRouter,
    remote: Remote,
    transactions: list[dict[str, Any]],
    text: str,
    hub_id: str = "",
) -> list[InboundEvent]:
    item = {"id": remote.remote_id, "type": "ticket", "LastUpdated": "2026-12-03T17:41:50Z"}
    listed = _page([{**item, "Queue": {"id": "3", "Name": "NGI_CZ"}}])
    mock.get(f"{REST}/tickets").mock(return_value=httpx.Response(200, json=listed))
    history = _page(list(reversed(transactions)))
    mock.get(f"{REST}/ticket/{remote.remote_id}/history").mock(
        return_value=httpx.Response(200, json=history)
    )
    ticket = {
        **recorded("ticket.json"),
        "id": int(remote.remote_id),
        "Subject": remote.subject,
        "Priority": PRIORITY[remote.priority],
        "Creator": {"id": remote.submitter_name, "type": "user"},
        "Requestor": [{"id": remote.submitter_email, "type": "user"}],
        "CustomFields": [{"id": "2", "name": "Hub ID", "values": [hub_id] if hub_id else []}],
    }
    mock.get(f"{REST}/ticket/{remote.remote_id}").mock(
        return_value=httpx.Response(200, json=ticket)
    )
    part = {"id": "11", "ContentType": "text/plain", "Filename": "", "Content": text}
    mock.get(url__regex=rf"{REST}/transaction/\d+/attachments").mock(
        return_value=httpx.Response(200, json=_page([part]))
    )
    result = await adapter.poll({"since": "2026-12-03 17:00:00", "seen": {}, "read": {}})
    return result.events


async def opened_remotely(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    return await polled(adapter, mock, remote, [_transaction(50, "Create")], remote.description)


async def internal_note(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    return await polled(
        adapter, mock, remote, [_transaction(71, "Comment")], remote.note, hub_id="42"
    )


def mock_lookup(mock: respx.MockRouter, remote_ids: Any) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert "'CF.{Hub ID}' = '42'" in request.url.params["query"]
        items = [{"id": rid, "type": "ticket"} for rid in remote_ids()]
        return httpx.Response(200, json=_page(items))

    mock.get(f"{REST}/tickets").mock(side_effect=answer)


def mock_attach(mock: respx.MockRouter) -> None:
    mock.post(f"{REST}/ticket/77/correspond").respond(
        201,
        json=recorded("correspond_attachments_201.json"),
        headers={"Location": "/REST/2.0/transaction/73"},
    )


def created(remote_id: str) -> httpx.Response:
    answer = {**recorded("create_ticket_201.json"), "id": remote_id}
    return httpx.Response(201, json=answer, headers={"Location": f"/REST/2.0/ticket/{remote_id}"})


SETTINGS = {
    "url": URL,
    "user": "gateway",
    "password": {"env": "CONTRACT_RT_PASSWORD"},
    "queue": "NGI_CZ",
    "hub_ticket_url": "https://hub.contract.test/tickets/{id}",
    "accepts_new_tickets": True,
}

SCENARIOS = [
    Scenario(
        name="rt",
        kind="rt",
        settings=SETTINGS,
        environ={"CONTRACT_RT_PASSWORD": PASSWORD},
        secret_values=[PASSWORD],
        mapping=None,
        invalid=[
            ({**SETTINGS, "url": "rt.contract.test"}, "settings.url"),
            ({**SETTINGS, "correspondence": "shout"}, "settings.correspondence"),
            ({**SETTINGS, "status_from_rt": {"open": "busy"}}, "settings.status_from_rt"),
        ],
        create_route=lambda mock: mock.post(f"{REST}/ticket"),
        created=created,
        check_route=lambda mock: mock.get(f"{REST}/queue/NGI_CZ"),
        mock_lookup=mock_lookup,
        opened_remotely=opened_remotely,
        internal_note=internal_note,
        inbound="poll",
        mock_attach=mock_attach,
    )
]
