"""docs/mail.md cannot drift: its configuration builds, and its messages, handed in one after the
other to a gateway so configured, end as the json block after each says."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from gateway.adapter.registry import AdapterRegistry
from gateway.api.app import create_app
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from gateway.settings import Settings
from tests.conftest import Keys, asgi_client

DOC = Path(__file__).resolve().parents[2] / "docs" / "mail.md"
BLOCK = re.compile(r'```(yaml|eml|json) title="([^"]+)"\n(.*?)```', re.DOTALL)
UNITS = [
    {"name": "TPM", "level": "first"},
    {"name": "DMSU", "level": "second"},
    {"name": "dCache", "level": "third"},
]


def blocks(kind: str) -> list[tuple[str, str]]:
    return [(t, text) for k, t, text in BLOCK.findall(DOC.read_text("utf-8")) if k == kind]


def doc_config() -> GatewayConfig:
    ((_, text),) = blocks("yaml")
    return GatewayConfig.model_validate(
        {
            "support_units": UNITS,
            "routing": {"default_support_unit": "TPM"},
            **yaml.safe_load(text),
        }
    )


def messages() -> list[tuple[str, bytes, dict[str, Any]]]:
    found: list[tuple[str, bytes, dict[str, Any]]] = []
    pending: tuple[str, bytes] | None = None
    for kind, title, text in BLOCK.findall(DOC.read_text("utf-8")):
        if kind == "eml":
            pending = (title, text.replace("\n", "\r\n").encode())
        elif kind == "json" and pending is not None:
            found.append((*pending, json.loads(text)))
            pending = None
    return found


def test_the_configuration_builds_into_connections() -> None:
    connections = build_connections(doc_config(), AdapterRegistry.from_entry_points(), environ={})
    channel = connections.submitter_channel()
    assert channel is not None and channel.name == "mail"
    unit = connections.for_unit("dCache")
    assert unit is not None and unit.adapter.kind == "email"


def test_the_page_has_its_examples() -> None:
    assert len(messages()) >= 3


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = doc_config()
    raw = config.model_dump()
    raw["connections"][0]["settings"]["listen_port"] = None  # handed in, not listened for
    config = GatewayConfig.model_validate(raw)
    connections = build_connections(config, AdapterRegistry.from_entry_points(), environ={})
    app: FastAPI = create_app(
        Settings(database_url=database_url, data_dir=tmp_path), config, connections=connections
    )
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        client.headers.update(await Keys(app).headers())
        yield client


async def test_each_message_ends_as_the_page_says(api: httpx.AsyncClient) -> None:
    for title, raw, expected in messages():
        answer = await api.post("/api/v1/mail", content=raw)
        assert answer.status_code == 202, (title, answer.text)
        result = answer.json()
        wanted_ticket = expected.pop("ticket", None)
        assert {k: result[k] for k in expected} == expected, title
        if wanted_ticket is not None:
            ticket = (await api.get(f"/api/v1/tickets/{result['ticket_id']}")).json()
            assert {k: ticket[k] for k in wanted_ticket} == wanted_ticket, title
