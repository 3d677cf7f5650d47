"""Bad input gets a 4xx that names the problem, and nothing already stored changes.

One test per input that used to answer 500 (found by fuzzing the API), on SQLite and PostgreSQL;
each also asserts that the database is exactly as before.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from examples.helpdesk import signed_headers
from gateway.api.app import create_app
from gateway.auth.models import Role
from gateway.config.models import GatewayConfig
from gateway.logging import JsonFormatter
from gateway.settings import Settings
from gateway.ticket import service as ticket_service
from tests.conftest import Keys, asgi_client, new_ticket
from tests.support.snapshot import unchanged

SECRET = "whsec_ZGVtby13ZWJob29rLXNlY3JldC1mb3ItdGhlLWV4YW1wbGU="
TOO_BIG = 2**31  # one past PostgreSQL's integer


@pytest.fixture
async def ticket(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/tickets", json=new_ticket(support_unit="DMSU"), headers=admin
    )
    assert created.status_code == 201
    return dict(created.json())


def field_of(response: httpx.Response) -> str:
    return str(response.json()["error"]["details"][0]["field"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/tickets/{id}"),
        ("PATCH", "/api/v1/tickets/{id}"),
        ("GET", "/api/v1/tickets/{id}/history"),
        ("GET", "/api/v1/tickets/{id}/deliveries"),
        ("POST", "/api/v1/tickets/{id}/entries"),
        ("POST", "/api/v1/dead-letters/{id}/replay"),
    ],
)
@pytest.mark.parametrize("bad_id", [TOO_BIG, 10**30, -1, 0])
async def test_an_id_outside_the_database_range_is_422(
    app: FastAPI, client, admin, ticket, method: str, path: str, bad_id: int
) -> None:
    body = {"body": "x"} if path.endswith("entries") else {"priority": "urgent"}
    async with unchanged(app):
        response = await client.request(
            method,
            path.format(id=bad_id),
            headers=admin,
            json=body if method != "GET" else None,
        )
    assert response.status_code == 422
    assert field_of(response) in ("ticket_id", "delivery_id")


@pytest.mark.parametrize(
    "field",
    ["priority", "subject", "description", "cc", "status", "support_unit", "involved", "solution"],
)
async def test_null_for_a_field_that_cannot_be_cleared_is_422(
    app: FastAPI, client, admin, ticket, field: str
) -> None:
    async with unchanged(app):
        response = await client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={field: None}, headers=admin
        )
    assert response.status_code == 422
    assert field_of(response) == field
    assert "not null" in response.json()["error"]["message"]


async def test_null_clears_a_field_the_ticket_may_lack(client, admin) -> None:
    created = await client.post("/api/v1/tickets", json=new_ticket(vo="atlas"), headers=admin)
    cleared = await client.patch(
        f"/api/v1/tickets/{created.json()['id']}", json={"vo": None, "eta": None}, headers=admin
    )
    assert cleared.status_code == 200
    assert cleared.json()["vo"] is None


NUL = "bad\x00text"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/tickets", new_ticket(subject=NUL), "subject"),
        ("POST", "/api/v1/tickets", new_ticket(description=NUL), "description"),
        (
            "POST",
            "/api/v1/tickets",
            new_ticket(submitter={"name": NUL, "email": "a@b.org"}),
            "submitter.name",
        ),
        ("POST", "/api/v1/tickets", new_ticket(vo=NUL), "vo"),
        ("POST", "/api/v1/tickets", new_ticket(cc=["a\x00@b.org"]), "cc"),
        ("POST", "/api/v1/tickets/{id}/entries", {"body": NUL}, "body"),
        ("PATCH", "/api/v1/tickets/{id}", {"status": "solved", "solution": NUL}, "solution"),
        ("POST", "/api/v1/support-units", {"name": "X", "level": "first", "description": NUL}, ""),
        ("PATCH", "/api/v1/support-units/DMSU", {"description": NUL}, "description"),
    ],
)
async def test_a_nul_character_in_a_body_is_422_naming_the_field(
    app: FastAPI, client, admin, ticket, method: str, path: str, body: Any, field: str
) -> None:
    async with unchanged(app):
        response = await client.request(
            method, path.format(id=ticket["id"]), json=body, headers=admin
        )
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["error"]["message"]
    if field:
        assert field_of(response) == field


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/tickets?q=bad%00text"),
        ("GET", "/api/v1/tickets?support_unit=DM%00SU"),
        ("GET", "/api/v1/dead-letters?connection=a%00b"),
        ("PATCH", "/api/v1/support-units/DM%00SU"),
        ("GET", "/api/v1/tickets/1%00"),
    ],
)
async def test_a_nul_character_in_the_url_is_400(
    app: FastAPI, client, admin, method: str, path: str
) -> None:
    async with unchanged(app):
        response = await client.request(
            method, path, headers=admin, json={"description": "x"} if method == "PATCH" else None
        )
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]["message"]


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "tampered",
    [
        cursor({"after": TOO_BIG}),
        cursor({"after": True}),
        cursor({"after": -5}),
        cursor({"after": "1"}),
        cursor([]),
        base64.urlsafe_b64encode(b"[" * 20 + b"]" * 20).decode().rstrip("="),
        "not base64 at all!",
    ],
)
async def test_a_tampered_cursor_is_400(client, admin, ticket, tampered: str) -> None:
    response = await client.get("/api/v1/tickets", params={"cursor": tampered}, headers=admin)
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["message"]


async def test_a_cursor_too_long_to_be_ours_is_422(client, admin) -> None:
    response = await client.get("/api/v1/tickets", params={"cursor": "a" * 10_000}, headers=admin)
    assert response.status_code == 422
    assert field_of(response) == "cursor"


@pytest.mark.parametrize("since", ["0.5", "1700000000", "yesterday", "0001-01-01T00:00:00+14:00"])
async def test_updated_since_must_be_an_iso_time_in_range(client, admin, since: str) -> None:
    response = await client.get("/api/v1/tickets", params={"updated_since": since}, headers=admin)
    assert response.status_code == 422
    assert field_of(response) == "updated_since"


async def test_an_iso_updated_since_still_filters(client, admin, ticket) -> None:
    found = await client.get(
        "/api/v1/tickets", params={"updated_since": "2000-01-01T00:00:00"}, headers=admin
    )
    assert [t["id"] for t in found.json()["items"]] == [ticket["id"]]


async def test_an_eta_that_is_a_number_is_422(app: FastAPI, client, admin) -> None:
    async with unchanged(app):
        response = await client.post("/api/v1/tickets", json=new_ticket(eta=0), headers=admin)
    assert response.status_code == 422
    assert field_of(response) == "eta"


# --- webhooks ----------------------------------------------------------------------------------


@pytest.fixture
async def rest_app(
    settings: Settings, config: GatewayConfig, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    """The example configuration, with its REST connection to NGI_DE's helpdesk."""
    monkeypatch.setenv("NGI_DE_HELPDESK_TOKEN", "demo-token")
    monkeypatch.setenv("NGI_DE_WEBHOOK_SECRET", SECRET)
    application = create_app(settings, config)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def rest_client(rest_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(rest_app) as c:
        yield c


WEBHOOK = "/api/v1/webhooks/ngi-de-helpdesk"


def created_event(**ticket: Any) -> bytes:
    event = {
        "type": "ticket.created",
        "ticket": {
            "id": "R-1",
            "title": "Jobs fail",
            "body": "all of them",
            "requester": {"name": "Ann", "email": "ann@example.org"},
            **ticket,
        },
    }
    return json.dumps(event).encode()


async def test_a_huge_webhook_timestamp_without_credentials_is_401(
    rest_app: FastAPI, rest_client
) -> None:
    headers = {"webhook-id": "m1", "webhook-timestamp": "9" * 300, "webhook-signature": "v1,AA=="}
    async with unchanged(rest_app):
        response = await rest_client.post(WEBHOOK, content=b"{}", headers=headers)
    assert response.status_code == 401
    assert "webhook-timestamp" in response.json()["error"]["message"]


async def test_an_unknown_connection_answers_as_a_bad_signature(rest_client) -> None:
    body = created_event()
    headers = signed_headers("whsec_" + base64.b64encode(b"wrong").decode(), body)
    known = await rest_client.post(WEBHOOK, content=body, headers=headers)
    unknown = await rest_client.post(
        "/api/v1/webhooks/no-such-thing", content=body, headers=headers
    )
    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json()


async def test_a_signed_webhook_nested_10000_deep_is_422(rest_app: FastAPI, rest_client) -> None:
    body = b'{"type": "ticket.created", "ticket": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    async with unchanged(rest_app):
        response = await rest_client.post(
            WEBHOOK, content=body, headers=signed_headers(SECRET, body)
        )
    assert response.status_code == 422
    assert "nested deeper" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "ticket",
    [{"title": NUL}, {"id": "R\x00"}, {"requester": {"name": NUL, "email": "a@b.org"}}],
)
async def test_a_webhook_created_ticket_with_a_nul_is_422(
    rest_app: FastAPI, rest_client, ticket: dict[str, Any]
) -> None:
    body = created_event(**ticket)
    async with unchanged(rest_app):
        response = await rest_client.post(
            WEBHOOK, content=body, headers=signed_headers(SECRET, body)
        )
    assert response.status_code == 422
    assert "NUL" in response.json()["error"]["message"]


