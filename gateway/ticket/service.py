"""Database functions for tickets: create, read, list, change, journal and history.

Permission checks live in `access.py`; these functions enforce the domain rules (status
transitions, fixed type, ETA revisions) whoever the actor is, so the sync engine can reuse them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import Caller
from gateway.database import ids
from gateway.database.base import utcnow
from gateway.errors import BadRequest, InvalidInput, NotFound
from gateway.inputs import MAX_DB_INT, load_json
from gateway.metrics import track
from gateway.relation import queries as relation_queries
from gateway.support_unit import directory
from gateway.support_unit.directory import Unit
from gateway.support_unit.tables import SupportUnitRow
from gateway.ticket import access, search
from gateway.ticket.changes import Changes
from gateway.ticket.enums import SOLVING_STATES, RelationKind, Status, Visibility
from gateway.ticket.models import (
    MAX_TEXT,
    EtaRevision,
    HistoryEntry,
    JournalEntry,
    JournalEntryCreate,
    Link,
    Relation,
    Submitter,
    Ticket,
    TicketCreate,
    TicketPatch,
)
from gateway.ticket.tables import (
    EtaRevisionRow,
    InvolvedUnitRow,
    JournalEntryRow,
    LinkRow,
    TicketChangeRow,
    TicketRow,
)
from gateway.ticket.transitions import check_transition

SIMPLE_FIELDS = ("subject", "description", "priority", "component", "affected_site", "vo", "cc")
RELATED = "relations"  # the source of the changes a relation makes (a solution passed on)
DONE_STATES = SOLVING_STATES | {Status.VERIFIED, Status.CLOSED}
AWAITING_ANSWER = frozenset({Status.NEW, Status.ASSIGNED, Status.REOPENED})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change and through which source (`api` or a connection name)."""

    name: str
    source: str
    is_submitter: bool = False
    may_reopen_closed: bool = False
    unit_id: int | None = None  # the unit whose staff acts (an API key's), if known

    @classmethod
    def from_caller(cls, caller: Caller) -> Actor:
        return cls(
            name=caller.name,
            source="api",
            is_submitter=not caller.sees_internal,
            may_reopen_closed=caller.is_admin or not caller.sees_internal,
            unit_id=caller.unit_id,
        )

    def answers_for(self, holder: int | None) -> bool:
        """Whether this actor's public entry or status change is the holding unit's answer."""
        return track.answers(
            is_submitter=self.is_submitter, source=self.source, unit_id=self.unit_id, holder=holder
        )


@dataclass(frozen=True, slots=True)
class TicketFilter:
    status: Sequence[Status] = ()
    support_unit: str | None = None
    updated_since: datetime | None = None
    text: str | None = None
    link: tuple[str, str] | None = None  # (connection, external id)


async def resolve_units(
    session: AsyncSession, *, field: str, names: Sequence[str]
) -> dict[str, Unit]:
    """Look up units by name; an unknown one is a 422 naming the field and the unit."""
    found = await directory.by_names(session, names=names)
    missing = [name for name in names if name not in found]
    if missing:
        raise InvalidInput(
            f"{field}: unknown support unit '{missing[0]}'",
            details=[
                {"field": field, "message": f"unknown support unit '{name}'"} for name in missing
            ],
        )
    return found


_INSERT_TICKET = insert(TicketRow).returning(TicketRow)  # built once: its cache key is cheap


