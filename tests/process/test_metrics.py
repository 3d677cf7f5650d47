"""Unit metrics on SQLite and PostgreSQL, on Berlin's office hours with German holidays: a clock
moved by hand through December 2026 (Christmas Day and Boxing Day off), and figures a person can
count on the calendar: response and solution times in working hours with waiting for reply left
out, a pass to the third line and its time, a missed target, ETA accuracy; as JSON and CSV."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from gateway.auth.models import Role
from gateway.metrics import gauges
from gateway.metrics.tables import AssignmentRow
from gateway.process.deadlines import watch_response_targets
from gateway.support_unit.tables import SupportUnitRow
from gateway.ticket import service as ticket_service
from gateway.ticket.tables import TicketRow
from tests.conftest import Keys
from tests.process.conftest import at, berlin, open_ticket


class Clock:
    def __init__(self) -> None:
        self.now = berlin(2026, 11, 30, 9)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """The ticket service's clock: every change, assignment and ETA revision is stamped by it."""
    moved = Clock()
    monkeypatch.setattr(ticket_service, "utcnow", moved)
    yield moved


async def act(
    api: httpx.AsyncClient,
    clock: Clock,
    moment: datetime,
    hub_id: int,
    headers: dict[str, str],
    entry: str | None = None,
    **fields: Any,
) -> None:
    clock.now = moment
    if entry is not None:
        answer = await api.post(
            f"/api/v1/tickets/{hub_id}/entries", json={"body": entry}, headers=headers
        )
    else:
        answer = await api.patch(f"/api/v1/tickets/{hub_id}", json=fields, headers=headers)
    assert answer.status_code in (200, 201), answer.text


async def december(api: httpx.AsyncClient, app: FastAPI, clock: Clock) -> dict[str, int]:
    keys = Keys(app)
    dmsu = await keys.headers(Role.UNIT, unit="DMSU")
    dcache = await keys.headers(Role.UNIT, unit="dCache")
    ann = await keys.headers(Role.SUBMITTER, email="ann@example.org")

    # A: Monday 30 Nov 10:00 to DMSU, answered 11:30 (1.5 h), passed to dCache on Wednesday
    # 12:00; dCache sets an ETA, revises it, and solves on Monday 14 Dec 11:00: 63 working hours
    clock.now = berlin(2026, 11, 30, 10)
    a = (await open_ticket(api, subject="SRM refuses writes", component="dCache"))["id"]
    await act(api, clock, berlin(2026, 11, 30, 11, 30), a, dmsu, entry="Looking at it")
    await act(api, clock, berlin(2026, 12, 2, 12), a, dmsu, support_unit="dCache")
    await act(api, clock, berlin(2026, 12, 2, 13), a, dcache, eta="2026-12-10")
    await act(api, clock, berlin(2026, 12, 9, 9), a, dcache, eta="2026-12-18")
    await act(api, clock, berlin(2026, 12, 14, 11), a, dcache, status="solved", solution="Fixed")

    # B: Monday 21 Dec 16:00 to DMSU, answered 16:30 (0.5 h), waiting for Ann from Tuesday 10:00
    # to Wednesday 10:00 (8 h not counted), solved Monday 28 Dec 10:00: 26 h - 8 h = 18 h
    clock.now = berlin(2026, 12, 21, 16)
    b = (await open_ticket(api, subject="FTS transfers stuck", component="FTS"))["id"]
    await act(api, clock, berlin(2026, 12, 21, 16, 30), b, dmsu, entry="Which channel?")
    await act(api, clock, berlin(2026, 12, 22, 10), b, dmsu, status="waiting for reply")
    await act(api, clock, berlin(2026, 12, 23, 10), b, ann, entry="The CERN-FZK channel")
    await act(api, clock, berlin(2026, 12, 28, 10), b, dmsu, status="solved", solution="Unstuck")

    # C: top priority (4 h target) to DMSU on Tuesday 1 Dec 09:00, unanswered at 14:00
    clock.now = berlin(2026, 12, 1, 9)
    c = (await open_ticket(api, subject="CE down", priority="top priority"))["id"]
    await watch_response_targets(at(app, berlin(2026, 12, 1, 14)))
    return {"a": a, "b": b, "c": c}


