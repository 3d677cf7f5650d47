"""Database functions for support units."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import Conflict, NotFound
from gateway.support_unit import directory
from gateway.support_unit.models import SupportUnitCreate, SupportUnitUpdate
from gateway.support_unit.tables import SupportUnitRow


async def get_by_name(session: AsyncSession, *, name: str) -> SupportUnitRow | None:
    """Find one unit by its name."""
    result = await session.execute(select(SupportUnitRow).where(SupportUnitRow.name == name))
    return result.scalar_one_or_none()


async def list_units(session: AsyncSession) -> list[SupportUnitRow]:
    """All units, by name."""
    result = await session.execute(select(SupportUnitRow).order_by(SupportUnitRow.name))
    return list(result.scalars())


async def create_unit(session: AsyncSession, *, data: SupportUnitCreate) -> SupportUnitRow:
    """Add a unit; the name must be new."""
    if await get_by_name(session, name=data.name) is not None:
        raise Conflict(f"support unit '{data.name}' already exists")
    row = SupportUnitRow(
        name=data.name, level=data.level.value, description=data.description, email=data.email
    )
    session.add(row)
    await session.flush()
    directory.changed(session)
    return row


async def update_unit(
    session: AsyncSession, *, name: str, data: SupportUnitUpdate
) -> SupportUnitRow:
    """Change the fields given; the name is the unit's identity and does not change."""
    row = await get_by_name(session, name=name)
    if row is None:
        raise NotFound(f"support unit '{name}' does not exist")
    for field, value in data.model_dump(exclude_unset=True).items():
        if field == "level" and value is not None:
            value = value.value if hasattr(value, "value") else value
        if value is not None or field == "email":
            setattr(row, field, value)
    await session.flush()
    directory.changed(session)
    return row


async def ensure_units(session: AsyncSession, *, units: Iterable[SupportUnitCreate]) -> None:
    """Create the configured units that are missing and bring the others up to date."""
    for unit in units:
        row = await get_by_name(session, name=unit.name)
        if row is None:
            await create_unit(session, data=unit)
        else:
            row.level = unit.level.value
            row.description = unit.description
            row.email = unit.email
    await session.flush()
    directory.changed(session)
