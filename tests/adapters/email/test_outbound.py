"""What only the email adapter does when it sends: recipients by audience, threading headers,
loop and auto-reply headers, header safety, operator templates, suppressed addresses. Sent over
real SMTP to examples/mail_sink.py's server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from adapters.email.adapter import EmailAdapter
from adapters.email.config import EmailConfig
from examples.mail_sink import Sink, start
from gateway.adapter.errors import PermanentError
from gateway.adapter.models import Action, RemoteRef
from tests.contract.tickets import make_delivery
from tests.support.mail import parsed, plain

SENDER = "helpdesk@gateway.example.org"
OPENED: list[EmailAdapter] = []  # adapters keep connections open: closed after each test


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, int]]:
    box = Sink(quiet=True)
    server = await start(box)
    yield box, server.sockets[0].getsockname()[1]
    while OPENED:
        await OPENED.pop().aclose()
    server.close()
    await server.wait_closed()


def adapter(port: int, **settings: Any) -> EmailAdapter:
    values: dict[str, Any] = {"sender": SENDER, "smtp_port": port, "audience": "submitters"}
    values.update(settings)
    built = EmailAdapter(name="mail", config=EmailConfig.model_validate(values))
    OPENED.append(built)
    return built


def received(box: Sink, index: int = -1) -> tuple[list[str], EmailMessage]:
    recipients, raw = box.messages[index]
    return recipients, parsed(raw)


async def test_the_acknowledgement_goes_to_submitter_and_cc_with_the_tag(
    sink: tuple[Sink, int],
) -> None:
    box, port = sink
    delivery = make_delivery(Action.CREATE)
    ticket = delivery.ticket.model_copy(update={"cc": ["Bob@Example.org", "not an address"]})
    result = await adapter(port).push(replace(delivery, ticket=ticket))
    recipients, message = received(box)
    assert recipients == [ticket.submitter.email, "Bob@example.org"]
    assert str(message["Subject"]) == f"[GGUS #{ticket.id}] {ticket.subject}"
    assert result.remote == RemoteRef(str(message["Message-ID"]))
    assert str(message["Message-ID"]).endswith("@gateway.example.org>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Gateway-Loop"] == SENDER
    assert f"#{ticket.id}" in plain(message)
    assert message.get_body(preferencelist=("html",)) is not None


async def test_a_retried_send_carries_the_same_message_id(sink: tuple[Sink, int]) -> None:
    box, port = sink
    delivery = make_delivery(Action.CREATE)
    await adapter(port).push(delivery)
    await adapter(port).push(replace(delivery, attempt=2))
    assert received(box, 0)[1]["Message-ID"] == received(box, 1)[1]["Message-ID"]


async def test_later_mail_replies_to_the_first_and_a_unit_gets_its_addresses(
    sink: tuple[Sink, int],
) -> None:
    box, port = sink
    unit = adapter(port, audience="unit", unit_addresses=["support@dcache.example.org"])
    delivery = make_delivery(Action.ENTRY, remote=RemoteRef("<t42.gw-7@gateway.example.org>"))
    result = await unit.push(delivery)
    recipients, message = received(box)
    assert recipients == ["support@dcache.example.org"]
    assert message["In-Reply-To"] == "<t42.gw-7@gateway.example.org>"
    assert message["References"] == "<t42.gw-7@gateway.example.org>"
    assert result.remote is None  # the thread's first message stays the remote id
    assert delivery.entry is not None and delivery.entry.body in plain(message)


async def test_no_cr_or_lf_from_a_subject_reaches_a_header(sink: tuple[Sink, int]) -> None:
    box, port = sink
    delivery = make_delivery(Action.CREATE)
    evil = delivery.ticket.model_copy(update={"subject": "Hello\r\nBcc: victim@example.org"})
    await adapter(port).push(replace(delivery, ticket=evil))
    recipients, message = received(box)
    assert "victim@example.org" not in recipients
    assert message["Bcc"] is None
    assert "\n" not in str(message["Subject"]) and "Bcc: victim" in str(message["Subject"])


async def test_a_suppressed_address_is_not_mailed_whatever_its_case(
    sink: tuple[Sink, int],
) -> None:
    box, port = sink
    delivery = make_delivery(Action.SOLVE)
    ticket = delivery.ticket.model_copy(
        update={
            "submitter": delivery.ticket.submitter.model_copy(
                update={"email": "Ann.Smith@example.org"}
            ),
            "cc": ["bob@example.org"],
        }
    )
    suppressed = frozenset({"ann.smith@example.org"})  # as the hub stores them: lower case
    await adapter(port).push(replace(delivery, ticket=ticket, suppressed=suppressed))
    assert received(box)[0] == ["bob@example.org"]


async def test_suppressed_addresses_are_not_mailed(sink: tuple[Sink, int]) -> None:
    box, port = sink
    delivery = make_delivery(Action.SOLVE)
    ticket = delivery.ticket.model_copy(update={"cc": ["bob@example.org"]})
    suppressed = frozenset({ticket.submitter.email.lower()})
    await adapter(port).push(replace(delivery, ticket=ticket, suppressed=suppressed))
    assert received(box)[0] == ["bob@example.org"]
    everyone = suppressed | {"bob@example.org"}
    result = await adapter(port).push(replace(delivery, ticket=ticket, suppressed=everyone))
    assert len(box.messages) == 1  # nobody left: nothing sent, and said so
    assert result.exchange is not None and "suppressed" in str(result.exchange.request_body)


async def test_an_operators_template_replaces_the_shipped_one(
    sink: tuple[Sink, int], tmp_path: Path
) -> None:
    box, port = sink
    (tmp_path / "create.txt").write_text("OPERATOR TEMPLATE for {{ tag }}.")
    await adapter(port, templates=str(tmp_path)).push(make_delivery(Action.CREATE))
    message = received(box)[1]
    assert plain(message).strip().startswith("OPERATOR TEMPLATE for [GGUS #")
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "OPERATOR" not in html.get_content()  # the shipped HTML stays


async def test_a_broken_operator_template_is_a_dead_letter_naming_it(
    sink: tuple[Sink, int], tmp_path: Path
) -> None:
    _, port = sink
    (tmp_path / "solve.txt").write_text("{{ ticket.no_such_field }}")
    with pytest.raises(PermanentError, match="mail template solve"):
        await adapter(port, templates=str(tmp_path)).push(make_delivery(Action.SOLVE))


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"sender": "not an address"}, "sender"),
        ({"audience": "unit"}, "unit_addresses"),
        ({"tag": "[no id]"}, "tag"),
        ({"audience": "unit", "unit_addresses": ["a@b.example"], "listen_port": 2525}, "listen"),
    ],
)
def test_bad_settings_are_refused_naming_the_problem(settings: dict[str, Any], key: str) -> None:
    values: dict[str, Any] = {"sender": SENDER, **settings}
    with pytest.raises(ValueError, match=key):
        EmailConfig.model_validate(values)


async def test_a_unit_by_mail_gets_a_public_file_attached(sink: tuple[Sink, int]) -> None:
    box, port = sink
    unit = adapter(port, audience="unit", unit_addresses=["support@dcache.example.org"])
    assert unit.carries_attachments
    delivery = make_delivery(Action.ATTACH, remote=RemoteRef("<t42.gw-7@gateway.example.org>"))
    assert delivery.attachment is not None
    data = bytes(range(256)) * 40
    file = replace(delivery.attachment, filename='Prüfbericht "v2".bin', data=data, size=len(data))
    await unit.push(replace(delivery, attachment=file))
    recipients, message = received(box)
    assert recipients == ["support@dcache.example.org"]
    [part] = list(message.iter_attachments())
    assert part.get_filename() == 'Prüfbericht "v2".bin'
    assert part.get_payload(decode=True) == data
    assert "Prüfbericht" in plain(message) and message["In-Reply-To"] is not None
    await unit.aclose()


async def test_the_submitters_channel_does_not_carry_files(sink: tuple[Sink, int]) -> None:
    _, port = sink
    channel = adapter(port)
    assert not channel.carries_attachments
    with pytest.raises(PermanentError, match="does not carry attachments"):
        await channel.push(make_delivery(Action.ATTACH))
    await channel.aclose()