async def create_ticket(
    session: AsyncSession,
    *,
    data: TicketCreate,
    actor: Actor,
    support_unit: Unit | None,
    changes: Changes,
    origin_unit_id: int | None = None,
) -> TicketRow:
    """Insert a ticket with its involved units, first ETA and its `created` history entry.

    A ticket with an explicitly chosen unit starts `assigned`; one that goes to the default
    (first-line) unit starts `new`, waiting for triage. It is never created `in progress`.
    """
    involved = await resolve_units(session, field="involved", names=data.involved)
    now = utcnow()
    status = Status.ASSIGNED if data.support_unit else Status.NEW
    values = dict(
        subject=data.subject,
        description=data.description,
        submitter_name=data.submitter.name,
        submitter_email=data.submitter.email,
        submitter_dn=data.submitter.dn,
        type=data.type.value,
        category=data.category.value,
        priority=data.priority.value,
        status=status.value,
        support_unit_id=support_unit.id if support_unit else None,
        origin_unit_id=origin_unit_id,
        cc=list(data.cc),
        component=data.component,
        affected_site=data.affected_site,
        vo=data.vo,
        eta=data.eta,
        created_at=now,
        updated_at=now,
        version=1,
    )
    # one INSERT now, for its id; what the caller has pending stays pending (a batch of mail
    # writes the rest of its tickets' rows together, see gateway.mail.service.read_batch)
    if ids.allocator(session) is not None:  # its key known now: the INSERT can wait
        row = TicketRow(**values)
        await ids.assign(session, row)
        session.add(row)
    else:
        row = (await session.scalars(_INSERT_TICKET, [values])).one()
    session.add_all(
        InvolvedUnitRow(ticket_id=row.id, support_unit_id=unit.id) for unit in involved.values()
    )
    if data.eta is not None:
        session.add(EtaRevisionRow(ticket_id=row.id, eta=data.eta, set_by=actor.name, set_at=now))
    if support_unit is not None:
        await track.assigned(
            session,
            ticket_id=row.id,
            unit_id=support_unit.id,
            passed_by=origin_unit_id,
            at=now,
            first=True,
        )
    created = data.model_dump(mode="json", exclude_none=True)
    created.update(status=status.value, support_unit=support_unit.name if support_unit else None)
    record_change(session, changes, row, action="created", actor=actor, diff=created, at=now)
    return row


async def load_ticket(
    session: AsyncSession, *, ticket_id: int, caller: Caller, for_update: bool = False
) -> TicketRow:
    """The ticket if this caller may see it; otherwise 404, so existence does not leak."""
    query = select(TicketRow).where(TicketRow.id == ticket_id, access.visible(caller))
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"ticket #{ticket_id} not found")
    return row


async def update_ticket(
    session: AsyncSession,
    *,
    row: TicketRow,
    patch: TicketPatch,
    actor: Actor,
    changes: Changes,
    new_unit: Unit | None = None,
    because: dict[str, Any] | None = None,
) -> TicketRow:
    """Apply a patch under the domain rules; a patch that changes nothing leaves the version.

    A solution passes on along the ticket's relations, whoever gave it (API, a unit's system,
    mail, a release, a deadline): see `_pass_solution_on`. `because` goes into the history.
    """
    diff: dict[str, Any] = {}
    now = utcnow()
    was = Status(row.status)
    for field in SIMPLE_FIELDS:
        if field in patch.model_fields_set:
            _set(row, field, _plain(getattr(patch, field)), diff)
    if new_unit is not None and new_unit.id != row.support_unit_id:
        old_names = await directory.names_by_id(session, ids=[row.support_unit_id or 0])
        diff["support_unit"] = _change(old_names.get(row.support_unit_id or 0), new_unit.name)
        await track.assigned(
            session, ticket_id=row.id, unit_id=new_unit.id, passed_by=row.support_unit_id, at=now
        )
        row.support_unit_id = new_unit.id
        if row.status == Status.NEW and patch.status is None:
            _set(row, "status", Status.ASSIGNED.value, diff)
    if patch.involved is not None:
        await _set_involved(session, row, patch.involved, diff)
    if "eta" in patch.model_fields_set and patch.eta != row.eta:
        diff["eta"] = _change(_plain(row.eta), _plain(patch.eta))
        row.eta = patch.eta
        session.add(EtaRevisionRow(ticket_id=row.id, eta=patch.eta, set_by=actor.name, set_at=now))
    _apply_status_and_solution(row, patch, actor, diff)
    if "status" in diff:
        await _track_status(session, row, actor, now)
    if diff:
        bump(
            session,
            changes,
            row,
            action="updated",
            actor=actor,
            diff=diff | (because or {}),
            at=now,
        )
    if "status" in diff and Status(row.status) in SOLVING_STATES and was not in SOLVING_STATES:
        await _pass_solution_on(session, row=row, actor=actor, changes=changes)
    return row


async def _track_status(session: AsyncSession, row: TicketRow, actor: Actor, now: datetime) -> None:
    status = Status(row.status)
    if status not in AWAITING_ANSWER and actor.answers_for(row.support_unit_id):
        await track.answered(session, ticket_id=row.id, at=now)
    if status in SOLVING_STATES:
        await track.solved(session, ticket_id=row.id, at=now)


