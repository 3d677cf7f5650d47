"""`GET /api/v1/metrics`: a period's figures per unit, priority, category or component, as JSON
or CSV (`format=csv` or `Accept: text/csv`). Support staff and admins."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from gateway.api.deps import Config, CurrentCaller, Session
from gateway.auth.models import Role
from gateway.errors import Forbidden
from gateway.inputs import IsoDate
from gateway.metrics import compute, period
from gateway.metrics.models import GroupBy, Metrics
from gateway.process.working_time import WorkingTime

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])
CSV_COLUMNS = (
    "group",
    "assigned",
    "answered",
    "response_hours_median",
    "response_hours_mean",
    "solved",
    "solution_hours_median",
    "solution_hours_mean",
    "passed_to_third_line",
    "third_line_solution_hours_median",
    "target_violations",
    "eta.with_eta",
    "eta.by_initial_eta",
    "eta.by_revised_eta",
    "eta.within_a_week",
    "eta.within_a_month",
    "eta.later",
)


@router.get(
    "",
    response_model=Metrics,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        403: {"description": "Needs a unit's or an admin's key"},
    },
)
async def unit_metrics(
    session: Session,
    caller: CurrentCaller,
    config: Config,
    period_: Annotated[
        str | None,
        Query(
            alias="period",
            pattern=period.PATTERN,
            description="2026, 2026-Q4, 2026-11 or 2026-W48; default: the current quarter",
        ),
    ] = None,
    since: Annotated[IsoDate | None, Query(description="First day (instead of period)")] = None,
    until: Annotated[IsoDate | None, Query(description="Day after the last")] = None,
    group_by: GroupBy = GroupBy.SUPPORT_UNIT,
    support_unit: Annotated[str | None, Query(max_length=64)] = None,
    format_: Annotated[str | None, Query(alias="format", pattern="^(json|csv)$")] = None,
    accept: Annotated[str | None, Header(max_length=1024)] = None,
) -> Any:
    """Tickets assigned, response and solution times in working hours (waiting for reply not
    counted), passes to the third line and their times, target violations, ETA accuracy."""
    if caller.role == Role.SUBMITTER:
        raise Forbidden("metrics are for support units' staff and admins")
    working_time = WorkingTime(config.process.working_time)
    today = datetime.now(working_time.zone).date()
    first, after = period.parse(period_, since, until, today)
    figures = await compute.compute(
        session,
        working_time=working_time,
        since=first,
        until=after,
        group_by=group_by,
        support_unit=support_unit,
    )
    if format_ == "csv" or (format_ is None and accept is not None and "text/csv" in accept):
        return Response(
            as_csv(figures),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="metrics-{first}-{after}.csv"'},
        )
    return figures


def as_csv(figures: Metrics) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in figures.rows:
        data = row.model_dump()
        writer.writerow(
            [
                _cell(data["eta"][name[4:]] if name.startswith("eta.") else data[name])
                for name in CSV_COLUMNS
            ]
        )
    return out.getvalue()


def _cell(value: Any) -> Any:
    """No cell a spreadsheet would run as a formula (a component named `=cmd|...`)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
