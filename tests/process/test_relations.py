"""Relations on SQLite and PostgreSQL: a solved master solves its slaves (their submitters are
mailed the solution), a solved original its duplicates, the last child solved its parent; one
report to many units opens a child for each; and the shapes that would solve the wrong tickets
are refused with a reason."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.auth.models import Role
from gateway.config.models import GatewayConfig
from gateway.sync.tables import OutboxRow
from tests.conftest import Keys
from tests.process.conftest import change, open_ticket, process_config


@pytest.fixture
def config() -> GatewayConfig:
    return process_config(relations={"max_children": 3})


async def relate(api: httpx.AsyncClient, hub_id: int, kind: str, other: int) -> httpx.Response:
    return await api.post(
        f"/api/v1/tickets/{hub_id}/relations", json={"kind": kind, "ticket": other}
    )


async def ticket(api: httpx.AsyncClient, hub_id: int) -> dict[str, Any]:
    answer = await api.get(f"/api/v1/tickets/{hub_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def mailed(app: FastAPI, rule: str) -> list[int]:
    """The tickets the submitters' mail channel was given a delivery for, by this rule."""
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxRow.ticket_id)
            .where(OutboxRow.connection == "mail", OutboxRow.rule == rule)
            .order_by(OutboxRow.ticket_id)
        )
        return list(rows)


def reporter(name: str) -> dict[str, Any]:
    return {"submitter": {"name": name, "email": f"{name.lower()}@example.org"}, "cc": []}


