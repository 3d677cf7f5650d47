"""Idempotency-Key on ticket creation: replay, conflict, in-flight and per-caller scope."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import update

from gateway.idempotency import service as idempotency
from gateway.idempotency.tables import IdempotencyKeyRow
from gateway.instance.tables import InstanceRow
from gateway.ticket.models import TicketCreate
from tests.api.test_create import count_tickets
from tests.conftest import new_ticket


async def test_same_key_same_body_returns_first_response_once(client, admin) -> None:
    headers = {**admin, "Idempotency-Key": "submit-42"}
    first = await client.post("/api/v1/tickets", json=new_ticket(), headers=headers)
    again = await client.post("/api/v1/tickets", json=new_ticket(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count_tickets(client, admin) == 1


async def test_body_compared_by_content_not_bytes(client, admin) -> None:
    headers = {**admin, "Idempotency-Key": "k", "content-type": "application/json"}
    body = new_ticket()
    await client.post("/api/v1/tickets", content=json.dumps(body), headers=headers)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = await client.post("/api/v1/tickets", content=reordered, headers=headers)
    assert again.status_code == 201
    assert await count_tickets(client, admin) == 1


async def test_same_key_other_body_is_422(client, admin) -> None:
    headers = {**admin, "Idempotency-Key": "submit-42"}
    await client.post("/api/v1/tickets", json=new_ticket(), headers=headers)
    other = await client.post("/api/v1/tickets", json=new_ticket(subject="other"), headers=headers)
    assert other.status_code == 422
    assert "different request body" in other.json()["error"]["message"]
    assert await count_tickets(client, admin) == 1


async def test_key_still_in_flight_is_409(app, client, admin) -> None:
    caller = (await client.get("/api/v1/api-keys", headers=admin)).json()[0]["key_id"]
    body = new_ticket()
    async with app.state.sessionmaker() as session:
        parsed = TicketCreate.model_validate(body).model_dump(mode="json")
        fingerprint = idempotency.request_hash(parsed)
        await idempotency.claim(
            session,
            caller=caller,
            key="busy",
            fingerprint=fingerprint,
            in_flight_seconds=60,
            owner=app.state.presence.id,  # a live instance: this process
        )
    response = await client.post(
        "/api/v1/tickets", json=body, headers={**admin, "Idempotency-Key": "busy"}
    )
    assert response.status_code == 409
    assert "still in flight" in response.json()["error"]["message"]
    assert await count_tickets(client, admin) == 0


@pytest.mark.parametrize("owner_state", ["dead", None])
async def test_key_in_flight_at_a_dead_instance_is_taken_over_by_the_retry(
    app, client, admin, owner_state: str | None
) -> None:
    caller = (await client.get("/api/v1/api-keys", headers=admin)).json()[0]["key_id"]
    body = new_ticket()
    async with app.state.sessionmaker() as session:
        if owner_state is not None:
            session.add(
                InstanceRow(
                    id="gone",
                    role="api",
                    version="0",
                    host="h",
                    pid=1,
                    lock_key=1,
                    state=owner_state,
                )
            )
        fingerprint = idempotency.request_hash(
            TicketCreate.model_validate(body).model_dump(mode="json")
        )
        await idempotency.claim(
            session,
            caller=caller,
            key="orphan",
            fingerprint=fingerprint,
            in_flight_seconds=60,
            owner="gone",
        )
    retried = await client.post(
        "/api/v1/tickets", json=body, headers={**admin, "Idempotency-Key": "orphan"}
    )
    assert retried.status_code == 201
    again = await client.post(
        "/api/v1/tickets", json=body, headers={**admin, "Idempotency-Key": "orphan"}
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert await count_tickets(client, admin) == 1


async def test_a_create_whose_key_was_taken_over_meanwhile_stores_nothing(
    app, client, admin, monkeypatch
) -> None:
    """This instance was judged dead while working: its late work must not land as well."""
    from gateway.ticket import service as ticket_service

    real = ticket_service.create_ticket

    async def judged_dead_meanwhile(session, **kwargs):
        await session.execute(  # as another instance taking the key over would
            update(IdempotencyKeyRow).where(IdempotencyKeyRow.key == "slow").values(owner="b")
        )
        return await real(session, **kwargs)

    monkeypatch.setattr(ticket_service, "create_ticket", judged_dead_meanwhile)
    response = await client.post(
        "/api/v1/tickets", json=new_ticket(), headers={**admin, "Idempotency-Key": "slow"}
    )
    assert response.status_code == 409
    assert "taken over" in response.json()["error"]["message"]
    assert await count_tickets(client, admin) == 0


async def test_concurrent_duplicates_make_one_ticket(client, admin) -> None:
    headers = {**admin, "Idempotency-Key": "race"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/tickets", json=new_ticket(), headers=headers) for _ in range(8))
    )
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 409}
    assert 201 in codes
    assert await count_tickets(client, admin) == 1


async def test_keys_are_scoped_to_the_caller(client, admin, keys) -> None:
    other = await keys.headers()
    await client.post(
        "/api/v1/tickets", json=new_ticket(), headers={**admin, "Idempotency-Key": "k"}
    )
    second = await client.post(
        "/api/v1/tickets", json=new_ticket(), headers={**other, "Idempotency-Key": "k"}
    )
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert await count_tickets(client, admin) == 2


async def test_failed_create_releases_the_key(client, admin) -> None:
    headers = {**admin, "Idempotency-Key": "retry-me"}
    bad = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="NOPE"), headers=headers
    )
    assert bad.status_code == 422
    good = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="NOPE"), headers=headers
    )
    assert good.status_code == 422  # same answer, not a stale 409
    fixed = await client.post("/api/v1/tickets", json=new_ticket(), headers=headers)
    assert fixed.status_code == 201