async def test_a_remote_id_longer_than_a_link_holds_is_422(rest_app: FastAPI, rest_client) -> None:
    body = created_event(id="R" * 300)
    async with unchanged(rest_app):
        response = await rest_client.post(
            WEBHOOK, content=body, headers=signed_headers(SECRET, body)
        )
    assert response.status_code == 422
    assert "remote_id" in response.json()["error"]["message"]


async def test_a_hub_id_out_of_range_in_a_webhook_is_422(rest_app: FastAPI, rest_client) -> None:
    event = {"type": "ticket.solved", "ticket": {"id": "R-1", "external_id": TOO_BIG}}
    body = json.dumps({**event, "solution": "done"}).encode()
    async with unchanged(rest_app):
        response = await rest_client.post(
            WEBHOOK, content=body, headers=signed_headers(SECRET, body)
        )
    assert response.status_code == 422


# --- idempotency, authorship, limits -----------------------------------------------------------


async def test_a_create_that_ended_in_500_frees_its_idempotency_key(
    app: FastAPI, client, admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ticket_service.create_ticket

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ticket_service, "create_ticket", broken)
    headers = {**admin, "Idempotency-Key": "retry-me"}
    async with unchanged(app):
        failed = await client.post("/api/v1/tickets", json=new_ticket(), headers=headers)
    assert failed.status_code == 500
    monkeypatch.setattr(ticket_service, "create_ticket", real)
    retried = await client.post("/api/v1/tickets", json=new_ticket(), headers=headers)
    assert retried.status_code == 201


