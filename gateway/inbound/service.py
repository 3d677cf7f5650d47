"""The one inbound service: an authentic event from a connection is applied once, under the policy.

Webhooks, polls and (next) mail all end here. For each event: dedupe per (connection, event id),
drop echoes of what the hub itself wrote, gate by the sync policy, apply the commands through the
ticket service, and record the event with its outcome. A close-only assignee reports back only a
solution, a reassignment or a question to the submitter; anything else is its own internal
traffic and stays there (ignored, with the reason). A domain error rejects the whole event, so
nothing is half-applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.models import (
    ASSIGNEE_REPORTS,
    AddComment,
    AskSubmitter,
    AttachFile,
    Command,
    CreateTicket,
    InboundEvent,
    Reassign,
    RequirementState,
    SetStatus,
    Solve,
    UpdateFields,
)
from gateway.attachment import service as attachments
from gateway.attachment.tables import AttachmentRow
from gateway.config.models import GatewayConfig
from gateway.connection.models import Policy
from gateway.connection.service import Connection
from gateway.delivery import metrics
from gateway.delivery.results import entry_fingerprint
from gateway.routing import service as routing
from gateway.routing.service import Assigner
from gateway.support_unit import directory
from gateway.sync.outbox import SyncContext, commit
from gateway.sync.tables import EchoRow, InboundEventRow
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes
from gateway.ticket.enums import LinkRole, Status, Visibility
from gateway.ticket.models import JournalEntryCreate, TicketPatch
from gateway.ticket.tables import LinkRow, TicketRow

NEVER_OVERWRITTEN_BY_SOLVE = frozenset({Status.VERIFIED, Status.CLOSED})
ORIGIN_MAY = frozenset({"comment", "status", "update", "attach"})
APPLIED, IGNORED, DUPLICATE, REJECTED = "applied", "ignored", "duplicate", "rejected"


@dataclass
class InboundOutcome:
    event_id: str
    duplicate: bool = False
    applied: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Vouched:
    """A ticket the event's source has already identified, and who acts on it: for mail, who
    may write to a ticket is decided from the ticket's submitter, cc and unit, not by a link."""

    ticket_id: int
    actor: tickets.Actor


ApplyOne = Callable[[Command], Awaitable[tuple[int | None, str | None]]]


@dataclass
class Known:
    """What a batch of one connection's new events looked up at once before applying them (the
    events already applied, the tickets already linked by remote id), kept current as the batch
    applies: its events then ask the database nothing, and its rows can be written together at
    the end (see `gateway.mail.service.read_batch`)."""

    connection: str
    seen: set[str]
    linked: dict[str, int]

    @classmethod
    async def of(cls, session: AsyncSession, *, connection: str, event_ids: list[str]) -> Known:
        seen = await session.scalars(
            select(InboundEventRow.event_id).where(
                InboundEventRow.connection == connection, InboundEventRow.event_id.in_(event_ids)
            )
        )
        links = await session.execute(
            select(LinkRow.external_id, LinkRow.ticket_id)
            .where(LinkRow.connection == connection, LinkRow.external_id.in_(event_ids))
            .order_by(LinkRow.id.desc())  # the first link wins, as _find_link's
        )
        return cls(connection, set(seen), {str(remote): ticket for remote, ticket in links})


