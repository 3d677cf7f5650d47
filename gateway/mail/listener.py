"""The SMTP listener `gateway serve` runs for the mail channel (aiosmtpd, in the server's loop).

A message is answered 250 once it is stored, and only then, so a crash before that leaves it
with the sending MTA, which tries again; a Message-ID stored before is answered as a duplicate
and stored once. The mail readers (gateway.mail.reader, where the worker runs) turn what is
stored into tickets. Too large is refused at SMTP time (552), a database that is away is 451
(the MTA keeps the message and retries).
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
from gateway.mail.service import RECEIVED, Mailbox, accept_mail
from gateway.sync.outbox import SyncContext

log = logging.getLogger(__name__)
MAX_RECIPIENTS = 100
SessionFactory = Callable[[], AsyncSession]


class MailHandler:
    """aiosmtpd handler: every recipient is accepted (the MTA in front decides who may mail us);
    DATA is stored for the mail readers, or answered with why not."""

    def __init__(self, sessionmaker: SessionFactory, sync: SyncContext) -> None:
        self.sessionmaker = sessionmaker
        self.sync = sync

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
            async with self.sessionmaker() as db:
                result = await accept_mail(db, self.sync, raw=raw)
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
