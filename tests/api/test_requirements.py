"""The requirement routes without a remote (what the worker then does in RT is in
tests/e2e/test_rt_flow.py): what is refused and why, one requirement per ticket and queue, the
outbox rows they write, unlinking, the listing by tag and state. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.adapter.registry import AdapterRegistry
from gateway.api.app import create_app
from gateway.auth.models import Role
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from gateway.settings import Settings
from gateway.sync.tables import OutboxRow
from gateway.ticket.enums import LinkRole
from gateway.ticket.tables import LinkRow
from tests.conftest import Keys, asgi_client


def rt(name: str, queue: str, **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "adapter": "rt",
        "settings": {
            "url": "https://rt.example.org",
            "user": "gateway",
            "password": {"env": "REQ_RT_PASSWORD"},
            "queue": queue,
            **settings,
        },
    }


def config(*queues: dict[str, Any]) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "support_units": [
                {"name": "TPM", "level": "first"},
                {"name": "DMSU", "level": "second"},
            ],
            "routing": {"default_support_unit": "TPM"},
            "connections": list(queues),
        }
    )


async def started(database_url: str, tmp_path: Path, cfg: GatewayConfig) -> FastAPI:
    connections = build_connections(
        cfg, AdapterRegistry.from_entry_points(), environ={"REQ_RT_PASSWORD": "x"}
    )
    return create_app(
        Settings(database_url=database_url, data_dir=tmp_path), cfg, connections=connections
    )


@pytest.fixture
async def api(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    cfg = config(
        rt("dmsu-reqs", "requirements", requirement_tag="DMSU"),
        rt("wlcg-reqs", "wlcg", requirement_tag="WLCG"),
        {**rt("dmsu-rt", "DMSU"), "support_unit": "DMSU"},
    )
    app = await started(database_url, tmp_path, cfg)
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        client.headers.update(await Keys(app).headers())
        yield app, client


async def new_ticket(client: httpx.AsyncClient) -> int:
    made = await client.post(
        "/api/v1/tickets",
        json={
            "subject": "Token support in the SRM client",
            "description": "Please add WLCG tokens.",
            "category": "Change Request",
            "submitter": {"name": "Ann", "email": "ann@example.org"},
        },
    )
    assert made.status_code == 201, made.text
    hub_id: int = made.json()["id"]
    return hub_id


async def rows(app: FastAPI, ticket_id: int) -> list[tuple[str, str, str]]:
    async with app.state.sessionmaker() as session:
        found = await session.execute(
            select(OutboxRow.connection, OutboxRow.action, OutboxRow.rule)
            .where(OutboxRow.ticket_id == ticket_id)
            .order_by(OutboxRow.id)
        )
        return [tuple(r) for r in found.all()]  # type: ignore[misc]


async def test_a_requirement_is_asked_for_once_per_queue_and_listed_while_it_opens(
    api: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = api
    hub_id = await new_ticket(client)
    asked = await client.post(
        f"/api/v1/tickets/{hub_id}/requirements", json={"connection": "dmsu-reqs"}
    )
    assert asked.status_code == 202, asked.text
    [opening] = asked.json()
    assert (opening["connection"], opening["tag"], opening["remote_id"]) == (
        "dmsu-reqs",
        "DMSU",
        None,
    )
    again = await client.post(
        f"/api/v1/tickets/{hub_id}/requirements", json={"connection": "dmsu-reqs"}
    )
    assert again.status_code == 409 and "already" in again.json()["error"]["message"]
    assert await rows(app, hub_id) == [("dmsu-reqs", "create", "requirement-opened")]
    other = await client.post(
        f"/api/v1/tickets/{hub_id}/requirements", json={"connection": "wlcg-reqs"}
    )
    assert other.status_code == 202


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 422, "say which requirements queue"),
        ({"connection": "dmsu-rt"}, 422, "not a requirements queue"),
        ({"connection": "nowhere"}, 422, "not a requirements queue"),
        ({"connection": "dmsu-reqs", "remote_id": "twelve"}, 422, "remote_id"),
        ({"connection": "dmsu-reqs", "colour": "red"}, 422, "colour"),
    ],
)
async def test_bad_requests_are_refused_naming_the_problem(
    api: tuple[FastAPI, httpx.AsyncClient], body: dict[str, Any], status: int, words: str
) -> None:
    app, client = api
    hub_id = await new_ticket(client)
    refused = await client.post(f"/api/v1/tickets/{hub_id}/requirements", json=body)
    assert refused.status_code == status
    assert words in refused.text
    assert await rows(app, hub_id) == []


async def test_linking_an_existing_one_keeps_the_link_at_once_and_unlinking_takes_it_away(
    api: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = api
    first, second = await new_ticket(client), await new_ticket(client)
    linked = await client.post(
        f"/api/v1/tickets/{first}/requirements", json={"connection": "dmsu-reqs", "remote_id": "17"}
    )
    assert linked.status_code == 202
    assert [(r["remote_id"], r["state"]) for r in linked.json()] == [("17", None)]
    taken = await client.post(
        f"/api/v1/tickets/{second}/requirements",
        json={"connection": "dmsu-reqs", "remote_id": "17"},
    )
    assert taken.status_code == 409 and f"#{first}" in taken.json()["error"]["message"]
    listed = (await client.get("/api/v1/requirements", params={"tag": "DMSU"})).json()
    assert [(r["ticket_id"], r["remote_id"]) for r in listed] == [(first, "17")]
    assert (await client.get("/api/v1/requirements", params={"tag": "WLCG"})).json() == []
    assert (await client.get("/api/v1/requirements", params={"state": "open"})).json() == []
    gone = await client.delete(f"/api/v1/tickets/{first}/requirements/dmsu-reqs")
    assert gone.status_code == 204
    assert (await client.get(f"/api/v1/tickets/{first}/requirements")).json() == []
    again = await client.delete(f"/api/v1/tickets/{first}/requirements/dmsu-reqs")
    assert again.status_code == 404
    assert await rows(app, first) == [
        ("dmsu-reqs", "link", "requirement-linked"),
        ("dmsu-reqs", "unlink", "requirement-unlinked"),
    ]
    async with app.state.sessionmaker() as session:
        left = await session.scalars(
            select(LinkRow).where(LinkRow.role == LinkRole.REQUIREMENT.value)
        )
        assert list(left) == []


async def test_submitters_never_see_requirements(api: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = api
    hub_id = await new_ticket(client)
    submitter = await Keys(app).headers(Role.SUBMITTER, email="ann@example.org")
    for method, path in (
        ("POST", f"/api/v1/tickets/{hub_id}/requirements"),
        ("GET", f"/api/v1/tickets/{hub_id}/requirements"),
        ("GET", "/api/v1/requirements"),
        ("DELETE", f"/api/v1/tickets/{hub_id}/requirements/dmsu-reqs"),
    ):
        answer = await client.request(
            method, path, headers=submitter, json={} if method == "POST" else None
        )
        assert answer.status_code == 403, (method, path, answer.text)


def test_a_requirements_queue_serving_a_unit_is_refused_naming_the_key() -> None:
    from gateway.errors import ConfigError

    cfg = config(
        {**rt("dmsu-reqs", "requirements", requirement_tag="DMSU"), "support_unit": "DMSU"}
    )
    with pytest.raises(ConfigError) as refused:
        build_connections(
            cfg, AdapterRegistry.from_entry_points(), environ={"REQ_RT_PASSWORD": "x"}
        )
    assert [d["key"] for d in refused.value.details] == ["connections[0].support_unit"]


async def test_without_a_requirements_queue_the_answer_says_so(
    database_url: str, tmp_path: Path
) -> None:
    app = await started(
        database_url, tmp_path, config({**rt("dmsu-rt", "DMSU"), "support_unit": "DMSU"})
    )
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        client.headers.update(await Keys(app).headers())
        hub_id = await new_ticket(client)
        answer = await client.post(f"/api/v1/tickets/{hub_id}/requirements", json={})
        assert answer.status_code == 409 and "no requirements queue" in answer.text
