"""Creating tickets: routing, derived status, schema conformance and refusal of bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import new_ticket
from tests.schema_check import assert_valid


async def count_tickets(client: httpx.AsyncClient, admin: dict[str, str]) -> int:
    page = (await client.get("/api/v1/tickets?limit=200", headers=admin)).json()
    return len(page["items"])


async def test_create_returns_full_ticket_with_hub_id(client, admin) -> None:
    response = await client.post("/api/v1/tickets", json=new_ticket(vo="atlas"), headers=admin)
    assert response.status_code == 201
    ticket = response.json()
    assert_valid(ticket, "ticket.schema.json")
    assert ticket["id"] == 1
    assert response.headers["location"] == "/api/v1/tickets/1"
    assert response.headers["etag"] == '"1"'
    assert ticket["type"] == "USER"
    assert ticket["priority"] == "less urgent"
    assert ticket["category"] == "Incident"
    assert ticket["vo"] == "atlas"
    assert ticket["version"] == 1
    read_back = await client.get("/api/v1/tickets/1", headers=admin)
    assert read_back.json() == ticket


async def test_unrouted_ticket_goes_new_to_the_default_unit(client, admin) -> None:
    ticket = (await client.post("/api/v1/tickets", json=new_ticket(), headers=admin)).json()
    assert (ticket["status"], ticket["support_unit"]) == ("new", "TPM")


async def test_ticket_created_for_a_unit_is_assigned_never_in_progress(client, admin) -> None:
    body = new_ticket(support_unit="DMSU", involved=["NGI_DE"], eta="2026-12-01")
    ticket = (await client.post("/api/v1/tickets", json=body, headers=admin)).json()
    assert (ticket["status"], ticket["support_unit"]) == ("assigned", "DMSU")
    assert ticket["involved"] == ["NGI_DE"]
    assert ticket["eta"] == "2026-12-01"
    assert [r["eta"] for r in ticket["eta_history"]] == ["2026-12-01"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"subject": "x" * 256}, "subject"),
        ({"subject": ""}, "subject"),
        ({"priority": "asap"}, "priority"),
        ({"type": "VIP"}, "type"),
        ({"category": "Bug"}, "category"),
        ({"colour": "red"}, "colour"),
        ({"submitter": {"name": "A", "email": "not-an-email"}}, "submitter.email"),
        ({"submitter": {"name": "A"}}, "submitter.email"),
        ({"cc": ["nobody"]}, "cc.0"),
        ({"eta": "next week"}, "eta"),
    ],
)
async def test_bad_field_is_refused_naming_it(client, admin, override, field) -> None:
    response = await client.post("/api/v1/tickets", json=new_ticket(**override), headers=admin)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in [d["field"] for d in error["details"]]
    assert field in error["message"] or len(error["details"]) > 1
    assert await count_tickets(client, admin) == 0


async def test_unknown_support_unit_is_refused_and_nothing_written(client, admin) -> None:
    response = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="DMSU", involved=["NOPE"]), headers=admin
    )
    assert response.status_code == 422
    assert "involved: unknown support unit 'NOPE'" in response.json()["error"]["message"]
    assert await count_tickets(client, admin) == 0


async def test_malformed_json_is_a_400_naming_the_problem(client, admin) -> None:
    headers = {**admin, "content-type": "application/json"}
    response = await client.post("/api/v1/tickets", content=b'{"subject": ', headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("malformed JSON")


async def test_body_that_is_not_an_object_is_refused(client, admin) -> None:
    response = await client.post("/api/v1/tickets", json=["a", "list"], headers=admin)
    assert response.status_code == 422
    assert "JSON object" in response.json()["error"]["message"]


async def test_oversized_body_is_413_and_nothing_written(client, admin) -> None:
    body = new_ticket(description="x" * 70_000)  # the test app's limit is 64 KiB
    response = await client.post("/api/v1/tickets", json=body, headers=admin)
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["error"]["message"]
    assert await count_tickets(client, admin) == 0


async def test_oversized_streamed_body_without_length_is_413(client, admin) -> None:
    async def chunks():
        for _ in range(20):
            yield b"x" * 8192

    headers = {**admin, "content-type": "application/json"}
    response = await client.post("/api/v1/tickets", content=chunks(), headers=headers)
    assert response.status_code == 413
