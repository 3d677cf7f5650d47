"""ETAs and releases on SQLite and PostgreSQL: the unit holding a ticket sets and revises its
ETA (every revision kept), an expired ETA escalates once per ETA to the unit and the second-line
unit that handed the ticket over, and a release solves the tickets waiting on hold for it."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from gateway.auth.models import Role
from gateway.process.eta import escalate_expired_etas
from gateway.sync.tables import OutboxRow
from tests.conftest import Keys
from tests.process.conftest import at, berlin, change, open_ticket


async def patch(api: httpx.AsyncClient, hub_id: int, headers: dict[str, str], **fields: Any) -> Any:
    current = (await api.get(f"/api/v1/tickets/{hub_id}")).json()
    return await api.patch(
        f"/api/v1/tickets/{hub_id}",
        json=fields,
        headers={**headers, "If-Match": f'"{current["version"]}"'},
    )


async def passed_to_dcache(api: httpx.AsyncClient) -> int:
    ticket = await open_ticket(api, subject="Pool manager loses requests", component="dCache")
    await change(api, ticket["id"], support_unit="dCache")
    return int(ticket["id"])


async def test_only_the_unit_holding_the_ticket_sets_its_eta(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    keys = Keys(app)
    dmsu, dcache = (
        await keys.headers(Role.UNIT, unit="DMSU"),
        await keys.headers(Role.UNIT, unit="dCache"),
    )
    created = await api.post(
        "/api/v1/tickets",
        json={
            "subject": "SRM timeouts",
            "description": "srmls times out",
            "submitter": {"name": "Ann Example", "email": "ann@example.org"},
            "support_unit": "dCache",
        },
        headers=dmsu,  # DMSU opens it for dCache, and keeps seeing it as its origin
    )
    hub_id = created.json()["id"]
    refused = await patch(api, hub_id, dmsu, eta="2027-01-15")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        f"DMSU: the ETA of #{hub_id} is set by the unit that holds the ticket (dCache)"
    )
    assert (await patch(api, hub_id, dcache, eta="2027-01-15")).status_code == 200
    revised = await patch(api, hub_id, dcache, eta="2027-01-29")
    history = revised.json()["eta_history"]
    assert [(r["eta"], r["set_by"]) for r in history] == [
        ("2027-01-15", "unit:dCache"),
        ("2027-01-29", "unit:dCache"),
    ]
    assert all(r["set_at"] for r in history)
    assert (await patch(api, hub_id, {}, eta="2027-02-05")).status_code == 200  # an admin


def expired(unit: str) -> float:
    return REGISTRY.get_sample_value("gateway_eta_expired_total", {"support_unit": unit}) or 0.0


async def test_an_expired_eta_escalates_once_to_the_unit_and_the_second_line(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    hub_id = await passed_to_dcache(api)
    await change(api, hub_id, eta="2026-12-24")
    before = expired("dCache")
    assert await escalate_expired_etas(at(app, berlin(2026, 12, 24, 23, 59))) == (
        "0 expired ETAs escalated"
    )
    # the ETA day is over at midnight, holiday or not
    assert await escalate_expired_etas(at(app, berlin(2026, 12, 25, 0, 1))) == (
        "1 expired ETAs escalated"
    )
    assert await escalate_expired_etas(at(app, berlin(2026, 12, 28, 9, 0))) == (
        "0 expired ETAs escalated"
    )
    assert expired("dCache") == before + 1

    ticket = (await api.get(f"/api/v1/tickets/{hub_id}")).json()
    entry = ticket["journal"][-1]
    assert entry["visibility"] == "internal"
    assert entry["body"].startswith(f"The ETA 2026-12-24 of ticket #{hub_id}")
    history = (await api.get(f"/api/v1/tickets/{hub_id}/history")).json()
    [notice] = [h["changes"]["notice"] for h in history if h["action"] == "notice"]
    assert notice["kind"] == "eta-expired"
    assert notice["to"] == ["dmsu@egi.example.org", "support@dcache.example.org"]

    # a revised ETA is a new promise: its expiry escalates again
    await change(api, hub_id, eta="2027-01-08")
    assert await escalate_expired_etas(at(app, berlin(2027, 1, 8, 12, 0))) == (
        "0 expired ETAs escalated"
    )
    assert await escalate_expired_etas(at(app, berlin(2027, 1, 9, 0, 1))) == (
        "1 expired ETAs escalated"
    )


async def test_a_solved_ticket_is_not_escalated(api: httpx.AsyncClient, app: FastAPI) -> None:
    hub_id = await passed_to_dcache(api)
    await change(api, hub_id, eta="2026-12-24")
    await change(api, hub_id, status="solved", solution="Fixed in 9.2.14.")
    assert await escalate_expired_etas(at(app, berlin(2027, 1, 4, 12, 0))) == (
        "0 expired ETAs escalated"
    )


async def test_a_release_solves_the_tickets_on_hold_for_it(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    held = [await passed_to_dcache(api) for _ in range(2)]
    for hub_id in held:
        await change(api, hub_id, status="on hold")
    busy = await passed_to_dcache(api)
    await change(api, busy, status="in progress")
    other = await open_ticket(api, component="FTS")
    await change(api, other["id"], status="on hold")

    announced = await api.post(
        "/api/v1/releases",
        json={
            "product": "dCache",
            "version": "9.2.14",
            "component": "dcache",
            "tickets": [busy, 999],
            "notes": "Pool manager no longer drops requests under load.",
        },
    )
    assert announced.status_code == 201, announced.text
    release = announced.json()
    assert release["solved"] == held
    assert release["skipped"] == [
        {"ticket": busy, "reason": "'in progress', not on hold"},
        {"ticket": 999, "reason": "no such ticket"},
    ]
    for hub_id in held:
        ticket = (await api.get(f"/api/v1/tickets/{hub_id}")).json()
        assert ticket["status"] == "solved"
        assert ticket["solution"] == (
            "Fixed in dCache 9.2.14.\n\nPool manager no longer drops requests under load."
        )
    assert (await api.get(f"/api/v1/tickets/{other['id']}")).json()["status"] == "on hold"
    async with app.state.sessionmaker() as session:
        mailed = await session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.ticket_id.in_(held), OutboxRow.rule == "submitter-mailed-solution")
        )
    assert mailed == 2  # each submitter is mailed the solution, naming the release
    listed = (await api.get("/api/v1/releases")).json()
    assert [(r["product"], r["version"]) for r in listed] == [("dCache", "9.2.14")]
    assert (await api.get(f"/api/v1/releases/{release['id']}")).json() == release


async def test_a_release_must_name_what_it_fixes_and_submitters_cannot_announce(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    empty = await api.post("/api/v1/releases", json={"product": "dCache", "version": "9.2.14"})
    assert empty.status_code == 422
    assert "names the tickets or the component" in empty.text
    submitter = await Keys(app).headers(Role.SUBMITTER, email="ann@example.org")
    refused = await api.post(
        "/api/v1/releases",
        json={"product": "dCache", "version": "9.2.14", "component": "dCache"},
        headers=submitter,
    )
    assert refused.status_code == 403
    assert (await api.get("/api/v1/releases/12345")).status_code == 404
