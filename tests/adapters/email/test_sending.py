"""How the email adapter sends: a few pooled SMTP connections shared by concurrent deliveries, a
connection the server dropped replaced without losing the message, and messages that arrive as
composed (encoded headers, long lines). Against examples/mail_sink.py's handler, served here so
the test can count connections and drop them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.email.adapter import POOL_SIZE, EmailAdapter
from adapters.email.config import EmailConfig
from examples.mail_sink import Sink
from gateway.adapter.errors import PermanentError
from gateway.adapter.models import Action
from tests.contract.tickets import make_delivery, make_entry
from tests.support.mail import parsed, plain

SENDER = "helpdesk@gateway.example.org"


class CountingSink(Sink):
    """The sink, also keeping who greeted, and able to refuse a recipient or drop an idle
    connection with a 421 at its next transaction."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.greetings: list[str] = []
        self.refuse: set[str] = set()
        self.close_idle = False
        self.slow = 0.0  # seconds each RCPT and DATA take
        self._sessions: dict[int, int] = {}  # session -> transactions begun on it

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        self.greetings.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.slow)
        return await super().handle_DATA(server, session, envelope)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        begun = self._sessions.get(id(session), 0)
        self._sessions[id(session)] = begun + 1
        if self.close_idle and begun:
            self.close_idle = False
            return "421 4.4.2 idle too long, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(self.slow)
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class Server:
    """The sink served on one port, which can be stopped (dropping its clients) and restarted."""

    def __init__(self, sink: CountingSink) -> None:
        self.sink = sink
        self.port = 0
        self.connections: list[SMTP] = []
        self._server: asyncio.Server | None = None

    def _protocol(self) -> SMTP:
        protocol = SMTP(self.sink, hostname="mail-sink.example", decode_data=False)
        self.connections.append(protocol)
        return protocol

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def drop_clients(self) -> None:
        """Close every client connection (as a server does with idle ones), keep listening."""
        for protocol in self.connections:
            if protocol.transport is not None:
                protocol.transport.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        self.drop_clients()
        await self._server.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    served = Server(CountingSink())
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def mailer(server: Server) -> AsyncIterator[EmailAdapter]:
    values: dict[str, Any] = {"sender": SENDER, "smtp_port": server.port, "audience": "submitters"}
    values["sender_name"] = "Support Zürich — Ünïcode Team"
    built = EmailAdapter(name="mail", config=EmailConfig.model_validate(values))
    yield built
    await built.aclose()


async def test_concurrent_deliveries_share_a_few_connections(
    server: Server, mailer: EmailAdapter
) -> None:
    deliveries = [make_delivery(Action.CREATE, key=f"gw-{n}", id=100 + n) for n in range(20)]
    await asyncio.gather(*(mailer.push(delivery) for delivery in deliveries))
    sink = server.sink
    assert len(sink.messages) == 20
    ids = sorted(str(parsed(raw)["Message-ID"]) for _, raw in sink.messages)
    assert ids == sorted(f"<t{100 + n}.gw-{n}@gateway.example.org>" for n in range(20))
    for _, raw in sink.messages:
        message = parsed(raw)
        assert f"#{message['Message-ID'][2:5]}" in plain(message)  # each body is whole
        assert message.get_body(preferencelist=("html",)) is not None
    assert 1 <= len(server.connections) <= POOL_SIZE
    assert set(sink.greetings) == {"gateway.example.org"}  # our domain, not getfqdn()
    await mailer.push(make_delivery(Action.SOLVE, key="gw-99"))
    assert len(server.connections) <= POOL_SIZE, "the pool's connections are reused"


async def test_a_connection_the_server_dropped_is_replaced(
    server: Server, mailer: EmailAdapter
) -> None:
    await mailer.push(make_delivery(Action.CREATE, key="gw-1"))
    await server.stop()  # the server goes away and comes back, on the same port
    await server.start()
    await asyncio.sleep(0.05)  # the client has seen the connection close
    await mailer.push(make_delivery(Action.ENTRY, key="gw-2"))
    assert len(server.sink.messages) == 2
    assert len(server.connections) == 2


