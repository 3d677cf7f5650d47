"""Apply an authentic inbound event: once per (connection, event id), under the sync policy.

A close-only assignee reports back only a solution, a reassignment or a question to the
submitter; anything else it sends is its own internal traffic and stays there (ignored, with the
reason in the answer). Domain errors abort the whole event, so nothing is half-applied and a
corrected resend of the same event id still works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.models import (
    ASSIGNEE_REPORTS,
    AddComment,
    AskSubmitter,
    Command,
    CreateTicket,
    Reassign,
    SetStatus,
    Solve,
    UpdateFields,
)
from gateway.config.models import GatewayConfig
from gateway.connection.models import Policy
from gateway.connection.service import Connection
from gateway.delivery.results import entry_fingerprint
from gateway.errors import Forbidden
from gateway.support_unit import directory
from gateway.support_unit.models import Level
from gateway.sync.tables import EchoRow, InboundEventRow
from gateway.ticket import service as tickets
from gateway.ticket.enums import LinkRole, Status, Visibility
from gateway.ticket.models import JournalEntryCreate, TicketPatch
from gateway.ticket.tables import LinkRow, TicketRow

NEVER_OVERWRITTEN_BY_SOLVE = frozenset({Status.VERIFIED, Status.CLOSED})
ORIGIN_MAY = frozenset({"comment", "status", "update"})


@dataclass
class InboundOutcome:
    event_id: str
    duplicate: bool = False
    applied: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)


async def apply_event(
    session: AsyncSession,
    *,
    connection: Connection,
    event_id: str,
    commands: list[Command],
    config: GatewayConfig,
) -> InboundOutcome:
    """Apply the event's commands in the caller's transaction; a seen event changes nothing."""
    outcome = InboundOutcome(event_id=event_id)
    if await event_seen(session, connection=connection.name, event_id=event_id):
        outcome.duplicate = True
        return outcome
    event = InboundEventRow(connection=connection.name, event_id=event_id)
    for command in commands:
        ticket_id, reason = await _apply(session, connection, command, config)
        item: dict[str, Any] = {"kind": command.kind, "ticket_id": ticket_id}
        if reason is None:
            outcome.applied.append(item)
            event.ticket_id = ticket_id
        else:
            outcome.ignored.append({**item, "reason": reason})
    session.add(event)  # after the commands, so it is one INSERT with the ticket id
    await session.flush()  # a concurrent copy of this event fails here, on the unique key
    return outcome


async def event_seen(session: AsyncSession, *, connection: str, event_id: str) -> bool:
    """Whether this connection's event was already applied."""
    found = await session.scalar(
        select(InboundEventRow.id).where(
            InboundEventRow.connection == connection, InboundEventRow.event_id == event_id
        )
    )
    return found is not None


async def _apply(
    session: AsyncSession, connection: Connection, command: Command, config: GatewayConfig
) -> tuple[int | None, str | None]:
    if isinstance(command, CreateTicket):
        return await _create(session, connection, command, config)
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
    return row.id, await _change(session, connection, row, command, actor, config, link)


async def _refusal(
    session: AsyncSession, connection: Connection, link: LinkRow, row: TicketRow, command: Command
) -> str | None:
    """Why the sync policy ignores this command, or None to apply it."""
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


async def _change(
    session: AsyncSession,
    connection: Connection,
    row: TicketRow,
    command: Command,
    actor: tickets.Actor,
    config: GatewayConfig,
    link: LinkRow,
) -> str | None:
    if isinstance(command, AddComment | AskSubmitter):
        fingerprint = entry_fingerprint(connection.name, link.external_id, command.body)
        echo = await session.scalar(
            select(EchoRow.id).where(
                EchoRow.connection == connection.name, EchoRow.fingerprint == fingerprint
            )
        )
        if echo is not None:
            await session.execute(delete(EchoRow).where(EchoRow.id == echo))
            return "echo of an entry the hub wrote"
        entry = JournalEntryCreate(
            body=command.body, visibility=Visibility.PUBLIC, author=command.author
        )
        await tickets.add_entry(session, row=row, entry=entry, actor=actor)
        if isinstance(command, AskSubmitter):
            patch = TicketPatch(status=Status.WAITING_FOR_REPLY)
            await tickets.update_ticket(session, row=row, patch=patch, actor=actor)
        return None
    if isinstance(command, Solve):
        if Status(row.status) in NEVER_OVERWRITTEN_BY_SOLVE:
            return f"a '{row.status}' ticket is never overwritten by a remote solution"
        patch = TicketPatch(status=command.status, solution=command.solution)
        await tickets.update_ticket(session, row=row, patch=patch, actor=actor)
        return None
    if isinstance(command, Reassign):
        unit = (
            await tickets.resolve_units(session, field="support_unit", names=[command.support_unit])
        )[command.support_unit]
        await _check_assignment(session, connection, Level(unit.level), config)
        patch = TicketPatch(support_unit=unit.name)
        await tickets.update_ticket(session, row=row, patch=patch, actor=actor, new_unit=unit)
        return None
    if isinstance(command, SetStatus):
        await tickets.update_ticket(
            session, row=row, patch=TicketPatch(status=command.status), actor=actor
        )
        return None
    if isinstance(command, UpdateFields):
        patch = TicketPatch.model_validate(
            command.model_dump(include={"priority", "subject"}, exclude_none=True)
        )
        await tickets.update_ticket(session, row=row, patch=patch, actor=actor)
        return None
    return f"'{command.kind}' is not applied to an existing ticket"


async def _create(
    session: AsyncSession, connection: Connection, command: CreateTicket, config: GatewayConfig
) -> tuple[int | None, str | None]:
    if command.remote_id is not None:
        known = await _find_link(session, connection, command.remote_id, None)
        if known is not None:
            return known.ticket_id, f"already known as #{known.ticket_id}"
    data = command.ticket
    name = data.support_unit or config.routing.unit_for(data.component)
    unit = None
    if name is not None:
        unit = (await tickets.resolve_units(session, field="support_unit", names=[name]))[name]
        if data.support_unit:
            await _check_assignment(session, connection, Level(unit.level), config)
    origin_unit = await directory.by_name(session, name=connection.support_unit or "")
    actor = tickets.Actor(name=data.submitter.name, source=connection.name, is_submitter=True)
    row = await tickets.create_ticket(
        session,
        data=data,
        actor=actor,
        support_unit=unit,
        origin_unit_id=origin_unit.id if origin_unit else None,
    )
    session.add(
        LinkRow(
            ticket_id=row.id,
            connection=connection.name,
            external_id=command.remote_id,
            external_url=command.remote_url,
            role=LinkRole.ORIGIN.value,
        )
    )
    return row.id, None


async def _check_assignment(
    session: AsyncSession, connection: Connection, target: Level, config: GatewayConfig
) -> None:
    unit = await directory.by_name(session, name=connection.support_unit or "")
    if unit is not None and not config.routing.may_assign(Level(unit.level), target):
        raise Forbidden(
            f"{connection.name}: a {unit.level}-line unit may not assign tickets to a "
            f"{target.value}-line unit"
        )


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
