"""The deadlines GGUS keeps in working time, as scheduler jobs.

- waiting for reply: the submitter is reminded after 5 and 10 working days, the ticket is set
  `unsolved` after 15;
- solved or unsolved and not verified: closed after 10 working days;
- response-time targets per priority: the unit is warned at 75 % of its target, and a missed
  target is recorded as a violation (a process mark the metrics count).

Each job reads the tickets' state and history, so a run after an outage catches up. What it does
to a ticket it does in one transaction with a process mark unique per (ticket, kind, key): when
two gateway processes race, the second one's mark fails and it does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.process.notice import record_notice
from gateway.process.tables import ProcessMarkRow
from gateway.scheduler.job import JobContext
from gateway.support_unit.tables import SupportUnitRow
from gateway.sync import outbox
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes
from gateway.ticket.enums import SOLVING_STATES, Priority, Status, Visibility
from gateway.ticket.models import JournalEntryCreate, TicketPatch
from gateway.ticket.tables import TicketChangeRow, TicketRow

log = logging.getLogger(__name__)

PROCESS = tickets.Actor(name="gateway", source="process")
BATCH = 200
AWAITING_RESPONSE = frozenset({Status.NEW, Status.ASSIGNED, Status.REOPENED})

REMINDER, REPLY_UNSOLVED, AUTO_CLOSED = "reply-reminder", "reply-unsolved", "auto-closed"
TARGET_WARNING, TARGET_VIOLATION = "response-warning", "response-violation"

TARGET_VIOLATIONS = Counter(
    "gateway_response_target_violations_total",
    "Tickets whose unit did not answer within the response-time target of their priority.",
    ["support_unit", "priority"],
)
TARGET_WARNINGS = Counter(
    "gateway_response_target_warnings_total",
    "Units warned that a ticket reached the warning share of its response-time target.",
    ["support_unit", "priority"],
)


class AlreadyDone(Exception):
    """An action found, under its lock, that it was done before."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """A ticket in a state since a moment: the clock of one deadline."""

    ticket: TicketRow
    since: datetime


# ------------------------------------------------------------------ waiting for reply


async def remind_waiting(ctx: JobContext) -> str:
    """Remind submitters who were asked a question; give up (`unsolved`) after the last day."""
    rules = ctx.config.process.waiting_for_reply
    reminded = unsolved = 0
    async for item in _in_state(ctx, {Status.WAITING_FOR_REPLY}):
        days = ctx.working_time.days_between(item.since, ctx.now)
        if rules.unsolved_after_days is not None and days >= rules.unsolved_after_days:
            unsolved += await once(ctx, item, REPLY_UNSOLVED, _give_up, days=days)
            continue
        due = [n for n, after in enumerate(rules.reminders_after_days, 1) if days >= after]
        if due:
            reminded += await once(ctx, item, REMINDER, _remind, days=days, number=due[-1])
    return f"{reminded} reminded, {unsolved} set unsolved"


async def _remind(
    ctx: JobContext, session: AsyncSession, item: Waiting, changes: Changes, **facts: Any
) -> None:
    if await _reminded_since(session, item, facts["number"]):
        raise AlreadyDone
    ticket = item.ticket
    rules = ctx.config.process.waiting_for_reply
    local = item.since.astimezone(ctx.working_time.zone)
    text = (
        f"Reminder: ticket #{ticket.id} has been waiting for your reply since "
        f"{local:%Y-%m-%d %H:%M} ({facts['days']:.0f} working days)."
    )
    if rules.unsolved_after_days is not None:
        text += (
            f" Without a reply it will be set unsolved after {rules.unsolved_after_days:g} "
            "working days."
        )
    record_notice(
        session,
        ticket,
        to=[ticket.submitter_email, *ticket.cc],
        kind=REMINDER,
        subject=f"Reminder {facts['number']}: waiting for your reply: {ticket.subject}",
        text=text,
        actor=PROCESS,
        changes=changes,
        visibility=Visibility.PUBLIC,
    )


async def _give_up(
    ctx: JobContext, session: AsyncSession, item: Waiting, changes: Changes, **facts: Any
) -> None:
    days = ctx.config.process.waiting_for_reply.unsolved_after_days
    solution = (
        f"No reply from the submitter within {days:g} working days: the ticket is set unsolved. "
        "Answer this message to reopen it."
    )
    patch = TicketPatch.model_validate({"status": Status.UNSOLVED, "solution": solution})
    await tickets.update_ticket(
        session, row=item.ticket, patch=patch, actor=PROCESS, changes=changes
    )


async def _reminded_since(session: AsyncSession, item: Waiting, number: int) -> bool:
    """Whether a later reminder than `number` went out for this wait (its own mark, already
    written, is `number`); after an outage only the latest due reminder goes out."""
    keys = await session.scalars(
        select(ProcessMarkRow.key).where(
            ProcessMarkRow.ticket_id == item.ticket.id, ProcessMarkRow.kind == REMINDER
        )
    )
    prefix = _key(item.since) + "#"
    return any(k.startswith(prefix) and int(k[len(prefix) :]) > number for k in keys)


# ------------------------------------------------------------------ closing


async def close_solved(ctx: JobContext) -> str:
    """Close solutions nobody verified or disputed within the configured working days."""
    after = ctx.config.process.auto_close.after_days
    if after is None:
        return "automatic closing is off"
    closed = 0
    async for item in _in_state(ctx, SOLVING_STATES):
        if ctx.working_time.days_between(item.since, ctx.now) >= after:
            closed += await once(ctx, item, AUTO_CLOSED, _close)
    return f"{closed} closed"


async def _close(
    ctx: JobContext, session: AsyncSession, item: Waiting, changes: Changes, **facts: Any
) -> None:
    patch = TicketPatch.model_validate({"status": Status.CLOSED})
    await tickets.update_ticket(
        session, row=item.ticket, patch=patch, actor=PROCESS, changes=changes
    )


# ------------------------------------------------------------------ response targets


async def watch_response_targets(ctx: JobContext) -> str:
    """Warn the unit at the warning share of its target; record a violation at the target."""
    targets = ctx.config.process.response_targets
    warned = violated = 0
    async for item in _in_state(ctx, AWAITING_RESPONSE, response_clock=True):
        hours = targets.hours.get(Priority(item.ticket.priority))
        if item.ticket.support_unit_id is None or hours is None:
            continue
        spent = ctx.working_time.seconds_between(item.since, ctx.now) / 3600
        facts = {"hours": spent, "target": hours}
        if spent >= hours:
            violated += await once(ctx, item, TARGET_VIOLATION, _violated, **facts)
        elif spent >= hours * targets.warn_at:
            warned += await once(ctx, item, TARGET_WARNING, _warn, **facts)
    return f"{warned} warned, {violated} violations"


async def _warn(
    ctx: JobContext, session: AsyncSession, item: Waiting, changes: Changes, **facts: Any
) -> None:
    unit = await session.get(SupportUnitRow, item.ticket.support_unit_id)
    ticket = item.ticket
    text = (
        f"Ticket #{ticket.id} ({ticket.priority}) has waited {facts['hours']:.1f} of the "
        f"{facts['target']:g} working hours its priority allows for your unit's first answer."
    )
    if unit is not None and unit.email:
        record_notice(
            session,
            ticket,
            to=[unit.email],
            kind=TARGET_WARNING,
            subject=f"Response target nearly reached: {ticket.subject}",
            text=text,
            actor=PROCESS,
            changes=changes,
        )
    TARGET_WARNINGS.labels(unit.name if unit else "", ticket.priority).inc()


async def _violated(
    ctx: JobContext, session: AsyncSession, item: Waiting, changes: Changes, **facts: Any
) -> None:
    unit = await session.get(SupportUnitRow, item.ticket.support_unit_id)
    ticket = item.ticket
    text = (
        f"Response-time target missed: {facts['target']:g} working hours for a "
        f"{ticket.priority} ticket, no answer from {unit.name if unit else 'the unit'} yet."
    )
    await tickets.add_entry(
        session,
        row=ticket,
        entry=JournalEntryCreate(body=text, visibility=Visibility.INTERNAL),
        actor=PROCESS,
        changes=changes,
    )
    if unit is not None and unit.email:
        record_notice(
            session,
            ticket,
            to=[unit.email],
            kind=TARGET_VIOLATION,
            subject=f"Response target missed: {ticket.subject}",
            text=text,
            actor=PROCESS,
            changes=changes,
        )
    TARGET_VIOLATIONS.labels(unit.name if unit else "", ticket.priority).inc()


# ------------------------------------------------------------------ shared


async def _in_state(
    ctx: JobContext, states: Iterable[Status], *, response_clock: bool = False
) -> AsyncIterator[Waiting]:
    """Tickets in one of `states`, in batches, each with the moment its clock started: when it
    entered that state (or, for the response clock, also when it reached its current unit).
    Each batch is read in a short read-only transaction of its own (`ctx.reads`: on SQLite
    it does not hold the database's one write lock, which each action then needs)."""
    wanted = {s.value for s in states}
    last_id = 0
    while True:
        async with ctx.reads() as session:
            rows = list(
                await session.scalars(
                    select(TicketRow)
                    .where(TicketRow.status.in_(wanted), TicketRow.id > last_id)
                    .order_by(TicketRow.id)
                    .limit(BATCH)
                )
            )
            if not rows:
                return
            history = await session.execute(
                select(
                    TicketChangeRow.ticket_id,
                    TicketChangeRow.action,
                    TicketChangeRow.changes,
                    TicketChangeRow.at,
                )
                .where(TicketChangeRow.ticket_id.in_([r.id for r in rows]))
                .order_by(TicketChangeRow.id)
            )
            since: dict[int, datetime] = {}
            for ticket_id, action, diff, moment in history.all():
                status = diff.get("status")
                if isinstance(status, dict):  # an update's {from, to}; a creation's status
                    status = status.get("to")
                if (
                    action == "created"
                    or status in wanted
                    or (response_clock and "support_unit" in diff)
                ):
                    since[ticket_id] = moment
        last_id = rows[-1].id
        for row in rows:
            yield Waiting(row, since.get(row.id, row.updated_at))


async def once(ctx: JobContext, item: Waiting, kind: str, act: Any, **facts: Any) -> int:
    """Do `act` to the ticket with its mark, in one transaction of its own; 0 when it was done
    already (the mark exists, or another process's insert of it won) or the ticket has moved
    on to another state meanwhile."""
    key = _key(item.since) + (f"#{facts['number']}" if "number" in facts else "")
    async with ctx.sessionmaker() as session:
        ticket = await session.get(TicketRow, item.ticket.id, with_for_update=True)
        if ticket is None or ticket.status != item.ticket.status:
            return 0
        exists = await session.scalar(
            select(ProcessMarkRow.id).where(
                ProcessMarkRow.ticket_id == ticket.id,
                ProcessMarkRow.kind == kind,
                ProcessMarkRow.key == key,
            )
        )
        if exists is not None:
            return 0
        changes = Changes()
        details = {k: v for k, v in facts.items() if isinstance(v, int | float | str)}
        session.add(
            ProcessMarkRow(ticket_id=ticket.id, kind=kind, key=key, details=details, at=ctx.now)
        )
        try:
            await session.flush()  # the mark first: a second process stops here
            await act(ctx, session, Waiting(ticket, item.since), changes, **facts)
            await outbox.commit(session, ctx.sync, changes)
        except (IntegrityError, AlreadyDone):  # another gateway process did it first
            await session.rollback()
            return 0
    return 1


def _key(since: datetime) -> str:
    return since.isoformat(timespec="seconds")
