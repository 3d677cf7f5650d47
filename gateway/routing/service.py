"""Every routing and assignment decision, whichever way the change came in.

The API, webhooks, polls and (later) mail all call these functions, so a rule is written once
and refuses the same way everywhere: the same 403, naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import Caller, Role
from gateway.config.models import Routing
from gateway.errors import Forbidden
from gateway.support_unit import directory
from gateway.support_unit.directory import Unit
from gateway.support_unit.models import Level
from gateway.ticket.models import TicketCreate
from gateway.ticket.service import resolve_units


@dataclass(frozen=True, slots=True)
class Assigner:
    """Who hands a ticket to a unit: a unit of some level, or someone the rules do not bind."""

    name: str
    level: Level | None  # None: an admin, a submitter, a system with no unit of its own

    @classmethod
    def for_caller(cls, caller: Caller) -> Assigner:
        if caller.role == Role.UNIT and caller.unit_level is not None:
            return cls(caller.unit_name or caller.name, caller.unit_level)
        return cls(caller.name, None)

    @classmethod
    async def for_unit(cls, session: AsyncSession, *, name: str, unit: str | None) -> Assigner:
        """A connection (or mailbox) acting for its support unit."""
        found = await directory.by_name(session, name=unit or "")
        return cls(name, Level(found.level) if found else None)


def check_assignment(assigner: Assigner, target: Unit, routing: Routing) -> None:
    """Refuse an assignment the configured rules do not allow (by default, only the second line
    assigns to the third)."""
    if assigner.level is None:
        return
    to_level = Level(target.level)
    if not routing.may_assign(assigner.level, to_level):
        raise Forbidden(
            f"{assigner.name}: a {assigner.level.value}-line unit may not assign tickets to a "
            f"{to_level.value}-line unit ({target.name}); see routing.assignment_rules"
        )


async def unit_for_new_ticket(
    session: AsyncSession, *, data: TicketCreate, routing: Routing, assigner: Assigner
) -> Unit | None:
    """The unit the ticket names (checked against the rules), else the cheat sheet's, else the
    default (first-line) unit; None when there is no default."""
    name = data.support_unit or routing.unit_for(data.component)
    if name is None:
        return None
    unit = (await resolve_units(session, field="support_unit", names=[name]))[name]
    if data.support_unit:
        check_assignment(assigner, unit, routing)
    return unit


async def unit_for_reassignment(
    session: AsyncSession,
    *,
    name: str,
    current_unit_id: int | None,
    routing: Routing,
    assigner: Assigner,
) -> Unit:
    """The unit a ticket is handed to, checked against the rules unless it stays where it is."""
    unit = (await resolve_units(session, field="support_unit", names=[name]))[name]
    if unit.id != current_unit_id:
        check_assignment(assigner, unit, routing)
    return unit
