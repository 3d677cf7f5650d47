"""The REST adapter over real HTTP against the reference helpdesk (examples/helpdesk.py).

These also pin the helpdesk's own behaviour, which the end-to-end and crash tests rely on.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adapters.rest import RestAdapter
from examples.helpdesk import BackgroundServer, Helpdesk, asend_event, send_event
from gateway.adapter.errors import AuthenticationError, RetryableError
from gateway.adapter.models import AttachFile, Command, CreateTicket, InboundRequest, Solve
from gateway.errors import GatewayError
from tests.adapters.rest.conftest import default_mapping, make_adapter
from tests.contract.tickets import make_delivery, make_entry, make_file

TOKEN = "helpdesk-token"
SECRET = "whsec_aGVscGRlc2std2ViaG9vay1zZWNyZXQ="


@pytest.fixture
def desk() -> Iterator[Helpdesk]:
    helpdesk = Helpdesk(name="ngi-de", token=TOKEN)
    with helpdesk.serve():
        yield helpdesk


@pytest.fixture
async def rest(desk: Helpdesk) -> AsyncIterator[RestAdapter]:
    adapter = make_adapter(base_url=desk.base_url, token=TOKEN, timeout_seconds=0.5)
    yield adapter
    await adapter.aclose()


async def test_a_file_goes_to_the_helpdesk_and_one_added_there_comes_back(
    desk: Helpdesk, rest: RestAdapter
) -> None:
    created = await rest.push(make_delivery("create", key="k-1"))
    assert created.remote is not None
    file = make_file()
    await rest.push(make_delivery("attach", key="k-2", remote=created.remote, attachment=file))
    [stored] = desk.tickets[created.remote.remote_id]["attachments"]
    assert (stored["filename"], base64.b64decode(stored["content"])) == ("srm.log", file.data)
    event = desk.attach(created.remote.remote_id, "dump.txt", b"core dump")
    body = json.dumps(event).encode()
    [back] = rest.translate_inbound(InboundRequest(headers={"webhook-id": "msg_1"}, body=body))
    [command] = back.commands
    assert isinstance(command, AttachFile)
    assert (command.filename, command.content(), command.hub_id) == ("dump.txt", b"core dump", 42)


async def test_a_ticket_lives_its_life_at_the_helpdesk(desk: Helpdesk, rest: RestAdapter) -> None:
    created = await rest.push(make_delivery("create", key="k-1"))
    assert created.remote is not None
    remote = created.remote
    assert remote.remote_url == f"{desk.base_url}/tickets/{remote.remote_id}"
    await rest.push(make_delivery("update", key="k-2", remote=remote, subject="SRM down"))
    await rest.push(make_delivery("entry", key="k-3", remote=remote, entry=make_entry("Log?")))
    await rest.push(
        make_delivery("solve", key="k-4", remote=remote, status="solved", solution="Fixed")
    )
    ticket = desk.tickets[remote.remote_id]
    assert (ticket["title"], ticket["priority"], ticket["external_id"]) == ("SRM down", "high", 42)
    assert ticket["comments"] == [{"body": "Log?", "author": "Eve"}]
    assert (ticket["status"], ticket["solution"]) == ("resolved", "Fixed")
    assert desk.keys() == ["k-1", "k-2", "k-3", "k-4"]
    assert await rest.find(42) == remote
    assert (await rest.check()).ok


async def test_a_wrong_token_is_an_authentication_error(desk: Helpdesk) -> None:
    adapter = make_adapter(base_url=desk.base_url, token="stolen")
    with pytest.raises(AuthenticationError):
        await adapter.push(make_delivery("create"))
    assert desk.tickets == {}
    check = await adapter.check()
    assert not check.ok and "401" in check.detail
    await adapter.aclose()


async def test_lost_answer_then_retry_makes_one_ticket(desk: Helpdesk, rest: RestAdapter) -> None:
    desk.delay_next(1, 1.5)  # applied, but answered after the client's 0.5 s timeout
    with pytest.raises(RetryableError, match="timed out"):
        await rest.push(make_delivery("create", key="k-1", attempt=1))
    result = await rest.push(make_delivery("create", key="k-1", attempt=2))
    assert list(desk.tickets) == [result.remote.remote_id if result.remote else None]
    assert [(r.method, r.path) for r in desk.received] == [
        ("POST", "/tickets"),
        ("GET", "/tickets"),
    ]


async def test_a_keyed_retry_is_replayed_by_the_helpdesk(desk: Helpdesk) -> None:
    base = default_mapping()
    no_lookup = base.model_copy(
        update={"outbound": base.outbound.model_copy(update={"find": None})}
    )
    adapter = make_adapter(no_lookup, base_url=desk.base_url, token=TOKEN, timeout_seconds=0.5)
    desk.delay_next(1, 1.5)
    with pytest.raises(RetryableError):
        await adapter.push(make_delivery("create", key="k-1", attempt=1))
    await asyncio.sleep(1.2)  # the first request has finished at the helpdesk
    result = await adapter.push(make_delivery("create", key="k-1", attempt=2))
    assert result.remote is not None and list(desk.tickets) == [result.remote.remote_id]
    assert desk.keys() == ["k-1", "k-1"]
    await adapter.aclose()


async def test_scripted_failures_with_retry_after(desk: Helpdesk, rest: RestAdapter) -> None:
    desk.fail_next(2, 503, retry_after=5)
    for _ in range(2):
        with pytest.raises(RetryableError) as raised:
            await rest.push(make_delivery("create", key="k-1"))
        assert raised.value.retry_after == 5
        assert raised.value.exchange is not None and raised.value.exchange.status_code == 503
    assert desk.tickets == {}
    result = await rest.push(make_delivery("create", key="k-1"))
    assert result.remote is not None and list(desk.tickets) == [result.remote.remote_id]
    assert [r.status for r in desk.received] == [503, 503, 201]


async def test_the_helpdesk_refuses_what_its_api_does_not_accept(desk: Helpdesk) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=desk.base_url, headers=headers) as client:
        bad = await client.post("/tickets", json={"title": "x", "priority": "urgent"})
        missing = await client.post("/tickets/99/comments", json={"body": "hi"})
    assert bad.status_code == 422
    fields = {d["field"] for d in bad.json()["details"]}
    assert {"body", "requester", "priority"} <= fields
    assert missing.status_code == 404


async def test_a_key_is_applied_once_and_never_reused_for_another_request(desk: Helpdesk) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k-1"}
    new = {"title": "t", "body": "b", "requester": {"name": "n", "email": "n@x.org"}}
    async with httpx.AsyncClient(base_url=desk.base_url, headers=headers) as client:
        first = await client.post("/tickets", json=new)
        again = await client.post("/tickets", json={**new, "title": "changed"})
        other = await client.patch(f"/tickets/{first.json()['id']}", json={"title": "x"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert len(desk.tickets) == 1 and desk.tickets["1"]["title"] == "t"
    assert other.status_code == 422 and "different request" in other.json()["error"]


async def test_concurrent_requests_with_one_key_are_seen_and_applied_once(desk: Helpdesk) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k-1"}
    new = {"title": "t", "body": "b", "requester": {"name": "n", "email": "n@x.org"}}
    desk.delay_next(1, 0.5)
    async with httpx.AsyncClient(base_url=desk.base_url, headers=headers) as client:
        first, second = await asyncio.gather(
            client.post("/tickets", json=new), client.post("/tickets", json=new)
        )
    assert first.json() == second.json()
    assert len(desk.tickets) == 1
    assert desk.overlaps == ["k-1"]


def receiver(adapter: RestAdapter, seen: list[Command]) -> FastAPI:
    """A minimal webhook endpoint: verify, translate, keep the commands."""
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> JSONResponse:
        inbound = InboundRequest(
            headers={k.lower(): v for k, v in request.headers.items()}, body=await request.body()
        )
        try:
            await adapter.verify_inbound(inbound)
            events = adapter.translate_inbound(inbound)
        except GatewayError as exc:
            return JSONResponse(exc.body(), status_code=exc.status_code)
        seen.extend(command for event in events for command in event.commands)
        return JSONResponse({"events": [e.event_id for e in events]}, status_code=202)

    return app


async def test_signed_events_from_the_helpdesk_are_verified_and_translated(
    desk: Helpdesk, rest: RestAdapter
) -> None:
    created = await rest.push(make_delivery("create"))
    assert created.remote is not None
    seen: list[Command] = []
    hub_side = make_adapter(webhook_secrets=[SECRET])
    with BackgroundServer(receiver(hub_side, seen)) as gateway:
        url = f"{gateway.url}/hook"
        event = desk.solve(created.remote.remote_id, "Replaced the disk")
        accepted = await asend_event(url, SECRET, event, msg_id="msg_1")
        forged = await asend_event(url, "whsec_b3RoZXI=", event)
        stale = await asend_event(url, SECRET, event, timestamp=1)
    assert (accepted.status_code, accepted.json()) == (202, {"events": ["msg_1"]})
    assert forged.status_code == stale.status_code == 401
    assert seen == [
        Solve(
            remote_id=created.remote.remote_id,
            hub_id=42,
            status="solved",
            solution="Replaced the disk",
        )
    ]


def test_helpdesk_events_translate_with_the_default_mapping() -> None:
    desk = Helpdesk()
    created = desk.open_ticket(
        title="Disk full",
        body="/data is full",
        requester={"name": "Ann", "email": "ann@example.org"},
        priority="critical",
        group="DMSU",
    )
    remote_id = created["ticket"]["id"]
    events = [
        created,
        desk.comment(remote_id, "looking"),
        desk.ask(remote_id, "which node?"),
        desk.reassign(remote_id, "dCache"),
        desk.solve(remote_id, "gave up", solved=False),
    ]
    adapter = make_adapter()
    commands = [
        [
            command
            for event in adapter.translate_inbound(
                InboundRequest(headers={"webhook-id": f"m{n}"}, body=json.dumps(e).encode())
            )
            for command in event.commands
        ]
        for n, e in enumerate(events)
    ]
    assert [[c.kind for c in found] for found in commands] == [
        ["create"],
        ["comment"],
        ["question"],
        ["reassign"],
        ["solve"],
    ]
    create = commands[0][0]
    assert isinstance(create, CreateTicket)
    assert (create.ticket.priority, create.ticket.support_unit) == ("top priority", "DMSU")
    assert desk.tickets[remote_id]["status"] == "unresolved"


async def test_a_remote_that_goes_away_and_comes_back() -> None:
    desk = Helpdesk(token=TOKEN)
    server = desk.serve()
    adapter = make_adapter(base_url=server.url, token=TOKEN, timeout_seconds=0.5)
    try:
        server.stop()
        with pytest.raises(RetryableError, match="ConnectError"):
            await adapter.push(make_delivery("create"))
        server.start()  # same port, same state
        result = await adapter.push(make_delivery("create"))
        assert result.remote is not None and list(desk.tickets) == [result.remote.remote_id]
    finally:
        server.stop()
        await adapter.aclose()


def test_events_go_to_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        send_event("https://gateway.example.org/api/v1/webhooks/x", SECRET, {"type": "x"})
