"""Every routing and assignment decision, whichever way the change came in.

The API, webhooks, polls and (later) mail all call these functions, so a rule is written once
and refuses the same way everywhere: the same 403, naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import Caller, Role
from gateway.config.models import Routing, RoutingRule
from gateway.errors import Forbidden, InvalidInput
from gateway.process.notice import record_notice
from gateway.routing.models import DraftTicket
from gateway.support_unit import directory
from gateway.support_unit.directory import Unit
from gateway.support_unit.models import Level
from gateway.ticket.changes import Changes
from gateway.ticket.enums import Category, TicketType
from gateway.ticket.models import TicketCreate
from gateway.ticket.service import Actor, resolve_units
from gateway.ticket.tables import TicketRow


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


@dataclass(frozen=True, slots=True)
class Skipped:
    index: int
    rule: RoutingRule
    why: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a new ticket goes and why: `by` is named | site | rule | default | none."""

    unit: str | None
    by: str
    reason: str
    rule_index: int | None = None
    rule: RoutingRule | None = None
    site: str | None = None
    alarm_email: str | None = None
    skipped: tuple[Skipped, ...] = ()


def decide(data: TicketCreate | DraftTicket, routing: Routing) -> Decision:
    """The routing of a draft ticket: the unit it names; for TEAM and ALARM tickets the affected
    site's unit; else the first cheat-sheet rule that matches; else the default unit (TPM)."""
    ticket_type = data.type.value if data.type else TicketType.USER.value
    site_name, site = routing.site(data.affected_site)
    alarm = site.alarm_email if site and ticket_type == TicketType.ALARM.value else None
    if ticket_type == TicketType.ALARM.value and site is None and routing.sites:
        named = f"'{data.affected_site}'" if data.affected_site else "no affected_site"
        raise InvalidInput(
            f"affected_site: an ALARM ticket is for a configured site (routing.sites), "
            f"and {named} is not one",
            details=[{"field": "affected_site", "message": "not a configured site"}],
        )
    if data.support_unit:
        return Decision(data.support_unit, "named", "the ticket names its unit", alarm_email=alarm)
    if site is not None and ticket_type in (TicketType.TEAM.value, TicketType.ALARM.value):
        return Decision(
            site.support_unit,
            "site",
            f"{'an' if ticket_type == TicketType.ALARM.value else 'a'} {ticket_type} ticket goes "
            f"to the unit of its affected site, {site_name}",
            site=site_name,
            alarm_email=alarm,
        )
    facts = {
        "component": data.component,
        "category": data.category.value if data.category else Category.INCIDENT.value,
        "type": ticket_type,
        "vo": data.vo,
    }
    skipped: list[Skipped] = []
    for index, rule in enumerate(routing.all_rules()):
        why = rule.mismatch(facts)
        if why is None:
            reason = f"cheat-sheet rule {index} matches"
            if rule.note:
                reason += f" ({rule.note})"
            return Decision(rule.support_unit, "rule", reason, index, rule, skipped=tuple(skipped))
        skipped.append(Skipped(index, rule, why))
    if routing.default_support_unit:
        return Decision(
            routing.default_support_unit,
            "default",
            "no cheat-sheet rule matches: the default (first-line) unit triages it",
            skipped=tuple(skipped),
        )
    return Decision(
        None, "none", "no rule matches and there is no default unit", skipped=tuple(skipped)
    )


async def unit_for_new_ticket(
    session: AsyncSession, *, data: TicketCreate, routing: Routing, assigner: Assigner
) -> Unit | None:
    """The unit `decide` chooses, checked against the assignment rules when the ticket named it;
    None when there is no default."""
    name = decide(data, routing).unit
    if name is None:
        return None
    unit = (await resolve_units(session, field="support_unit", names=[name]))[name]
    if data.support_unit:
        check_assignment(assigner, unit, routing)
    return unit


def announce_created(
    session: AsyncSession,
    *,
    row: TicketRow,
    data: TicketCreate,
    routing: Routing,
    changes: Changes,
) -> None:
    """An ALARM ticket is mailed to its site's alarm address as it is created (GGUS: the site
    is alerted at once, whatever unit works on it)."""
    alarm = decide(data, routing).alarm_email
    if alarm is None:
        return
    record_notice(
        session,
        row,
        to=[alarm],
        kind="alarm",
        subject=f"ALARM for {data.affected_site}: {row.subject}",
        text=f"An ALARM ticket was raised for {data.affected_site} by {row.submitter_name} "
        f"<{row.submitter_email}>:\n\n{row.description}",
        actor=Actor(name="gateway", source="routing"),
        changes=changes,
    )


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
