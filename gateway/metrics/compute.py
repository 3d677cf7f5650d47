"""Compute a period's figures from the assignments that started in it, in a handful of queries
(assignments, the units, the passes' successors, the waiting spells, the ETAs, the violations),
each by an index, so a quarter of one unit stays cheap however large the store grows.

The arithmetic over them is linear and hands the event loop back every `YIELD_EVERY`
assignments: the snapshot job computes every unit's quarter inside `gateway serve`, and API
requests must not wait for it."""

from __future__ import annotations

import asyncio
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import InvalidInput
from gateway.metrics.models import EtaAccuracy, Figures, GroupBy, Metrics
from gateway.metrics.tables import AssignmentRow
from gateway.process.deadlines import TARGET_VIOLATION
from gateway.process.tables import ProcessMarkRow
from gateway.process.working_time import WorkingTime
from gateway.support_unit.models import Level
from gateway.support_unit.tables import SupportUnitRow
from gateway.ticket.enums import Status
from gateway.ticket.tables import EtaRevisionRow, TicketChangeRow, TicketRow

CHUNK = 1000  # ids per IN list: far below every backend's limit on bound parameters
YIELD_EVERY = 500  # assignments figured between two turns of the event loop (a few ms)
WAITING = Status.WAITING_FOR_REPLY.value
T = TypeVar("T")


@dataclass(eq=False)  # compared by identity: field-wise equality made `in` a scan of every field
class _Assignment:
    row: AssignmentRow
    priority: str
    category: str
    component: str | None
    response: float | None = None
    solution: float | None = None
    third_line: float | None = None
    passed_to_third: bool = False
    violations: int = 0
    eta: str | None = None  # the EtaAccuracy field it counts towards


@dataclass
class _Spells:
    """Waiting-for-reply spells of each ticket, as (start, end or None)."""

    by_ticket: dict[int, list[tuple[datetime, datetime | None]]] = field(default_factory=dict)

    def waiting(self, wt: WorkingTime, ticket_id: int, start: datetime, end: datetime) -> float:
        total = 0.0
        for begin, finish in self.by_ticket.get(ticket_id, []):
            total += wt.seconds_between(max(begin, start), min(finish or end, end))
        return total


async def compute(
    session: AsyncSession,
    *,
    working_time: WorkingTime,
    since: date,
    until: date,
    group_by: GroupBy,
    support_unit: str | None,
) -> Metrics:
    zone = working_time.zone
    start = datetime.combine(since, time(), zone).astimezone(UTC)
    end = datetime.combine(until, time(), zone).astimezone(UTC)
    units = {row.id: (row.name, row.level) for row in await session.scalars(select(SupportUnitRow))}
    unit_id = None
    if support_unit is not None:
        unit_id = next((i for i, (name, _) in units.items() if name == support_unit), None)
        if unit_id is None:
            raise InvalidInput(f"support_unit: unknown support unit '{support_unit}'")
    query = (
        select(AssignmentRow, TicketRow.priority, TicketRow.category, TicketRow.component)
        .join(TicketRow, TicketRow.id == AssignmentRow.ticket_id)
        .where(AssignmentRow.assigned_at >= start, AssignmentRow.assigned_at < end)
    )
    if unit_id is not None:
        query = query.where(AssignmentRow.support_unit_id == unit_id)
    found = [_Assignment(*row) for row in (await session.execute(query)).all()]
    await _figure(session, working_time, found, units)
    rows = _grouped(found, group_by, units)
    return Metrics(
        since=since, until=until, group_by=group_by, support_unit=support_unit, rows=rows
    )


async def _figure(
    session: AsyncSession,
    wt: WorkingTime,
    found: list[_Assignment],
    units: dict[int, tuple[str, str]],
) -> None:
    third = {i for i, (_, level) in units.items() if level == Level.THIRD.value}
    passes = [
        a for a in found if a.row.passed_to_unit_id in third and a.row.support_unit_id not in third
    ]
    for a in passes:
        a.passed_to_third = True
    successors = await _successors(session, passes)
    solved_ids = {a.row.ticket_id for a in found if a.row.solved_at is not None}
    solved_ids |= {s.ticket_id for s in successors.values() if s.solved_at is not None}
    spells = await _spells(session, solved_ids)
    etas = await _etas(session, {a.row.ticket_id for a in found if a.row.solved_at is not None})
    violations = await _violations(session, {a.row.ticket_id for a in found})
    for number, a in enumerate(found, 1):
        if number % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        row = a.row
        if row.answered_at is not None:
            a.response = wt.seconds_between(row.assigned_at, row.answered_at) / 3600
        if row.solved_at is not None:
            spent = wt.seconds_between(row.assigned_at, row.solved_at)
            waited = spells.waiting(wt, row.ticket_id, row.assigned_at, row.solved_at)
            a.solution = max(spent - waited, 0.0) / 3600
            a.eta = _eta_class(etas.get(row.ticket_id, []), row.solved_at, wt)
        if a.passed_to_third:
            after = successors.get((row.ticket_id, row.ended_at))
            if after is not None and after.solved_at is not None and row.ended_at is not None:
                spent = wt.seconds_between(row.ended_at, after.solved_at)
                waited = spells.waiting(wt, row.ticket_id, row.ended_at, after.solved_at)
                a.third_line = max(spent - waited, 0.0) / 3600
        a.violations = sum(
            1
            for moment in violations.get(row.ticket_id, [])
            if moment >= row.assigned_at and (row.ended_at is None or moment < row.ended_at)
        )


