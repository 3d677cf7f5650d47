"""The weekly digest on SQLite and PostgreSQL: composed once per unit and week (and one for the
second line over the third), kept in the API as Markdown and HTML with PNG charts, mailed to the
unit through a real SMTP server, and retried when the server is away."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta

import httpx
import pytest
from fastapi import FastAPI

from gateway.auth.models import Role
from gateway.config.models import GatewayConfig
from gateway.digest.service import weekly_digests
from tests.conftest import Keys
from tests.contract.smtp import SmtpSink, serve
from tests.process.conftest import BERLIN, at, change, open_ticket, process_config


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink(username="unused", password="unused")
    async with serve(server):
        yield server


@pytest.fixture
def config(sink: SmtpSink) -> GatewayConfig:
    config = process_config()
    config.connections[0].settings["smtp_port"] = sink.port
    return config


def this_week() -> date:
    today = datetime.now(BERLIN).date()
    return today - timedelta(days=today.weekday())


def next_monday_noon() -> datetime:
    return datetime.combine(this_week() + timedelta(days=7), time(12), tzinfo=BERLIN)


async def a_week_of_work(api: httpx.AsyncClient) -> dict[str, int]:
    week = this_week()
    urgent = await open_ticket(api, subject="All CEs at FZK fail", priority="top priority")
    passed = await open_ticket(api, subject="dCache pool *crash*", component="dCache")
    await change(api, passed["id"], support_unit="dCache")
    await change(api, passed["id"], eta=(week + timedelta(days=9)).isoformat())
    late = await open_ticket(api, subject="SRM door leaks", support_unit="dCache")
    await change(api, late["id"], eta=(week + timedelta(days=1)).isoformat())
    solved = await open_ticket(api, subject="Proxy expired")
    await change(api, solved["id"], status="solved", solution="Renew the proxy.")
    return {"urgent": urgent["id"], "passed": passed["id"], "late": late["id"]}


async def test_digests_for_each_unit_and_the_second_line_over_the_third(
    api: httpx.AsyncClient, app: FastAPI, sink: SmtpSink
) -> None:
    ids = await a_week_of_work(api)
    ctx = at(app, next_monday_noon())
    summary = await weekly_digests(ctx)
    assert summary == f"4 composed for the week of {this_week()}, 4 mailed, 0 not mailed"
    assert await weekly_digests(ctx) == (
        f"0 composed for the week of {this_week()}, 0 mailed, 0 not mailed"
    )

    listed = (await api.get("/api/v1/digests", params={"support_unit": "DMSU"})).json()
    by_scope = {d["scope"]: d for d in listed}
    unit, third = by_scope["unit"], by_scope["third-line"]
    assert unit["summary"]["assigned"] == 3  # opened at DMSU, one of them later moved on
    assert unit["summary"]["solved"] == 1
    assert unit["summary"]["likely_to_hit_many_users"] == 1
    assert f"- #{ids['urgent']} All CEs at FZK fail (top priority" in unit["markdown"]
    assert "top priority" in unit["markdown"].split("## Likely to hit many users")[1]

    assert third["summary"]["passed_to_third_line"] == 1
    assert third["summary"]["etas_next_week"] == 1
    assert f"#{ids['passed']} dCache pool \\*crash\\*" in third["markdown"]  # escaped
    assert f"#{ids['late']}" not in third["markdown"]  # dCache's own, not passed on by DMSU

    dcache = (await api.get("/api/v1/digests", params={"support_unit": "dCache"})).json()[0]
    expired = dcache["markdown"].split("## Expired ETAs")[1]
    assert f"#{ids['late']} SRM door leaks" in expired
    assert '<img src="/api/v1/digests/' in dcache["html"]
    assert "<script" not in dcache["html"]

    chart = await api.get(dcache["charts"][0])
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")

    mailed = {tuple(m.recipients): m for m in sink.received}
    message = mailed[("support@dcache.example.org",)].message
    assert str(message["Subject"]).startswith("dCache: weekly digest, week of")
    assert message["Auto-Submitted"] == "auto-generated"
    kinds = [p.get_content_type() for p in message.walk()]
    assert "text/plain" in kinds and "text/html" in kinds and kinds.count("image/png") == 2
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "cid:" in html.get_content()


async def test_staff_read_their_own_units_digests_only(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    await a_week_of_work(api)
    await weekly_digests(at(app, next_monday_noon()))
    keys = Keys(app)
    dcache = await keys.headers(Role.UNIT, unit="dCache")
    own = (await api.get("/api/v1/digests", headers=dcache)).json()
    assert {d["support_unit"] for d in own} == {"dCache"}
    assert (
        await api.get("/api/v1/digests", params={"support_unit": "DMSU"}, headers=dcache)
    ).status_code == 403
    other = next(
        d for d in (await api.get("/api/v1/digests")).json() if d["support_unit"] == "DMSU"
    )
    assert (await api.get(f"/api/v1/digests/{other['id']}", headers=dcache)).status_code == 404
    submitter = await keys.headers(Role.SUBMITTER, email="ann@example.org")
    refused = await api.get("/api/v1/digests", headers=submitter)
    assert refused.status_code == 403
    assert "support units' staff and admins" in refused.json()["error"]["message"]


async def test_mail_that_fails_is_kept_and_sent_on_a_later_run(
    api: httpx.AsyncClient, app: FastAPI, sink: SmtpSink
) -> None:
    await a_week_of_work(api)
    ctx = at(app, next_monday_noon())
    sink.fail_next("RCPT", "451 4.3.0 try again later", times=4)
    assert (await weekly_digests(ctx)).endswith("0 mailed, 4 not mailed")
    kept = (await api.get("/api/v1/digests")).json()
    assert [(d["mailed_at"], d["last_error"]) for d in kept] == [
        (None, "every recipient refused for now")
    ] * 4
    assert (await weekly_digests(ctx)).endswith("4 mailed, 0 not mailed")
    assert len(sink.received) == 4