async def test_solving_the_master_solves_its_slaves_and_mails_their_submitters(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    master = (await open_ticket(api, **reporter("Ann")))["id"]
    slaves = [(await open_ticket(api, **reporter(n)))["id"] for n in ("Carl", "Dora")]
    for slave in slaves:
        answer = await relate(api, slave, "slave_of", master)
        assert answer.status_code == 201, answer.text
        assert answer.json()["relations"] == [{"role": "master", "ticket": master}]
    assert (await ticket(api, master))["relations"] == [
        {"role": "slave", "ticket": slaves[0]},
        {"role": "slave", "ticket": slaves[1]},
    ]
    await change(api, master, status="solved", solution="CRL of the CA renewed")

    for slave in slaves:
        solved = await ticket(api, slave)
        assert (solved["status"], solved["solution"]) == ("solved", "CRL of the CA renewed")
        history = (await api.get(f"/api/v1/tickets/{slave}/history")).json()
        assert history[-1]["changes"]["solved_with"] == master
        assert history[-1]["source"] == "relations"
    assert await mailed(app, "submitter-mailed-solution") == [master, *slaves]


async def test_a_slave_of_a_master_already_solved_is_solved_at_once(
    api: httpx.AsyncClient,
) -> None:
    master = (await open_ticket(api))["id"]
    await change(api, master, status="solved", solution="Pool restarted")
    late = (await open_ticket(api, **reporter("Carl")))["id"]
    assert (await relate(api, late, "slave_of", master)).status_code == 201
    assert (await ticket(api, late))["solution"] == "Pool restarted"


async def test_solving_the_original_solves_its_duplicates(api: httpx.AsyncClient) -> None:
    original = (await open_ticket(api))["id"]
    duplicate = (await open_ticket(api))["id"]
    assert (await relate(api, duplicate, "duplicate_of", original)).status_code == 201
    assert (await ticket(api, original))["relations"] == [
        {"role": "duplicated_by", "ticket": duplicate}
    ]
    await change(api, original, status="unsolved", solution="Site decommissioned")
    assert (await ticket(api, duplicate))["status"] == "unsolved"


async def test_one_report_to_many_units_is_solved_when_every_child_is(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    parent = (await open_ticket(api, subject="Jobs fail at three sites", support_unit="TPM"))["id"]
    opened = await api.post(
        f"/api/v1/tickets/{parent}/children", json={"support_units": ["DMSU", "dCache"]}
    )
    assert opened.status_code == 201, opened.text
    children = opened.json()
    assert [(c["support_unit"], c["status"], c["subject"]) for c in children] == [
        ("DMSU", "assigned", "Jobs fail at three sites"),
        ("dCache", "assigned", "Jobs fail at three sites"),
    ]
    assert [c["relations"] for c in children] == [[{"role": "parent", "ticket": parent}]] * 2
    first, second = (c["id"] for c in children)
    assert [r["ticket"] for r in (await ticket(api, parent))["relations"]] == [first, second]

    await change(api, first, status="solved", solution="DMSU: proxy renewal fixed")
    assert (await ticket(api, parent))["status"] == "assigned", "one child is still open"
    await change(api, second, status="unsolved", solution="dCache: cannot reproduce")
    solved = await ticket(api, parent)
    assert solved["status"] == "solved"
    assert solved["solution"] == (
        "All 2 child tickets are solved.\n\n"
        f"#{first} (DMSU, solved):\nDMSU: proxy renewal fixed\n\n"
        f"#{second} (dCache, unsolved):\ndCache: cannot reproduce"
    )
    # the submitter hears once, through the parent: its acknowledgement and its solution
    assert await mailed(app, "submitter-acknowledged") == [parent]
    assert await mailed(app, "submitter-mailed-solution") == [parent]


async def test_a_childs_question_still_reaches_the_submitter(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    parent = (await open_ticket(api, support_unit="TPM"))["id"]
    [child] = (
        await api.post(f"/api/v1/tickets/{parent}/children", json={"support_units": ["DMSU"]})
    ).json()
    asked = await api.post(
        f"/api/v1/tickets/{child['id']}/entries", json={"body": "Which CE did the jobs use?"}
    )
    assert asked.status_code == 201
    assert await mailed(app, "public-entry-to-submitter") == [child["id"]]


async def test_children_are_refused_all_or_none(api: httpx.AsyncClient) -> None:
    parent = (await open_ticket(api, support_unit="TPM"))["id"]
    too_many = await api.post(
        f"/api/v1/tickets/{parent}/children",
        json={"support_units": ["DMSU", "dCache", "TPM", "DMSU2"]},
    )
    assert too_many.status_code == 422
    assert "at most 3 children" in too_many.json()["error"]["message"]
    twice = await api.post(
        f"/api/v1/tickets/{parent}/children", json={"support_units": ["DMSU", "DMSU"]}
    )
    assert twice.json()["error"]["message"] == "support_units: 'DMSU' is named twice"
    unknown = await api.post(
        f"/api/v1/tickets/{parent}/children", json={"support_units": ["DMSU", "NGI_XX"]}
    )
    assert unknown.status_code == 422
    assert "NGI_XX" in unknown.json()["error"]["message"]
    assert (await ticket(api, parent))["relations"] == []
    listed = (await api.get("/api/v1/tickets")).json()["items"]
    assert [t["id"] for t in listed] == [parent], "no child of a refused request is left"


async def test_only_the_second_line_opens_children_at_the_third(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    parent = (await open_ticket(api, support_unit="TPM"))["id"]
    tpm = await Keys(app).headers(Role.UNIT, unit="TPM")
    refused = await api.post(
        f"/api/v1/tickets/{parent}/children", json={"support_units": ["dCache"]}, headers=tpm
    )
    assert refused.status_code == 403
    assert "dCache" in refused.json()["error"]["message"]


async def test_shapes_that_would_solve_the_wrong_tickets_are_refused(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    a, b, c, d = [(await open_ticket(api))["id"] for _ in range(4)]
    assert (await relate(api, a, "child_of", a)).json()["error"]["message"] == (
        "a ticket cannot be related to itself"
    )
    assert (await relate(api, b, "child_of", a)).status_code == 201
    assert (await relate(api, b, "child_of", a)).status_code == 200, (
        "the same again changes nothing"
    )
    second = await relate(api, b, "child_of", c)
    assert second.status_code == 409
    assert second.json()["error"]["message"] == (
        f"ticket #{b} is already child_of #{a}; remove that relation first"
    )
    cycle = await relate(api, a, "child_of", b)
    assert cycle.status_code == 422
    assert "cannot be a child of its own child" in cycle.json()["error"]["message"]
    assert (await relate(api, c, "slave_of", d)).status_code == 201
    chained = await relate(api, a, "slave_of", c)
    assert chained.status_code == 422
    assert chained.json()["error"]["message"] == (
        f"ticket #{c} is itself a slave of another ticket: relate to that one"
    )
    leader = await relate(api, d, "duplicate_of", a)
    assert leader.json()["error"]["message"] == (
        f"ticket #{d} has slaves or duplicates of its own and cannot follow another ticket"
    )
    unknown = await relate(api, a, "child_of", 99999)  # the body names it: invalid, not 404
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"] == "ticket: ticket #99999 not found"
    submitter = await Keys(app).headers(Role.SUBMITTER, email="ann@example.org")
    forbidden = await api.post(
        f"/api/v1/tickets/{a}/relations", json={"kind": "child_of", "ticket": c}, headers=submitter
    )
    assert forbidden.status_code == 403


async def test_a_relation_is_removed_from_both_tickets(api: httpx.AsyncClient) -> None:
    a, b = [(await open_ticket(api))["id"] for _ in range(2)]
    await relate(api, b, "slave_of", a)
    assert (await api.delete(f"/api/v1/tickets/{b}/relations/slave_of")).status_code == 204
    assert (await ticket(api, a))["relations"] == (await ticket(api, b))["relations"] == []
    again = await api.delete(f"/api/v1/tickets/{b}/relations/slave_of")
    assert again.status_code == 404
    history = (await api.get(f"/api/v1/tickets/{a}/history")).json()
    assert [h["changes"]["relations"] for h in history if h["action"] == "related"] == [
        {"added": [{"role": "slave", "ticket": b}]},
        {"removed": [{"role": "slave", "ticket": b}]},
    ]
    await change(api, a, status="solved", solution="Fixed")
    assert (await ticket(api, b))["status"] == "assigned", "no longer a slave, not solved with it"
