"""The email adapter: deliveries become messages sent over SMTP (aiosmtplib), from the worker.

Inbound mail does not come through `translate_inbound`: who may write to a ticket by mail
depends on the ticket (its submitter, cc and unit), so the hub's mail service
(`gateway/mail/`) reads it with the parsing layer of this package and hands the result to the
one inbound service.
"""

from __future__ import annotations

import asyncio
import contextlib
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr
from typing import ClassVar

import aiosmtplib
from aiosmtplib.errors import SMTPRecipientsRefused

from adapters.email import inbound
from adapters.email.compose import LOOP_HEADER, Composer, Outgoing
from adapters.email.config import EmailConfig
from adapters.email.message import header_message_id, parse_address
from adapters.email.threading import message_id
from gateway.adapter.base import Adapter, AdapterConfig
from gateway.adapter.errors import (
    AuthenticationError,
    Exchange,
    PermanentError,
    RetryableError,
)
from gateway.adapter.mail import IncomingMail, MailAdapter, MailSettings
from gateway.adapter.models import (
    Action,
    CheckResult,
    Command,
    Delivery,
    PushResult,
    RemoteRef,
)

# 4xx answers are worth another try later (RFC 5321 4.2.1); 5xx are not.
TRANSIENT_CODES = range(400, 500)
# Open SMTP connections kept per adapter, each carrying one transaction at a time.
POOL_SIZE = 4
CLOSING = 421  # "service not available, closing transmission channel"


