"""One outgoing message for one delivery: recipients, headers that thread and stop loops, and a
plain text body with an HTML alternative from templates an operator can replace."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from adapters.email.config import EmailConfig
from adapters.email.message import header_safe, parse_address
from adapters.email.tags import tagged_subject
from adapters.email.threading import message_id
from gateway.adapter.errors import PermanentError
from gateway.adapter.models import Delivery

SHIPPED = Path(__file__).resolve().parent / "templates"
LOOP_HEADER = "X-Gateway-Loop"


@dataclass(frozen=True, slots=True)
class Outgoing:
    message: EmailMessage
    recipients: list[str]
    message_id: str


class Composer:
    """Renders deliveries into messages; templates are read once, at start-up."""

    def __init__(self, config: EmailConfig) -> None:
        self.config = config
        loaders = [FileSystemLoader(str(SHIPPED))]
        if config.templates:
            loaders.insert(0, FileSystemLoader(config.templates))
        self._text = SandboxedEnvironment(
            loader=ChoiceLoader(loaders), undefined=StrictUndefined, autoescape=False
        )
        self._html = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=select_autoescape(default=True, default_for_string=True),
        )

    def recipients(self, delivery: Delivery) -> list[str]:
        """Who hears of this delivery: the submitter and cc, or the unit's addresses."""
        if self.config.audience == "unit":
            candidates = list(self.config.unit_addresses)
        else:
            candidates = [delivery.ticket.submitter.email, *delivery.ticket.cc]
        out: list[str] = []
        for candidate in candidates:
            address = parse_address(candidate)
            if address is not None and address.email not in out:
                out.append(address.email)
        return out

    def compose(self, delivery: Delivery, recipients: list[str]) -> Outgoing:
        ticket = delivery.ticket
        config = self.config
        own_id = message_id(ticket.id, delivery.idempotency_key, config.domain)
        context: dict[str, Any] = {
            "audience": config.audience,
            "action": delivery.action.value,
            "ticket": ticket.model_dump(mode="json"),
            "entry": delivery.entry.model_dump(mode="json") if delivery.entry else None,
            "changes": delivery.changes,
            "tag": config.tag.replace("{id}", str(ticket.id)),
        }
        name = delivery.action.value
        try:
            text = self._text.get_template(f"{name}.txt").render(context)
            html = self._html.get_template(f"{name}.html").render(context)
        except TemplateError as exc:  # an operator's template: say which, do not retry forever
            raise PermanentError(f"mail template {name}: {exc}") from exc
        message = EmailMessage()
        message["From"] = formataddr((header_safe(config.sender_name, 120), config.sender))
        message["To"] = ", ".join(recipients)
        message["Subject"] = tagged_subject(config.tag, ticket.id, self._subject(delivery))
        message["Message-ID"] = own_id
        message["Date"] = format_datetime(ticket.updated_at)
        thread = delivery.remote.remote_id if delivery.remote else None
        if thread and thread.startswith("<") and thread != own_id:
            message["In-Reply-To"] = thread
            message["References"] = thread
        # RFC 3834: we are a machine; mailers must not answer us automatically.
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"
        message[LOOP_HEADER] = config.sender
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return Outgoing(message, recipients, own_id)

    @staticmethod
    def _subject(delivery: Delivery) -> str:
        subject = delivery.ticket.subject
        if delivery.action.value == "solve":
            return f"{delivery.ticket.status}: {subject}"
        return subject
