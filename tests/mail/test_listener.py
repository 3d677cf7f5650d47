"""How mail reaches the gateway, as an MTA sees it: the SMTP listener of `gateway serve` answers
250 only once the message is stored, 552 for a message over the limit (at SMTP time), 451 while
the database is away (the MTA keeps it and tries again); `gateway mail-in` (an MTA's pipe) exits
0, 65 or 75 for the same cases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from gateway.adapter.registry import AdapterRegistry
from gateway.api.app import create_app
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from gateway.settings import Settings
from gateway.ticket.tables import TicketRow
from tests.support.cluster import free_port
from tests.support.tcp_proxy import TcpProxy

GATEWAY = "helpdesk@gateway.example.org"
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def config_for(listen_port: int | None, max_bytes: int = 50_000) -> dict[str, Any]:
    return {
        "support_units": [{"name": "TPM", "level": "first"}],
        "routing": {"default_support_unit": "TPM"},
        "connections": [
            {
                "name": "mail",
                "adapter": "email",
                "settings": {
                    "audience": "submitters",
                    "sender": GATEWAY,
                    "listen_port": listen_port,
                    "max_message_bytes": max_bytes,
                },
            }
        ],
    }


def message(body: str = "The CE rejects every job.", number: int = 1) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Ann Example <ann@example.org>"
    mail["To"] = GATEWAY
    mail["Subject"] = "CE at KIT rejects jobs"
    mail["Message-ID"] = f"<listener-{number}@example.org>"
    mail.set_content(body)
    return mail.as_bytes()


async def serve(database_url: str, tmp_path: Path) -> tuple[FastAPI, int]:
    port = free_port()
    config = GatewayConfig.model_validate(config_for(port))
    connections = build_connections(config, AdapterRegistry.from_entry_points(), environ={})
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    return create_app(settings, config, connections=connections), port


async def send(port: int, raw: bytes) -> str:
    errors, answer = await aiosmtplib.send(
        raw, sender="ann@example.org", recipients=[GATEWAY], hostname="127.0.0.1", port=port
    )
    assert errors == {}
    return answer


async def tickets(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count(TicketRow.id))) or 0)


@pytest.fixture
async def listening(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[FastAPI, int]]:
    app, port = await serve(database_url, tmp_path)
    async with app.router.lifespan_context(app):
        yield app, port


async def test_a_message_is_answered_250_once_it_is_a_ticket(
    listening: tuple[FastAPI, int],
) -> None:
    app, port = listening
    answer = await send(port, message())
    assert "applied as mail" in answer
    assert await tickets(app) == 1
    again = await send(port, message())  # the MTA's retry after a lost answer
    assert "duplicate" in again
    assert await tickets(app) == 1


async def test_a_message_over_the_limit_is_refused_with_552_at_smtp_time(
    listening: tuple[FastAPI, int],
) -> None:
    app, port = listening
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(port, message(body="x" * 60_000))
    assert refused.value.code == 552
    assert await tickets(app) == 0


async def test_while_the_database_is_away_mail_is_deferred_with_451(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a database server outage is a PostgreSQL matter")
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
    app, port = await serve(proxied, tmp_path)
    try:
        async with app.router.lifespan_context(app):
            await proxy.cut()
            with pytest.raises(aiosmtplib.SMTPResponseException) as deferred:
                await send(port, message(number=7))
            assert deferred.value.code == 451
            await proxy.start()
            assert "applied" in await send(port, message(number=7))
            assert await tickets(app) == 1
    finally:
        await proxy.cut()


def mail_in(
    raw: bytes, database_url: str, tmp_path: Path, max_bytes: int = 50_000
) -> subprocess.CompletedProcess[bytes]:
    path = tmp_path / "mail.yaml"
    path.write_text(yaml.safe_dump(config_for(None, max_bytes)), encoding="utf-8")
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [str(BIN / "gateway"), "mail-in", "--config", str(path)],
        input=raw,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_mail_in_exits_0_when_stored_and_65_when_too_large(
    database_url: str, tmp_path: Path
) -> None:
    stored = mail_in(message(), database_url, tmp_path)
    assert stored.returncode == 0, stored.stderr.decode()
    assert b"applied as mail" in stored.stdout
    duplicate = mail_in(message(), database_url, tmp_path)
    assert duplicate.returncode == 0 and b"duplicate" in duplicate.stdout
    too_large = mail_in(message(body="x" * 60_000), database_url, tmp_path)
    assert too_large.returncode == 65
    assert b"limit" in too_large.stderr


def test_mail_in_exits_75_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gateway"
    deferred = mail_in(message(), nowhere, tmp_path)
    assert deferred.returncode == 75, deferred.stderr.decode()
    assert b"cannot store the message now" in deferred.stderr
