"""`POST /api/v1/releases` announces a release and solves the tickets on hold for it;
`GET /api/v1/releases` lists them. Support staff (for the tickets they see) and admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import select

from gateway.api.deps import CurrentCaller, Session, Sync
from gateway.auth.models import Caller, Role
from gateway.errors import Forbidden, NotFound
from gateway.inputs import MAX_DB_INT
from gateway.release import service
from gateway.release.models import Release, ReleaseCreate, Skipped
from gateway.release.tables import ReleaseRow
from gateway.sync.outbox import commit
from gateway.ticket.changes import Changes

ReleaseId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The release's id.")]

router = APIRouter(prefix="/api/v1/releases", tags=["releases"])
STAFF: dict[int | str, dict[str, Any]] = {403: {"description": "Needs a unit's or an admin's key"}}


def _staff(caller: Caller) -> None:
    if caller.role == Role.SUBMITTER:
        raise Forbidden("releases are announced by support units' staff and admins")


def _view(row: ReleaseRow) -> Release:
    return Release(
        id=row.id,
        product=row.product,
        version=row.version,
        component=row.component,
        notes=row.notes,
        announced_by=row.announced_by,
        announced_at=row.announced_at,
        solved=row.solved,
        skipped=[Skipped.model_validate(s) for s in row.skipped],
    )


@router.post("", response_model=Release, status_code=status.HTTP_201_CREATED, responses=STAFF)
async def announce_release(
    data: ReleaseCreate, session: Session, caller: CurrentCaller, sync: Sync
) -> Release:
    """Solve every ticket on hold that the release fixes, naming the release as the solution."""
    _staff(caller)
    changes = Changes()
    row = await service.announce(session, data=data, caller=caller, changes=changes)
    view = _view(row)
    await commit(session, sync, changes)
    return view


@router.get("", response_model=list[Release], responses=STAFF)
async def list_releases(
    session: Session, caller: CurrentCaller, limit: int = Query(default=50, ge=1, le=500)
) -> list[Release]:
    _staff(caller)
    rows = await session.scalars(select(ReleaseRow).order_by(ReleaseRow.id.desc()).limit(limit))
    return [_view(row) for row in rows]


@router.get(
    "/{release_id}",
    response_model=Release,
    responses={**STAFF, 404: {"description": "No such release"}},
)
async def get_release(release_id: ReleaseId, session: Session, caller: CurrentCaller) -> Release:
    _staff(caller)
    row = await session.get(ReleaseRow, release_id)
    if row is None:
        raise NotFound(f"release {release_id} not found")
    return _view(row)
