"""Polling a remote that does not push: cursor, overlap, errors, pauses, poll now, one poller."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.adapter.errors import AuthenticationError, RetryableError
from gateway.adapter.models import InboundEvent, PollResult
from gateway.connection.models import Policy
from gateway.connection.service import Connection, Connections
from gateway.connection.tables import ConnectionStateRow
from gateway.database.base import utcnow
from gateway.inbound.poller import Poller
from gateway.sync.tables import InboundEventRow
from tests.sync.harness import COMMANDS, Remote, ScriptedAdapter


@pytest.fixture
def connections(remotes: dict[str, Remote], policy: Policy) -> Connections:
    return Connections(
        [
            Connection(
                "ngi",
                "NGI_DE",
                policy,
                ScriptedAdapter(name="ngi", remote=remotes["ngi"], pollable=True),
                poll_interval=60,
            ),
            Connection("dmsu", "DMSU", Policy.CLOSE_ONLY, ScriptedAdapter(name="dmsu")),
        ]
    )


def poller_for(app, connections, config, *, instance: str = "me") -> Poller:
    return Poller(
        sessionmaker=app.state.sessionmaker,
        connections=connections,
        config=config,
        sync=app.state.sync,
        instance_id=instance,
    )


def created(event_id: str, remote_id: str, subject: str) -> InboundEvent:
    command = {
        "kind": "create",
        "remote_id": remote_id,
        "ticket": {
            "subject": subject,
            "description": "polled",
            "submitter": {"name": "Ann", "email": "ann@example.org"},
        },
    }
    return InboundEvent(event_id, COMMANDS.validate_python([command]))


async def state(app) -> ConnectionStateRow:
    async with app.state.sessionmaker() as session:
        row = await session.get(ConnectionStateRow, "ngi")
        assert row is not None
        return row


async def make_due(app) -> None:
    async with app.state.sessionmaker() as session:
        await session.execute(update(ConnectionStateRow).values(next_poll_at=utcnow()))
        await session.commit()


async def test_a_poll_applies_its_events_once_and_keeps_the_cursor(
    app, client, admin, connections, config, remotes
) -> None:
    poller = poller_for(app, connections, config)
    remotes["ngi"].polls = [
        PollResult([created("e1", "N1", "first")], {"since": "t1"}),
        # the next poll overlaps: e1 again, and a new one
        PollResult([created("e1", "N1", "first"), created("e2", "N2", "second")], {"since": "t2"}),
    ]
    assert await poller.poll_due() == ["ngi"]
    assert await poller.poll_due() == []  # not due again before its interval
    await make_due(app)
    assert await poller.poll_due() == ["ngi"]
    assert remotes["ngi"].polled_from == [None, {"since": "t1"}]
    tickets = (await client.get("/api/v1/tickets", headers=admin)).json()["items"]
    assert [t["subject"] for t in tickets] == ["first", "second"]
    found = await client.get("/api/v1/tickets", params={"link": "ngi:N2"}, headers=admin)
    assert [t["subject"] for t in found.json()["items"]] == ["second"]
    row = await state(app)
    assert row.cursor == {"since": "t2"} and row.poll_failures == 0
    assert row.next_poll_at is not None and row.next_poll_at > utcnow() + timedelta(seconds=50)
    status = (await client.get("/api/v1/connections/ngi", headers=admin)).json()
    assert status["polling"]["cursor"] == {"since": "t2"}


async def test_a_failed_poll_backs_off_and_keeps_the_cursor(app, connections, config, remotes):
    poller = poller_for(app, connections, config)
    remotes["ngi"].polls = [
        PollResult([], {"since": "t1"}),
        RetryableError("HTTP 503"),
        RetryableError("HTTP 503"),
    ]
    await poller.poll_due()
    for failures in (1, 2):
        await make_due(app)
        await poller.poll_due()
        row = await state(app)
        assert (row.cursor, row.poll_failures, row.last_error) == (
            {"since": "t1"},
            failures,
            "HTTP 503",
        )
        assert row.next_poll_at is not None
        waits = (row.next_poll_at - utcnow()).total_seconds()
        assert 60 * 2 ** (failures - 1) - 5 < waits <= 60 * 2 ** (failures - 1)  # doubling


async def test_refused_credentials_pause_polling(app, client, admin, connections, config, remotes):
    poller = poller_for(app, connections, config)
    remotes["ngi"].polls = [AuthenticationError("HTTP 401")]
    await poller.poll_due()
    await make_due(app)
    assert await poller.poll_due() == []  # paused: not polled
    status = (await client.get("/api/v1/connections/ngi", headers=admin)).json()
    assert (status["state"], status["polling"]["last_error"]) == ("paused", "HTTP 401")


async def test_an_event_the_hub_refuses_is_kept_and_the_rest_go_on(
    app, client, admin, connections, config, remotes
) -> None:
    bad = InboundEvent(
        "e-bad",
        COMMANDS.validate_python(
            [
                {
                    "kind": "create",
                    "remote_id": "N0",
                    "ticket": {
                        "subject": "x",
                        "description": "y",
                        "support_unit": "NOPE",
                        "submitter": {"name": "A", "email": "a@example.org"},
                    },
                }
            ]
        ),
    )
    remotes["ngi"].polls = [PollResult([bad, created("e2", "N2", "fine")], {"since": "t1"})]
    await poller_for(app, connections, config).poll_due()
    tickets = (await client.get("/api/v1/tickets", headers=admin)).json()["items"]
    assert [t["subject"] for t in tickets] == ["fine"]
    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(select(InboundEventRow).order_by(InboundEventRow.id))
        ).scalars()
        kept = {r.event_id: (r.outcome, r.detail) for r in rows}
    assert kept["e-bad"][0] == "rejected" and "NOPE" in (kept["e-bad"][1] or "")
    assert kept["e2"][0] == "applied"
    assert (await state(app)).cursor == {"since": "t1"}


async def test_poll_now_and_one_poller_per_connection(
    app, client, admin, connections, config, remotes
) -> None:
    mine, theirs = (
        poller_for(app, connections, config),
        poller_for(app, connections, config, instance="other"),
    )
    assert await mine.poll_due() == ["ngi"]
    requested = await client.post("/api/v1/connections/ngi/poll", headers=admin)
    assert requested.status_code == 202
    assert await theirs.poll_due() == []  # due, but the lease is this instance's
    assert await mine.poll_due() == ["ngi"]
    assert (await state(app)).poll_requested_at is None
    not_polled = await client.post("/api/v1/connections/dmsu/poll", headers=admin)
    assert not_polled.status_code == 409
