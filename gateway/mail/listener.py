"""The SMTP listener `gateway serve` runs for the mail channel (aiosmtpd, in the server's loop).

A message is answered 250 once it is stored, and only then, so a crash before that leaves it
with the sending MTA, which tries again; a Message-ID stored before is answered as a duplicate
and stored once. Messages that arrive while a store is under way are stored together, in the
next transaction (group commit): under a burst, one commit serves many connections. The mail
readers (gateway.mail.reader, where the worker runs) turn what is stored into tickets. Too
large is refused at SMTP time (552), a database that is away is 451 (the MTA keeps the message
and retries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import GatewayError
from gateway.mail.service import RECEIVED, Mailbox, MailResult, accept_many, check_size
from gateway.sync.outbox import SyncContext

log = logging.getLogger(__name__)
MAX_RECIPIENTS = 100
GROUP_MAX = 64  # messages stored in one transaction at most
SessionFactory = Callable[[], AsyncSession]


class Intake:
    """Stores what the listener's connections receive, all that is waiting in one transaction:
    a message arriving while a store runs goes into the next one, so nothing waits for a
    timer, and a store that fails fails each of its messages (their MTAs try again)."""

    def __init__(self, sessionmaker: SessionFactory, sync: SyncContext) -> None:
        self.sessionmaker = sessionmaker
        self.sync = sync
        self._waiting: list[tuple[bytes, asyncio.Future[MailResult]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, raw: bytes) -> MailResult:
        check_size(self.sync, raw)  # one message too large refuses that message only
        future: asyncio.Future[MailResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((raw, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await asyncio.shield(future)  # a dropped connection does not undo the store

    async def _write(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:GROUP_MAX], self._waiting[GROUP_MAX:]
            try:
                async with self.sessionmaker() as db:
                    results = await accept_many(db, self.sync, raws=[raw for raw, _ in group])
            except Exception as exc:  # noqa: BLE001 (each message's handler answers for it)
                for _, future in group:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(group, results, strict=True):
                future.set_result(result)


class MailHandler:
    """aiosmtpd handler: every recipient is accepted (the MTA in front decides who may mail us);
    DATA is stored for the mail readers, or answered with why not."""

    def __init__(self, sessionmaker: SessionFactory, sync: SyncContext) -> None:
        self.intake = Intake(sessionmaker, sync)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:  # RFC 5321 4.5.3.1.8: at least 100
            return "452 4.5.3 too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw or "").encode("utf-8", "surrogateescape")
        try:
            result = await self.intake.store(raw)
        except GatewayError as exc:
            if exc.status_code == 413:
                return f"552 5.3.4 {exc.message}"
            log.warning("mail refused", extra={"error": exc.code})
            return f"554 5.6.0 {exc.message}"
        except (OperationalError, DBAPIError, OSError) as exc:
            log.warning("mail deferred: database away", extra={"error": type(exc).__name__})
            return "451 4.3.0 the gateway cannot store mail now; try again later"
        except Exception:
            log.exception("mail deferred: unexpected error")
            return "451 4.3.0 the gateway cannot read this message now; try again later"
        outcome = "queued" if result.outcome == RECEIVED else result.outcome
        return f"250 2.0.0 {outcome} as mail {result.mail_id}"


async def start_listener(sessionmaker: SessionFactory, sync: SyncContext) -> asyncio.Server | None:
    """Listen where the mail channel says; None when it does not listen."""
    mailbox = Mailbox.of(sync.connections) if sync.connections.submitter_channel() else None
    if mailbox is None or mailbox.adapter.mail_settings.listen_port is None:
        return None
    settings = mailbox.adapter.mail_settings
    handler = MailHandler(sessionmaker, sync)
    domain = settings.domain

    def protocol() -> Any:
        # hostname given: aiosmtpd would otherwise ask DNS for our FQDN on every connection
        return SMTP(
            handler,
            data_size_limit=settings.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=domain,
            ident="ticket-gateway",
            timeout=60,
        )

    server = await asyncio.get_running_loop().create_server(
        protocol, settings.listen_host, settings.listen_port
    )
    log.info(
        "listening for mail",
        extra={"host": settings.listen_host, "port": settings.listen_port},
    )
    return server
