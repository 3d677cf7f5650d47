"""Inbound events: applied once, close-only gating, origin told on solution, echoes dropped."""

from __future__ import annotations

import pytest

from gateway.connection.models import Policy
from tests.sync.conftest import send_event, submitted


async def submit(client, event_id: str = "e-create", remote_id: str = "NGI-7", **ticket) -> dict:
    response = await send_event(
        client,
        "ngi",
        event_id,
        [
            {
                "kind": "create",
                "remote_id": remote_id,
                "remote_url": f"https://ngi.example/{remote_id.removeprefix('NGI-')}",
                "ticket": submitted(**ticket),
            }
        ],
    )
    assert response.status_code == 202, response.text
    [event] = response.json()["events"]
    return event


async def test_webhook_creates_routed_ticket_linked_to_its_origin(
    client, admin, worker, remotes
) -> None:
    result = await submit(client, support_unit="DMSU")
    assert result["applied"] == [{"kind": "create", "ticket_id": 1}]
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert (ticket["status"], ticket["support_unit"], ticket["origin_unit"]) == (
        "assigned",
        "DMSU",
        "NGI_DE",
    )
    assert ticket["links"][0] == {
        "connection": "ngi",
        "external_id": "NGI-7",
        "external_url": "https://ngi.example/7",
        "role": "origin",
        "state": None,  # only a requirement's link has one
    }
    history = (await client.get("/api/v1/tickets/1/history", headers=admin)).json()
    assert (history[0]["source"], history[0]["actor"]) == ("ngi", "Ann Example")
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create"]
    assert remotes["ngi"].received == []  # never echoed back to where it came from


async def test_cheat_sheet_routes_by_component(client, admin, config) -> None:
    # the example's cheat sheet sends dCache to DMSU; the shorthand adds a component it lacks
    config.routing.components["Rucio"] = "dCache"
    await submit(client, component="dCache")
    await submit(client, "e-create-2", component="Rucio", remote_id="NGI-8")
    tickets = [(await client.get(f"/api/v1/tickets/{n}", headers=admin)).json() for n in (1, 2)]
    assert [(t["support_unit"], t["status"]) for t in tickets] == [
        ("DMSU", "new"),
        ("dCache", "new"),
    ]


async def test_same_event_twice_is_applied_once(client, admin) -> None:
    await submit(client)
    again = await submit(client)
    assert (again["duplicate"], again["applied"]) == (True, [])
    assert len((await client.get("/api/v1/tickets", headers=admin)).json()["items"]) == 1


async def test_unsigned_or_unknown_is_refused_and_changes_nothing(client, admin) -> None:
    body = '[{"kind": "comment", "remote_id": "x", "body": "hi"}]'
    unsigned = await client.post("/api/v1/webhooks/ngi", content=body, headers={"x-event-id": "1"})
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["code"] == "signature_invalid"
    unknown = await send_event(client, "nowhere", "1", [])
    assert unknown.status_code == 401  # as a bad signature: connection names cannot be probed
    assert unknown.json()["error"]["code"] == "signature_invalid"
    assert (await client.get("/api/v1/tickets", headers=admin)).json()["items"] == []


async def test_close_only_assignee_reports_only_solution_reassignment_question(
    client, admin, worker, remotes
) -> None:
    await submit(client, support_unit="DMSU")
    await worker.run_until_idle()
    internal = await send_event(
        client,
        "dmsu",
        "d-1",
        [
            {"kind": "comment", "remote_id": "R1", "body": "asked Bob"},
            {"kind": "status", "remote_id": "R1", "status": "on hold"},
        ],
    )
    assert [i["reason"] for i in internal.json()["events"][0]["ignored"]] == [
        "close-only: 'comment' is internal traffic of dmsu",
        "close-only: 'status' is internal traffic of dmsu",
    ]
    question = await send_event(
        client, "dmsu", "d-2", [{"kind": "question", "remote_id": "R1", "body": "Which VO?"}]
    )
    assert question.json()["events"][0]["applied"] == [{"kind": "question", "ticket_id": 1}]
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert ticket["status"] == "waiting for reply"
    assert [e["body"] for e in ticket["journal"]] == ["Which VO?"]
    await worker.run_until_idle()
    assert remotes["ngi"].received == []  # close-only origin: nothing before the solution


async def test_solution_updates_origin_only_then(client, admin, worker, remotes) -> None:
    await submit(client, support_unit="DMSU")
    await worker.run_until_idle()
    await client.post("/api/v1/tickets/1/entries", json={"body": "we are on it"}, headers=admin)
    await worker.run_until_idle()
    assert remotes["ngi"].received == []
    solved = await send_event(
        client,
        "dmsu",
        "d-9",
        [{"kind": "solve", "remote_id": "R1", "solution": "Renewed the host certificate."}],
    )
    assert solved.json()["events"][0]["applied"] == [{"kind": "solve", "ticket_id": 1}]
    await worker.run_until_idle()
    [told] = remotes["ngi"].received
    assert (told.action, told.ticket.status, told.ticket.solution) == (
        "solve",
        "solved",
        "Renewed the host certificate.",
    )
    assert told.remote.remote_id == "NGI-7"
    assert remotes["dmsu"].actions() == ["create", "entry"]  # not told of its own solution


