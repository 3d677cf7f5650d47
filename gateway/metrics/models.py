"""What the metrics API answers: one row per group (a unit, priority, category or component)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field


class GroupBy(StrEnum):
    SUPPORT_UNIT = "support_unit"
    PRIORITY = "priority"
    CATEGORY = "category"
    COMPONENT = "component"


class EtaAccuracy(BaseModel):
    """Solved tickets that had an ETA, by when the fix came against it."""

    with_eta: int = Field(description="Solved tickets that had an ETA")
    by_initial_eta: int = Field(description="Solved on or before the first ETA")
    by_revised_eta: int = Field(description="Late for the first ETA, in time for the last")
    within_a_week: int = Field(description="At most 7 days after the last ETA")
    within_a_month: int = Field(description="8 to 30 days after the last ETA")
    later: int = Field(description="More than 30 days after the last ETA")


class Figures(BaseModel):
    """Times are working hours (office hours, holidays off); waiting for reply does not count
    towards a solution time."""

    group: str | None = Field(description="The unit, priority, category or component")
    assigned: int = Field(description="Times a ticket reached the unit in the period")
    answered: int = Field(description="Of those, answered by the unit")
    response_hours_median: float | None
    response_hours_mean: float | None
    solved: int = Field(description="Of those, solved (or set unsolved) while with the unit")
    solution_hours_median: float | None
    solution_hours_mean: float | None
    passed_to_third_line: int = Field(description="Passed by the unit to a third-line unit")
    third_line_solution_hours_median: float | None = Field(
        description="From the pass to the third line's solution"
    )
    target_violations: int = Field(description="Response-time targets missed")
    eta: EtaAccuracy


class Metrics(BaseModel):
    since: date = Field(description="First day of the period")
    until: date = Field(description="Day after the period")
    group_by: GroupBy
    support_unit: str | None = Field(description="The unit the figures are restricted to")
    rows: list[Figures]