def _chunks(values: Iterable[T]) -> Iterable[list[T]]:
    items = sorted(values)  # type: ignore[type-var]
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


async def _successors(
    session: AsyncSession, passes: Sequence[_Assignment]
) -> dict[tuple[int, datetime | None], AssignmentRow]:
    """The assignment each pass started (same ticket, starting the moment the pass ended)."""
    out: dict[tuple[int, datetime | None], AssignmentRow] = {}
    for ids in _chunks({a.row.ticket_id for a in passes}):
        for row in await session.scalars(
            select(AssignmentRow).where(
                AssignmentRow.ticket_id.in_(ids), AssignmentRow.passed_by_unit_id.is_not(None)
            )
        ):
            out[(row.ticket_id, row.assigned_at)] = row
    return out


async def _spells(session: AsyncSession, ticket_ids: set[int]) -> _Spells:
    """When each ticket waited for its submitter, from its history's status changes."""
    spells = _Spells()
    for ids in _chunks(ticket_ids):
        history = await session.execute(
            select(TicketChangeRow.ticket_id, TicketChangeRow.changes, TicketChangeRow.at)
            .where(
                TicketChangeRow.ticket_id.in_(ids),
                TicketChangeRow.action.in_(("updated", "entry_added")),
            )
            .order_by(TicketChangeRow.id)
        )
        for ticket_id, diff, moment in history:
            status = diff.get("status") if isinstance(diff, dict) else None
            if not isinstance(status, dict):
                continue
            own = spells.by_ticket.setdefault(ticket_id, [])
            if status.get("to") == WAITING:
                own.append((moment, None))
            elif status.get("from") == WAITING and own and own[-1][1] is None:
                own[-1] = (own[-1][0], moment)
    return spells


async def _etas(session: AsyncSession, ticket_ids: set[int]) -> dict[int, list[tuple[Any, Any]]]:
    out: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
    for ids in _chunks(ticket_ids):
        for ticket_id, eta, set_at in await session.execute(
            select(EtaRevisionRow.ticket_id, EtaRevisionRow.eta, EtaRevisionRow.set_at)
            .where(EtaRevisionRow.ticket_id.in_(ids))
            .order_by(EtaRevisionRow.id)
        ):
            out[ticket_id].append((eta, set_at))
    return out


def _eta_class(
    revisions: list[tuple[date | None, datetime]], solved_at: datetime, wt: WorkingTime
) -> str | None:
    etas = [eta for eta, set_at in revisions if eta is not None and set_at <= solved_at]
    if not etas:
        return None
    fixed = solved_at.astimezone(wt.zone).date()
    first, last = etas[0], etas[-1]
    if fixed <= first:
        return "by_initial_eta"
    if fixed <= last:
        return "by_revised_eta"
    if fixed <= last + timedelta(days=7):
        return "within_a_week"
    if fixed <= last + timedelta(days=30):
        return "within_a_month"
    return "later"


async def _violations(session: AsyncSession, ticket_ids: set[int]) -> dict[int, list[datetime]]:
    out: dict[int, list[datetime]] = defaultdict(list)
    for ids in _chunks(ticket_ids):
        for ticket_id, moment in await session.execute(
            select(ProcessMarkRow.ticket_id, ProcessMarkRow.at).where(
                ProcessMarkRow.ticket_id.in_(ids), ProcessMarkRow.kind == TARGET_VIOLATION
            )
        ):
            out[ticket_id].append(moment)
    return out


def _grouped(
    found: list[_Assignment], group_by: GroupBy, units: dict[int, tuple[str, str]]
) -> list[Figures]:
    groups: dict[str | None, list[_Assignment]] = defaultdict(list)
    for a in found:
        if group_by == GroupBy.SUPPORT_UNIT:
            key: str | None = units.get(a.row.support_unit_id, ("?", ""))[0]
        else:
            key = getattr(a, group_by.value)
        groups[key].append(a)
    return [
        _figures(key, groups[key]) for key in sorted(groups, key=lambda k: (k is None, k or ""))
    ]


def _figures(key: str | None, items: list[_Assignment]) -> Figures:
    responses = [a.response for a in items if a.response is not None]
    solutions = [a.solution for a in items if a.solution is not None]
    third = [a.third_line for a in items if a.third_line is not None]
    eta = defaultdict(int, {"with_eta": 0})
    for a in items:
        if a.eta is not None:
            eta["with_eta"] += 1
            eta[a.eta] += 1
    return Figures(
        group=key,
        assigned=len(items),
        answered=len(responses),
        response_hours_median=_median(responses),
        response_hours_mean=_mean(responses),
        solved=len(solutions),
        solution_hours_median=_median(solutions),
        solution_hours_mean=_mean(solutions),
        passed_to_third_line=sum(a.passed_to_third for a in items),
        third_line_solution_hours_median=_median(third),
        target_violations=sum(a.violations for a in items),
        eta=EtaAccuracy(
            with_eta=eta["with_eta"],
            by_initial_eta=eta["by_initial_eta"],
            by_revised_eta=eta["by_revised_eta"],
            within_a_week=eta["within_a_week"],
            within_a_month=eta["within_a_month"],
            later=eta["later"],
        ),
    )


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None