async def test_verified_ticket_is_never_overwritten_by_remote_solve(client, admin, worker) -> None:
    await submit(client, support_unit="DMSU")
    await worker.run_until_idle()
    await client.patch(
        "/api/v1/tickets/1", json={"status": "solved", "solution": "a"}, headers=admin
    )
    await client.patch("/api/v1/tickets/1", json={"status": "verified"}, headers=admin)
    late = await send_event(
        client, "dmsu", "d-3", [{"kind": "solve", "remote_id": "R1", "solution": "b"}]
    )
    assert "never overwritten" in late.json()["events"][0]["ignored"][0]["reason"]
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert (ticket["status"], ticket["solution"]) == ("verified", "a")


async def test_submitter_reply_from_origin_resumes_work_and_reaches_assignee(
    client, admin, worker, remotes
) -> None:
    await submit(client, support_unit="DMSU")
    await client.patch("/api/v1/tickets/1", json={"status": "waiting for reply"}, headers=admin)
    reply = await send_event(
        client, "ngi", "n-2", [{"kind": "comment", "remote_id": "NGI-7", "body": "VO is atlas"}]
    )
    assert reply.json()["events"][0]["applied"]
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert ticket["status"] == "in progress"
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create", "update", "entry", "update"]


async def test_echo_of_our_own_entry_is_dropped(client, admin, worker) -> None:
    await submit(client, support_unit="DMSU")
    await client.post(
        "/api/v1/tickets/1/entries", json={"body": "Please send the log"}, headers=admin
    )
    await worker.run_until_idle()
    echo = await send_event(
        client,
        "dmsu",
        "d-echo",
        [{"kind": "question", "remote_id": "R1", "body": "Please send the log"}],
    )
    assert echo.json()["events"][0]["ignored"][0]["reason"] == "echo of an entry the hub wrote"
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert len(ticket["journal"]) == 1


async def test_reassignment_by_assignee_follows_assignment_rules(
    client, admin, worker, remotes
) -> None:
    await submit(client, support_unit="DMSU")
    await worker.run_until_idle()
    moved = await send_event(
        client, "dmsu", "d-4", [{"kind": "reassign", "remote_id": "R1", "support_unit": "dCache"}]
    )
    assert moved.json()["events"][0]["applied"]
    await worker.run_until_idle()
    assert remotes["dcache"].actions() == ["create"]
    stale = await send_event(
        client, "dmsu", "d-5", [{"kind": "solve", "remote_id": "R1", "solution": "x"}]
    )
    assert "no longer responsible" in stale.json()["events"][0]["ignored"][0]["reason"]


async def test_domain_error_rejects_whole_event_and_a_fixed_resend_works(client, admin) -> None:
    await submit(client, support_unit="DMSU")
    bad = await send_event(
        client,
        "ngi",
        "n-3",
        [
            {"kind": "comment", "remote_id": "NGI-7", "body": "first"},
            {"kind": "status", "remote_id": "NGI-7", "status": "new"},
        ],
    )
    assert bad.status_code == 422
    assert "only set at creation" in bad.json()["error"]["message"]
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert ticket["journal"] == []
    fixed = await send_event(
        client, "ngi", "n-3", [{"kind": "comment", "remote_id": "NGI-7", "body": "first"}]
    )
    assert fixed.json()["events"][0]["applied"]


@pytest.mark.parametrize("policy", [Policy.MIRROR])
async def test_mirror_origin_hears_all_public_changes(
    client, admin, worker, remotes, policy
) -> None:
    await submit(client, support_unit="DMSU")
    await client.patch("/api/v1/tickets/1", json={"priority": "urgent"}, headers=admin)
    await client.post("/api/v1/tickets/1/entries", json={"body": "public"}, headers=admin)
    await client.post(
        "/api/v1/tickets/1/entries", json={"body": "x", "visibility": "internal"}, headers=admin
    )
    await worker.run_until_idle()
    assert remotes["ngi"].actions() == ["update", "entry"]


async def test_a_reassignment_the_levels_forbid_is_refused_naming_the_rule(
    client, admin, worker, remotes
) -> None:
    """The same refusal, naming the rule, as the API gives (tests/api/test_authorization.py)."""
    await submit(client, support_unit="DMSU")
    current = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    routed = await client.patch(
        "/api/v1/tickets/1",
        json={"support_unit": "dCache"},
        headers={**admin, "If-Match": f'"{current["version"]}"'},
    )
    assert routed.status_code == 200, routed.text
    await worker.run_until_idle()
    [link] = [
        link
        for link in (await client.get("/api/v1/tickets/1", headers=admin)).json()["links"]
        if link["connection"] == "dcache"
    ]
    refused = await send_event(
        client,
        "dcache",
        "c-1",
        [{"kind": "reassign", "remote_id": link["external_id"], "support_unit": "NGI_DE"}],
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["message"] == (
        "dcache: a third-line unit may not assign tickets to a first-line unit (NGI_DE); "
        "see routing.assignment_rules"
    )
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert ticket["support_unit"] == "dCache"