async def _pass_solution_on(
    session: AsyncSession, *, row: TicketRow, actor: Actor, changes: Changes
) -> None:
    """A solved master solves its open slaves and duplicates with the same solution (their
    submitters are mailed it like any solution); the last child solved solves its parent with
    the children's solutions. Only open tickets are solved, so this ends."""
    relay = Actor(name=actor.name, source=RELATED)
    same = TicketPatch.model_validate({"status": row.status, "solution": row.solution})
    for follower in await relation_queries.open_followers(session, row.id):
        await update_ticket(
            session,
            row=follower,
            patch=same,
            actor=relay,
            changes=changes,
            because={"solved_with": row.id},
        )
    parent_id = (await relation_queries.held(session, row.id)).get(RelationKind.CHILD_OF)
    if parent_id is None:
        return
    parent = await session.scalar(
        select(TicketRow).where(TicketRow.id == parent_id).with_for_update()
    )
    if parent is None or not Status(parent.status).is_open:
        return
    children = await relation_queries.children(session, parent_id)
    if not all(Status(child.status) in DONE_STATES for child in children):
        return
    await update_ticket(
        session,
        row=parent,
        patch=await _parent_solution(session, children),
        actor=relay,
        changes=changes,
        because={"children_solved": [child.id for child in children]},
    )


async def _parent_solution(session: AsyncSession, children: list[TicketRow]) -> TicketPatch:
    """`unsolved` only if every child is; the solution lists each child's, unit by unit."""
    names = await directory.names_by_id(session, ids={c.support_unit_id or 0 for c in children})
    parts = [f"All {len(children)} child tickets are solved."]
    for child in children:
        unit = names.get(child.support_unit_id or 0, "no unit")
        parts.append(f"#{child.id} ({unit}, {child.status}):\n{child.solution or '(no text)'}")
    unsolved = all(child.status == Status.UNSOLVED.value for child in children)
    text = "\n\n".join(parts)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return TicketPatch.model_validate(
        {"status": Status.UNSOLVED if unsolved else Status.SOLVED, "solution": text}
    )


def _apply_status_and_solution(
    row: TicketRow, patch: TicketPatch, actor: Actor, diff: dict[str, Any]
) -> None:
    old = Status(row.status)
    if patch.status is not None:
        check_transition(
            old,
            patch.status,
            solution_given=patch.solution is not None,
            may_reopen_closed=actor.may_reopen_closed,
        )
        _set(row, "status", patch.status.value, diff)
    if patch.solution is not None:
        if Status(row.status) not in SOLVING_STATES:
            raise InvalidInput("solution is set together with status 'solved' or 'unsolved'")
        _set(row, "solution", patch.solution, diff)


async def _set_involved(
    session: AsyncSession, row: TicketRow, names: list[str], diff: dict[str, Any]
) -> None:
    units = await resolve_units(session, field="involved", names=names)
    current = await _involved_names(session, [row.id])
    old = sorted(current.get(row.id, []))
    new = sorted(units)
    if old == new:
        return
    await session.execute(delete(InvolvedUnitRow).where(InvolvedUnitRow.ticket_id == row.id))
    session.add_all(InvolvedUnitRow(ticket_id=row.id, support_unit_id=u.id) for u in units.values())
    diff["involved"] = _change(old, new)


async def add_entry(
    session: AsyncSession,
    *,
    row: TicketRow,
    entry: JournalEntryCreate,
    actor: Actor,
    changes: Changes,
) -> JournalEntryRow:
    """Add a journal entry; a submitter's public reply to `waiting for reply` resumes work."""
    now = utcnow()
    journal = JournalEntryRow(
        ticket_id=row.id,
        visibility=entry.visibility.value,
        body=entry.body,
        author=entry.author or actor.name,
        source=actor.source,
        created_at=now,
    )
    session.add(journal)
    await session.flush()
    diff: dict[str, Any] = {"entry": {"id": journal.id, "visibility": journal.visibility}}
    if entry.visibility == Visibility.PUBLIC and actor.answers_for(row.support_unit_id):
        await track.answered(session, ticket_id=row.id, at=now)
    if (
        actor.is_submitter
        and entry.visibility == Visibility.PUBLIC
        and row.status == Status.WAITING_FOR_REPLY
    ):
        _set(row, "status", Status.IN_PROGRESS.value, diff)
    bump(session, changes, row, action="entry_added", actor=actor, diff=diff, at=now)
    return journal


