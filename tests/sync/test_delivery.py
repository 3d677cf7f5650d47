"""Outbox and worker: written with the change, delivered in order, retried, fenced."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from gateway.adapter.errors import Exchange, PermanentError, RetryableError
from gateway.adapter.models import PushResult, RemoteRef
from gateway.database.base import utcnow
from gateway.delivery import claim as claims
from gateway.delivery.render import render_delivery
from gateway.delivery.results import check_fences, record_success, write_fenced
from gateway.sync.tables import OutboxRow
from tests.conftest import new_ticket


async def outbox(app) -> list[OutboxRow]:
    async with app.state.sessionmaker() as session:
        return list((await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars())


async def test_change_writes_outbox_rows_in_its_transaction(app, client, admin) -> None:
    created = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin
    )
    assert created.status_code == 201
    rows = await outbox(app)
    assert [(r.ticket_id, r.connection, r.action, r.state, r.rule) for r in rows] == [
        (1, "dmsu", "create", "pending", "assignment-creates-remote-ticket")
    ]
    refused = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="NOPE"), headers=admin
    )
    assert refused.status_code == 422
    assert len(await outbox(app)) == 1
    await client.post("/api/v1/tickets", json=new_ticket(), headers=admin)  # TPM has no connection
    assert len(await outbox(app)) == 1


async def test_worker_creates_remote_ticket_and_keeps_the_remote_id(
    app, client, admin, worker, remotes
) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await worker.run_until_idle()
    [delivery] = remotes["dmsu"].received
    assert (delivery.action, delivery.ticket.id, delivery.idempotency_key) == ("create", 1, "gw-1")
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert ticket["links"] == [
        {
            "connection": "dmsu",
            "external_id": "R1",
            "external_url": "https://dmsu.example/R1",
            "role": "assignee",
            "state": None,  # only a requirement's link has one
        }
    ]
    log = (await client.get("/api/v1/tickets/1/deliveries", headers=admin)).json()
    assert [(d["state"], d["attempt"], d["outcome"]) for d in log] == [("done", 1, "delivered")]
    assert log[0]["attempts"][0]["worker"] == "test-worker"


async def test_public_updates_reach_the_assignee_in_order_internal_ones_never(
    app, client, admin, worker, remotes
) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await client.post("/api/v1/tickets/1/entries", json={"body": "log attached"}, headers=admin)
    await client.post(
        "/api/v1/tickets/1/entries",
        json={"body": "secret", "visibility": "internal"},
        headers=admin,
    )
    await client.patch("/api/v1/tickets/1", json={"priority": "urgent"}, headers=admin)
    await client.post("/api/v1/tickets/1/entries", json={"body": "more"}, headers=admin)
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create", "entry", "update", "entry"]
    bodies = [d.entry.body for d in remotes["dmsu"].received if d.entry]
    assert bodies == ["log attached", "more"]
    assert all("secret" not in str(d.ticket.journal) for d in remotes["dmsu"].received)
    assert remotes["ngi"].received == []


async def test_one_failing_ticket_does_not_block_others(
    app, client, admin, worker, remotes
) -> None:
    for _ in range(3):
        await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    remotes["dmsu"].fail_always_for = {1}
    await worker.run_until_idle()
    assert sorted(d.ticket.id for d in remotes["dmsu"].received) == [2, 3]
    first = (await outbox(app))[0]
    assert (first.state, first.attempt, first.outcome) == ("pending", 1, "retry")
    assert first.next_attempt_at > utcnow() + timedelta(seconds=0.5)
    assert first.last_error == "remote down for this ticket"


async def test_retry_after_is_honoured(app, client, admin, worker, remotes) -> None:
    remotes["dmsu"].failures = [RetryableError("HTTP 429", retry_after=120)]
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await worker.run_until_idle()
    row = (await outbox(app))[0]
    assert row.state == "pending"
    assert row.next_attempt_at >= utcnow() + timedelta(seconds=115)


async def test_permanent_error_is_a_dead_letter_with_request_response_and_rule(
    app, client, admin, worker, remotes
) -> None:
    exchange = Exchange(
        "POST", "https://dmsu.example/tickets", {"t": 1}, 422, {"error": "bad queue"}
    )
    remotes["dmsu"].failures = [PermanentError("HTTP 422", exchange=exchange)]
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await client.post(
        "/api/v1/tickets/1/entries", json={"body": "waiting behind it"}, headers=admin
    )
    await worker.run_until_idle()
    [dead] = (await client.get("/api/v1/dead-letters", headers=admin)).json()
    assert (dead["state"], dead["rule"], dead["last_error"]) == (
        "dead",
        "assignment-creates-remote-ticket",
        "HTTP 422",
    )
    assert dead["last_exchange"]["response_body"] == {"error": "bad queue"}
    assert dead["last_exchange"]["request_body"] == {"t": 1}
    assert remotes["dmsu"].received == []  # the entry waits behind its dead create, in order
    replayed = await client.post(f"/api/v1/dead-letters/{dead['id']}/replay", headers=admin)
    assert replayed.json()["state"] == "pending"
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create", "entry"]
    assert (await client.get("/api/v1/dead-letters", headers=admin)).json() == []
    again = await client.post(f"/api/v1/dead-letters/{dead['id']}/replay", headers=admin)
    assert again.status_code == 409


async def test_retries_exhausted_make_a_dead_letter(app, client, admin, worker, remotes) -> None:
    remotes["dmsu"].failures = [RetryableError("HTTP 503") for _ in range(3)]
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    for _ in range(3):
        await worker.run_until_idle()
        async with app.state.sessionmaker() as session:
            await session.execute(update(OutboxRow).values(next_attempt_at=utcnow()))
            await session.commit()
    row = (await outbox(app))[0]
    assert (row.state, row.attempt) == ("dead", 3)
    log = (await client.get("/api/v1/tickets/1/deliveries", headers=admin)).json()
    assert [a["outcome"] for a in log[0]["attempts"]] == ["retry", "retry", "dead"]


async def test_results_written_together_keep_each_ticket_its_own_remote_id(
    app, client, admin, worker, remotes
) -> None:
    """The worker writes the results that are waiting in one transaction, their links looked
    up at once: every ticket gets one assignee link, with the id its remote ticket got."""
    for _ in range(6):
        await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await worker.run_until_idle()
    sent = {d.ticket.id: d for d in remotes["dmsu"].received}
    assert sorted(sent) == [1, 2, 3, 4, 5, 6]
    ids = []
    for hub_id in sent:
        ticket = (await client.get(f"/api/v1/tickets/{hub_id}", headers=admin)).json()
        [link] = ticket["links"]
        assert (link["connection"], link["role"]) == ("dmsu", "assignee")
        ids.append(link["external_id"])
    assert sorted(ids) == [f"R{n}" for n in range(1, 7)]


async def test_retried_create_does_not_duplicate_the_remote_ticket(
    app, client, admin, worker, remotes
) -> None:
    remotes["dmsu"].create_then_fail = True
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await worker.run_until_idle()
    async with app.state.sessionmaker() as session:
        await session.execute(update(OutboxRow).values(next_attempt_at=utcnow()))
        await session.commit()
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create"]  # the retry found it instead of creating
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert ticket["links"][0]["external_id"] == "R1"


async def test_stalled_worker_cannot_write_a_stale_result(app, client, admin) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    async with app.state.sessionmaker() as session:
        [stalled] = await claims.claim(session, worker="slow", limit=10, lease_seconds=30)
        assert await claims.claim(session, worker="other", limit=10, lease_seconds=30) == []
        await session.execute(update(OutboxRow).values(lease_until=utcnow() - timedelta(seconds=1)))
        await session.commit()
        [retaken] = await claims.claim(session, worker="fast", limit=10, lease_seconds=30)
    assert (stalled.attempt, retaken.attempt) == (1, 2)
    async with app.state.sessionmaker() as session:
        delivery = await render_delivery(session, stalled)
        await session.rollback()
        late = await record_success(
            session,
            stalled,
            worker="slow",
            started=utcnow(),
            delivery=delivery,
            result=PushResult(RemoteRef("STALE")),
        )
    assert late is False
    row = (await outbox(app))[0]
    assert (row.state, row.lease_owner, row.attempt) == ("in_flight", "fast", 2)
    ticket = (await client.get("/api/v1/tickets/1", headers=admin)).json()
    assert ticket["links"] == []


async def test_results_written_together_skip_a_stale_claim_and_keep_the_others(
    app, client, admin
) -> None:
    """The worker checks its batch's claims in one query and updates them in one statement."""
    for _ in range(2):
        await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    async with app.state.sessionmaker() as session:
        stalled, held = await claims.claim(session, worker="slow", limit=10, lease_seconds=30)
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == stalled.outbox_id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
        [retaken] = await claims.claim(session, worker="fast", limit=10, lease_seconds=30)
    assert retaken.outbox_id == stalled.outbox_id
    async with app.state.sessionmaker() as session:
        deliveries = [await render_delivery(session, claim) for claim in (stalled, held)]
        await session.rollback()
        await check_fences(session, [stalled, held])
        written = [
            await record_success(
                session,
                claim,
                worker="slow",
                started=utcnow(),
                delivery=delivery,
                result=PushResult(RemoteRef(f"R-{claim.outbox_id}")),
                commit=False,
            )
            for claim, delivery in zip((stalled, held), deliveries, strict=True)
        ]
        await write_fenced(session)
        await session.commit()
    assert written == [False, True]
    rows = {row.id: row for row in await outbox(app)}
    assert (rows[stalled.outbox_id].state, rows[stalled.outbox_id].lease_owner) == (
        "in_flight",
        "fast",
    )
    assert (rows[held.outbox_id].state, rows[held.outbox_id].outcome) == ("done", "delivered")
    assert rows[held.outbox_id].lease_owner is None
    links = (await client.get(f"/api/v1/tickets/{held.ticket_id}", headers=admin)).json()["links"]
    assert [link["external_id"] for link in links] == [f"R-{held.outbox_id}"]
    stale = (await client.get(f"/api/v1/tickets/{stalled.ticket_id}", headers=admin)).json()
    assert stale["links"] == []


async def test_metrics_show_outcomes_queue_depth_and_age(
    app, client, admin, worker, remotes
) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    before = (await client.get("/metrics")).text
    assert 'gateway_outbox_queue_depth{state="pending"} 1.0' in before
    await worker.run_until_idle()
    after = (await client.get("/metrics")).text
    assert 'gateway_outbox_queue_depth{state="pending"} 0.0' in after
    assert "gateway_outbox_oldest_pending_age_seconds 0.0" in after
    assert 'gateway_deliveries_total{connection="dmsu",outcome="delivered"}' in after
    assert "gateway_delivery_latency_seconds_bucket" in after


async def test_submitter_cannot_read_the_delivery_log(client, admin, keys) -> None:
    from gateway.auth.models import Role

    ann = await keys.headers(Role.SUBMITTER, email="ann@example.org")
    await client.post("/api/v1/tickets", json=new_ticket(), headers=admin)
    assert (await client.get("/api/v1/tickets/1/deliveries", headers=ann)).status_code == 403
