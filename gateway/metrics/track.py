"""Keep the assignments as the ticket service changes tickets: in the change's transaction,
one statement each, so a metric never disagrees with the ticket's history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.metrics.tables import AssignmentRow

# changes the hub makes by itself are nobody's answer
SYSTEM_SOURCES = frozenset({"process", "routing", "relations"})


async def assigned(
    session: AsyncSession,
    *,
    ticket_id: int,
    unit_id: int,
    passed_by: int | None,
    at: datetime,
    first: bool = False,
) -> None:
    """The ticket reached `unit_id`: the current assignment ends, passed on, and a new starts.

    A ticket being created (`first`) has no assignment to end, so it skips that statement.
    """
    if not first:
        await session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.ticket_id == ticket_id, AssignmentRow.ended_at.is_(None))
            .values(ended_at=at, passed_to_unit_id=unit_id)
            .execution_options(synchronize_session=False)
        )
    session.add(
        AssignmentRow(
            ticket_id=ticket_id,
            support_unit_id=unit_id,
            assigned_at=at,
            passed_by_unit_id=passed_by if passed_by != unit_id else None,
        )
    )


def answers(*, is_submitter: bool, source: str, unit_id: int | None, holder: int | None) -> bool:
    """Whether a public entry or a status change is the holding unit's answer: not the
    submitter's, not the hub's own, and not another unit's staff (an admin's counts)."""
    if is_submitter or source in SYSTEM_SOURCES:
        return False
    return unit_id is None or unit_id == holder


async def answered(session: AsyncSession, *, ticket_id: int, at: datetime) -> None:
    """The first answer of the current assignment (later ones change nothing)."""
    await session.execute(
        update(AssignmentRow)
        .where(
            AssignmentRow.ticket_id == ticket_id,
            AssignmentRow.ended_at.is_(None),
            AssignmentRow.answered_at.is_(None),
        )
        .values(answered_at=at)
        .execution_options(synchronize_session=False)
    )


async def solved(session: AsyncSession, *, ticket_id: int, at: datetime) -> None:
    """The latest solution of the current assignment (a reopened ticket solved again counts to
    its last solution)."""
    await session.execute(
        update(AssignmentRow)
        .where(AssignmentRow.ticket_id == ticket_id, AssignmentRow.ended_at.is_(None))
        .values(solved_at=at)
        .execution_options(synchronize_session=False)
    )
