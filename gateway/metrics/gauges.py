"""The current quarter's figures per unit as Prometheus gauges.

One scheduler job (once across all gateway processes) computes them into a snapshot row; each
process's `/metrics` sets its gauges from that row, read at most once a minute, so every process
shows the same figures and a scrape never computes them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prometheus_client import Gauge
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.metrics import compute, period
from gateway.metrics.models import GroupBy
from gateway.metrics.tables import MetricSnapshotRow
from gateway.scheduler.job import JobContext

SNAPSHOT = "quarter-by-unit"
READ_EVERY_SECONDS = 60.0

GAUGES = {
    name: Gauge(f"gateway_unit_{name}", text, ["support_unit"])
    for name, text in {
        "tickets_assigned": "Times a ticket reached the unit this quarter.",
        "response_hours_median": "Median working hours to the unit's first answer, this quarter.",
        "solution_hours_median": "Median working hours to the unit's solution (waiting for reply "
        "not counted), this quarter.",
        "passed_to_third_line": "Tickets the unit passed to a third-line unit this quarter.",
        "target_violations": "Response-time targets the unit missed this quarter.",
        "eta_by_initial_eta": "Solved tickets fixed by their first ETA this quarter.",
        "eta_with_eta": "Solved tickets that had an ETA this quarter.",
    }.items()
}
_read_at = 0.0


async def compute_snapshot(ctx: JobContext) -> str:
    today = ctx.now.astimezone(ctx.working_time.zone).date()
    since, until = period.parse(None, None, None, today)
    async with ctx.sessionmaker() as session:
        figures = await compute.compute(
            session,
            working_time=ctx.working_time,
            since=since,
            until=until,
            group_by=GroupBy.SUPPORT_UNIT,
            support_unit=None,
        )
        data = [row.model_dump(mode="json") for row in figures.rows]
        snapshot = await session.get(MetricSnapshotRow, SNAPSHOT, with_for_update=True)
        if snapshot is None:
            session.add(MetricSnapshotRow(name=SNAPSHOT, computed_at=ctx.now, data=data))
        else:
            snapshot.computed_at, snapshot.data = ctx.now, data
        await session.commit()
    return f"{len(data)} units, {since} to {until}"


async def refresh(session: AsyncSession, *, force: bool = False) -> datetime | None:
    """Set the gauges from the snapshot (read at most once a minute unless forced)."""
    global _read_at
    if not force and time.monotonic() - _read_at < READ_EVERY_SECONDS:
        return None
    _read_at = time.monotonic()
    snapshot = await session.scalar(
        select(MetricSnapshotRow).where(MetricSnapshotRow.name == SNAPSHOT)
    )
    if snapshot is None:
        return None
    for gauge in GAUGES.values():
        gauge.clear()  # a unit gone from the quarter is not shown with old figures
    for row in snapshot.data:
        unit = str(row.get("group"))
        eta = row.get("eta") or {}
        values = {
            "tickets_assigned": row.get("assigned"),
            "response_hours_median": row.get("response_hours_median"),
            "solution_hours_median": row.get("solution_hours_median"),
            "passed_to_third_line": row.get("passed_to_third_line"),
            "target_violations": row.get("target_violations"),
            "eta_by_initial_eta": eta.get("by_initial_eta"),
            "eta_with_eta": eta.get("with_eta"),
        }
        for name, value in values.items():
            if isinstance(value, int | float):
                GAUGES[name].labels(unit).set(value)
    computed: datetime = snapshot.computed_at
    return computed.astimezone(UTC)