async def note(
    session: AsyncSession, *, ticket_id: int, action: str, actor: Actor, diff: dict[str, Any]
) -> None:
    """Something that happened to the ticket's deliveries, kept in its history; the ticket itself
    (and so its version) does not change, and nobody is told."""
    version = await session.scalar(select(TicketRow.version).where(TicketRow.id == ticket_id))
    session.add(
        TicketChangeRow(
            ticket_id=ticket_id,
            version=version or 0,
            action=action,
            actor=actor.name,
            source=actor.source,
            changes=diff,
            at=utcnow(),
        )
    )


def _set(row: TicketRow, field: str, value: Any, diff: dict[str, Any]) -> None:
    old = getattr(row, field)
    if old != value:
        diff[field] = _change(old, value)
        setattr(row, field, value)


def _change(old: Any, new: Any) -> dict[str, Any]:
    return {"from": old, "to": new}


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value


def bump(
    session: AsyncSession,
    changes: Changes,
    row: TicketRow,
    *,
    action: str,
    actor: Actor,
    diff: dict[str, Any],
    at: datetime,
) -> None:
    row.version += 1
    row.updated_at = at
    record_change(session, changes, row, action=action, actor=actor, diff=diff, at=at)


def record_change(
    session: AsyncSession,
    changes: Changes,
    row: TicketRow,
    *,
    action: str,
    actor: Actor,
    diff: dict[str, Any],
    at: datetime,
) -> None:
    """A history row for the change, and the change in the unit of work's log for the sync."""
    change = TicketChangeRow(
        ticket_id=row.id,
        version=row.version,
        action=action,
        actor=actor.name,
        source=actor.source,
        changes=diff,
        at=at,
    )
    session.add(change)
    changes.add(row, change)


async def list_tickets(
    session: AsyncSession, *, caller: Caller, filters: TicketFilter, cursor: str | None, limit: int
) -> tuple[list[TicketRow], str | None]:
    """One page of visible tickets in hub-id order, and the cursor of the next page."""
    conditions = [access.visible(caller), *await _conditions(session, filters)]
    after = decode_cursor(cursor) if cursor is not None else 0
    if filters.text and session.get_bind().dialect.name == "postgresql":
        ids = await search.page_ids(
            session, conditions=conditions, text=filters.text, after=after, limit=limit + 1
        )
        if not ids:
            return [], None
        query = select(TicketRow).where(TicketRow.id.in_(ids))
    else:
        if filters.text:
            conditions.append(search.contains(filters.text))
        query = select(TicketRow).where(*conditions, TicketRow.id > after).limit(limit + 1)
    rows = list((await session.execute(query.order_by(TicketRow.id))).scalars())
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].id)
    return rows, None


