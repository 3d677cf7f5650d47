"""Support unit routes: anyone with a key may list; only admins create and change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from gateway.api.deps import AdminCaller, CurrentCaller, Session
from gateway.api.openapi import ADMIN_ONLY
from gateway.support_unit import service
from gateway.support_unit.models import SupportUnit, SupportUnitCreate, SupportUnitUpdate

router = APIRouter(prefix="/api/v1/support-units", tags=["support units"])


@router.get("", response_model=list[SupportUnit])
async def list_support_units(session: Session, _: CurrentCaller) -> list[SupportUnit]:
    """All support units, by name."""
    return [SupportUnit.model_validate(row) for row in await service.list_units(session)]


@router.post(
    "",
    response_model=SupportUnit,
    status_code=status.HTTP_201_CREATED,
    responses={**ADMIN_ONLY, 409: {"description": "A unit of that name exists"}},
)
async def create_support_unit(
    data: SupportUnitCreate, session: Session, _: AdminCaller
) -> SupportUnit:
    """Add a support unit (admin only)."""
    row = await service.create_unit(session, data=data)
    await session.commit()
    return SupportUnit.model_validate(row)


@router.patch("/{name}", response_model=SupportUnit, responses=ADMIN_ONLY)
async def update_support_unit(
    name: Annotated[str, Path(max_length=64)],
    data: SupportUnitUpdate,
    session: Session,
    _: AdminCaller,
) -> SupportUnit:
    """Change a unit's level, description or email (admin only)."""
    row = await service.update_unit(session, name=name, data=data)
    await session.commit()
    return SupportUnit.model_validate(row)
