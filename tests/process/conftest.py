"""A hub with a submitters' mail channel and units with addresses, on Berlin's office hours and
German holidays; the support process's clock is moved by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from gateway.adapter.registry import AdapterRegistry
from gateway.api.app import create_app
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from gateway.process.working_time import WorkingTime
from gateway.scheduler.job import JobContext
from gateway.settings import Settings
from gateway.ticket.tables import TicketChangeRow, TicketRow
from tests.conftest import Keys, asgi_client

BERLIN = ZoneInfo("Europe/Berlin")
GATEWAY = "helpdesk@gateway.example.org"


def process_config(**process: Any) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "support_units": [
                {"name": "TPM", "level": "first", "email": "tpm@ggus.example.org"},
                {"name": "DMSU", "level": "second", "email": "dmsu@egi.example.org"},
                {"name": "dCache", "level": "third", "email": "support@dcache.example.org"},
            ],
            "routing": {"default_support_unit": "TPM"},
            "connections": [
                {
                    "name": "mail",
                    "adapter": "email",
                    "settings": {"audience": "submitters", "sender": GATEWAY},
                }
            ],
            "process": {
                "working_time": {"timezone": "Europe/Berlin", "holidays_country": "DE"},
                **process,
            },
        }
    )


@pytest.fixture
def config() -> GatewayConfig:
    return process_config()


@pytest.fixture
async def app(database_url: str, tmp_path: Path, config: GatewayConfig) -> AsyncIterator[FastAPI]:
    connections = build_connections(config, AdapterRegistry.from_entry_points(), environ={})
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    application = create_app(settings, config, connections=connections)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as client:
        client.headers.update(await Keys(app).headers())
        yield client


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Berlin wall-clock moment, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def at(app: FastAPI, now: datetime) -> JobContext:
    config: GatewayConfig = app.state.config
    return JobContext(
        sessionmaker=app.state.sessionmaker,
        sync=app.state.sync,
        config=config,
        working_time=WorkingTime(config.process.working_time),
        now=now,
        read_sessionmaker=app.state.read_sessionmaker,
    )


async def backdate(app: FastAPI, hub_id: int, moment: datetime) -> None:
    """Pretend everything in the ticket's history so far happened at `moment`."""
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(TicketChangeRow).where(TicketChangeRow.ticket_id == hub_id).values(at=moment)
        )
        await session.execute(
            update(TicketRow)
            .where(TicketRow.id == hub_id)
            .values(created_at=moment, updated_at=moment)
        )
        await session.commit()


async def open_ticket(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "subject": "Jobs abort at FZK",
        "description": "All jobs abort with 'proxy expired'.",
        "submitter": {"name": "Ann Example", "email": "ann@example.org"},
        "cc": ["bob@example.org"],
        "support_unit": "DMSU",
    }
    body.update(fields)
    created = await api.post("/api/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    ticket: dict[str, Any] = created.json()
    return ticket


async def change(api: httpx.AsyncClient, hub_id: int, **fields: Any) -> dict[str, Any]:
    current = (await api.get(f"/api/v1/tickets/{hub_id}")).json()
    answer = await api.patch(
        f"/api/v1/tickets/{hub_id}", json=fields, headers={"If-Match": f'"{current["version"]}"'}
    )
    assert answer.status_code == 200, answer.text
    changed: dict[str, Any] = answer.json()
    return changed