@pytest.mark.parametrize("role", [Role.UNIT, Role.SUBMITTER])
async def test_only_an_admin_names_another_author(
    app: FastAPI, client, admin, keys: Keys, ticket, role: Role
) -> None:
    caller = await keys.headers(
        role,
        unit="DMSU" if role == Role.UNIT else None,
        email="ann@example.org" if role == Role.SUBMITTER else None,
    )
    path = f"/api/v1/tickets/{ticket['id']}/entries"
    async with unchanged(app):
        forged = await client.post(path, json={"body": "hi", "author": "The Boss"}, headers=caller)
    assert forged.status_code == 403
    assert "author" in forged.json()["error"]["message"]
    own = await client.post(path, json={"body": "hi"}, headers=caller)
    assert own.status_code == 201
    assert (
        own.json()["author"] == f"{role.value}:{'DMSU' if role == Role.UNIT else 'ann@example.org'}"
    )
    named = await client.post(path, json={"body": "hi", "author": "Bob"}, headers=admin)
    assert named.json()["author"] == "Bob"


@pytest.mark.parametrize("value", [b'"\xb2"', b'"' + b"9" * 40 + b'"', b"W/abc"])
async def test_an_if_match_that_is_no_version_is_400(
    app: FastAPI, client, admin, ticket, value: bytes
) -> None:
    async with unchanged(app):
        response = await client.patch(
            f"/api/v1/tickets/{ticket['id']}",
            json={"vo": "x"},
            headers={**admin, "If-Match": value},
        )
    assert response.status_code == 400
    assert "If-Match" in response.json()["error"]["message"]


async def test_oversized_headers_are_431(app: FastAPI, client, admin) -> None:
    async with unchanged(app):
        response = await client.post(
            "/api/v1/tickets", json=new_ticket(), headers={**admin, "X-Padding": "x" * 40_000}
        )
    assert response.status_code == 431


async def test_a_405_lists_every_allowed_method(client, admin) -> None:
    response = await client.delete("/api/v1/tickets", headers=admin)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    single = await client.delete("/api/v1/tickets/1", headers=admin)
    assert single.headers["allow"] == "GET, PATCH"


async def test_an_unexpected_error_is_logged_with_the_request_id_and_no_personal_data(
    client, admin, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any, data: Any, **kwargs: Any) -> Any:
        problem = f"cannot store {data.submitter.email}: {data.subject!r}"  # as a driver might
        raise RuntimeError(problem)

    monkeypatch.setattr(ticket_service, "create_ticket", broken)
    with caplog.at_level(logging.ERROR, logger="gateway"):
        response = await client.post(
            "/api/v1/tickets",
            json=new_ticket(submitter={"name": "Ann", "email": "ann.secret@example.org"}),
            headers={**admin, "X-Request-ID": "req-500"},
        )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500"
    assert response.json()["error"]["code"] == "internal"
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    [line] = [line for line in lines if line["message"] == "unhandled error"]
    assert line["request_id"] == "req-500"
    assert "RuntimeError" in line["exception"]
    text = json.dumps(lines)
    assert "ann.secret@example.org" not in text and "SRM at DESY" not in text
