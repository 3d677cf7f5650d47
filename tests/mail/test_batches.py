"""Mail read and stored in groups, the way a burst arrives: a reader's batch makes exactly the
rows that reading its messages one by one makes (new problems, the daily cap crossed inside the
batch, twins without a Message-ID, automatic mail, a reply, a file), and the listener stores the
messages that arrive together in one transaction, a duplicate among them once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from gateway.adapter.registry import AdapterRegistry
from gateway.api.app import create_app, make_mail_reader
from gateway.attachment.tables import AttachmentRow
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from gateway.mail import reader as reader_module
from gateway.mail.listener import Intake
from gateway.mail.reader import MailReader
from gateway.mail.service import DUPLICATE, RECEIVED, MessageTooLarge, accept_many
from gateway.mail.tables import MailMessageRow
from gateway.metrics.tables import AssignmentRow
from gateway.settings import Settings
from gateway.sync.tables import InboundEventRow, OutboxRow
from gateway.ticket.tables import JournalEntryRow, LinkRow, TicketChangeRow, TicketRow

GATEWAY = "helpdesk@gateway.example.org"
CAP = 2


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    config = GatewayConfig.model_validate(
        {
            "support_units": [{"name": "TPM", "level": "first"}],
            "routing": {"default_support_unit": "TPM"},
            "connections": [
                {
                    "name": "mail",
                    "adapter": "email",
                    "settings": {
                        "audience": "submitters",
                        "sender": GATEWAY,
                        "daily_cap_per_sender": CAP,
                        "max_message_bytes": 20_000,
                    },
                }
            ],
        }
    )
    connections = build_connections(config, AdapterRegistry.from_entry_points(), environ={})
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    application = create_app(settings, config, connections=connections)
    async with application.router.lifespan_context(application):
        yield application


def mail(
    sender: str,
    subject: str,
    body: str = "All jobs abort with 'proxy expired'.",
    *,
    message_id: str | None,
    cc: str | None = None,
    file: bytes | None = None,
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = GATEWAY
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    if file is not None:
        message.add_attachment(file, maintype="text", subtype="plain", filename="job.log")
    return message.as_bytes()


def burst(phase: str, hub_id: int) -> list[bytes]:
    """One of each kind a batch meets; `phase` keeps the two runs' senders and ids apart."""
    ann, bob = f"{phase}-ann@example.org", f"{phase}-bob@example.org"
    twin = mail(f"{phase}-eve@example.org", "No Message-ID", message_id=None)
    return [
        mail(ann, "Jobs abort at FZK", message_id=f"<{phase}-1@example.org>"),
        mail(bob, "SE full", message_id=f"<{phase}-2@example.org>", cc=f"{phase}-cy@example.org"),
        mail(ann, "Jobs still abort", message_id=f"<{phase}-3@example.org>"),
        mail(ann, "And again", message_id=f"<{phase}-4@example.org>"),  # over the cap of 2
        mail(
            f"{phase}-dan@example.org",
            "Out of office",
            message_id=f"<{phase}-5@example.org>",
            Auto_Submitted="auto-replied",
        ),
        twin,
        twin,  # the same bytes again: read before
        mail(
            f"{phase}-sub@example.org",
            f"Re: [GGUS #{hub_id}] Old problem",
            "It works again, thanks.",
            message_id=f"<{phase}-6@example.org>",
        ),
        mail(
            f"{phase}-fay@example.org",
            "Log attached",
            message_id=f"<{phase}-7@example.org>",
            file=b"ERROR proxy expired\n",
        ),
    ]


async def store(app: FastAPI, raws: list[bytes]) -> list[int]:
    async with app.state.sessionmaker() as session:
        results = await accept_many(session, app.state.sync, raws=raws, wake=False)
    assert all(result.outcome == RECEIVED for result in results)
    return [result.mail_id for result in results]


def reader(app: FastAPI, batch: int) -> MailReader:
    found = make_mail_reader(app.state.settings, app.state.engine, app.state.config, app.state.sync)
    found.batch = batch
    return found


async def prelude(app: FastAPI, phase: str) -> int:
    """A ticket of `phase`'s submitter, opened by mail, for the burst's reply."""
    await store(
        app, [mail(f"{phase}-sub@example.org", "Old problem", message_id=f"<{phase}-0@x.org>")]
    )
    assert await reader(app, 1).run_until_idle() == 1
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(TicketRow.id).order_by(TicketRow.id.desc())) or 0)


