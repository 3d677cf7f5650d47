"""What a weekly digest says, read from the store: one unit's week, or a second-line unit's view
of the tickets it passed to the third line.

The week's history is read once (changes in the window) and filtered here: JSON queries differ
between SQLite and PostgreSQL, and a week of changes is small next to the ticket table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.support_unit.tables import SupportUnitRow
from gateway.ticket.enums import OPEN_STATES, SOLVING_STATES, LinkRole, Priority, TicketType
from gateway.ticket.tables import InvolvedUnitRow, LinkRow, TicketChangeRow, TicketRow

UNIT, THIRD_LINE = "unit", "third-line"
WIDE_PRIORITIES = {Priority.TOP_PRIORITY.value, Priority.VERY_URGENT.value}
WIDE_TYPES = {TicketType.ALARM.value, TicketType.TEAM.value}
LISTED = 25  # tickets listed per section; the counts are complete


@dataclass(frozen=True, slots=True)
class Line:
    id: int
    subject: str
    priority: str
    status: str
    support_unit: str | None
    eta: date | None
    why: str = ""


@dataclass
class DigestFacts:
    unit: str
    scope: str
    week_start: date
    week_end: date  # exclusive
    assigned_per_day: list[int] = field(default_factory=lambda: [0] * 7)
    solved_per_day: list[int] = field(default_factory=lambda: [0] * 7)
    open_by_priority: dict[str, int] = field(default_factory=dict)
    wide: list[Line] = field(default_factory=list)  # likely to hit many users
    etas_next_week: list[Line] = field(default_factory=list)
    etas_expired: list[Line] = field(default_factory=list)
    requirements: list[Line] = field(default_factory=list)
    passed: list[Line] = field(default_factory=list)  # third-line scope: tickets passed on

    @property
    def assigned(self) -> int:
        return sum(self.assigned_per_day)

    @property
    def solved(self) -> int:
        return sum(self.solved_per_day)

    def summary(self) -> dict[str, Any]:
        return {
            "assigned": self.assigned,
            "solved": self.solved,
            "open": sum(self.open_by_priority.values()),
            "likely_to_hit_many_users": len(self.wide),
            "etas_next_week": len(self.etas_next_week),
            "etas_expired": len(self.etas_expired),
            "requirements_opened": len(self.requirements),
            "passed_to_third_line": len(self.passed),
        }


async def collect(
    session: AsyncSession, *, unit: SupportUnitRow, scope: str, week_start: date, zone: ZoneInfo
) -> DigestFacts:
    week_end = week_start + timedelta(days=7)
    facts = DigestFacts(unit.name, scope, week_start, week_end)
    since = datetime.combine(week_start, datetime.min.time(), tzinfo=zone)
    until = datetime.combine(week_end, datetime.min.time(), tzinfo=zone)
    names = dict((await session.execute(select(SupportUnitRow.id, SupportUnitRow.name))).all())
    levels = dict((await session.execute(select(SupportUnitRow.name, SupportUnitRow.level))).all())
    changes = (
        await session.execute(
            select(
                TicketChangeRow.ticket_id,
                TicketChangeRow.action,
                TicketChangeRow.changes,
                TicketChangeRow.at,
            )
            .where(TicketChangeRow.at >= since, TicketChangeRow.at < until)
            .order_by(TicketChangeRow.id)
        )
    ).all()
    if scope == UNIT:
        held = TicketRow.support_unit_id == unit.id
        for _, action, diff, at in changes:
            day = at.astimezone(zone).weekday()
            if _to(diff.get("support_unit")) == unit.name and (
                action == "created" or "support_unit" in diff
            ):
                facts.assigned_per_day[day] += 1
        solved_here = await _ids(session, held)
        for ticket_id, _, diff, at in changes:
            if ticket_id in solved_here and _to(diff.get("status")) in SOLVING_STATES:
                facts.solved_per_day[at.astimezone(zone).weekday()] += 1
        facts.requirements = [
            _line(row, names)
            for row in await session.scalars(
                select(TicketRow)
                .join(LinkRow, LinkRow.ticket_id == TicketRow.id)
                .where(
                    held,
                    LinkRow.role == LinkRole.REQUIREMENT.value,
                    LinkRow.created_at >= since,
                    LinkRow.created_at < until,
                )
                .order_by(TicketRow.id)
                .limit(LISTED)
            )
        ]
    else:  # the tickets this second-line unit handed to a third-line unit
        third = [i for i, n in names.items() if levels.get(n) == "third"]
        at_third = TicketRow.support_unit_id.in_(third)
        solved_in_week = {t for t, _, d, _ in changes if _to(d.get("status")) in SOLVING_STATES}
        candidates = await _ids(session, at_third & TicketRow.status.in_(_open()))
        candidates |= await _ids(session, at_third & TicketRow.id.in_(solved_in_week))
        passed = await _passed_on(session, candidates, unit.name, levels)
        held = TicketRow.id.in_(passed) & at_third
        for ticket_id, _, diff, at in changes:
            if ticket_id in passed and _to(diff.get("status")) in SOLVING_STATES:
                facts.solved_per_day[at.astimezone(zone).weekday()] += 1
        facts.passed = [
            _line(row, names)
            for row in await session.scalars(
                select(TicketRow).where(held, TicketRow.status.in_(_open())).limit(LISTED)
            )
        ]
    open_rows = (
        await session.execute(
            select(TicketRow.priority, func.count())
            .where(held, TicketRow.status.in_(_open()))
            .group_by(TicketRow.priority)
        )
    ).all()
    facts.open_by_priority = {priority: count for priority, count in open_rows}
    facts.wide = await _wide(session, held, names)
    facts.etas_next_week = [
        _line(row, names)
        for row in await session.scalars(
            select(TicketRow)
            .where(
                held,
                TicketRow.status.in_(_open()),
                TicketRow.eta >= week_end,
                TicketRow.eta < week_end + timedelta(days=7),
            )
            .order_by(TicketRow.eta, TicketRow.id)
            .limit(LISTED)
        )
    ]
    facts.etas_expired = [
        _line(row, names)
        for row in await session.scalars(
            select(TicketRow)
            .where(held, TicketRow.status.in_(_open()), TicketRow.eta < week_end)
            .order_by(TicketRow.eta, TicketRow.id)
            .limit(LISTED)
        )
    ]
    return facts


async def _wide(session: AsyncSession, held: Any, names: dict[int, str]) -> list[Line]:
    """Open tickets likely to hit many users: ALARM and TEAM tickets, the two most urgent
    priorities, and tickets other units are involved in."""
    involved = select(InvolvedUnitRow.ticket_id).distinct()
    rows = await session.scalars(
        select(TicketRow)
        .where(
            held,
            TicketRow.status.in_(_open()),
            TicketRow.type.in_(WIDE_TYPES)
            | TicketRow.priority.in_(WIDE_PRIORITIES)
            | TicketRow.id.in_(involved),
        )
        .order_by(TicketRow.id)
        .limit(LISTED)
    )
    out = []
    for row in rows:
        reasons = []
        if row.type in WIDE_TYPES:
            reasons.append(f"{row.type} ticket")
        if row.priority in WIDE_PRIORITIES:
            reasons.append(row.priority)
        if not reasons:
            reasons.append("several units involved")
        out.append(_line(row, names, why=", ".join(reasons)))
    return out


async def _passed_on(
    session: AsyncSession, candidates: set[int], unit: str, levels: dict[str, str]
) -> set[int]:
    """Those of `candidates` that `unit` handed to a third-line unit at some point."""
    out: set[int] = set()
    ordered = sorted(candidates)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        history = await session.execute(
            select(TicketChangeRow.ticket_id, TicketChangeRow.changes).where(
                TicketChangeRow.ticket_id.in_(chunk), TicketChangeRow.action == "updated"
            )
        )
        for ticket_id, diff in history.all():
            moved = diff.get("support_unit")
            if (
                isinstance(moved, dict)
                and moved.get("from") == unit
                and levels.get(str(moved.get("to"))) == "third"
            ):
                out.add(ticket_id)
    return out


async def _ids(session: AsyncSession, where: Any) -> set[int]:
    return set(await session.scalars(select(TicketRow.id).where(where)))


def _open() -> list[str]:
    return [s.value for s in OPEN_STATES]


def _to(value: Any) -> Any:
    """A change's new value: updates record {from, to}, a creation the value itself."""
    return value.get("to") if isinstance(value, dict) else value


def _line(row: TicketRow, names: dict[int, str], why: str = "") -> Line:
    return Line(
        id=row.id,
        subject=row.subject,
        priority=row.priority,
        status=row.status,
        support_unit=names.get(row.support_unit_id or 0),
        eta=row.eta,
        why=why,
    )
