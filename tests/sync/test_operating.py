"""Operating the sync: pausing on refused credentials, resuming, discarding and replaying dead
letters, results that cannot be stored, the connections view, finding a ticket by its link."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import select, update

from gateway.adapter.errors import AuthenticationError, Exchange, PermanentError, RetryableError
from gateway.auth.models import Role
from gateway.database.base import utcnow
from gateway.delivery import worker as worker_module
from gateway.delivery.pause import resume_when_healthy
from gateway.sync.tables import OutboxRow
from tests.conftest import new_ticket


async def outbox(app) -> list[OutboxRow]:
    async with app.state.sessionmaker() as session:
        return list((await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars())


async def test_refused_credentials_pause_the_connection_instead_of_dead_letters(
    app, client, admin, worker, remotes, connections
) -> None:
    refused = AuthenticationError("HTTP 401", exchange=Exchange("POST", "x", None, 401, {}))
    remotes["dmsu"].failures = [refused] * 3  # the three in flight together are all refused
    for n in range(3):
        await client.post(
            "/api/v1/tickets", json=new_ticket(subject=f"t{n}", support_unit="DMSU"), headers=admin
        )
    await worker.run_until_idle()
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await worker.run_until_idle()  # paused: not even tried
    rows = await outbox(app)
    assert {r.state for r in rows} == {"pending"}, "nothing is dead, everything waits"
    assert [r.attempt for r in rows] == [1, 1, 1, 0]
    assert remotes["dmsu"].received == []
    status = (await client.get("/api/v1/connections/dmsu", headers=admin)).json()
    assert (status["state"], status["paused_reason"]) == ("paused", "HTTP 401")
    assert status["deliveries"]["pending"] == 4 and status["deliveries"]["dead"] == 0
    metrics = (await client.get("/metrics")).text
    assert 'gateway_connection_paused{connection="dmsu"} 1.0' in metrics
    resumed = await client.post("/api/v1/connections/dmsu/resume", headers=admin)
    assert resumed.json()["state"] == "active"
    await worker.run_until_idle()
    assert len(remotes["dmsu"].received) == 4
    again = await client.post("/api/v1/connections/dmsu/resume", headers=admin)
    assert again.status_code == 409


async def test_a_paused_connection_resumes_when_its_check_passes(
    app, client, admin, worker, remotes, connections
) -> None:
    remotes["dmsu"].failures = [AuthenticationError("HTTP 403")]
    remotes["dmsu"].check_ok = False
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await worker.run_until_idle()
    assert await resume_when_healthy(app.state.sessionmaker, connections, every=0) == []
    remotes["dmsu"].check_ok = True
    assert await resume_when_healthy(app.state.sessionmaker, connections, every=3600) == []
    # checked a moment ago: one check per period across instances
    assert await resume_when_healthy(app.state.sessionmaker, connections, every=0) == ["dmsu"]
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create"]


async def test_a_discarded_dead_letter_is_in_the_history_and_lets_the_rest_go(
    app, client, admin, worker, remotes
) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await worker.run_until_idle()
    remotes["dmsu"].failures = [PermanentError("HTTP 422: body too long")]
    await client.post("/api/v1/tickets/1/entries", json={"body": "refused"}, headers=admin)
    await client.post("/api/v1/tickets/1/entries", json={"body": "behind it"}, headers=admin)
    await worker.run_until_idle()
    [dead] = (await client.get("/api/v1/dead-letters", headers=admin)).json()
    discarded = await client.post(
        f"/api/v1/dead-letters/{dead['id']}/discard",
        json={"reason": "created by hand in DMSU's tracker"},
        headers=admin,
    )
    assert discarded.json()["state"] == "discarded"
    history = (await client.get("/api/v1/tickets/1/history", headers=admin)).json()
    assert history[-1]["action"] == "delivery_discarded"
    assert history[-1]["changes"]["delivery"]["reason"] == "created by hand in DMSU's tracker"
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create", "entry"]  # the one behind it went on
    assert remotes["dmsu"].received[-1].entry.body == "behind it"
    again = await client.post(
        f"/api/v1/dead-letters/{dead['id']}/discard", json={"reason": "x"}, headers=admin
    )
    assert again.status_code == 409


async def test_a_replay_starts_the_retry_schedule_again(app, client, admin, worker, remotes):
    remotes["dmsu"].failures = [RetryableError("HTTP 503") for _ in range(4)]
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    for _ in range(3):  # max_attempts=3 in this worker
        await worker.run_until_idle()
        async with app.state.sessionmaker() as session:
            await session.execute(update(OutboxRow).values(next_attempt_at=utcnow()))
            await session.commit()
    [row] = await outbox(app)
    assert (row.state, row.attempt) == ("dead", 3)
    await client.post(f"/api/v1/dead-letters/{row.id}/replay", headers=admin)
    await worker.run_until_idle()  # fails once more: the first step of the schedule, 1 s
    [row] = await outbox(app)
    assert row.state == "pending"
    assert row.next_attempt_at < utcnow() + timedelta(seconds=2)


async def test_a_result_that_cannot_be_stored_ends_as_a_dead_letter(
    app, client, admin, worker, remotes, monkeypatch
) -> None:
    real = worker_module.record_success

    async def refuses_ticket_1(session, claim, **kwargs):
        if claim.ticket_id == 1:
            raise ValueError("the database refuses this result")
        return await real(session, claim, **kwargs)

    monkeypatch.setattr(worker_module, "record_success", refuses_ticket_1)
    for n in range(2):
        await client.post(
            "/api/v1/tickets", json=new_ticket(subject=f"t{n}", support_unit="DMSU"), headers=admin
        )
    await worker.run_until_idle()
    first, second = await outbox(app)
    assert (first.state, first.outcome) == ("dead", "unwritable")
    assert "could not be stored" in (first.last_error or "")
    assert second.state == "done", "the other result in the batch was written"


async def test_a_remote_id_the_hub_cannot_keep_is_the_remotes_error(
    app, client, admin, worker, remotes
) -> None:
    remotes["dmsu"].remote_id_for[1] = "R" * 300
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await worker.run_until_idle()
    [row] = await outbox(app)
    assert row.state == "dead"
    assert "too long" in (row.last_error or "")


async def test_the_connections_view_and_find_by_link(app, client, admin, worker, keys) -> None:
    await client.post("/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin)
    await worker.run_until_idle()
    listed = (await client.get("/api/v1/connections", headers=admin)).json()
    dmsu = next(c for c in listed if c["name"] == "dmsu")
    assert (dmsu["state"], dmsu["support_unit"], dmsu["policy"]) == ("active", "DMSU", "close-only")
    assert dmsu["deliveries"]["last_success_at"] is not None and dmsu["polling"] is None
    found = await client.get("/api/v1/tickets", params={"link": "dmsu:R1"}, headers=admin)
    assert [t["id"] for t in found.json()["items"]] == [1]
    none = await client.get("/api/v1/tickets", params={"link": "dmsu:R9"}, headers=admin)
    assert none.json()["items"] == []
    assert (await client.get("/api/v1/connections/nope", headers=admin)).status_code == 404
    unit = await keys.headers(Role.UNIT, unit="DMSU")
    assert (await client.get("/api/v1/connections", headers=unit)).status_code == 403
    assert REGISTRY.get_sample_value(
        "gateway_deliveries_total", {"connection": "dmsu", "outcome": "delivered"}
    )
