"""API keys: who may see and change what; 401, 403 and 404 each where they belong."""

from __future__ import annotations

import pytest

from gateway.auth.models import Role
from tests.conftest import new_ticket


@pytest.fixture
async def dmsu(keys) -> dict[str, str]:
    return await keys.headers(Role.UNIT, unit="DMSU")


@pytest.fixture
async def ngi(keys) -> dict[str, str]:
    return await keys.headers(Role.UNIT, unit="NGI_DE")


@pytest.fixture
async def ann(keys) -> dict[str, str]:
    return await keys.headers(Role.SUBMITTER, email="ann@example.org")


async def test_no_key_or_bad_key_is_401(client) -> None:
    assert (await client.get("/api/v1/tickets")).status_code == 401
    for key in ("nonsense", "gw_0000_secret", "gw_x_y_z"):
        response = await client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


async def test_unit_sees_only_its_tickets_others_are_404(client, admin, dmsu, ngi) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await client.post("/api/v1/tickets", json=new_ticket(), headers=admin)  # TPM's
    own = await client.post("/api/v1/tickets", json=new_ticket(support_unit="TPM"), headers=ngi)
    assert own.json()["origin_unit"] == "NGI_DE"
    await client.patch("/api/v1/tickets/2", json={"involved": ["NGI_DE"]}, headers=admin)

    async def visible(headers) -> list[int]:
        return [
            t["id"] for t in (await client.get("/api/v1/tickets", headers=headers)).json()["items"]
        ]

    assert await visible(dmsu) == [1]
    assert await visible(ngi) == [2, 3]  # involved in #2, origin of #3
    assert (await client.get("/api/v1/tickets/2", headers=dmsu)).status_code == 404
    assert (await client.patch("/api/v1/tickets/2", json={}, headers=dmsu)).status_code == 404
    entry = await client.post("/api/v1/tickets/2/entries", json={"body": "x"}, headers=dmsu)
    assert entry.status_code == 404
    assert (await client.get("/api/v1/tickets/2/history", headers=dmsu)).status_code == 404


async def test_unit_cannot_reach_admin_routes(client, dmsu) -> None:
    for method, url, body in [
        ("POST", "/api/v1/support-units", {"name": "X", "level": "first"}),
        ("PATCH", "/api/v1/support-units/DMSU", {"level": "third"}),
        ("POST", "/api/v1/api-keys", {"name": "x", "role": "admin"}),
        ("GET", "/api/v1/api-keys", None),
    ]:
        response = await client.request(method, url, json=body, headers=dmsu)
        assert response.status_code == 403, (method, url)
        assert response.json()["error"]["message"] == "this route needs an admin key"


async def test_unit_fields_it_may_not_set_are_refused(client, admin, dmsu) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    response = await client.patch("/api/v1/tickets/1", json={"subject": "mine now"}, headers=dmsu)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "field 'subject' may not be set by a unit key"
    ticket = (await client.get("/api/v1/tickets/1", headers=dmsu)).json()
    assert ticket["subject"] != "mine now"


async def test_only_second_line_assigns_to_third_line(client, admin, dmsu, ngi) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="NGI_DE"), headers=admin)
    refused = await client.patch("/api/v1/tickets/1", json={"support_unit": "dCache"}, headers=ngi)
    assert refused.status_code == 403
    assert "first-line unit may not assign tickets to a third-line unit" in refused.text
    moved = await client.patch("/api/v1/tickets/1", json={"support_unit": "DMSU"}, headers=ngi)
    assert moved.status_code == 200
    to_third = await client.patch(
        "/api/v1/tickets/1", json={"support_unit": "dCache"}, headers=dmsu
    )
    assert to_third.status_code == 200
    direct = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="dCache"), headers=ngi
    )
    assert direct.status_code == 403


async def test_submitter_never_sees_internal_entries(client, admin, ann) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await client.post("/api/v1/tickets/1/entries", json={"body": "public note"}, headers=admin)
    await client.post(
        "/api/v1/tickets/1/entries",
        json={"body": "secret", "visibility": "internal"},
        headers=admin,
    )
    ticket = (await client.get("/api/v1/tickets/1", headers=ann)).json()
    assert [e["body"] for e in ticket["journal"]] == ["public note"]
    listed = (await client.get("/api/v1/tickets", headers=ann)).json()["items"][0]
    assert [e["body"] for e in listed["journal"]] == ["public note"]
    history = (await client.get("/api/v1/tickets/1/history", headers=ann)).json()
    assert all(h["changes"].get("entry", {}).get("visibility") != "internal" for h in history)
    refused = await client.post(
        "/api/v1/tickets/1/entries", json={"body": "x", "visibility": "internal"}, headers=ann
    )
    assert refused.status_code == 403


async def test_submitter_sees_only_own_tickets_and_files_only_for_self(client, admin, ann) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(), headers=admin)
    bob = {"name": "Bob", "email": "bob@example.org"}
    await client.post("/api/v1/tickets", json=new_ticket(submitter=bob), headers=admin)
    assert [
        t["id"] for t in (await client.get("/api/v1/tickets", headers=ann)).json()["items"]
    ] == [1]
    assert (await client.get("/api/v1/tickets/2", headers=ann)).status_code == 404
    for_bob = await client.post("/api/v1/tickets", json=new_ticket(submitter=bob), headers=ann)
    assert for_bob.status_code == 403
    routed = await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=ann)
    assert routed.status_code == 403
    assert "support_unit" in routed.json()["error"]["message"]
    ok = await client.post(
        "/api/v1/tickets",
        json=new_ticket(submitter={"name": "Ann", "email": "ANN@example.org"}),
        headers=ann,
    )
    assert ok.status_code == 201


async def test_submitter_reply_resumes_a_waiting_ticket(client, admin, ann) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await client.patch("/api/v1/tickets/1", json={"status": "waiting for reply"}, headers=admin)
    refused = await client.patch("/api/v1/tickets/1", json={"status": "in progress"}, headers=ann)
    assert refused.status_code == 403
    await client.post("/api/v1/tickets/1/entries", json={"body": "Here is the log"}, headers=ann)
    assert (await client.get("/api/v1/tickets/1", headers=ann)).json()["status"] == "in progress"


async def test_api_key_secret_is_shown_once_and_works(client, admin) -> None:
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "ngi bot", "role": "unit", "support_unit": "NGI_DE"},
        headers=admin,
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    listed = (await client.get("/api/v1/api-keys", headers=admin)).json()
    assert secret not in str(listed)
    assert {"ngi bot"} <= {k["name"] for k in listed}
    headers = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/api/v1/tickets", headers=headers)).status_code == 200
    bad = await client.post("/api/v1/api-keys", json={"name": "x", "role": "unit"}, headers=admin)
    assert bad.status_code == 422
    assert "support_unit is required" in bad.json()["error"]["message"]
