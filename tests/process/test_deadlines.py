"""The support process's deadlines, with the clock moved through working days, a weekend and
the Christmas holidays (Berlin office hours, German public holidays), on SQLite and PostgreSQL.

Tuesday 22 December 2026, 10:00 is the start of each wait below; 25 and 26 December and
1 January are holidays, so five working days (40 h) end on Wednesday 30 December at 10:00, not
on Tuesday the 29th as they would without the holidays.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from gateway.database.engine import create_engine, create_sessionmaker
from gateway.process import deadlines
from gateway.process.tables import ProcessMarkRow
from gateway.scheduler.job import JobContext
from gateway.sync.tables import OutboxRow
from gateway.ticket.tables import TicketRow
from tests.process.conftest import at, backdate, berlin, change, open_ticket

START = berlin(2026, 12, 22, 10, 0)


async def notices(app: FastAPI, hub_id: int) -> list[dict[str, Any]]:
    """The notices in the ticket's history (as the admin sees it), with their outbox rows."""
    async with app.state.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(OutboxRow.rule).where(
                    OutboxRow.ticket_id == hub_id, OutboxRow.action == "notice"
                )
            )
        ).all()
    return [{"rule": rule} for rule in rows]


async def history_notices(api: httpx.AsyncClient, hub_id: int) -> list[dict[str, Any]]:
    history = (await api.get(f"/api/v1/tickets/{hub_id}/history")).json()
    return [h["changes"]["notice"] for h in history if h["action"] == "notice"]


async def waiting_since(api: httpx.AsyncClient, app: FastAPI) -> int:
    ticket = await open_ticket(api)
    await change(api, ticket["id"], status="waiting for reply")
    await backdate(app, ticket["id"], START)
    return int(ticket["id"])


async def test_the_submitter_is_reminded_after_five_working_days_not_counting_holidays(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    hub_id = await waiting_since(api, app)

    # five calendar-working days without the holidays: not yet
    assert await deadlines.remind_waiting(at(app, berlin(2026, 12, 29, 10, 30))) == (
        "0 reminded, 0 set unsolved"
    )
    assert await deadlines.remind_waiting(at(app, berlin(2026, 12, 30, 9, 59))) == (
        "0 reminded, 0 set unsolved"
    )
    assert await deadlines.remind_waiting(at(app, berlin(2026, 12, 30, 10, 0))) == (
        "1 reminded, 0 set unsolved"
    )
    # the same due reminder is never sent again
    assert await deadlines.remind_waiting(at(app, berlin(2026, 12, 30, 16, 0))) == (
        "0 reminded, 0 set unsolved"
    )
    sent = await history_notices(api, hub_id)
    assert [n["kind"] for n in sent] == ["reply-reminder"]
    assert sent[0]["to"] == ["ann@example.org", "bob@example.org"]
    assert "waiting for your reply since 2026-12-22 10:00" in sent[0]["text"]
    assert await notices(app, hub_id) == [{"rule": "notice-reply-reminder"}]
    ticket = (await api.get(f"/api/v1/tickets/{hub_id}")).json()
    assert ticket["status"] == "waiting for reply"  # a reminder changes nothing else


async def test_second_reminder_then_unsolved_after_fifteen_working_days(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    hub_id = await waiting_since(api, app)
    clock = at(app, START).working_time
    ten = clock.add(START, 10 * clock.day_seconds)
    fifteen = clock.add(START, 15 * clock.day_seconds)
    # 30 Dec 10:00 + 40 h: 31 Dec, (1 Jan holiday, weekend), 4, 5, 6 Jan, 7 Jan 10:00
    assert ten == berlin(2027, 1, 7, 10, 0)

    assert await deadlines.remind_waiting(at(app, berlin(2026, 12, 30, 12, 0))) == (
        "1 reminded, 0 set unsolved"
    )
    assert await deadlines.remind_waiting(at(app, ten)) == "1 reminded, 0 set unsolved"
    assert [n["kind"] for n in await history_notices(api, hub_id)] == ["reply-reminder"] * 2
    assert (await api.get(f"/api/v1/tickets/{hub_id}")).json()["status"] == "waiting for reply"

    assert await deadlines.remind_waiting(at(app, fifteen)) == "0 reminded, 1 set unsolved"
    ticket = (await api.get(f"/api/v1/tickets/{hub_id}")).json()
    assert ticket["status"] == "unsolved"
    assert "No reply from the submitter within 15 working days" in ticket["solution"]
    rules = [n["rule"] for n in await notices(app, hub_id)]
    assert rules == ["notice-reply-reminder"] * 2
    async with app.state.sessionmaker() as session:
        solved = await session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.ticket_id == hub_id, OutboxRow.rule == "submitter-mailed-solution")
        )
    assert solved == 1  # the submitter is mailed the (automatic) solution like any other


