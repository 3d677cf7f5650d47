"""A real SMTP server for the contract suite (aiosmtpd, in the test's own event loop): it keeps
what it is sent and can be told how to answer the next message(s), the way a mail remote fails.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["RCPT", "DATA", "AUTH", "LOSE"]  # LOSE: keep the message, never answer


@dataclass(frozen=True)
class Received:
    """One message the server took: envelope and content."""

    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def text(self) -> str:
        """Every text part, decoded (what a reader of the message sees)."""
        parts = [p.get_content() for p in self.message.walk() if p.get_content_maintype() == "text"]
        return "\n".join([str(self.message["Subject"]), *parts])


class SmtpSink:
    """The handler (and authenticator) of the fake server; `port` once `serve()` has started."""

    def __init__(self, *, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.received: list[Received] = []
        self.logins: list[tuple[str, str]] = []
        self.port = 0
        self._plan: list[tuple[Stage, str]] = []  # one entry per coming transaction (or AUTH)
        self._current: dict[int, tuple[Stage, str]] = {}  # session -> its planned failure
        self._refused: set[int] = set()  # sessions whose logins are refused (every mechanism)

    def fail_next(self, stage: Stage, reply: str = "", times: int = 1) -> None:
        """Answer the next `times` messages with `reply` at `stage` (AUTH: refuse the login)."""
        self._plan.extend([(stage, reply)] * times)

    def _take(self, session: Session, stage: Stage) -> str | None:
        planned = self._current.get(id(session))
        if planned is not None and planned[0] == stage:
            return planned[1]
        return None

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        if self._plan and self._plan[0][0] == "AUTH":
            self._plan.pop(0)
            self._refused.add(id(session))
        if id(session) in self._refused:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=(login, password) == (self.username, self.password))

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self._current.pop(id(session), None)
        if self._plan and self._plan[0][0] != "AUTH":
            self._current[id(session)] = self._plan.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self._take(session, "RCPT")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._take(session, "DATA")
        if refusal is not None:
            return refusal
        raw = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw))
        if self._take(session, "LOSE") is not None:
            await asyncio.sleep(3600)  # the answer never comes: the client times out
        return "250 2.0.0 kept"


@asynccontextmanager
async def serve(sink: SmtpSink) -> AsyncIterator[SmtpSink]:
    """Serve `sink` on a free port of 127.0.0.1 in the running loop."""

    def protocol() -> SMTP:
        return SMTP(
            sink,
            hostname="sink.test",
            decode_data=False,
            authenticator=sink.authenticate,
            auth_require_tls=False,
        )

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never greets (a hung mail server)."""
    writers: list[asyncio.StreamWriter] = []

    async def hang(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
