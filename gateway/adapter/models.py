"""What crosses the adapter boundary: deliveries out, canonical commands in."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from gateway.adapter.errors import Exchange
from gateway.inputs import InputModel, RecordId
from gateway.ticket.enums import Priority, Status, Visibility
from gateway.ticket.models import MAX_TEXT, JournalEntry, Ticket, TicketCreate, UnitName


class Action(StrEnum):
    """What one outbox row asks an adapter to do."""

    CREATE = "create"
    UPDATE = "update"
    ENTRY = "entry"
    SOLVE = "solve"
    ATTACH = "attach"
    LINK = "link"  # write the hub id and a link into an existing remote ticket (a requirement)
    UNLINK = "unlink"  # take them out again
    NOTICE = "notice"  # mail named addresses about the ticket (reminders, escalations)


@dataclass(frozen=True, slots=True)
class RemoteRef:
    """Where a hub ticket lives in a remote system."""

    remote_id: str
    remote_url: str | None = None


@dataclass(frozen=True, slots=True)
class AttachedFile:
    """A public file of the ticket, with its bytes, for an `attach` delivery."""

    id: int
    filename: str
    content_type: str
    size: int
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One change to push, rendered from the canonical ticket at send time (public view only).

    `idempotency_key` is stable across retries of the same outbox row; adapters send it where the
    remote supports one, and on a retried create (`attempt > 1`) they look up `ticket.id` first
    so a create whose answer was lost does not make a second remote ticket.
    """

    action: Action
    ticket: Ticket
    idempotency_key: str
    attempt: int
    remote: RemoteRef | None = None
    entry: JournalEntry | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    suppressed: frozenset[str] = frozenset()  # addresses whose mail bounced for good
    attachment: AttachedFile | None = None  # the file of an `attach` delivery
    # the related tickets (`ticket.relations`) this connection also holds: hub id -> remote ref
    related: dict[int, RemoteRef] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PushResult:
    remote: RemoteRef | None
    exchange: Exchange | None = None


class _Command(InputModel):
    """Outside input like a request body: checked by the same rules (see gateway.inputs)."""

    model_config = ConfigDict(frozen=True)

    remote_id: str | None = Field(
        default=None, min_length=1, max_length=255, description="The ticket's id in the remote"
    )
    hub_id: RecordId | None = Field(default=None, description="Our hub id, if the remote echoes it")


Author = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class CreateTicket(_Command):
    kind: Literal["create"] = "create"
    ticket: TicketCreate
    remote_url: str | None = Field(default=None, max_length=2048)


class AddComment(_Command):
    """A reply or diary entry; an internal note at the remote becomes an internal hub entry,
    which never leaves the hub."""

    kind: Literal["comment"] = "comment"
    body: str = Field(min_length=1, max_length=MAX_TEXT)
    author: Author | None = None
    visibility: Visibility = Visibility.PUBLIC


class AskSubmitter(_Command):
    """A question to the submitter: a public entry, and the ticket waits for the reply."""

    kind: Literal["question"] = "question"
    body: str = Field(min_length=1, max_length=MAX_TEXT)
    author: Author | None = None


class SetStatus(_Command):
    kind: Literal["status"] = "status"
    status: Status


class Solve(_Command):
    kind: Literal["solve"] = "solve"
    status: Literal[Status.SOLVED, Status.UNSOLVED] = Status.SOLVED
    solution: str = Field(min_length=1, max_length=MAX_TEXT)


class Reassign(_Command):
    kind: Literal["reassign"] = "reassign"
    support_unit: UnitName


class AttachFile(_Command):
    """A file added at the remote; an internal one stays internal at the hub."""

    kind: Literal["attach"] = "attach"
    filename: str = Field(min_length=1, max_length=1024, description="Sanitised when stored")
    content_type: str | None = Field(default=None, max_length=255)
    data: str = Field(min_length=1, description="The content, base64-encoded (line breaks allowed)")
    author: Author | None = None
    visibility: Visibility = Visibility.PUBLIC

    @field_validator("data")
    @classmethod
    def _base64(cls, value: str) -> str:
        value = "".join(value.split())  # MIME-style line breaks (Znuny's) are fine
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64 (RFC 4648)") from None
        return value

    def content(self) -> bytes:
        return base64.b64decode(self.data, validate=True)


class RequirementState(_Command):
    """A requirement's counter-ticket changed state: kept on the hub ticket's `requirement`
    link and written to its internal journal."""

    kind: Literal["requirement_state"] = "requirement_state"
    state: str = Field(min_length=1, max_length=64)
    previous: str | None = Field(default=None, max_length=64)


class UpdateFields(_Command):
    kind: Literal["update"] = "update"
    priority: Priority | None = None
    subject: str | None = Field(default=None, max_length=255)


Command = Annotated[
    CreateTicket
    | AddComment
    | AskSubmitter
    | SetStatus
    | Solve
    | Reassign
    | UpdateFields
    | AttachFile
    | RequirementState,
    Field(discriminator="kind"),
]

# What a close-only assignee may report back (GGUS model): solution, reassignment, question.
ASSIGNEE_REPORTS = frozenset({"solve", "reassign", "question"})


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One change a remote reports, however it arrived (webhook, poll, mail), as commands; its
    id is the remote's own (or derived from the content), so it is applied once."""

    event_id: str
    commands: list[Command]


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll found: the events in order, and the cursor to start the next poll from.

    `more` says the remote has another page ready now (the poller asks again at once).
    """

    events: list[InboundEvent]
    cursor: dict[str, Any]
    more: bool = False
    exchanges: int = 1  # requests the poll made (an idle poll should make one)


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """An inbound HTTP request as the adapter sees it (already size-limited)."""

    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    detail: str
