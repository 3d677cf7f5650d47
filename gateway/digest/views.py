"""`GET /api/v1/digests`: the weekly digests kept, each as Markdown and HTML, and their charts.

Staff of a unit read their unit's digests; admins read all. Submitters read none.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy import select

from gateway.api.deps import CurrentCaller, Session
from gateway.auth.models import Caller, Role
from gateway.digest import service
from gateway.digest.tables import DigestChartRow, DigestRow
from gateway.errors import Forbidden, NotFound
from gateway.inputs import MAX_DB_INT

DigestId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The digest's id.")]

router = APIRouter(prefix="/api/v1/digests", tags=["digests"])
STAFF_ONLY: dict[int | str, dict[str, Any]] = {
    403: {"description": "Needs a unit's or an admin's key"}
}


class Digest(BaseModel):
    id: int
    support_unit: str
    scope: str  # unit | third-line (a second-line unit's view of what it passed on)
    week_start: date
    summary: dict[str, int]
    markdown: str
    html: str
    charts: list[str]  # URLs of the PNG pictures the documents show
    recipients: list[str]
    mailed_at: datetime | None
    last_error: str | None


def _unit_of(caller: Caller, asked: str | None) -> str | None:
    if caller.is_admin:
        return asked
    if caller.role != Role.UNIT or caller.unit_name is None:
        raise Forbidden("digests are for support units' staff and admins")
    if asked is not None and asked != caller.unit_name:
        raise Forbidden(f"{caller.name} reads the digests of {caller.unit_name} only")
    return caller.unit_name


def _view(row: DigestRow, names: list[str]) -> Digest:
    return Digest(
        id=row.id,
        support_unit=row.support_unit,
        scope=row.scope,
        week_start=row.week_start,
        summary=row.summary,
        markdown=row.markdown,
        html=row.html,
        charts=[service.chart_url(row.id, name) for name in names],
        recipients=row.recipients,
        mailed_at=row.mailed_at,
        last_error=row.last_error,
    )


async def _charts(session: Session, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {i: [] for i in ids}
    rows = await session.execute(
        select(DigestChartRow.digest_id, DigestChartRow.name)
        .where(DigestChartRow.digest_id.in_(ids))
        .order_by(DigestChartRow.name)
    )
    for digest_id, name in rows.all():
        found[digest_id].append(name)
    return found


@router.get("", response_model=list[Digest], responses=STAFF_ONLY)
async def list_digests(
    session: Session,
    caller: CurrentCaller,
    support_unit: str | None = None,
    limit: int = Query(default=20, ge=1, le=200),
) -> list[Digest]:
    """Newest week first."""
    rows = await service.digests(session, unit=_unit_of(caller, support_unit), limit=limit)
    charts = await _charts(session, [r.id for r in rows])
    return [_view(row, charts[row.id]) for row in rows]


async def _digest(session: Session, caller: Caller, digest_id: int) -> DigestRow:
    row = await session.get(DigestRow, digest_id)
    unit = _unit_of(caller, None)
    if row is None or (unit is not None and row.support_unit != unit):
        raise NotFound(f"digest {digest_id} not found")
    return row


@router.get(
    "/{digest_id}",
    response_model=Digest,
    responses={**STAFF_ONLY, 404: {"description": "No such digest"}},
)
async def get_digest(digest_id: DigestId, session: Session, caller: CurrentCaller) -> Digest:
    row = await _digest(session, caller, digest_id)
    return _view(row, (await _charts(session, [row.id]))[row.id])


@router.get(
    "/{digest_id}/charts/{name}.png",
    response_class=Response,
    responses={
        **STAFF_ONLY,
        200: {"content": {"image/png": {}}, "description": "The chart"},
        404: {"description": "No such digest or chart"},
    },
)
async def get_chart(
    digest_id: DigestId,
    name: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$", description="The chart's name.")],
    session: Session,
    caller: CurrentCaller,
) -> Response:
    row = await _digest(session, caller, digest_id)
    chart = await session.get(DigestChartRow, (row.id, name))
    if chart is None:
        raise NotFound(f"digest {digest_id} has no chart '{name}'")
    return Response(
        chart.png,
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
