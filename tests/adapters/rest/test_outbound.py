"""What the REST adapter sends for each delivery, and how each failure reaches the worker."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from adapters.rest import RestAdapter
from gateway.adapter.errors import AuthenticationError, PermanentError, RetryableError
from gateway.adapter.models import RemoteRef
from tests.adapters.rest.conftest import BASE, TOKEN, default_mapping, make_adapter
from tests.contract.tickets import make_delivery, make_entry


async def test_each_action_sends_the_mapped_request(rest: RestAdapter) -> None:
    remote = RemoteRef("77", f"{BASE}/tickets/77")
    with respx.mock(assert_all_called=True) as mock:
        create = mock.post(f"{BASE}/tickets").respond(
            201, json={"id": 77, "url": remote.remote_url}
        )
        update = mock.patch(f"{BASE}/tickets/77").respond(200, json={})
        entry = mock.post(f"{BASE}/tickets/77/comments").respond(201, json={})
        solve = mock.post(f"{BASE}/tickets/77/resolve").respond(200, json={})
        created = await rest.push(make_delivery("create", key="gw-1"))
        updated = await rest.push(
            make_delivery("update", key="gw-2", status="on hold", remote=remote)
        )
        await rest.push(make_delivery("entry", key="gw-3", remote=remote))
        await rest.push(
            make_delivery("solve", key="gw-4", status="unsolved", solution="No fix.", remote=remote)
        )
    assert created.remote == remote
    assert updated.remote == remote and updated.exchange is not None
    assert json.loads(create.calls[0].request.content) == {
        "title": "SRM at DESY refuses writes",
        "body": "srmcp fails with SRM_AUTHORIZATION_FAILURE since 09:00",
        "requester": {"name": "Ann Example", "email": "ann@example.org"},
        "priority": "high",
        "status": "open",
        "external_id": 42,
    }
    assert json.loads(update.calls[0].request.content) == {
        "title": "SRM at DESY refuses writes",
        "priority": "high",
        "status": "pending",
    }
    assert json.loads(entry.calls[0].request.content) == {
        "body": "Please send the log",
        "author": "Eve",
    }
    assert json.loads(solve.calls[0].request.content) == {
        "status": "unresolved",
        "solution": "No fix.",
    }
    routes = (create, update, entry, solve)
    assert [r.calls[0].request.headers["idempotency-key"] for r in routes] == [
        "gw-1",
        "gw-2",
        "gw-3",
        "gw-4",
    ]
    assert all(r.calls[0].request.headers["authorization"] == f"Bearer {TOKEN}" for r in routes)
    assert create.calls[0].request.headers["content-type"] == "application/json"


async def test_remote_ids_are_percent_encoded_in_paths(rest: RestAdapter) -> None:
    remote = RemoteRef("INC/7 a", None)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{BASE}/tickets/INC%2F7%20a/comments").respond(201, json={})
        await rest.push(make_delivery("entry", remote=remote, entry=make_entry("hi")))
    assert route.call_count == 1


async def test_no_token_means_no_authorization_header() -> None:
    adapter = make_adapter(token=None)
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/tickets").respond(201, json={"id": "1"})
        await adapter.push(make_delivery("create"))
    assert "authorization" not in route.calls[0].request.headers
    await adapter.aclose()


async def test_first_attempt_of_a_create_does_not_look_up(rest: RestAdapter) -> None:
    with respx.mock(assert_all_called=False) as mock:
        lookup = mock.get(f"{BASE}/tickets").respond(200, json={"items": [{"id": "5"}]})
        mock.post(f"{BASE}/tickets").respond(201, json={"id": "6"})
        result = await rest.push(make_delivery("create", attempt=1))
    assert result.remote is not None and result.remote.remote_id == "6"
    assert not lookup.called


async def test_a_retried_create_finds_the_ticket_the_lost_attempt_made(rest: RestAdapter) -> None:
    with respx.mock(assert_all_called=False) as mock:
        lookup = mock.get(f"{BASE}/tickets", params={"external_id": "42"}).respond(
            200, json={"items": [{"id": "5", "url": f"{BASE}/tickets/5"}]}
        )
        create = mock.post(f"{BASE}/tickets")
        result = await rest.push(make_delivery("create", attempt=2))
    assert result.remote == RemoteRef("5", f"{BASE}/tickets/5")
    assert result.exchange is not None and result.exchange.method == "GET"  # the log shows why
    assert not create.called
    assert "idempotency-key" not in lookup.calls[0].request.headers  # a read, not the create


async def test_a_retried_create_with_nothing_found_creates(rest: RestAdapter) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/tickets").respond(200, json={"items": []})
        create = mock.post(f"{BASE}/tickets").respond(201, json={"id": "8"})
        result = await rest.push(make_delivery("create", key="gw-9", attempt=3))
    assert result.remote is not None and result.remote.remote_id == "8"
    assert create.calls[0].request.headers["idempotency-key"] == "gw-9"


async def test_without_a_lookup_a_retried_create_relies_on_the_key() -> None:
    base = default_mapping()
    mapping = base.model_copy(
        update={"outbound": base.outbound.model_copy(update={"lookup": None})}
    )
    adapter = make_adapter(mapping)
    with respx.mock(assert_all_called=True) as mock:
        create = mock.post(f"{BASE}/tickets").respond(201, json={"id": "8"})
        await adapter.push(make_delivery("create", key="gw-9", attempt=2))
        assert await adapter.find(42) is None
    assert create.calls[0].request.headers["idempotency-key"] == "gw-9"
    await adapter.aclose()


async def test_find(rest: RestAdapter) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/tickets", params={"external_id": "42"}).respond(
            200, json={"items": [{"id": 5}]}
        )
        mock.get(f"{BASE}/tickets", params={"external_id": "43"}).respond(200, json={"items": []})
        assert await rest.find(42) == RemoteRef("5", None)
        assert await rest.find(43) is None


async def test_connection_refused_then_success_is_retried_within_the_call(
    rest: RestAdapter,
) -> None:
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/tickets").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"id": 5})]
        )
        result = await rest.push(make_delivery("create", key="gw-7"))
    assert result.remote is not None and result.remote.remote_id == "5"
    assert route.call_count == 2
    assert {c.request.headers["idempotency-key"] for c in route.calls} == {"gw-7"}


async def test_connection_refused_every_time_is_retryable(rest: RestAdapter) -> None:
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/tickets").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(RetryableError, match="ConnectError"):
            await rest.push(make_delivery("create"))
    assert route.call_count == 3


async def test_a_read_timeout_is_not_retried_within_the_call(rest: RestAdapter) -> None:
    """The remote may have applied it: the worker's later retry looks up before re-creating."""
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/tickets").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(RetryableError, match="timed out"):
            await rest.push(make_delivery("create"))
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [("30", 30, 30), ("Wed, 21 Oct 2099 07:28:00 GMT", 3600, None), (None, None, None)],
)
async def test_503_with_retry_after(
    rest: RestAdapter, retry_after: str | None, low: float | None, high: float | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    with respx.mock() as mock:
        mock.patch(f"{BASE}/tickets/77").respond(503, headers=headers, text="maintenance")
        with pytest.raises(RetryableError) as raised:
            await rest.push(make_delivery("update"))
    if low is None:
        assert raised.value.retry_after is None
    else:
        assert raised.value.retry_after is not None and raised.value.retry_after >= low
        assert high is None or raised.value.retry_after <= high
    assert raised.value.exchange is not None
    assert raised.value.exchange.response_body == "maintenance"


async def test_422_is_permanent_and_keeps_what_was_exchanged(rest: RestAdapter) -> None:
    with respx.mock() as mock:
        mock.post(f"{BASE}/tickets").respond(422, json={"errors": {"title": "too long"}})
        with pytest.raises(PermanentError) as raised:
            await rest.push(make_delivery("create"))
    assert type(raised.value) is PermanentError
    assert raised.value.exchange is not None
    exchange = raised.value.exchange.as_dict()
    assert exchange["status_code"] == 422
    assert exchange["url"] == "/tickets" and exchange["method"] == "POST"
    assert exchange["response_body"] == {"errors": {"title": "too long"}}
    assert exchange["request_body"]["title"] == "SRM at DESY refuses writes"
    assert TOKEN not in json.dumps(exchange)


async def test_401_is_an_authentication_error(rest: RestAdapter) -> None:
    with respx.mock() as mock:
        mock.post(f"{BASE}/tickets/77/resolve").respond(401, json={"error": "token expired"})
        with pytest.raises(AuthenticationError) as raised:
            await rest.push(make_delivery("solve", status="solved", solution="x"))
    assert TOKEN not in str(raised.value)


async def test_a_create_answer_without_the_remote_id_is_permanent(rest: RestAdapter) -> None:
    with respx.mock() as mock:
        mock.post(f"{BASE}/tickets").respond(201, json={"ok": True})
        with pytest.raises(PermanentError, match="without a remote id at /id") as raised:
            await rest.push(make_delivery("create"))
    assert raised.value.exchange is not None
    assert raised.value.exchange.response_body == {"ok": True}


async def test_a_ticket_the_mapping_cannot_express_is_permanent() -> None:
    base = default_mapping()
    priority = base.maps["priority"]
    outbound = {k: v for k, v in priority.outbound.items() if k != "very urgent"}
    maps = {**base.maps, "priority": priority.model_copy(update={"outbound": outbound})}
    adapter = make_adapter(base.model_copy(update={"maps": maps}))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{BASE}/tickets")
        with pytest.raises(PermanentError, match="'very urgent' has no entry in map 'priority'"):
            await adapter.push(make_delivery("create", priority="very urgent"))
    assert not route.called
    await adapter.aclose()


async def test_an_update_without_a_remote_ticket_is_permanent(rest: RestAdapter) -> None:
    with pytest.raises(PermanentError, match="no remote ticket"):
        await rest.push(make_delivery("update", remote=None))


@pytest.mark.parametrize(
    ("answer", "ok", "detail"),
    [
        (httpx.Response(200, json={"items": []}), True, "GET /tickets?external_id=0: HTTP 200"),
        (httpx.Response(401), False, "HTTP 401"),
        (httpx.ConnectError("refused"), False, "ConnectError"),
    ],
)
async def test_check_reports_without_raising(
    rest: RestAdapter, answer: httpx.Response | Exception, ok: bool, detail: str
) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/tickets").mock(side_effect=[answer] * 3)
        result = await rest.check()
    assert result.ok is ok
    assert detail in result.detail


async def test_check_defaults_to_the_base_url() -> None:
    base = default_mapping()
    adapter = make_adapter(
        base.model_copy(update={"outbound": base.outbound.model_copy(update={"check": None})})
    )
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{BASE}/").respond(200, text="hello")
        assert (await adapter.check()).ok
    await adapter.aclose()


async def test_aclose_closes_the_client(rest: RestAdapter) -> None:
    await rest.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await rest.push(make_delivery("create"))
