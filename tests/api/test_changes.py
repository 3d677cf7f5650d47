"""PATCH, status rules, journal entries, ETA revisions and history."""

from __future__ import annotations

import pytest

from gateway.auth.models import Role
from tests.conftest import new_ticket
from tests.schema_check import assert_valid


@pytest.fixture
async def ticket(client, admin) -> dict:
    response = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin
    )
    return response.json()


async def patch(client, headers, body, *, version=None, ticket_id=1):
    extra = {"If-Match": f'"{version}"'} if version is not None else {}
    return await client.patch(
        f"/api/v1/tickets/{ticket_id}", json=body, headers={**headers, **extra}
    )


async def test_patch_changes_fields_and_bumps_version(client, admin, ticket) -> None:
    response = await patch(
        client,
        admin,
        {"priority": "urgent", "cc": ["bob@example.org"], "status": "in progress"},
        version=1,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid(body, "ticket.schema.json")
    assert (body["priority"], body["cc"], body["status"], body["version"]) == (
        "urgent",
        ["bob@example.org"],
        "in progress",
        2,
    )
    assert response.headers["etag"] == '"2"'


async def test_stale_if_match_is_412_and_changes_nothing(client, admin, ticket) -> None:
    await patch(client, admin, {"priority": "urgent"}, version=1)
    stale = await patch(client, admin, {"priority": "top priority"}, version=1)
    assert stale.status_code == 412
    assert "version 2" in stale.json()["error"]["message"]
    current = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert current["priority"] == "urgent"


async def test_if_match_accepts_weak_etag_and_star(client, admin, ticket) -> None:
    ok = await client.patch(
        "/api/v1/tickets/1", json={"priority": "urgent"}, headers={**admin, "If-Match": 'W/"1"'}
    )
    assert ok.status_code == 200
    star = await client.patch(
        "/api/v1/tickets/1", json={"priority": "less urgent"}, headers={**admin, "If-Match": "*"}
    )
    assert star.status_code == 200
    bad = await client.patch(
        "/api/v1/tickets/1", json={}, headers={**admin, "If-Match": "yesterday"}
    )
    assert bad.status_code == 400


async def test_noop_patch_keeps_the_version(client, admin, ticket) -> None:
    response = await patch(client, admin, {"priority": "less urgent"})
    assert response.json()["version"] == 1


async def test_type_is_fixed_at_creation(client, admin, ticket) -> None:
    response = await patch(client, admin, {"type": "ALARM"})
    assert response.status_code == 422
    assert "type is fixed at creation" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("steps", "last_error"),
    [
        ([{"status": "solved"}], "needs a solution"),
        ([{"status": "new"}], "only set at creation"),
        ([{"status": "verified"}], "only a solved or unsolved ticket can be verified"),
        ([{"status": "reopened"}], "only a solved ticket can be reopened"),
        ([{"solution": "done"}], "together with status"),
        (
            [
                {"status": "solved", "solution": "fixed"},
                {"status": "verified"},
                {"status": "reopened"},
            ],
            "'verified' is final",
        ),
        (
            [{"status": "solved", "solution": "fixed"}, {"status": "in progress"}],
            "through 'reopened'",
        ),
        ([{"status": "closed"}, {"status": "in progress"}], "final except for 'reopened'"),
    ],
)
async def test_status_rules(client, admin, ticket, steps, last_error) -> None:
    for step in steps[:-1]:
        assert (await patch(client, admin, step)).status_code == 200
    response = await patch(client, admin, steps[-1])
    assert response.status_code == 422
    assert last_error in response.json()["error"]["message"]


async def test_solve_verify_cycle(client, admin, ticket) -> None:
    solved = await patch(client, admin, {"status": "solved", "solution": "Restarted the SRM."})
    assert (solved.json()["status"], solved.json()["solution"]) == ("solved", "Restarted the SRM.")
    reopened = await patch(client, admin, {"status": "reopened"})
    assert reopened.json()["status"] == "reopened"
    again = await patch(client, admin, {"status": "unsolved", "solution": "Won't fix upstream."})
    assert again.json()["solution"] == "Won't fix upstream."
    assert (await patch(client, admin, {"status": "verified"})).json()["status"] == "verified"


async def test_closed_reopens_only_for_submitter_or_admin(client, admin, keys, ticket) -> None:
    unit = await keys.headers(Role.UNIT, unit="DMSU")
    submitter = await keys.headers(Role.SUBMITTER, email="ann@example.org")
    await patch(client, admin, {"status": "closed"})
    refused = await patch(client, unit, {"status": "reopened"})
    assert refused.status_code == 403
    assert "only the submitter or an admin" in refused.json()["error"]["message"]
    assert (await patch(client, submitter, {"status": "reopened"})).json()["status"] == "reopened"


async def test_eta_revisions_are_kept(client, admin, ticket) -> None:
    await patch(client, admin, {"eta": "2026-12-01"})
    body = (await patch(client, admin, {"eta": "2027-01-15"})).json()
    assert body["eta"] == "2027-01-15"
    assert [r["eta"] for r in body["eta_history"]] == ["2026-12-01", "2027-01-15"]
    assert all(r["set_by"] == "admin:root" for r in body["eta_history"])


async def test_reassign_and_involve_units(client, admin, ticket) -> None:
    body = (
        await patch(client, admin, {"support_unit": "NGI_DE", "involved": ["DMSU", "TPM"]})
    ).json()
    assert body["support_unit"] == "NGI_DE"
    assert body["involved"] == ["DMSU", "TPM"]
    unknown = await patch(client, admin, {"support_unit": "NOPE"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["field"] == "support_unit"


async def test_assigning_a_new_ticket_makes_it_assigned(client, admin) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(), headers=admin)
    body = (await patch(client, admin, {"support_unit": "DMSU"})).json()
    assert (body["status"], body["support_unit"]) == ("assigned", "DMSU")


async def test_journal_entries_public_and_internal(client, admin, ticket) -> None:
    public = await client.post(
        "/api/v1/tickets/1/entries", json={"body": "Looking into it"}, headers=admin
    )
    assert public.status_code == 201
    assert_valid(public.json(), "journal-entry.schema.json")
    internal = await client.post(
        "/api/v1/tickets/1/entries",
        json={"body": "Ask Bob at DESY", "visibility": "internal", "author": "Eve"},
        headers=admin,
    )
    assert internal.json()["author"] == "Eve"
    body = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert [(e["visibility"], e["source"]) for e in body["journal"]] == [
        ("public", "api"),
        ("internal", "api"),
    ]
    assert body["version"] == 3
    empty = await client.post("/api/v1/tickets/1/entries", json={"body": ""}, headers=admin)
    assert empty.status_code == 422
    assert empty.json()["error"]["details"][0]["field"] == "body"


async def test_history_records_who_when_and_source(client, admin, ticket) -> None:
    await patch(client, admin, {"status": "in progress", "priority": "urgent"})
    await client.post("/api/v1/tickets/1/entries", json={"body": "hi"}, headers=admin)
    history = (await client.get("/api/v1/tickets/1/history", headers=admin)).json()
    assert [(h["version"], h["action"]) for h in history] == [
        (1, "created"),
        (2, "updated"),
        (3, "entry_added"),
    ]
    assert all(h["actor"] == "admin:root" and h["source"] == "api" and h["at"] for h in history)
    assert history[1]["changes"] == {
        "priority": {"from": "less urgent", "to": "urgent"},
        "status": {"from": "assigned", "to": "in progress"},
    }
