"""An app with three scripted connections: NGI_DE's helpdesk (origin side), DMSU's and dCache's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.api.app import create_app
from gateway.config.models import GatewayConfig
from gateway.connection.models import Policy
from gateway.connection.service import Connection, Connections
from gateway.delivery.worker import Worker
from gateway.settings import Settings
from tests.sync.harness import Remote, ScriptedAdapter


@pytest.fixture
def policy() -> Policy:
    return Policy.CLOSE_ONLY


@pytest.fixture
def remotes() -> dict[str, Remote]:
    return {"ngi": Remote(), "dmsu": Remote(), "dcache": Remote()}


@pytest.fixture
def connections(remotes: dict[str, Remote], policy: Policy) -> Connections:
    return Connections(
        [
            Connection("ngi", "NGI_DE", policy, ScriptedAdapter(name="ngi", remote=remotes["ngi"])),
            Connection(
                "dmsu",
                "DMSU",
                Policy.CLOSE_ONLY,
                ScriptedAdapter(name="dmsu", remote=remotes["dmsu"]),
            ),
            Connection(
                "dcache",
                "dCache",
                Policy.CLOSE_ONLY,
                ScriptedAdapter(name="dcache", remote=remotes["dcache"]),
            ),
        ]
    )


@pytest.fixture
async def app(
    settings: Settings, config: GatewayConfig, connections: Connections
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, config, connections=connections)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def worker(app: FastAPI, connections: Connections, settings: Settings) -> Worker:
    return Worker(
        sessionmaker=app.state.sessionmaker,
        connections=connections,
        database_url=settings.resolved_database_url(),
        name="test-worker",
        lease_seconds=30,
        poll_interval=0.05,
        max_attempts=3,
    )


def signed(event_id: str) -> dict[str, str]:
    return {"x-test-signature": "ok", "x-event-id": event_id, "content-type": "application/json"}


async def send_event(
    client: httpx.AsyncClient, connection: str, event_id: str, commands: list[dict[str, Any]]
) -> httpx.Response:
    import json

    return await client.post(
        f"/api/v1/webhooks/{connection}", content=json.dumps(commands), headers=signed(event_id)
    )


def submitted(**ticket: Any) -> dict[str, Any]:
    base = {
        "subject": "Jobs fail at FZK",
        "description": "all jobs abort with 'Proxy expired'",
        "submitter": {"name": "Ann Example", "email": "ann@example.org"},
    }
    return {**base, **ticket}