async def _conditions(session: AsyncSession, filters: TicketFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status:
        conditions.append(TicketRow.status.in_([s.value for s in filters.status]))
    if filters.support_unit is not None:
        unit = await directory.by_name(session, name=filters.support_unit)
        conditions.append(TicketRow.support_unit_id == (unit.id if unit else -1))
    if filters.updated_since is not None:
        since = filters.updated_since
        conditions.append(
            TicketRow.updated_at >= (since if since.tzinfo else since.replace(tzinfo=UTC))
        )
    if filters.link is not None:
        connection, external_id = filters.link
        conditions.append(
            exists(
                select(LinkRow.id).where(
                    LinkRow.ticket_id == TicketRow.id,
                    LinkRow.connection == connection,
                    LinkRow.external_id == external_id,
                )
            )
        )
    return conditions


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The last hub id of the previous page; anything this API did not write is a 400."""
    try:
        data = load_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
        if type(after) is not int or not 0 <= after <= MAX_DB_INT:
            raise TypeError
        return after
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest("cursor is not one this API returned") from None


async def history(session: AsyncSession, *, row: TicketRow, caller: Caller) -> list[HistoryEntry]:
    """Every change in order; a submitter's caller does not see internal entries being added."""
    result = await session.execute(
        select(TicketChangeRow)
        .where(TicketChangeRow.ticket_id == row.id)
        .order_by(TicketChangeRow.id)
    )
    entries = [HistoryEntry.model_validate(change) for change in result.scalars()]
    if caller.sees_internal:
        return entries
    return [
        e
        for e in entries
        if e.changes.get("entry", {}).get("visibility") != Visibility.INTERNAL
        and e.changes.get("notice", {}).get("visibility") != Visibility.INTERNAL
    ]


async def _involved_names(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[str]]:
    result = await session.execute(
        select(InvolvedUnitRow.ticket_id, SupportUnitRow.name)
        .join(SupportUnitRow, SupportUnitRow.id == InvolvedUnitRow.support_unit_id)
        .where(InvolvedUnitRow.ticket_id.in_(ids))
        .order_by(SupportUnitRow.name)
    )
    out: dict[int, list[str]] = defaultdict(list)
    for ticket_id, name in result:
        out[ticket_id].append(name)
    return out


async def render(
    session: AsyncSession, *, rows: Sequence[TicketRow], internal: bool
) -> list[Ticket]:
    """Canonical tickets, with internal entries only if asked, in a few queries for any number."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    unit_ids = {u for row in rows for u in (row.support_unit_id, row.origin_unit_id) if u}
    names = await directory.names_by_id(session, ids=unit_ids)
    involved = await _involved_names(session, ids)
    journal = await _related(session, JournalEntryRow, ids, internal)
    links = await _related(session, LinkRow, ids, internal)
    etas = await _related(session, EtaRevisionRow, ids, internal)
    relations = await relation_queries.relations_of(session, ids)
    return [
        _ticket(
            row,
            support_unit=names.get(row.support_unit_id or 0),
            origin_unit=names.get(row.origin_unit_id or 0),
            involved=involved.get(row.id, []),
            eta_history=[EtaRevision.model_validate(r) for r in etas[row.id]],
            journal=[JournalEntry.model_validate(r) for r in journal[row.id]],
            links=[Link.model_validate(r) for r in links[row.id]],
            relations=relations.get(row.id, []),
        )
        for row in rows
    ]


def render_created(
    row: TicketRow,
    *,
    data: TicketCreate,
    actor: Actor,
    support_unit: str | None,
    origin_unit: str | None,
    relations: list[Relation] | None = None,
) -> Ticket:
    """A ticket just created in this session, rendered without reading back what we wrote.

    Equal to `render` of the same row (a test compares the create response with a read).
    """
    eta_history = (
        [EtaRevision(eta=row.eta, set_by=actor.name, set_at=row.created_at)] if row.eta else []
    )
    return _ticket(
        row,
        support_unit=support_unit,
        origin_unit=origin_unit,
        involved=sorted(set(data.involved)),
        eta_history=eta_history,
        journal=[],
        links=[],
        relations=relations or [],
    )


def _ticket(
    row: TicketRow,
    *,
    support_unit: str | None,
    origin_unit: str | None,
    involved: list[str],
    eta_history: list[EtaRevision],
    journal: list[JournalEntry],
    links: list[Link],
    relations: list[Relation],
) -> Ticket:
    return Ticket(
        id=row.id,
        subject=row.subject,
        description=row.description,
        submitter=Submitter(
            name=row.submitter_name, email=row.submitter_email, dn=row.submitter_dn
        ),
        type=row.type,
        category=row.category,
        priority=row.priority,
        status=row.status,
        support_unit=support_unit,
        origin_unit=origin_unit,
        involved=involved,
        cc=row.cc,
        component=row.component,
        affected_site=row.affected_site,
        vo=row.vo,
        eta=row.eta,
        eta_history=eta_history,
        solution=row.solution,
        journal=journal,
        links=links,
        relations=relations,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


async def _related(
    session: AsyncSession,
    table: type[JournalEntryRow] | type[LinkRow] | type[EtaRevisionRow],
    ids: Sequence[int],
    internal: bool,
) -> dict[int, list[Any]]:
    query = select(table).where(table.ticket_id.in_(ids)).order_by(table.id)
    if table is JournalEntryRow and not internal:
        query = query.where(JournalEntryRow.visibility == Visibility.PUBLIC.value)
    out: dict[int, list[Any]] = defaultdict(list)
    for item in (await session.execute(query)).scalars():
        out[getattr(item, "ticket_id")].append(item)  # noqa: B009 (union of row types)
    return out