def _dropped(exc: BaseException) -> bool:
    """Did the server close (or is closing) the connection: what an idle connection meets once
    the server has dropped it? Not a timeout: a server that is slow to answer stays slow (and a
    lost answer may mean the message was kept)."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == CLOSING
    if isinstance(exc, SMTPRecipientsRefused):
        return any(refusal.code == CLOSING for refusal in exc.recipients)
    return isinstance(exc, ConnectionError) and not isinstance(exc, TimeoutError)


class EmailAdapter(Adapter[EmailConfig], MailAdapter):
    kind: ClassVar[str] = "email"
    config_model: ClassVar[type[AdapterConfig]] = EmailConfig

    def __init__(self, *, name: str, config: EmailConfig, mapping: None = None) -> None:
        super().__init__(name=name, config=config, mapping=mapping)
        self.composer = Composer(config)
        self.pool_size = POOL_SIZE
        self._local_hostname = config.domain  # for EHLO; else aiosmtplib asks getfqdn() each time
        self._idle: list[aiosmtplib.SMTP] = []  # open connections nobody is using, newest last
        self._slots: asyncio.Semaphore | None = None  # one per connection open or being opened
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the connections live in

    @property
    def notifies_submitters(self) -> bool:
        return self.config.audience == "submitters"

    @property
    def unit_addresses(self) -> frozenset[str]:
        if self.config.audience != "unit":
            return frozenset()
        return frozenset(address.lower() for address in self.config.unit_addresses)

    @property
    def mail_settings(self) -> MailSettings:
        config = self.config
        return MailSettings(
            listen_host=config.listen_host,
            listen_port=config.listen_port,
            max_message_bytes=config.max_message_bytes,
            daily_cap_per_sender=config.daily_cap_per_sender,
            domain=config.domain,
            address=config.sender.lower(),
        )

    def message_id(self, raw: bytes) -> str | None:
        return header_message_id(raw)

    def read_mail(self, raw: bytes) -> IncomingMail:
        return inbound.read_mail(raw, self.config)

    def unit_commands(self, mail: IncomingMail, author: str) -> list[Command]:
        return inbound.unit_commands(mail, author)

    async def create(self, delivery: Delivery) -> PushResult:
        return await self._mail(delivery)

    async def update(self, delivery: Delivery) -> PushResult:
        return await self._mail(delivery)

    async def add_entry(self, delivery: Delivery) -> PushResult:
        return await self._mail(delivery)

    async def solve(self, delivery: Delivery) -> PushResult:
        return await self._mail(delivery)

    async def send_message(self, message: EmailMessage) -> None:
        recipients = [a.email for v in message.get_all("To", []) if (a := parse_address(v))]
        if "From" not in message:
            message["From"] = formataddr((self.config.sender_name, self.config.sender))
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"
        message[LOOP_HEADER] = self.config.sender
        data = message.as_bytes(policy=SMTP_POLICY)
        subject = str(message.get("Subject", ""))
        await self._send(Outgoing(data, recipients, str(message["Message-ID"]), subject))

    async def send_notice(self, delivery: Delivery) -> PushResult:
        return await self._mail(delivery)

    @property
    def carries_attachments(self) -> bool:
        """A unit that works by mail gets a ticket's public files, one message each."""
        return self.config.audience == "unit"

    async def add_attachment(self, delivery: Delivery) -> PushResult:
        if not self.carries_attachments:  # the submitters' channel: the policy never asks
            return await super().add_attachment(delivery)
        return await self._mail(delivery)

    async def _mail(self, delivery: Delivery) -> PushResult:
        suppressed = delivery.suppressed
        recipients = [r for r in self.composer.recipients(delivery) if r.lower() not in suppressed]
        if not recipients:
            # Nobody to tell (every address bounced for good): done, and said in the log.
            exchange = Exchange("SMTP", self._url, "no recipient left (all suppressed)")
            # a create keeps its would-be Message-ID: later mail still threads under it
            own_id = message_id(delivery.ticket.id, delivery.idempotency_key, self.config.domain)
            return PushResult(remote=self._remote(delivery, own_id), exchange=exchange)
        outgoing = self.composer.compose(delivery, recipients)
        exchange = await self._send(outgoing)
        return PushResult(remote=self._remote(delivery, outgoing.message_id), exchange=exchange)

    def _remote(self, delivery: Delivery, sent_id: str | None) -> RemoteRef | None:
        """The first message of a ticket is its remote id: later ones reply to it (threading)."""
        if delivery.action == Action.CREATE and sent_id is not None:
            return RemoteRef(sent_id)
        return None

    @property
    def _url(self) -> str:
        return f"smtp://{self.config.smtp_host}:{self.config.smtp_port}"

    async def _send(self, outgoing: Outgoing) -> Exchange:
        summary: dict[str, object] = {
            "to": outgoing.recipients,
            "subject": outgoing.subject,
            "message_id": outgoing.message_id,
        }
        try:
            response, message = await self._transaction(outgoing)
        except SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            exchange = Exchange("SMTP", self._url, summary, min(codes), str(exc)[:500])
            if all(code in TRANSIENT_CODES for code in codes):
                raise RetryableError("every recipient refused for now", exchange=exchange) from exc
            raise PermanentError("the server refused every recipient", exchange=exchange) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            exchange = Exchange("SMTP", self._url, summary, exc.code, exc.message[:500])
            raise AuthenticationError(
                "the SMTP server refused our credentials", exchange=exchange
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            exchange = Exchange("SMTP", self._url, summary, exc.code, exc.message[:500])
            if exc.code in TRANSIENT_CODES:
                raise RetryableError(f"SMTP {exc.code}", exchange=exchange) from exc
            raise PermanentError(f"SMTP {exc.code}", exchange=exchange) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            exchange = Exchange("SMTP", self._url, summary)
            raise RetryableError(
                f"SMTP server unreachable: {type(exc).__name__}", exchange=exchange
            ) from exc
        refused = {rcpt: r.code for rcpt, r in response.items() if r.code >= 400}
        summary["refused"] = refused  # accepted for some: sent, with the others in the log
        return Exchange("SMTP", self._url, summary, 250, message[:500])

    # ------------------------------------------------------------------ connection pool

    async def _transaction(
        self, outgoing: Outgoing
    ) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        """MAIL, RCPT and DATA on a pooled connection. An idle connection the server has dropped
        (disconnected, or a 421 on our next command) is closed and the message sent once more
        on a fresh connection; any failure of a fresh connection is the caller's to classify.

        A delivery waits for a pooled connection at most `timeout_seconds` (a slow server must
        not hold the queued ones past their lease): then it uses a connection of its own."""
        slots = self._pool_slots()
        try:
            await asyncio.wait_for(slots.acquire(), self.config.timeout_seconds)
        except TimeoutError:
            return await self._sendmail(await self._connect(), outgoing, None)
        try:
            client = self._idle_client()
            if client is not None:
                try:
                    return await self._sendmail(client, outgoing, slots)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    if not _dropped(exc):
                        raise
            return await self._sendmail(await self._connect(), outgoing, slots)
        finally:
            slots.release()

    def _pool_slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            # first use, or another event loop: the old loop's connections are of no use here
            for client in self._idle:
                with contextlib.suppress(RuntimeError):  # their loop may be closed
                    client.close()
            self._idle = []
            self._slots = asyncio.Semaphore(self.pool_size)
            self._loop = loop
        return self._slots

    def _idle_client(self) -> aiosmtplib.SMTP | None:
        """The most recently used open connection (dropped ones are closed on the way)."""
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
            client.close()
        return None

    async def _connect(self) -> aiosmtplib.SMTP:
        """A new connection: greeting, EHLO, STARTTLS and AUTH as configured."""
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username,
            password=config.smtp_password.get_secret_value() if config.smtp_password else None,
            use_tls=config.smtp_security == "tls",
            start_tls=config.smtp_security == "starttls",
            timeout=config.timeout_seconds,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
        except BaseException:
            client.close()
            raise
        return client

    async def _sendmail(
        self, client: aiosmtplib.SMTP, outgoing: Outgoing, slots: asyncio.Semaphore | None
    ) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        """One transaction; the connection goes back to the pool (of `slots`; None: not pooled)
        if it is still in a known state (aiosmtplib sends RSET after a refusal), else closed."""
        reusable = True
        try:
            return await client.sendmail(self.config.sender, outgoing.recipients, outgoing.data)
        except (aiosmtplib.SMTPResponseException, SMTPRecipientsRefused):
            raise  # an answer: the transaction is over (and reset), the connection is fine
        except BaseException:  # disconnected, timed out (a late answer may come) or cancelled
            reusable = False
            raise
        finally:
            pooled = slots is not None and self._slots is slots  # not closed since
            if reusable and pooled and client.is_connected:
                self._idle.append(client)
            else:
                client.close()

    async def aclose(self) -> None:
        """Say QUIT on the idle connections and close them; one in use is closed when its
        transaction ends."""
        idle, self._idle = self._idle, []
        self._slots = None  # connections still in use are not taken back
        if self._loop is asyncio.get_running_loop():
            await asyncio.gather(*(self._quit(client) for client in idle))
        for client in idle:
            with contextlib.suppress(RuntimeError):  # another loop's, now closed
                client.close()

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await asyncio.wait_for(client.quit(), timeout=1)

    async def check(self) -> CheckResult:
        client = aiosmtplib.SMTP(
            hostname=self.config.smtp_host,
            port=self.config.smtp_port,
            local_hostname=self._local_hostname,
            timeout=min(self.config.timeout_seconds, 10),
            use_tls=self.config.smtp_security == "tls",
            start_tls=self.config.smtp_security == "starttls",
        )
        try:
            await client.connect()
            if self.config.smtp_username and self.config.smtp_password:
                await client.login(
                    self.config.smtp_username, self.config.smtp_password.get_secret_value()
                )
            code, _ = await client.noop()
            return CheckResult(ok=code == 250, detail=f"{self._url} answered NOOP with {code}")
        except aiosmtplib.SMTPAuthenticationError:
            return CheckResult(ok=False, detail=f"{self._url} refused our credentials")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return CheckResult(ok=False, detail=f"{self._url}: {type(exc).__name__}")
        finally:
            client.close()
