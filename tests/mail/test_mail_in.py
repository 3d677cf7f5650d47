"""Mail in, as an admin hands in raw messages (the listener and `gateway mail-in` call the same
service): new tickets, replies, who may write, quarantine, loops, bounces, caps, hostile mail.
On SQLite and PostgreSQL; each refusal leaves the store as it was, apart from the message's own
record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from gateway.adapter.registry import AdapterRegistry
from gateway.api.app import create_app
from gateway.auth.models import Role
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from gateway.mail.tables import MailSuppressionRow
from gateway.settings import Settings
from gateway.sync.tables import OutboxRow
from tests.adapters.email import corpus
from tests.conftest import Keys, asgi_client

GATEWAY = "helpdesk@gateway.example.org"
DCACHE = "support@dcache.example.org"
DOMAIN = "gateway.example.org"


def mail_config(**channel: Any) -> GatewayConfig:
    settings = {"audience": "submitters", "sender": GATEWAY, "daily_cap_per_sender": 5}
    settings.update(channel)
    return GatewayConfig.model_validate(
        {
            "support_units": [
                {"name": "TPM", "level": "first"},
                {"name": "DMSU", "level": "second"},
                {"name": "dCache", "level": "third"},
            ],
            "routing": {"default_support_unit": "TPM"},
            "connections": [
                {"name": "mail", "adapter": "email", "settings": settings},
                {
                    "name": "dcache-mail",
                    "adapter": "email",
                    "support_unit": "dCache",
                    "policy": "mirror",
                    "settings": {"sender": GATEWAY, "unit_addresses": [DCACHE]},
                },
            ],
        }
    )


@pytest.fixture
def config() -> GatewayConfig:
    return mail_config()


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


async def hand_in(api: httpx.AsyncClient, raw: bytes) -> dict[str, Any]:
    answer = await api.post("/api/v1/mail", content=raw, headers={"Content-Type": "message/rfc822"})
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result


def problem(
    sender: str = "Ann Example <ann@example.org>",
    subject: str = "Jobs abort at FZK",
    body: str = "All jobs abort with 'proxy expired'.",
    message_id: str = "<p1@mail.example.org>",
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = GATEWAY
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


async def ticket(api: httpx.AsyncClient, hub_id: int) -> dict[str, Any]:
    found: dict[str, Any] = (await api.get(f"/api/v1/tickets/{hub_id}")).json()
    return found


async def route(api: httpx.AsyncClient, hub_id: int, unit: str) -> None:
    version = (await ticket(api, hub_id))["version"]
    routed = await api.patch(
        f"/api/v1/tickets/{hub_id}",
        json={"support_unit": unit},
        headers={"If-Match": f'"{version}"'},
    )
    assert routed.status_code == 200, routed.text


async def count(app: FastAPI, model: Any, *where: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_new_message_opens_a_ticket_with_its_attachments_and_the_original(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    raw = corpus.attachments_message(subject="Logs of the failing jobs", in_reply_to=None)
    result = await hand_in(api, raw)
    assert result["outcome"] == "applied" and result["ticket_id"] is not None
    found = await ticket(api, result["ticket_id"])
    assert found["submitter"]["email"] == "ann@example.org"
    assert found["support_unit"] == "TPM" and found["status"] == "new"
    files = (await api.get(f"/api/v1/tickets/{found['id']}/attachments")).json()
    kinds = {(f["content_type"], f["visibility"]) for f in files}
    assert ("application/pdf", "public") in kinds
    assert ("message/rfc822", "internal") in kinds  # the message as received
    # the acknowledgement waits in the outbox for the mail channel (echo rule aside)
    assert await count(app, OutboxRow, OutboxRow.connection == "mail") == 1


async def test_the_same_message_twice_is_one_ticket(api: httpx.AsyncClient, app: FastAPI) -> None:
    first = await hand_in(api, problem())
    again = await hand_in(api, problem())
    assert again["outcome"] == "duplicate" and again["ticket_id"] == first["ticket_id"]
    assert len((await api.get("/api/v1/tickets")).json()["items"]) == 1


async def test_a_tagged_reply_of_the_submitter_is_a_public_entry_and_resumes_work(
    api: httpx.AsyncClient,
) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    version = (await ticket(api, hub_id))["version"]
    asked = await api.patch(
        f"/api/v1/tickets/{hub_id}",
        json={"status": "waiting for reply"},
        headers={"If-Match": f'"{version}"'},
    )
    assert asked.status_code == 200, asked.text
    reply = corpus.thunderbird_reply(
        sender="ann@example.org",
        to=GATEWAY,
        message_id="<tb-1@example.org>",
        subject=f"Re: [GGUS #{hub_id}] Jobs abort at FZK",
        in_reply_to="<someone-else@example.org>",
        body="The proxy was renewed at 09:12.",
        quoted="All jobs abort.",
    )
    result = await hand_in(api, reply)
    assert result == {**result, "outcome": "applied", "ticket_id": hub_id}
    found = await ticket(api, hub_id)
    assert found["journal"][-1]["body"] == "The proxy was renewed at 09:12."
    assert found["status"] == "in progress"


async def test_a_reply_naming_our_message_id_finds_the_ticket_without_a_tag(
    api: httpx.AsyncClient,
) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    reply = problem(
        subject="Re: your mail",
        body="More detail.",
        message_id="<p2@mail.example.org>",
        In_Reply_To=f"<t{hub_id}.gw-1@{DOMAIN}>",
    )
    result = await hand_in(api, reply)
    assert result["ticket_id"] == hub_id and result["outcome"] == "applied"


async def test_a_stranger_is_quarantined_then_released_or_dropped(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    before = await ticket(api, hub_id)
    stranger = problem(
        sender="mallory@evil.example",
        subject=f"Re: [GGUS #{hub_id}] Jobs abort",
        body="Status: solved\n\nnothing to see",
        message_id="<m1@evil.example>",
    )
    held = await hand_in(api, stranger)
    assert held["outcome"] == "quarantined"
    assert "mallory@evil.example is not the submitter, a cc or the unit" in held["reason"]
    assert await ticket(api, hub_id) == before
    listed = (await api.get("/api/v1/mail/quarantine")).json()
    assert [m["id"] for m in listed] == [held["mail_id"]]
    assert listed[0]["sender"] == "mallory@evil.example"

    released = await api.post(f"/api/v1/mail/quarantine/{held['mail_id']}/release")
    assert released.status_code == 200, released.text
    assert released.json()["outcome"] == "applied"
    entry = (await ticket(api, hub_id))["journal"][-1]
    assert "nothing to see" in entry["body"] and "released by" in entry["author"]
    assert (await api.get("/api/v1/mail/quarantine")).json() == []

    other = await hand_in(
        api,
        problem(
            sender="eve@evil.example", subject=f"[GGUS #{hub_id}] x", message_id="<e1@evil.example>"
        ),
    )
    dropped = await api.post(
        f"/api/v1/mail/quarantine/{other['mail_id']}/drop", json={"reason": "spam"}
    )
    assert dropped.status_code == 204
    assert (await api.get("/api/v1/mail/quarantine")).json() == []
    again = await api.post(f"/api/v1/mail/quarantine/{other['mail_id']}/release")
    assert again.status_code == 404


async def test_the_unit_acts_by_commands_and_only_on_its_own_tickets(
    api: httpx.AsyncClient,
) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    premature = problem(
        sender=DCACHE,
        subject=f"Re: [GGUS #{hub_id}] Jobs abort",
        body="Status: solved\n\nfixed",
        message_id="<d0@dcache.example.org>",
    )
    held = await hand_in(api, premature)
    assert held["outcome"] == "quarantined"
    assert "not responsible" in held["reason"]

    await route(api, hub_id, "dCache")
    answer = problem(
        sender=DCACHE,
        subject=f"Re: [GGUS #{hub_id}] Jobs abort",
        body="We are looking at it.",
        message_id="<d1@dcache.example.org>",
    )
    assert (await hand_in(api, answer))["outcome"] == "applied"
    assert (await ticket(api, hub_id))["journal"][-1]["body"] == "We are looking at it."

    handed = problem(
        sender=DCACHE,
        subject=f"Re: [GGUS #{hub_id}] Jobs abort",
        body="Assign: DMSU\n\nThis is a middleware problem.",
        message_id="<d2@dcache.example.org>",
    )
    assert (await hand_in(api, handed))["outcome"] == "applied"
    assert (await ticket(api, hub_id))["support_unit"] == "DMSU"


async def test_an_unknown_unit_in_a_command_is_held_with_the_reason(
    api: httpx.AsyncClient,
) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    await route(api, hub_id, "dCache")
    before = await ticket(api, hub_id)
    wrong = problem(
        sender=DCACHE,
        subject=f"[GGUS #{hub_id}] x",
        body="Assign: NOBODY\n\nplease take it",
        message_id="<d3@dcache.example.org>",
    )
    held = await hand_in(api, wrong)
    assert held["outcome"] == "quarantined" and "NOBODY" in held["reason"]
    assert await ticket(api, hub_id) == before
    [listed] = (await api.get("/api/v1/mail/quarantine")).json()
    assert (listed["sender"], listed["subject"]) == (DCACHE, f"[GGUS #{hub_id}] x")


async def test_refused_messages_count_towards_the_daily_cap(api: httpx.AsyncClient) -> None:
    """A sender whose every message a rule refuses is held by the cap like any other."""
    hub_id = (await hand_in(api, problem(message_id="<first@mail.example.org>")))["ticket_id"]
    await route(api, hub_id, "dCache")
    outcomes = []
    for n in range(6):
        refused = problem(
            sender=DCACHE,
            subject=f"[GGUS #{hub_id}] x",
            body="Assign: NOBODY\n\nplease take it",
            message_id=f"<refused{n}@dcache.example.org>",
        )
        held = await hand_in(api, refused)
        outcomes.append(held["reason"].split(" ", 1)[0])
    assert outcomes == ["refused:"] * 5 + [DCACHE]  # the sixth is over the cap of 5


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X_Auto_Response_Suppress": "All"},
        {"X_Gateway_Loop": GATEWAY},
    ],
    ids=["auto-submitted", "precedence", "x-auto-response-suppress", "our-loop-header"],
)
async def test_automatic_mail_never_opens_a_ticket(
    api: httpx.AsyncClient, app: FastAPI, headers: dict[str, str]
) -> None:
    result = await hand_in(api, problem(message_id="<auto@x.example>", **headers))
    assert result["outcome"] == "ignored" and "automatic" in result["reason"]
    assert result["ticket_id"] is None
    assert (await api.get("/api/v1/tickets")).json()["items"] == []
    assert await count(app, OutboxRow) == 0  # and nothing is sent in answer


async def test_an_out_of_office_on_a_ticket_is_filed_internally(api: httpx.AsyncClient) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    reply = corpus.vacation_reply(subject=f"Out of office: [GGUS #{hub_id}] x")
    result = await hand_in(api, reply)
    assert result["outcome"] == "ignored" and result["ticket_id"] == hub_id
    last = (await ticket(api, hub_id))["journal"][-1]
    assert last["visibility"] == "internal" and "Automatic reply" in last["body"]


async def test_a_permanent_bounce_is_filed_and_stops_mail_to_the_address(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    hub_id = (await hand_in(api, problem(sender="ghost@example.org")))["ticket_id"]
    bounce = corpus.dsn_bounce(
        recipient="ghost@example.org", original_message_id=f"<t{hub_id}.gw-1@{DOMAIN}>"
    )
    result = await hand_in(api, bounce)
    assert result["outcome"] == "bounce" and result["ticket_id"] == hub_id
    assert "ghost@example.org" in result["reason"] and "permanently" in result["reason"]
    found = await ticket(api, hub_id)
    assert found["journal"][-1]["visibility"] == "internal"
    assert len((await api.get("/api/v1/tickets")).json()["items"]) == 1  # never a new ticket
    assert await count(app, MailSuppressionRow, MailSuppressionRow.address == "ghost@example.org")


async def test_a_sender_over_the_daily_cap_is_quarantined(api: httpx.AsyncClient) -> None:
    outcomes = [
        (await hand_in(api, problem(message_id=f"<flood{n}@mail.example.org>")))["outcome"]
        for n in range(7)
    ]
    assert outcomes == ["applied"] * 5 + ["quarantined"] * 2


@pytest.mark.parametrize("config", [mail_config(trusted_authserv_id="mx.gateway.example.org")])
async def test_a_dkim_failure_reported_by_the_trusted_server_is_quarantined(
    api: httpx.AsyncClient,
) -> None:
    forged = problem(
        Authentication_Results="mx.gateway.example.org; dkim=fail header.d=example.org"
    )
    held = await hand_in(api, forged)
    assert held["outcome"] == "quarantined" and "dkim=fail" in held["reason"]
    trusted_elsewhere = problem(
        message_id="<p9@mail.example.org>",
        Authentication_Results="mx.attacker.example; dkim=fail",
    )
    assert (await hand_in(api, trusted_elsewhere))["outcome"] == "applied"


@pytest.mark.parametrize(
    "raw",
    [
        corpus.nul_message(),
        corpus.deep_nesting(),
        corpus.lying_charset_message(),
        corpus.header_injection(),
        b"\x00\xff garbage that is no mail at all \r\n\r\n",
        b"From: not an address\r\nSubject: hi\r\n\r\nbody\r\n",
    ],
    ids=["nul", "nesting", "charset", "injection", "garbage", "bad-from"],
)
async def test_hostile_mail_is_ticketed_safely_or_quarantined(
    api: httpx.AsyncClient, raw: bytes
) -> None:
    result = await hand_in(api, raw)
    assert result["outcome"] in ("applied", "quarantined"), result
    if result["outcome"] == "applied":
        found = await ticket(api, result["ticket_id"])
        assert "\x00" not in found["subject"] + found["description"]
        assert "\r" not in found["subject"] and "\n" not in found["subject"]
    else:
        assert result["reason"]


async def test_a_raw_message_may_be_as_large_as_the_mail_channel_takes(
    api: httpx.AsyncClient,
) -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 16_000  # ~4 MB of file, ~5.5 MB as base64
    message = EmailMessage()
    message["From"] = "ann@example.org"
    message["Subject"] = "The full log"
    message["Message-ID"] = "<big@example.org>"
    message.set_content("Attached.")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="log.pdf")
    raw = message.as_bytes()
    assert 5_000_000 < len(raw) < 10_000_000  # over the API's 1 MiB, under the channel's 10 MB
    result = await hand_in(api, raw)
    assert result["outcome"] == "applied"
    files = (await api.get(f"/api/v1/tickets/{result['ticket_id']}/attachments")).json()
    pdf_entry = next(f for f in files if f["filename"] == "log.pdf")
    download = await api.get(pdf_entry["download_url"])
    assert download.content == pdf


async def test_too_large_and_empty_messages_are_refused(api: httpx.AsyncClient) -> None:
    huge = problem(body="x" * 10_100_000)
    answer = await api.post("/api/v1/mail", content=huge)
    assert answer.status_code == 413, answer.text
    assert "limit" in answer.json()["error"]["message"]
    empty = await api.post("/api/v1/mail", content=b"  ")
    assert empty.status_code == 400


@pytest.mark.parametrize("config", [GatewayConfig()])
async def test_mail_without_a_mail_channel_is_a_conflict(api: httpx.AsyncClient) -> None:
    answer = await api.post("/api/v1/mail", content=problem())
    assert answer.status_code == 409
    assert "no connection reads mail" in answer.json()["error"]["message"]


async def test_only_admins_hand_in_mail(app: FastAPI) -> None:
    async with asgi_client(app) as client:
        unit = await Keys(app).headers(role=Role.UNIT, unit="TPM")
        answer = await client.post("/api/v1/mail", content=problem(), headers=unit)
    assert answer.status_code == 403


async def test_addresses_match_whatever_their_case(api: httpx.AsyncClient) -> None:
    hub_id = (await hand_in(api, problem(sender="Ann Example <Ann.Example@Example.org>")))[
        "ticket_id"
    ]
    reply = problem(
        sender="ANN.EXAMPLE@example.org",
        subject=f"Re: [GGUS #{hub_id}] Jobs abort",
        body="Same here.",
        message_id="<case-1@example.org>",
    )
    assert (await hand_in(api, reply))["outcome"] == "applied"


async def test_a_bounce_of_no_mail_of_ours_changes_nothing(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    before = await ticket(api, hub_id)
    forged = corpus.dsn_bounce(
        recipient="ann@example.org", original_message_id="<not-ours@evil.example>"
    )
    result = await hand_in(api, forged)
    assert result["outcome"] == "ignored" and "no message of ours" in result["reason"]
    assert await ticket(api, hub_id) == before
    assert await count(app, MailSuppressionRow) == 0


async def test_a_bounce_suppresses_only_addresses_of_that_ticket(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    other = corpus.dsn_bounce(
        recipient="someone.else@example.org", original_message_id=f"<t{hub_id}.gw-1@{DOMAIN}>"
    )
    assert (await hand_in(api, other))["outcome"] == "bounce"
    assert await count(app, MailSuppressionRow) == 0


async def test_suppressions_are_listed_and_can_be_lifted(api: httpx.AsyncClient) -> None:
    hub_id = (await hand_in(api, problem(sender="ghost@example.org")))["ticket_id"]
    bounce = corpus.dsn_bounce(
        recipient="ghost@example.org", original_message_id=f"<t{hub_id}.gw-1@{DOMAIN}>"
    )
    await hand_in(api, bounce)
    listed = (await api.get("/api/v1/mail/suppressions")).json()
    assert [s["address"] for s in listed] == ["ghost@example.org"]
    assert listed[0]["ticket_id"] == hub_id
    assert (await api.delete("/api/v1/mail/suppressions/Ghost@example.org")).status_code == 204
    assert (await api.get("/api/v1/mail/suppressions")).json() == []
    assert (await api.delete("/api/v1/mail/suppressions/ghost@example.org")).status_code == 404


async def test_an_auto_reply_from_a_stranger_writes_nothing_on_the_ticket(
    api: httpx.AsyncClient,
) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    before = await ticket(api, hub_id)
    fake = problem(
        sender="mallory@evil.example",
        subject=f"Out of office: [GGUS #{hub_id}]",
        body="INTERNAL: reset the password of ann",
        message_id="<oof@evil.example>",
        Auto_Submitted="auto-replied",
    )
    assert (await hand_in(api, fake))["outcome"] == "ignored"
    assert await ticket(api, hub_id) == before


async def test_a_release_refused_again_leaves_one_held_message(api: httpx.AsyncClient) -> None:
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    await route(api, hub_id, "dCache")
    wrong = problem(
        sender=DCACHE,
        subject=f"[GGUS #{hub_id}] x",
        body="Assign: NOBODY\n\nplease take it",
        message_id="<again@dcache.example.org>",
    )
    held = await hand_in(api, wrong)
    assert held["outcome"] == "quarantined"
    again = await api.post(f"/api/v1/mail/quarantine/{held['mail_id']}/release")
    assert again.status_code == 200
    assert again.json()["outcome"] == "quarantined" and "release by" in again.json()["reason"]
    listed = (await api.get("/api/v1/mail/quarantine")).json()
    assert [m["id"] for m in listed] == [held["mail_id"]]


async def test_files_over_the_tickets_limit_are_not_kept_but_the_reply_is(
    database_url: str, tmp_path: Path, config: GatewayConfig
) -> None:
    connections = build_connections(config, AdapterRegistry.from_entry_points(), environ={})
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, attachment_ticket_max_bytes=1500
    )
    small = create_app(settings, config, connections=connections)
    async with small.router.lifespan_context(small), asgi_client(small) as api:
        api.headers.update(await Keys(small).headers())
        hub_id = (await hand_in(api, problem()))["ticket_id"]  # its .eml fits
        reply = problem(
            subject=f"Re: [GGUS #{hub_id}] Jobs abort",
            body="One more detail. " * 100,
            message_id="<limit-1@example.org>",
        )
        result = await hand_in(api, reply)
        assert result["outcome"] == "applied"
        assert "files not kept: mail-" in result["reason"]
        assert "One more detail." in (await ticket(api, hub_id))["journal"][-1]["body"]


async def test_a_unit_assigning_by_mail_against_the_levels_is_held_naming_the_rule(
    api: httpx.AsyncClient,
) -> None:
    """dCache (third line) may not hand a ticket to the first line: the same rule, in the same
    words, as the API's 403 and a webhook's."""
    hub_id = (await hand_in(api, problem()))["ticket_id"]
    await route(api, hub_id, "dCache")
    wrong = problem(
        sender=DCACHE,
        subject=f"[GGUS #{hub_id}] x",
        body="Assign: TPM\n\nnot ours",
        message_id="<levels@dcache.example.org>",
    )
    held = await hand_in(api, wrong)
    assert held["outcome"] == "quarantined"
    assert (
        "dcache-mail: a third-line unit may not assign tickets to a first-line unit (TPM); "
        "see routing.assignment_rules"
    ) in held["reason"]
    assert (await ticket(api, hub_id))["support_unit"] == "dCache"