async def test_a_drop_noticed_only_when_sending_is_retried_once_on_a_new_connection(
    server: Server, mailer: EmailAdapter
) -> None:
    await mailer.push(make_delivery(Action.CREATE, key="gw-1"))
    server.drop_clients()
    # no pause: the idle connection still looks open to the client, and fails on MAIL
    await mailer.push(make_delivery(Action.ENTRY, key="gw-2"))
    assert len(server.connections) == 2
    assert [parsed(raw)["Message-ID"] for _, raw in server.sink.messages] == [
        "<t42.gw-1@gateway.example.org>",
        "<t42.gw-2@gateway.example.org>",
    ]


async def test_a_421_on_an_idle_connection_is_retried_once_on_a_new_one(
    server: Server, mailer: EmailAdapter
) -> None:
    await mailer.push(make_delivery(Action.CREATE, key="gw-1"))
    server.sink.close_idle = True
    await mailer.push(make_delivery(Action.ENTRY, key="gw-2"))
    assert len(server.sink.messages) == 2
    assert len(server.connections) == 2


async def test_a_refused_recipient_leaves_the_connection_usable(
    server: Server, mailer: EmailAdapter
) -> None:
    server.sink.refuse.add("ann@example.org")
    with pytest.raises(PermanentError):
        await mailer.push(make_delivery(Action.CREATE, key="gw-1"))
    server.sink.refuse.clear()
    await mailer.push(make_delivery(Action.CREATE, key="gw-1", attempt=2))
    assert len(server.sink.messages) == 1
    assert len(server.connections) == 1, "the transaction was reset, the connection kept"


async def test_a_non_ascii_subject_and_sender_name_arrive_as_written(
    server: Server, mailer: EmailAdapter
) -> None:
    subject = "Störung im Rechenzentrum: Ünïcode — 日本語のテスト, and a long tail " * 3
    delivery = make_delivery(Action.CREATE, subject=subject.strip())
    await mailer.push(delivery)
    raw = server.sink.messages[0][1]
    assert raw.isascii()
    message = parsed(raw)
    assert str(message["Subject"]) == f"[GGUS #42] {subject.strip()}"
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Support Zürich — Ünïcode Team", SENDER)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


async def test_a_long_single_line_body_arrives_intact(server: Server, mailer: EmailAdapter) -> None:
    line = "".join(f"{n % 10}" for n in range(4990)) + " Ünï.=\t"
    assert len(line) > 4990
    delivery = make_delivery(Action.ENTRY, entry=make_entry(line))
    await mailer.push(replace(delivery))
    raw = server.sink.messages[0][1]
    assert max(len(row) for row in raw.split(b"\r\n")) <= 998
    message = parsed(raw)
    assert line in plain(message)
    html = message.get_body(preferencelist=("html",))
    assert html is not None and line.replace(".=\t", "") in html.get_content()


async def test_aclose_closes_the_pool(server: Server, mailer: EmailAdapter) -> None:
    await mailer.push(make_delivery(Action.CREATE, key="gw-1"))
    await mailer.aclose()
    await asyncio.sleep(0.05)
    assert all(p.transport is None or p.transport.is_closing() for p in server.connections)
    await mailer.push(make_delivery(Action.ENTRY, key="gw-2"))  # opens again when used
    assert len(server.sink.messages) == 2


async def test_a_delivery_waits_for_a_busy_pool_no_longer_than_the_timeout(
    server: Server,
) -> None:
    values = {"sender": SENDER, "smtp_port": server.port, "timeout_seconds": 0.5}
    slow = EmailAdapter(
        name="mail", config=EmailConfig.model_validate(values | {"audience": "submitters"})
    )
    slow.pool_size = 1
    server.sink.slow = 0.35  # a transaction takes 0.7 s; each answer comes within the timeout
    try:
        await asyncio.gather(
            *(slow.push(make_delivery(Action.CREATE, key=f"gw-{n}")) for n in (1, 2))
        )
    finally:
        await slow.aclose()
    assert len(server.sink.messages) == 2
    assert len(server.connections) == 2, "the second did not wait for the first"
