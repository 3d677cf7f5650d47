"""What the REST adapter sends, and how it fails (respx for the error paths)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx
from pydantic import SecretStr

from adapters.rest import RestAdapter, RestConfig
from adapters.rest.mapping import load_mapping
from gateway.adapter.errors import PermanentError, RetryableError
from tests.support.tickets import make_delivery

BASE = "https://r.test"


@pytest.fixture
async def rest():
    config = RestConfig(base_url=BASE, token=SecretStr("t0k"), timeout_seconds=1)
    adapter = RestAdapter(
        name="r", config=config, mapping=load_mapping(Path("mappings/rest-default.yaml"))
    )
    yield adapter
    await adapter.aclose()


async def test_each_action_sends_the_mapped_request(rest) -> None:
    with respx.mock(assert_all_called=True) as mock:
        create = mock.post(f"{BASE}/tickets").respond(
            201, json={"id": 77, "url": "https://r.test/77"}
        )
        update = mock.patch(f"{BASE}/tickets/77").respond(200, json={})
        entry = mock.post(f"{BASE}/tickets/77/comments").respond(201, json={})
        solve = mock.post(f"{BASE}/tickets/77/resolve").respond(200, json={})
        created = await rest.push(make_delivery("create", key="gw-1"))
        await rest.push(make_delivery("update", key="gw-2", status="on hold"))
        await rest.push(make_delivery("entry", key="gw-3"))
        await rest.push(make_delivery("solve", key="gw-4", status="solved", solution="Fixed."))
    assert (created.remote.remote_id, created.remote.remote_url) == ("77", "https://r.test/77")
    sent = json.loads(create.calls[0].request.content)
    assert sent == {
        "title": "SRM at DESY refuses writes",
        "body": "srmcp fails with SRM_AUTHORIZATION_FAILURE",
        "requester": {"name": "Ann Example", "email": "ann@example.org"},
        "priority": "high",
        "status": "open",
        "external_id": 42,
    }
    assert create.calls[0].request.headers["authorization"] == "Bearer t0k"
    assert create.calls[0].request.headers["idempotency-key"] == "gw-1"
    assert json.loads(update.calls[0].request.content)["status"] == "pending"
    assert json.loads(entry.calls[0].request.content) == {
        "body": "Please send the log",
        "author": "Eve",
    }
    assert json.loads(solve.calls[0].request.content) == {
        "status": "resolved",
        "solution": "Fixed.",
    }


async def test_connection_refused_is_retried_within_the_call(rest) -> None:
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/tickets").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"id": 5})]
        )
        result = await rest.push(make_delivery("create"))
    assert result.remote.remote_id == "5"
    assert route.call_count == 2


async def test_connection_refused_every_time_is_retryable(rest) -> None:
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/tickets").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(RetryableError, match="ConnectError"):
            await rest.push(make_delivery("create"))
    assert route.call_count == 3


async def test_503_with_retry_after_date(rest) -> None:
    with respx.mock() as mock:
        mock.post(f"{BASE}/tickets").respond(
            503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}
        )
        with pytest.raises(RetryableError) as raised:
            await rest.push(make_delivery("create"))
    assert raised.value.retry_after is not None and raised.value.retry_after > 3600


async def test_422_is_permanent_and_keeps_what_was_exchanged(rest) -> None:
    with respx.mock() as mock:
        mock.post(f"{BASE}/tickets").respond(422, json={"errors": {"title": "too long"}})
        with pytest.raises(PermanentError) as raised:
            await rest.push(make_delivery("create"))
    exchange = raised.value.exchange.as_dict()
    assert exchange["status_code"] == 422
    assert exchange["response_body"] == {"errors": {"title": "too long"}}
    assert exchange["request_body"]["title"] == "SRM at DESY refuses writes"
    assert "t0k" not in json.dumps(exchange)


async def test_create_without_remote_id_is_permanent(rest) -> None:
    with respx.mock() as mock:
        mock.post(f"{BASE}/tickets").respond(201, json={"ok": True})
        with pytest.raises(PermanentError, match="without a remote id at /id"):
            await rest.push(make_delivery("create"))


async def test_value_the_mapping_cannot_express_is_permanent(rest, monkeypatch) -> None:
    delivery = make_delivery("create")
    rest.rest_mapping.maps["priority"].outbound.pop("very urgent")
    with pytest.raises(PermanentError, match="no entry in map 'priority'"):
        await rest.push(delivery)


async def test_check_reports_reachability(rest) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/tickets").respond(200, json={"items": []})
        assert (await rest.check()).ok
        mock.get(f"{BASE}/tickets").respond(401)
        result = await rest.check()
    assert not result.ok and "401" in result.detail