async def apply_event(
    session: AsyncSession,
    *,
    connection: Connection,
    event: InboundEvent,
    config: GatewayConfig,
    changes: Changes,
    vouched: Vouched | None = None,
    known: Known | None = None,
) -> InboundOutcome:
    """Apply the event's commands in the caller's transaction; a seen event changes nothing.
    Each command finds its ticket by the connection's link, or acts on the `vouched` one.
    With `known` (the batch's lookups: only ticket creations) the event's rows stay pending
    until the caller flushes them with the rest of the batch."""
    outcome = InboundOutcome(event_id=event.event_id)
    if known is not None:
        assert known.connection == connection.name and vouched is None
        seen = event.event_id in known.seen
        known.seen.add(event.event_id)
    else:
        seen = await event_seen(session, connection=connection.name, event_id=event.event_id)
    if seen:
        outcome.duplicate = True
        return outcome
    apply_one: ApplyOne
    if vouched is None:

        async def by_link(command: Command) -> tuple[int | None, str | None]:
            return await _apply(session, connection, command, config, changes, known)

        apply_one = by_link
    else:
        apply_one = await _on_vouched(session, connection, vouched, config, changes)
    row = InboundEventRow(connection=connection.name, event_id=event.event_id, outcome=IGNORED)
    for command in event.commands:
        ticket_id, reason = await apply_one(command)
        item: dict[str, Any] = {"kind": command.kind, "ticket_id": ticket_id}
        if reason is None:
            outcome.applied.append(item)
            row.ticket_id, row.outcome = ticket_id, APPLIED
        else:
            outcome.ignored.append({**item, "reason": reason})
            row.ticket_id = row.ticket_id or ticket_id
    row.detail = "; ".join(i["reason"] for i in outcome.ignored)[:2000] or None
    session.add(row)  # after the commands, so it is one INSERT with the ticket id
    if known is None:  # a batch's copy fails at the batch's flush instead
        await session.flush()  # a concurrent copy of this event fails here, on the unique key
    return outcome


async def _on_vouched(
    session: AsyncSession,
    connection: Connection,
    vouched: Vouched,
    config: GatewayConfig,
    changes: Changes,
) -> ApplyOne:
    row = await session.get(TicketRow, vouched.ticket_id, with_for_update=True)
    change = _Change(session, connection, row, vouched.actor, config, changes) if row else None

    async def apply_one(command: Command) -> tuple[int | None, str | None]:
        if change is None:
            return None, f"no ticket #{vouched.ticket_id}"
        return vouched.ticket_id, await change.apply(command, None)

    return apply_one


def rejected_event(connection: str, event_id: str, reason: str) -> InboundEventRow:
    """The record of an event refused by a domain rule (kept, so a poll does not lose it)."""
    return InboundEventRow(
        connection=connection, event_id=event_id, outcome=REJECTED, detail=reason[:2000]
    )


async def event_seen(session: AsyncSession, *, connection: str, event_id: str) -> bool:
    """Whether this connection's event was already applied."""
    found = await session.scalar(
        select(InboundEventRow.id).where(
            InboundEventRow.connection == connection, InboundEventRow.event_id == event_id
        )
    )
    return found is not None


async def _apply(
    session: AsyncSession,
    connection: Connection,
    command: Command,
    config: GatewayConfig,
    changes: Changes,
    known: Known | None = None,
) -> tuple[int | None, str | None]:
    if isinstance(command, CreateTicket):
        return await _create(session, connection, command, config, changes, known)
    assert known is None, "a batch's events only create tickets"
    link = await _find_link(session, connection, command.remote_id, command.hub_id)
    if link is None:
        return None, f"no hub ticket is linked to {connection.name} ticket {command.remote_id!r}"
    row = await session.get(TicketRow, link.ticket_id, with_for_update=True)
    assert row is not None
    refusal = await _refusal(session, connection, link, row, command)
    if refusal is not None:
        return row.id, refusal
    actor = tickets.Actor(
        name=getattr(command, "author", None) or connection.name,
        source=connection.name,
        is_submitter=link.role == LinkRole.ORIGIN.value,
        may_reopen_closed=link.role == LinkRole.ORIGIN.value,
    )
    change = _Change(session, connection, row, actor, config, changes)
    return row.id, await change.apply(command, link)


async def _refusal(
    session: AsyncSession, connection: Connection, link: LinkRow, row: TicketRow, command: Command
) -> str | None:
    """Why the sync policy ignores this command, or None to apply it."""
    if link.role == LinkRole.REQUIREMENT.value:
        if command.kind != "requirement_state":
            return f"a requirement's queue reports only its state, not '{command.kind}'"
        return None
    if command.kind == "requirement_state":
        return f"{connection.name} holds no requirement of #{row.id}"
    if link.role == LinkRole.ORIGIN.value:
        if command.kind not in ORIGIN_MAY and connection.policy != Policy.MIRROR:
            return f"an origin system does not send '{command.kind}'"
        return None
    names = await directory.names_by_id(session, ids=[row.support_unit_id or 0])
    if names.get(row.support_unit_id or 0) != connection.support_unit:
        return f"{connection.name} is no longer responsible for #{row.id}"
    if connection.policy == Policy.CLOSE_ONLY and command.kind not in ASSIGNEE_REPORTS:
        return f"close-only: '{command.kind}' is internal traffic of {connection.name}"
    return None


