"""Contract scenario: Znuny's GenericInterface REST (`mappings/znuny.yaml`): errors inside 200
answers, ids as strings or numbers, events from a Ticket::Generic invoker with a token header."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import respx

from gateway.adapter.base import Adapter
from gateway.adapter.models import InboundEvent
from tests.contract.scenarios import Remote, Scenario, through_webhook

BASE = "https://znuny.contract.test/znuny/nph-genericinterface.pl/Webservice/GatewayConnector"
PASSWORD = "znuny-agent-s3cret"
TOKEN = "znuny-event-token-value"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "znuny"
PRIORITY = {
    "less urgent": "3 normal",
    "urgent": "4 high",
    "very urgent": "5 very high",
    "top priority": "5 very high",
}


def event(name: str, remote: Remote, *, article: dict[str, Any] | None = None) -> dict[str, Any]:
    """An invoker request shaped as the recorded-from-source fixture, for this ticket."""
    shaped: dict[str, Any] = json.loads((FIXTURES / "event_article_create.json").read_text())
    ticket = shaped["Ticket"]
    ticket.update(
        TicketID=int(remote.remote_id),
        Title=remote.subject,
        Priority=PRIORITY[remote.priority],
        CustomerUser={
            **ticket["CustomerUser"],
            "UserFullname": remote.submitter_name,
            "UserEmail": remote.submitter_email,
        },
        CustomerUserID=remote.submitter_email,
        DynamicField_HubID=None if name == "TicketCreate" else "42",
    )
    ticket["Articles"] = [{**ticket["Articles"][0], "Body": remote.description}]
    if article is not None:
        ticket["Article"] = {**ticket["Article"], **article}
    else:
        ticket.pop("Article", None)
    shaped["Event"] = {
        "Event": name,
        "TicketID": remote.remote_id,
        **({"ArticleID": str(article["ArticleID"])} if article else {}),
    }
    return shaped


async def opened_remotely(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    body = json.dumps(event("TicketCreate", remote)).encode()
    return await through_webhook(adapter, body, {"X-Gateway-Token": TOKEN})


async def internal_note(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    note = {"ArticleID": 9901, "Body": remote.note, "IsVisibleForCustomer": 0, "CreateBy": 3}
    body = json.dumps(event("ArticleCreate", remote, article=note)).encode()
    return await through_webhook(adapter, body, {"X-Gateway-Token": TOKEN})


def mock_lookup(mock: respx.MockRouter, remote_ids: Any) -> None:
    def search(_: httpx.Request) -> httpx.Response:
        found = remote_ids()
        return httpx.Response(200, json={"TicketID": found} if found else {})

    def get(request: httpx.Request) -> httpx.Response:
        ticket_id = request.url.path.rsplit("/", 1)[-1]
        fields = [{"Name": "HubID", "Value": "42"}]
        return httpx.Response(
            200, json={"Ticket": [{"TicketID": ticket_id, "DynamicField": fields}]}
        )

    mock.post(f"{BASE}/TicketSearch").mock(side_effect=search)
    mock.get(url__regex=rf"{BASE}/Ticket/\d+").mock(side_effect=get)


SCENARIOS = [
    Scenario(
        name="znuny",
        kind="rest",
        settings={
            "base_url": BASE,
            "secrets": {"password": {"env": "CONTRACT_ZNUNY_PASSWORD"}},
            "webhook_secrets": [{"env": "CONTRACT_ZNUNY_TOKEN"}],
            "values": {
                "user": "hub-gateway",
                "agent_user_id": 7,
                "queue": "NGI_CZ",
                "accepts_new_tickets": True,
            },
        },
        environ={"CONTRACT_ZNUNY_PASSWORD": PASSWORD, "CONTRACT_ZNUNY_TOKEN": TOKEN},
        secret_values=[PASSWORD, TOKEN],
        mapping="znuny.yaml",
        invalid=[
            ({"base_url": BASE, "secrets": {"password": "inline"}}, "settings.secrets.password"),
            (
                {"base_url": BASE, "webhook_secrets": [{"env": "NOPE"}]},
                "settings.webhook_secrets[0]",
            ),
        ],
        create_route=lambda mock: mock.post(f"{BASE}/Ticket"),
        created=lambda rid: httpx.Response(
            200, json={"ArticleID": "9810", "TicketID": rid, "TicketNumber": "2026112310000015"}
        ),
        check_route=lambda mock: mock.post(f"{BASE}/TicketSearch"),
        mock_lookup=mock_lookup,
        opened_remotely=opened_remotely,
        internal_note=internal_note,
        forged={"X-Gateway-Token": "not-the-token"},
        mock_attach=lambda mock: mock.patch(f"{BASE}/Ticket/77").respond(
            200, json={"TicketID": "77", "TicketNumber": "2026112310000015", "ArticleID": "9811"}
        ),
    )
]