async def test_a_quarter_per_unit_in_working_hours(
    api: httpx.AsyncClient, app: FastAPI, clock: Clock
) -> None:
    await december(api, app, clock)
    answer = await api.get("/api/v1/metrics", params={"period": "2026-Q4"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["since"], body["until"], body["group_by"]) == (
        "2026-10-01",
        "2027-01-01",
        "support_unit",
    )
    rows = {row["group"]: row for row in body["rows"]}
    assert set(rows) == {"DMSU", "dCache"}
    dmsu, dcache = rows["DMSU"], rows["dCache"]
    assert (dmsu["assigned"], dmsu["answered"], dmsu["solved"]) == (3, 2, 1)
    assert (dmsu["response_hours_median"], dmsu["response_hours_mean"]) == (1.0, 1.0)
    assert dmsu["solution_hours_median"] == 18.0
    assert (dmsu["passed_to_third_line"], dmsu["third_line_solution_hours_median"]) == (1, 63.0)
    assert dmsu["target_violations"] == 1
    assert dmsu["eta"]["with_eta"] == 0
    assert (dcache["assigned"], dcache["response_hours_median"]) == (1, 63.0)
    assert dcache["solution_hours_median"] == 63.0
    assert dcache["eta"] == {
        "with_eta": 1,
        "by_initial_eta": 0,
        "by_revised_eta": 1,
        "within_a_week": 0,
        "within_a_month": 0,
        "later": 0,
    }


async def test_by_component_for_one_unit_and_by_month(
    api: httpx.AsyncClient, app: FastAPI, clock: Clock
) -> None:
    await december(api, app, clock)
    answer = await api.get(
        "/api/v1/metrics", params={"group_by": "component", "support_unit": "DMSU"}
    )
    assert answer.status_code == 200
    # without a period: the current quarter, which is not December 2026 for the real clock
    answer = await api.get(
        "/api/v1/metrics",
        params={"group_by": "component", "support_unit": "DMSU", "period": "2026-12"},
    )
    rows = {row["group"]: row["assigned"] for row in answer.json()["rows"]}
    assert rows == {"FTS": 1, None: 1}, "A reached DMSU in November"
    week = await api.get("/api/v1/metrics", params={"period": "2026-W52"})
    assert [(r["group"], r["assigned"]) for r in week.json()["rows"]] == [("DMSU", 1)]


async def test_csv_for_a_spreadsheet(api: httpx.AsyncClient, app: FastAPI, clock: Clock) -> None:
    await december(api, app, clock)
    answer = await api.get("/api/v1/metrics", params={"period": "2026-Q4", "format": "csv"})
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    lines = answer.text.splitlines()
    assert lines[0].startswith("group,assigned,answered,response_hours_median,")
    assert lines[1].startswith("DMSU,3,2,1.0,1.0,1,18.0,18.0,1,63.0,1,0,")
    same = await api.get(
        "/api/v1/metrics", params={"period": "2026-Q4"}, headers={"Accept": "text/csv"}
    )
    assert same.text == answer.text


async def test_bad_periods_and_callers_are_refused_by_name(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    for params, message in (
        ({"period": "2026-13"}, "period: '2026-13' names no such month or week"),
        ({"period": "2026-W54"}, "period: '2026-W54' names no such month or week"),
        ({"since": "2026-12-01", "until": "2026-11-01"}, "until: must be after since"),
        ({"since": "2020-01-01", "until": "2026-01-01"}, "the period is 2192 days; at most 1098"),
        ({"support_unit": "NGI_XX"}, "support_unit: unknown support unit 'NGI_XX'"),
        ({"period": "2026", "since": "2026-01-01"}, "give either period or since/until, not both"),
    ):
        answer = await api.get("/api/v1/metrics", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["error"]["message"] == message
    assert (await api.get("/api/v1/metrics", params={"period": "Q4"})).status_code == 422
    submitter = await Keys(app).headers(Role.SUBMITTER, email="ann@example.org")
    assert (await api.get("/api/v1/metrics", headers=submitter)).status_code == 403


async def test_the_quarter_as_prometheus_gauges_from_one_snapshot(
    api: httpx.AsyncClient, app: FastAPI, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await december(api, app, clock)
    summary = await gauges.compute_snapshot(at(app, berlin(2026, 12, 29, 9)))
    assert summary == "2 units, 2026-10-01 to 2027-01-01"
    monkeypatch.setattr(gauges, "_read_at", 0.0)
    scraped = (await api.get("/metrics")).text
    assert 'gateway_unit_tickets_assigned{support_unit="DMSU"} 3.0' in scraped
    assert 'gateway_unit_response_hours_median{support_unit="DMSU"} 1.0' in scraped
    assert 'gateway_unit_solution_hours_median{support_unit="dCache"} 63.0' in scraped
    assert 'gateway_unit_target_violations{support_unit="DMSU"} 1.0' in scraped
    assert 'gateway_unit_eta_with_eta{support_unit="dCache"} 1.0' in scraped


async def test_a_large_quarter_leaves_the_api_answering_while_the_snapshot_job_runs(
    api: httpx.AsyncClient, app: FastAPI, clock: Clock
) -> None:
    """The snapshot job figures every unit's quarter inside `gateway serve`; on a large store
    a field-wise comparison per pass once made that minutes of CPU with no await, and no
    request was answered meanwhile."""
    count = 3000
    async with app.state.sessionmaker() as session:
        ids = {u.name: u.id for u in await session.scalars(select(SupportUnitRow))}
        start = berlin(2026, 10, 5, 9)
        moments = [start + timedelta(minutes=40 * n) for n in range(count)]
        await session.execute(
            insert(TicketRow),
            [
                {"id": 10_000 + n, "subject": f"Load {n}", "description": "d",
                 "submitter_name": "Ann", "submitter_email": "ann@example.org",
                 "type": "USER", "category": "Incident", "priority": "urgent",
                 "status": "solved", "support_unit_id": ids["dCache"], "cc": [],
                 "created_at": moment, "updated_at": moment, "version": 3}
                for n, moment in enumerate(moments)
            ],
        )  # fmt: skip
        passed = [
            {"ticket_id": 10_000 + n, "support_unit_id": ids["DMSU"], "assigned_at": moment,
             "answered_at": moment + timedelta(hours=1), "ended_at": moment + timedelta(hours=2),
             "passed_to_unit_id": ids["dCache"]}
            for n, moment in enumerate(moments)
        ]  # fmt: skip
        taken = [
            {"ticket_id": 10_000 + n, "support_unit_id": ids["dCache"],
             "assigned_at": moment + timedelta(hours=2), "passed_by_unit_id": ids["DMSU"],
             "answered_at": moment + timedelta(hours=3), "solved_at": moment + timedelta(days=1)}
            for n, moment in enumerate(moments)
        ]  # fmt: skip
        await session.execute(insert(AssignmentRow), passed + taken)
        await session.commit()

    gaps: list[float] = []
    job = asyncio.create_task(gauges.compute_snapshot(at(app, berlin(2026, 12, 29, 9))))
    reads = 0
    while not job.done():
        began = time.monotonic()
        answer = await api.get(f"/api/v1/tickets/{10_000 + reads % count}")
        gaps.append(time.monotonic() - began)
        assert answer.status_code == 200, answer.text
        reads += 1
    assert await job == "2 units, 2026-10-01 to 2027-01-01"
    assert max(gaps) < 1.0, f"a primary-key read waited {max(gaps):.2f} s for the job"

    body = (await api.get("/api/v1/metrics", params={"period": "2026-Q4"})).json()
    rows = {row["group"]: row for row in body["rows"]}
    assert (rows["DMSU"]["assigned"], rows["DMSU"]["passed_to_third_line"]) == (count, count)
    assert rows["dCache"]["solved"] == count