@dataclass
class _Change:
    """One command applied to one linked ticket, as one actor."""

    session: AsyncSession
    connection: Connection
    row: TicketRow
    actor: tickets.Actor
    config: GatewayConfig
    changes: Changes

    async def apply(self, command: Command, link: LinkRow | None) -> str | None:
        if isinstance(command, AddComment | AskSubmitter):
            return await self._entry(command, link)
        if isinstance(command, AttachFile):
            return await self._attach(command)
        if isinstance(command, Solve):
            if Status(self.row.status) in NEVER_OVERWRITTEN_BY_SOLVE:
                return f"a '{self.row.status}' ticket is never overwritten by a remote solution"
            await self._patch(TicketPatch(status=command.status, solution=command.solution))
            return None
        if isinstance(command, Reassign):
            assigner = await Assigner.for_unit(
                self.session, name=self.connection.name, unit=self.connection.support_unit
            )
            unit = await routing.unit_for_reassignment(
                self.session,
                name=command.support_unit,
                current_unit_id=self.row.support_unit_id,
                routing=self.config.routing,
                assigner=assigner,
            )
            await self._patch(TicketPatch(support_unit=unit.name), new_unit=unit)
            return None
        if isinstance(command, SetStatus):
            await self._patch(TicketPatch(status=command.status))
            return None
        if isinstance(command, RequirementState):
            return await self._requirement(command, link)
        if isinstance(command, UpdateFields):
            fields = command.model_dump(include={"priority", "subject"}, exclude_none=True)
            await self._patch(TicketPatch.model_validate(fields))
            return None
        return f"'{command.kind}' is not applied to an existing ticket"

    async def _requirement(self, command: RequirementState, link: LinkRow | None) -> str | None:
        """Keep the counter-ticket's state on the link; say so in the internal journal."""
        if link is None:
            return "a requirement's state needs its link"
        if link.state == command.state:
            return f"the requirement is {command.state} already"
        before = link.state or command.previous or "unknown"
        link.state = command.state
        tag = self.connection.adapter.requirement_tag
        where = f"{self.connection.name} ticket {link.external_id}" + (f" [{tag}]" if tag else "")
        body = f"Requirement {where} is now {command.state} (was {before})."
        entry = JournalEntryCreate(
            body=body, visibility=Visibility.INTERNAL, author=self.actor.name
        )
        await tickets.add_entry(
            self.session, row=self.row, entry=entry, actor=self.actor, changes=self.changes
        )
        return None

    async def _entry(self, command: AddComment | AskSubmitter, link: LinkRow | None) -> str | None:
        if link is not None and await self._echo(command.body, link):
            return "echo of an entry the hub wrote"
        visibility = getattr(command, "visibility", Visibility.PUBLIC)
        entry = JournalEntryCreate(body=command.body, visibility=visibility, author=command.author)
        await tickets.add_entry(
            self.session, row=self.row, entry=entry, actor=self.actor, changes=self.changes
        )
        if isinstance(command, AskSubmitter):
            await self._patch(TicketPatch(status=Status.WAITING_FOR_REPLY))
        return None

    async def _attach(self, command: AttachFile) -> str | None:
        """Store the file in the event's transaction; the same file under the same name already
        on the ticket (the echo of one the hub sent there) is not stored twice."""
        data = command.content()
        known = await self.session.scalar(
            select(AttachmentRow.id).where(
                AttachmentRow.ticket_id == self.row.id,
                AttachmentRow.sha256 == hashlib.sha256(data).hexdigest(),
                AttachmentRow.filename == attachments.sanitize_filename(command.filename),
            )
        )
        if known is not None:
            return f"the ticket already has this file (attachment {known})"
        await attachments.store_attachment(
            self.session,
            ticket_id=self.row.id,
            filename=command.filename,
            content_type=command.content_type,
            data=data,
            visibility=command.visibility,
            author=command.author or self.actor.name,
            source=self.connection.name,
            changes=self.changes,
        )
        return None

    async def _echo(self, body: str, link: LinkRow) -> bool:
        fingerprint = entry_fingerprint(self.connection.name, link.external_id, body)
        echo = await self.session.scalar(
            select(EchoRow.id).where(
                EchoRow.connection == self.connection.name, EchoRow.fingerprint == fingerprint
            )
        )
        if echo is None:
            return False
        await self.session.execute(delete(EchoRow).where(EchoRow.id == echo))
        return True

    async def _patch(self, patch: TicketPatch, new_unit: Any = None) -> None:
        await tickets.update_ticket(
            self.session,
            row=self.row,
            patch=patch,
            actor=self.actor,
            changes=self.changes,
            new_unit=new_unit,
        )


