"""The mail loop end to end, configured by examples/gateway.yaml, over real SMTP both ways.

A person mails a problem to the gateway's listener and gets the acknowledgement with the hub id;
replies to it from a Gmail-shaped client (quoted history below) and the reply lands on the ticket
without the quote; the ticket goes to dCache, a unit that works by mail, which is mailed the
ticket and then a file uploaded to it; dCache answers `Status: solved`; the submitter is mailed
the solution. An internal entry is never mailed to anyone. The gateway (API, worker, SMTP
listener) runs as `gateway serve` does, on SQLite and PostgreSQL; the outside world's MTA is
examples/mail_sink.py's server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

from examples.helpdesk import serving
from examples.mail_sink import Sink, start
from gateway.api.app import create_app
from gateway.config.loader import load_config
from gateway.settings import Settings
from tests.adapters.email import corpus
from tests.conftest import EXAMPLE_CONFIG
from tests.e2e.test_two_helpdesks import admin_headers
from tests.support.cluster import free_port
from tests.support.mail import parsed, plain

GATEWAY = "helpdesk@gateway.example.org"
DCACHE = "support@dcache.example.org"


class Outside:
    """The outside world: people who mail the gateway, and the MTA that receives its mail."""

    def __init__(self, sink: Sink, mail_port: int) -> None:
        self.sink = sink
        self.mail_port = mail_port

    async def send(self, raw: bytes, sender: str) -> None:
        await aiosmtplib.send(
            raw, sender=sender, recipients=[GATEWAY], hostname="127.0.0.1", port=self.mail_port
        )

    async def next_to(self, address: str, seen: set[int], wait: float = 10) -> EmailMessage:
        """The first message to `address` not yet in `seen` (indexes into the sink)."""
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            for index, (recipients, raw) in enumerate(self.sink.messages):
                if index not in seen and address in recipients:
                    seen.add(index)
                    return parsed(raw)
            if asyncio.get_running_loop().time() > deadline:
                subjects = [r for r, _ in self.sink.messages]
                raise AssertionError(f"no new mail to {address}; the sink has {subjects}")
            self.sink.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sink.arrived.wait(), 0.5)


@pytest.fixture
async def outside(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Outside, str, dict[str, str]]]:
    sink = Sink(quiet=True)
    server = await start(sink)
    sink_port = server.sockets[0].getsockname()[1]
    mail_port = free_port()
    monkeypatch.setenv("GATEWAY_MAIL_PORT", str(mail_port))
    monkeypatch.setenv("GATEWAY_MAIL_SINK_PORT", str(sink_port))
    monkeypatch.setenv("NGI_DE_HELPDESK_TOKEN", "demo-token")
    monkeypatch.setenv("NGI_DE_WEBHOOK_SECRET", "whsec_ZGVtby13ZWJob29rLXNlY3JldA==")
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        worker_poll_interval=0.2,
        config_file=EXAMPLE_CONFIG,
    )
    app = create_app(settings, load_config(EXAMPLE_CONFIG), run_worker=True)
    with serving(app, ready_path="/healthz") as url:
        headers = await admin_headers(database_url)
        yield Outside(sink, mail_port), url, headers
    server.close()
    await server.wait_closed()


async def test_mail_in_to_a_unit_by_mail_and_the_solution_out(
    outside: tuple[Outside, str, dict[str, str]],
) -> None:
    world, url, headers = outside
    seen: set[int] = set()
    problem = EmailMessage()
    problem["From"] = "Ann Example <ann@example.org>"
    problem["To"] = GATEWAY
    problem["Subject"] = "dCache pool refuses writes"
    problem["Message-ID"] = "<problem-1@mail.example.org>"
    problem.set_content("Since 08:00 every write to the pool fails with 'No space left'.\n")
    await world.send(problem.as_bytes(), "ann@example.org")

    ack = await world.next_to("ann@example.org", seen)
    subject = str(ack["Subject"])
    assert subject.startswith("[GGUS #") and "dCache pool refuses writes" in subject
    hub_id = int(subject.split("#", 1)[1].split("]", 1)[0])
    assert ack["In-Reply-To"] == "<problem-1@mail.example.org>"  # threads under her message
    assert ack["Auto-Submitted"] == "auto-generated"
    assert f"#{hub_id}" in plain(ack)
    assert ack.get_body(preferencelist=("html",)) is not None

    async with httpx.AsyncClient(base_url=f"{url}/api/v1", headers=headers, timeout=10) as api:
        ticket: dict[str, Any] = (await api.get(f"/tickets/{hub_id}")).json()
        assert ticket["submitter"]["email"] == "ann@example.org"
        assert "No space left" in ticket["description"]

        reply = corpus.gmail_reply(
            sender="ann@example.org",
            sender_name="Ann Example",
            to=GATEWAY,
            message_id="<reply-1@mail.example.org>",
            subject=f"Re: {subject}",
            in_reply_to=str(ack["Message-ID"]),
            body="It also happens on pool p13.",
            quoted="your ticket has been received",
        )
        await world.send(reply, "ann@example.org")
        journal = await _journal_when(api, hub_id, lambda j: len(j) >= 1)
        assert journal[-1]["body"] == "It also happens on pool p13."
        assert journal[-1]["visibility"] == "public"

        internal = await api.post(
            f"/tickets/{hub_id}/entries",
            json={"body": "Pool p13 is on the broken RAID.", "visibility": "internal"},
        )
        assert internal.status_code == 201, internal.text
        version = (await api.get(f"/tickets/{hub_id}")).json()["version"]
        routed = await api.patch(
            f"/tickets/{hub_id}",
            json={"support_unit": "dCache"},
            headers={"If-Match": f'"{version}"'},
        )
        assert routed.status_code == 200, routed.text

        assigned = await world.next_to(DCACHE, seen)
        assert f"[GGUS #{hub_id}]" in str(assigned["Subject"])
        assert "No space left" in plain(assigned)
        assert "Status: solved" in plain(assigned)  # it says how to act by mail

        log = b"pool p12: write failed: No space left on device\n" * 50
        uploaded = await api.post(
            f"/tickets/{hub_id}/attachments", files={"file": ("pool.log", log, "text/plain")}
        )
        assert uploaded.status_code == 201, uploaded.text
        with_file = await world.next_to(DCACHE, seen)  # the unit gets the file by mail
        [part] = list(with_file.iter_attachments())
        assert part.get_filename() == "pool.log" and part.get_payload(decode=True) == log

        solved = EmailMessage()
        solved["From"] = f"dCache support <{DCACHE}>"
        solved["To"] = GATEWAY
        solved["Subject"] = f"Re: {assigned['Subject']}"
        solved["In-Reply-To"] = str(assigned["Message-ID"])
        solved["Message-ID"] = "<solution-1@dcache.example.org>"
        solved.set_content("Status: solved\n\nThe pool was full; we added 20 TB.\n")
        await world.send(solved.as_bytes(), DCACHE)

        solution = await _mail_about(world, seen, "ann@example.org", "solved")
        assert "we added 20 TB" in plain(solution)
        ticket = (await api.get(f"/tickets/{hub_id}")).json()
        assert ticket["status"] == "solved"
        assert ticket["solution"] == "The pool was full; we added 20 TB."

    for _, raw in world.sink.messages:  # nobody was ever mailed the internal entry
        assert b"broken RAID" not in raw


async def _journal_when(api: httpx.AsyncClient, hub_id: int, done: Any) -> list[dict[str, Any]]:
    for _ in range(100):
        journal = [
            e
            for e in (await api.get(f"/tickets/{hub_id}")).json()["journal"]
            if e["visibility"] == "public"
        ]
        if done(journal):
            return journal
        await asyncio.sleep(0.1)
    raise AssertionError(f"the journal of #{hub_id} never changed: {journal}")


async def _mail_about(world: Outside, seen: set[int], to: str, word: str) -> EmailMessage:
    """The next mail to `to` whose subject has `word` (status mails may come first)."""
    for _ in range(10):
        message = await world.next_to(to, seen)
        if word in str(message["Subject"]).lower():
            return message
    raise AssertionError(f"no mail to {to} about {word!r}")