async def snapshot(app: FastAPI, phase: str, mail_ids: list[int]) -> list[Any]:
    """What became of each message, and every row of the tickets they opened or wrote to, with
    the phase's name, hub ids and times taken out."""

    def plain(value: Any) -> str:
        return str(value).replace(f"{phase}-", "")

    async with app.state.sessionmaker() as session:
        records = {
            row.id: row
            for row in await session.scalars(
                select(MailMessageRow).where(MailMessageRow.id.in_(mail_ids))
            )
        }
        seen: list[Any] = []
        for mail_id in mail_ids:
            row = records[mail_id]
            facts: list[Any] = [row.outcome, plain(row.reason), plain(row.sender)]
            if row.ticket_id is not None:
                ticket = await session.get(TicketRow, row.ticket_id)
                assert ticket is not None
                facts.append(
                    [ticket.status, plain(ticket.subject), plain(ticket.cc), ticket.version]
                )
                for model, fields in (
                    (AssignmentRow, ("support_unit_id", "ended_at")),
                    (InboundEventRow, ("connection", "outcome", "detail")),
                    (LinkRow, ("connection", "role")),
                    (TicketChangeRow, ("action", "version", "source")),
                    (JournalEntryRow, ("visibility", "body")),
                    (AttachmentRow, ("content_type", "visibility", "size")),
                    (OutboxRow, ("connection", "action", "rule", "state")),
                ):
                    rows = await session.scalars(
                        select(model)
                        .where(model.ticket_id == ticket.id)  # type: ignore[attr-defined]
                        .order_by(*model.__table__.primary_key.columns)  # type: ignore[attr-defined]
                    )
                    facts.append([[plain(getattr(r, name)) for name in fields] for r in rows])
            seen.append(facts)
    return seen


async def test_a_batch_makes_the_rows_that_reading_one_by_one_makes(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    read_batch = reader_module.read_batch

    async def counted(*args: Any, **kwargs: Any) -> Any:
        results = await read_batch(*args, **kwargs)
        batches.append(len(results))  # only once it succeeded (a failure reads one by one)
        return results

    monkeypatch.setattr(reader_module, "read_batch", counted)
    alone_ticket = await prelude(app, "a")
    alone = await store(app, burst("a", alone_ticket))
    assert await reader(app, 1).run_until_idle() == len(alone)
    batched_ticket = await prelude(app, "b")
    batched = await store(app, burst("b", batched_ticket))
    assert await reader(app, 16).run_until_idle() == len(batched)
    assert batches == [len(batched)]  # the batch was read as a batch, not one by one

    one_by_one = await snapshot(app, "a", alone)
    assert await snapshot(app, "b", batched) == one_by_one
    outcomes = [facts[0] for facts in one_by_one]
    assert outcomes == [
        "applied",
        "applied",
        "applied",
        "quarantined",  # the cap, crossed inside the batch
        "ignored",  # automatic
        "applied",
        "ignored",  # the twin
        "applied",  # the reply, on the prelude's ticket
        "applied",
    ]


async def test_the_listener_stores_what_arrives_together_in_one_transaction(
    app: FastAPI,
) -> None:
    intake = Intake(app.state.sessionmaker, app.state.sync)
    commits: list[int] = []
    event.listen(app.state.engine.sync_engine, "commit", lambda _: commits.append(1))
    raws = [mail(f"p{n}@example.org", "CE down", message_id=f"<g{n}@x.org>") for n in range(8)]
    raws.append(raws[3])  # an MTA's second copy, sent at once
    results = await asyncio.gather(
        *(intake.store(raw) for raw in raws),
        intake.store(mail("big@example.org", "x", "x" * 30_000, message_id="<big@x.org>")),
        return_exceptions=True,
    )
    assert isinstance(results[-1], MessageTooLarge)  # refused alone; the others are stored
    stored = [r for r in results[:-1] if not isinstance(r, BaseException)]
    assert [r.outcome for r in stored] == [RECEIVED] * 8 + [DUPLICATE]
    assert stored[-1].mail_id == stored[3].mail_id
    assert len({r.mail_id for r in stored}) == 8
    # one transaction stores them all (PostgreSQL then wakes the readers in one of its own)
    assert len(commits) == (2 if app.state.engine.dialect.name == "postgresql" else 1)
    async with app.state.sessionmaker() as session:
        rows = list(await session.scalars(select(MailMessageRow)))
    assert sorted(row.id for row in rows) == sorted({r.mail_id for r in stored})