async def test_after_an_outage_only_the_latest_due_reminder_goes_out(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    hub_id = await waiting_since(api, app)
    assert await deadlines.remind_waiting(at(app, berlin(2027, 1, 8, 12, 0))) == (
        "1 reminded, 0 set unsolved"
    )
    sent = await history_notices(api, hub_id)
    assert [n["subject"].split(":")[0] for n in sent] == ["Reminder 2"]


async def test_a_reply_stops_the_clock_and_a_new_question_starts_it_again(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    hub_id = await waiting_since(api, app)
    await change(api, hub_id, status="in progress")
    assert await deadlines.remind_waiting(at(app, berlin(2027, 1, 8, 12, 0))) == (
        "0 reminded, 0 set unsolved"
    )
    await change(api, hub_id, status="waiting for reply")  # asked again, now (real time)
    history = (await api.get(f"/api/v1/tickets/{hub_id}/history")).json()
    asked = datetime.fromisoformat(history[-1]["at"])
    clock = at(app, asked).working_time
    almost = clock.add(asked, 5 * clock.day_seconds - 60)
    assert await deadlines.remind_waiting(at(app, almost)) == "0 reminded, 0 set unsolved"
    due = clock.add(asked, 5 * clock.day_seconds)
    assert await deadlines.remind_waiting(at(app, due)) == "1 reminded, 0 set unsolved"


async def test_a_solution_nobody_verifies_is_closed_after_ten_working_days(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    ticket = await open_ticket(api)
    await change(api, ticket["id"], status="solved", solution="Renew the proxy with voms.")
    await backdate(app, ticket["id"], START)
    assert await deadlines.close_solved(at(app, berlin(2027, 1, 7, 9, 59))) == "0 closed"
    assert await deadlines.close_solved(at(app, berlin(2027, 1, 7, 10, 0))) == "1 closed"
    assert await deadlines.close_solved(at(app, berlin(2027, 1, 8, 10, 0))) == "0 closed"
    closed = (await api.get(f"/api/v1/tickets/{ticket['id']}")).json()
    assert closed["status"] == "closed"
    assert closed["solution"] == "Renew the proxy with voms."


async def test_a_verified_ticket_is_left_alone(api: httpx.AsyncClient, app: FastAPI) -> None:
    ticket = await open_ticket(api)
    await change(api, ticket["id"], status="solved", solution="Renew the proxy with voms.")
    await change(api, ticket["id"], status="verified")
    await backdate(app, ticket["id"], START)
    assert await deadlines.close_solved(at(app, berlin(2027, 2, 1, 10, 0))) == "0 closed"


async def test_response_target_warns_at_three_quarters_and_records_a_violation(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    # top priority: 4 working hours; assigned on Christmas Eve at 15:00
    ticket = await open_ticket(api, priority="top priority")
    assigned = berlin(2026, 12, 24, 15, 0)
    await backdate(app, ticket["id"], assigned)
    watch = deadlines.watch_response_targets
    # 2 h on the 24th; the 25th and 26th are holidays, the 27th a Sunday
    assert await watch(at(app, berlin(2026, 12, 27, 23, 0))) == "0 warned, 0 violations"
    assert await watch(at(app, berlin(2026, 12, 28, 10, 0))) == "1 warned, 0 violations"
    assert await watch(at(app, berlin(2026, 12, 28, 10, 30))) == "0 warned, 0 violations"
    assert await watch(at(app, berlin(2026, 12, 28, 11, 0))) == "0 warned, 1 violations"
    assert await watch(at(app, berlin(2026, 12, 29, 11, 0))) == "0 warned, 0 violations"

    sent = await history_notices(api, ticket["id"])
    assert [(n["kind"], n["to"]) for n in sent] == [
        ("response-warning", ["dmsu@egi.example.org"]),
        ("response-violation", ["dmsu@egi.example.org"]),
    ]
    journal = (await api.get(f"/api/v1/tickets/{ticket['id']}")).json()["journal"]
    assert journal[-1]["visibility"] == "internal"
    assert "4 working hours for a top priority ticket" in journal[-1]["body"]
    async with app.state.sessionmaker() as session:
        marks = (await session.scalars(select(ProcessMarkRow.kind))).all()
    assert sorted(marks) == ["response-violation", "response-warning"]


async def test_the_units_answer_stops_the_response_clock(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    ticket = await open_ticket(api, priority="top priority")
    await change(api, ticket["id"], status="in progress")
    await backdate(app, ticket["id"], START)
    assert await deadlines.watch_response_targets(at(app, berlin(2027, 1, 4, 12, 0))) == (
        "0 warned, 0 violations"
    )


async def test_the_submitter_does_not_see_notices_about_the_units_work(
    api: httpx.AsyncClient, app: FastAPI, keys: Any
) -> None:
    ticket = await open_ticket(api, priority="top priority")
    await backdate(app, ticket["id"], START)
    await deadlines.watch_response_targets(at(app, berlin(2026, 12, 30, 10, 0)))
    submitter = await keys.headers(role=_submitter_role(), email="ann@example.org")
    seen = (await api.get(f"/api/v1/tickets/{ticket['id']}/history", headers=submitter)).json()
    assert [h for h in seen if h["action"] == "notice"] == []
    assert len(await history_notices(api, ticket["id"])) == 1  # staff see it


def _submitter_role() -> Any:
    from gateway.auth.models import Role

    return Role.SUBMITTER


async def test_two_gateway_processes_never_send_a_reminder_twice(
    api: httpx.AsyncClient, app: FastAPI, database_url: str
) -> None:
    """Two processes with their own engines run the job at the same moment, over and over."""
    hub_ids = [await waiting_since(api, app) for _ in range(5)]
    other = create_engine(database_url)
    try:
        mine = at(app, berlin(2026, 12, 30, 12, 0))
        theirs = JobContext(
            sessionmaker=create_sessionmaker(other),
            sync=mine.sync,
            config=mine.config,
            working_time=mine.working_time,
            now=mine.now,
        )
        for _ in range(3):
            await asyncio.gather(deadlines.remind_waiting(mine), deadlines.remind_waiting(theirs))
    finally:
        await other.dispose()
    for hub_id in hub_ids:
        assert await notices(app, hub_id) == [{"rule": "notice-reply-reminder"}]


async def test_looking_for_due_tickets_does_not_wait_for_a_writer(app: FastAPI) -> None:
    """The jobs scan through the read engine: on SQLite a scan in a write transaction would
    wait for (and then hold) the database's one write lock, stalling mail and the API."""
    async with app.state.sessionmaker() as writer:
        await writer.execute(update(TicketRow).values(subject=TicketRow.subject))  # holds it
        ctx = at(app, berlin(2026, 3, 2, 10))
        for job in (deadlines.remind_waiting, deadlines.watch_response_targets):
            assert "0" in await asyncio.wait_for(job(ctx), timeout=5)
        await writer.rollback()
