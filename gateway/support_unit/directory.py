"""The support units, kept in memory: every ticket write and inbound event routes by unit.

Units change rarely (start-up configuration, the admin API) but are read on every write, so a
snapshot of (id, name, level) per database engine saves several queries per request. The
snapshot is reloaded when it is older than `TTL_SECONDS`, when a name or id asked for is not in it
(a unit another process has just created), and at once after this process changes a unit. A level
changed by another process is therefore seen within `TTL_SECONDS`, as with verified API keys.
Units are never deleted and their names never change, so a hit is never wrong otherwise.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from gateway.support_unit.tables import SupportUnitRow

TTL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Unit:
    """What routing needs of a unit."""

    id: int
    name: str
    level: str


@dataclass(frozen=True, slots=True)
class _Snapshot:
    by_name: dict[str, Unit]
    by_id: dict[int, Unit]
    loaded_at: float

    def fresh(self) -> bool:
        return time.monotonic() - self.loaded_at < TTL_SECONDS


_CHANGED = "support_units_changed"
_snapshots: weakref.WeakKeyDictionary[Engine, _Snapshot] = weakref.WeakKeyDictionary()


def changed(session: AsyncSession) -> None:
    """This session changed a unit: drop the snapshots when (and if) it commits."""
    session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _snapshots.clear()


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session: Session) -> None:
    session.info.pop(_CHANGED, None)


async def _snapshot(
    session: AsyncSession, *, names: Iterable[str] = (), ids: Iterable[int] = ()
) -> _Snapshot:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    snapshot = _snapshots.get(engine)
    if (
        snapshot is not None
        and snapshot.fresh()
        and all(name in snapshot.by_name for name in names)
        and all(unit_id in snapshot.by_id for unit_id in ids)
    ):
        return snapshot
    rows = (
        await session.execute(select(SupportUnitRow.id, SupportUnitRow.name, SupportUnitRow.level))
    ).all()
    units = [Unit(row.id, row.name, row.level) for row in rows]
    snapshot = _Snapshot(
        by_name={u.name: u for u in units},
        by_id={u.id: u for u in units},
        loaded_at=time.monotonic(),
    )
    _snapshots[engine] = snapshot
    return snapshot


async def by_names(session: AsyncSession, *, names: Iterable[str]) -> dict[str, Unit]:
    """The units of these names; unknown names are absent from the result."""
    wanted = {name for name in names if name}  # "": no unit, never worth a reload
    if not wanted:
        return {}
    snapshot = await _snapshot(session, names=wanted)
    return {name: snapshot.by_name[name] for name in wanted if name in snapshot.by_name}


async def by_name(session: AsyncSession, *, name: str) -> Unit | None:
    """One unit by name, or None."""
    return (await by_names(session, names=[name])).get(name)


async def names_by_id(session: AsyncSession, *, ids: Iterable[int]) -> dict[int, str]:
    """Unit names for ids (None and unknown ids are absent)."""
    wanted = {unit_id for unit_id in ids if unit_id}
    if not wanted:
        return {}
    snapshot = await _snapshot(session, ids=wanted)
    return {i: snapshot.by_id[i].name for i in wanted if i in snapshot.by_id}
