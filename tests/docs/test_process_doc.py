"""docs/process.md cannot drift: its worked example, request after request against a gateway
configured by examples/gateway.yaml, answers as the page says (each `json` block after a request
is a part of the answer that must match; lists match item by item)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from gateway.adapter.registry import AdapterRegistry
from gateway.api.app import create_app
from gateway.auth.models import Role
from gateway.config.loader import load_config
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from gateway.settings import Settings
from tests.conftest import Keys, asgi_client

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "process.md"
BLOCK = re.compile(r'```(http|json) title="([^"]+)"\n(.*?)```', re.DOTALL)
ENVIRON = {"NGI_DE_HELPDESK_TOKEN": "demo-token", "NGI_DE_WEBHOOK_SECRET": "whsec_ZGVtbw=="}


def steps() -> list[tuple[str, str, int, Any]]:
    """(title, request text, status, expected answer part) in page order; the answer block's
    title is `answer <status>`."""
    found = []
    pending: tuple[str, str] | None = None
    for kind, title, text in BLOCK.findall(DOC.read_text("utf-8")):
        if kind == "http":
            pending = (title, text)
        elif pending is not None:
            found.append((pending[0], pending[1], int(title.split()[-1]), json.loads(text)))
            pending = None
    return found


def example_config() -> GatewayConfig:
    config = load_config(ROOT / "examples" / "gateway.yaml")
    raw = config.model_dump()
    for connection in raw["connections"]:
        if connection["adapter"] == "email":
            connection["settings"]["listen_port"] = None  # nothing is mailed in here
    return GatewayConfig.model_validate(raw)


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    config = example_config()
    connections = build_connections(config, AdapterRegistry.from_entry_points(), environ=ENVIRON)
    application = create_app(
        Settings(database_url=database_url, data_dir=tmp_path), config, connections=connections
    )
    async with application.router.lifespan_context(application):
        yield application


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and matches(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def test_the_page_has_its_worked_example() -> None:
    assert len(steps()) >= 10


async def test_the_worked_example_answers_as_the_page_says(app: FastAPI) -> None:
    keys = Keys(app)
    admin = await keys.headers()
    async with asgi_client(app) as api:
        for title, text, status, expected in steps():
            head, _, body = text.partition("\n\n")
            request_line, *header_lines = head.strip().splitlines()
            method, path = request_line.split(" ", 1)
            headers = {**admin, "Content-Type": "application/json"}
            for line in header_lines:
                name, value = (part.strip() for part in line.split(":", 1))
                if name == "As":  # a key of that unit's staff
                    headers.update(await keys.headers(Role.UNIT, unit=value))
                else:
                    headers[name] = value
            answer = await api.request(method, path, headers=headers, content=body.strip() or None)
            assert answer.status_code == status, (title, answer.text)
            assert matches(expected, answer.json()), (title, json.dumps(answer.json(), indent=1))