async def _create(
    session: AsyncSession,
    connection: Connection,
    command: CreateTicket,
    config: GatewayConfig,
    changes: Changes,
    known: Known | None = None,
) -> tuple[int | None, str | None]:
    if command.remote_id is not None:
        if known is not None:
            linked = known.linked.get(command.remote_id)
        else:
            link = await _find_link(session, connection, command.remote_id, None)
            linked = link.ticket_id if link is not None else None
        if linked is not None:
            return linked, f"already known as #{linked}"
    data = command.ticket
    assigner = await Assigner.for_unit(session, name=connection.name, unit=connection.support_unit)
    unit = await routing.unit_for_new_ticket(
        session, data=data, routing=config.routing, assigner=assigner
    )
    origin_unit = await directory.by_name(session, name=connection.support_unit or "")
    actor = tickets.Actor(name=data.submitter.name, source=connection.name, is_submitter=True)
    row = await tickets.create_ticket(
        session,
        data=data,
        actor=actor,
        support_unit=unit,
        changes=changes,
        origin_unit_id=origin_unit.id if origin_unit else None,
    )
    routing.announce_created(session, row=row, data=data, routing=config.routing, changes=changes)
    session.add(
        LinkRow(
            ticket_id=row.id,
            connection=connection.name,
            external_id=command.remote_id,
            external_url=command.remote_url,
            role=LinkRole.ORIGIN.value,
        )
    )
    if known is not None and command.remote_id is not None:
        known.linked.setdefault(command.remote_id, row.id)
    return row.id, None


async def _find_link(
    session: AsyncSession, connection: Connection, remote_id: str | None, hub_id: int | None
) -> LinkRow | None:
    query = select(LinkRow).where(LinkRow.connection == connection.name)
    if remote_id is not None:
        query = query.where(LinkRow.external_id == remote_id)
    elif hub_id is not None:
        query = query.where(LinkRow.ticket_id == hub_id)
    else:
        return None
    return (await session.execute(query.order_by(LinkRow.id).limit(1))).scalar_one_or_none()


async def receive(
    session: AsyncSession,
    sync: SyncContext,
    *,
    connection: Connection,
    event: InboundEvent,
    config: GatewayConfig,
) -> InboundOutcome:
    """Apply one event and commit it with its outbox rows; a copy applied concurrently (the
    same event id, by another request or instance) is answered as a duplicate."""
    changes = Changes()
    try:
        outcome = await apply_event(
            session, connection=connection, event=event, config=config, changes=changes
        )
        await commit(session, sync, changes)
    except IntegrityError:
        await session.rollback()
        if not await event_seen(session, connection=connection.name, event_id=event.event_id):
            raise
        outcome = InboundOutcome(event_id=event.event_id, duplicate=True)
    result = DUPLICATE if outcome.duplicate else APPLIED if outcome.applied else IGNORED
    metrics.INBOUND_EVENTS.labels(connection.name, result).inc()
    return outcome
