"""What an adapter that reads mail gives the hub: a message read into plain facts, and the
commands a unit's reply carries. The hub decides with its own data (the ticket's submitter, cc
and unit) who may write; the adapter knows MIME, tags and threading (adapters depend on the hub,
never the reverse)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from email.message import EmailMessage

from gateway.adapter.models import Command


@dataclass(frozen=True, slots=True)
class MailPart:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class MailBounce:
    """A delivery status notification: mail to `recipients` failed (`permanent`: for good)."""

    permanent: bool
    recipients: list[str]  # strictly parsed, lower case
    detail: str
    hub_id: int | None = None  # the ticket of the bounced message, when that message was ours


@dataclass(frozen=True, slots=True)
class IncomingMail:
    """One received message as the hub needs it. `hub_id` is the ticket it names (by the subject
    tag, by one of our Message-IDs it replies to, or, for a bounce, by the message that bounced)."""

    message_id: str | None
    sender: str | None  # strictly parsed, lower case; None when missing or malformed
    sender_name: str
    cc: list[str]
    subject: str
    text: str  # the whole text (a new ticket's description)
    reply_text: str  # without quoted history and signature (an entry); "" naming no ticket
    attachments: list[MailPart]
    hub_id: int | None
    automatic: str | None = None  # why no automatic answer may go to it, nor a ticket open
    bounce: MailBounce | None = None
    auth_failure: str | None = None  # what the trusted receiving server said failed
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MailSettings:
    """How the mail channel receives: listener, size limit, per-sender cap."""

    listen_host: str
    listen_port: int | None
    max_message_bytes: int
    daily_cap_per_sender: int
    domain: str
    address: str  # the channel's own address, lower case


class MailAdapter(ABC):
    """Mixed into an adapter that mails and reads mail."""

    @property
    @abstractmethod
    def mail_settings(self) -> MailSettings:
        """The receiving side's settings (the submitters' channel reads them)."""

    @property
    @abstractmethod
    def unit_addresses(self) -> frozenset[str]:
        """Addresses that act as this connection's unit (empty for the submitters' channel)."""

    @abstractmethod
    def message_id(self, raw: bytes) -> str | None:
        """The message's own id, read from its headers alone (cheap: the listener calls it for
        each message it accepts, to answer an MTA's retry without storing the message twice).
        The same id `read_mail` gives; never raises."""

    @abstractmethod
    def read_mail(self, raw: bytes) -> IncomingMail:
        """Read a raw message; never raises (hostile mail becomes `problems`)."""

    @abstractmethod
    async def send_message(self, message: EmailMessage) -> None:
        """Send a message the hub composed itself (a digest): our From, loop and
        Auto-Submitted headers are added; raises the adapter errors a delivery would."""

    @abstractmethod
    def unit_commands(self, mail: IncomingMail, author: str) -> list[Command]:
        """The commands a unit's reply carries (`Status: solved`, `Assign: X`, else a reply)."""
