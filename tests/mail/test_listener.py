"""How mail reaches the gateway, as an MTA sees it: the SMTP listener of `gateway serve` answers
250 only once the message is stored, 552 for a message over the limit (at SMTP time), 451 while
the database is away (the MTA keeps it and tries again); the mail readers, where the worker runs,
turn what is stored into tickets, each message once, and hold what they cannot read; `gateway
mail-in` (an MTA's pipe) exits 0, 65 or 75 for the same cases."""

from __future__ import annotations

import asyncio
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
from gateway.api.app import create_app, make_mail_reader
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from gateway.errors import Conflict
from gateway.mail.service import _Reader
from gateway.mail.tables import MailMessageRow
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


async def serve(database_url: str, tmp_path: Path, *, worker: bool = True) -> tuple[FastAPI, int]:
    port = free_port()
    config = GatewayConfig.model_validate(config_for(port))
    connections = build_connections(config, AdapterRegistry.from_entry_points(), environ={})
    settings = Settings(database_url=database_url, data_dir=tmp_path, worker_poll_interval=0.2)
    app = create_app(settings, config, connections=connections, run_worker=worker)
    return app, port


async def send(port: int, raw: bytes) -> str:
    errors, answer = await aiosmtplib.send(
        raw, sender="ann@example.org", recipients=[GATEWAY], hostname="127.0.0.1", port=port
    )
    assert errors == {}
    return answer


async def tickets(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count(TicketRow.id))) or 0)


async def outcomes(app: FastAPI) -> dict[str, int]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(MailMessageRow.outcome, func.count(MailMessageRow.id)).group_by(
                MailMessageRow.outcome
            )
        )
        return {str(outcome): int(n) for outcome, n in rows.all()}


async def until_tickets(app: FastAPI, expected: int, seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while (found := await tickets(app)) < expected:
        assert asyncio.get_running_loop().time() < deadline, f"{found} of {expected} tickets"
        await asyncio.sleep(0.05)


def reader_of(app: FastAPI) -> Any:
    """A mail reader like the one `gateway worker` runs, on the app's database."""
    return make_mail_reader(app.state.settings, app.state.engine, app.state.config, app.state.sync)


@pytest.fixture
async def listening(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[FastAPI, int]]:
    app, port = await serve(database_url, tmp_path)
    async with app.router.lifespan_context(app):
        yield app, port


@pytest.fixture
async def listening_alone(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[FastAPI, int]]:
    """`gateway serve --no-worker`: the listener stores, nothing reads."""
    app, port = await serve(database_url, tmp_path, worker=False)
    async with app.router.lifespan_context(app):
        yield app, port


async def test_a_message_is_answered_250_once_stored_and_then_becomes_a_ticket(
    listening: tuple[FastAPI, int],
) -> None:
    app, port = listening
    answer = await send(port, message())
    assert "queued as mail" in answer
    await until_tickets(app, 1)
    assert await outcomes(app) == {"applied": 1}
    again = await send(port, message())  # the MTA's retry after a lost answer
    assert "duplicate" in again
    await asyncio.sleep(0.3)
    assert await tickets(app) == 1
    assert await outcomes(app) == {"applied": 1}


async def test_stored_mail_waits_for_a_reader_and_is_read_once_by_several(
    listening_alone: tuple[FastAPI, int],
) -> None:
    """Nothing reads while no worker runs (or it crashed): the messages stay stored; two readers
    started later (two `gateway worker`s) read each of them once."""
    app, port = listening_alone
    for number in range(12):
        assert "queued" in await send(port, message(number=100 + number))
    await asyncio.sleep(0.3)
    assert await tickets(app) == 0
    assert await outcomes(app) == {"received": 12}
    read = await asyncio.gather(reader_of(app).run_until_idle(), reader_of(app).run_until_idle())
    assert sum(read) == 12
    assert await tickets(app) == 12
    assert await outcomes(app) == {"applied": 12}


async def test_a_message_a_reader_cannot_read_is_held_with_the_reason_not_read_forever(
    listening_alone: tuple[FastAPI, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, port = listening_alone

    async def broken(self: _Reader, release_by: str | None) -> None:
        raise RuntimeError("a bug in reading")

    monkeypatch.setattr(_Reader, "decide", broken)
    await send(port, message(number=200))
    assert await reader_of(app).run_until_idle() == 1
    monkeypatch.undo()
    assert await reader_of(app).run_until_idle() == 0
    async with app.state.sessionmaker() as session:
        held = (await session.scalars(select(MailMessageRow))).one()
    assert held.outcome == "quarantined"
    assert held.reason is not None and "RuntimeError" in held.reason
    assert held.raw == message(number=200).replace(b"\n", b"\r\n")  # as received, for release
    assert await tickets(app) == 0


async def test_one_refused_message_in_a_batch_does_not_hold_the_others(
    listening_alone: tuple[FastAPI, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch is rolled back and its messages read one by one: the refused one is held, the
    others are tickets, each once."""
    app, port = listening_alone
    decide = _Reader.decide

    async def refuses_one(self: _Reader, release_by: str | None) -> None:
        if "poison" in self.mail.text:
            raise Conflict("a rule refuses this one")
        await decide(self, release_by)

    monkeypatch.setattr(_Reader, "decide", refuses_one)
    for number, body in enumerate(["first", "poison pill", "third"]):
        await send(port, message(body=body, number=300 + number))
    assert await reader_of(app).run_until_idle() == 3
    assert await tickets(app) == 2
    assert await outcomes(app) == {"applied": 2, "quarantined": 1}


async def test_a_message_over_the_limit_is_refused_with_552_at_smtp_time(
    listening: tuple[FastAPI, int],
) -> None:
    app, port = listening
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(port, message(body="x" * 60_000))
    assert refused.value.code == 552
    assert await tickets(app) == 0
    assert await outcomes(app) == {}


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
            assert "queued" in await send(port, message(number=7))
            await until_tickets(app, 1)
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
