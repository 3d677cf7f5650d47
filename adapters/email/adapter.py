"""The email adapter: deliveries become messages sent over SMTP (aiosmtplib), from the worker.

Inbound mail does not come through `translate_inbound`: who may write to a ticket by mail
depends on the ticket (its submitter, cc and unit), so the hub's mail service
(`gateway/mail/`) reads it with the parsing layer of this package and hands the result to the
one inbound service.
"""

from __future__ import annotations

from typing import ClassVar

import aiosmtplib
from aiosmtplib.errors import SMTPRecipientsRefused

from adapters.email import inbound
from adapters.email.compose import Composer, Outgoing
from adapters.email.config import EmailConfig
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


class EmailAdapter(Adapter[EmailConfig], MailAdapter):
    kind: ClassVar[str] = "email"
    config_model: ClassVar[type[AdapterConfig]] = EmailConfig
    carries_mail: ClassVar[bool] = True

    def __init__(self, *, name: str, config: EmailConfig, mapping: None = None) -> None:
        super().__init__(name=name, config=config, mapping=mapping)
        self.composer = Composer(config)

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
        )

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

    async def _mail(self, delivery: Delivery) -> PushResult:
        recipients = [r for r in self.composer.recipients(delivery) if r not in delivery.suppressed]
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
        config = self.config
        summary: dict[str, object] = {
            "to": outgoing.recipients,
            "subject": str(outgoing.message["Subject"]),
            "message_id": outgoing.message_id,
        }
        try:
            response, message = await aiosmtplib.send(
                outgoing.message,
                sender=config.sender,
                recipients=outgoing.recipients,
                hostname=config.smtp_host,
                port=config.smtp_port,
                username=config.smtp_username,
                password=(
                    config.smtp_password.get_secret_value() if config.smtp_password else None
                ),
                use_tls=config.smtp_security == "tls",
                start_tls=config.smtp_security == "starttls",
                timeout=config.timeout_seconds,
            )
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

    async def check(self) -> CheckResult:
        client = aiosmtplib.SMTP(
            hostname=self.config.smtp_host,
            port=self.config.smtp_port,
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
