"""`GET /api/v1/scheduler/jobs` (admin): the periodic jobs, their last and next runs; and
`POST /api/v1/scheduler/jobs/{name}/run` to make one due now."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel

from gateway.api.deps import AdminCaller, Session
from gateway.api.openapi import ADMIN_ONLY
from gateway.database.base import utcnow
from gateway.errors import NotFound
from gateway.scheduler import service
from gateway.scheduler.tables import ScheduledJobRow

JobName = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$", description="The job's name.")]

router = APIRouter(prefix="/api/v1/scheduler", tags=["scheduler"])


class ScheduledJob(BaseModel):
    name: str
    every_seconds: float
    next_run_at: datetime
    running_on: str | None  # the gateway instance running it now
    last_due_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str | None
    last_result: str | None
    last_error: str | None
    runs: int


def _view(row: ScheduledJobRow) -> ScheduledJob:
    return ScheduledJob(
        name=row.name,
        every_seconds=row.every_seconds,
        next_run_at=row.next_run_at,
        running_on=row.owner,
        last_due_at=row.last_due_at,
        last_started_at=row.last_started_at,
        last_finished_at=row.last_finished_at,
        last_status=row.last_status,
        last_result=row.last_result,
        last_error=row.last_error,
        runs=row.runs,
    )


@router.get("/jobs", response_model=list[ScheduledJob], responses=ADMIN_ONLY)
async def list_jobs(session: Session, _: AdminCaller) -> list[ScheduledJob]:
    """Every job any gateway process has registered, by name."""
    return [_view(row) for row in await service.jobs(session)]


@router.post(
    "/jobs/{name}/run",
    response_model=ScheduledJob,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**ADMIN_ONLY, 404: {"description": "No such job"}},
)
async def run_job(name: JobName, session: Session, _: AdminCaller) -> ScheduledJob:
    """Make the job due now; the next scheduler tick of any gateway process runs it."""
    if not await service.request_run(session, name=name, at=utcnow()):
        raise NotFound(f"no scheduled job '{name}'")
    await session.commit()
    row = await session.get(ScheduledJobRow, name)
    assert row is not None
    return _view(row)
