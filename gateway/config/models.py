"""The configuration file's model; `schemas/config.schema.json` is exported from it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.connection.models import ConnectionConfig
from gateway.process.config import ProcessConfig
from gateway.support_unit.models import Level, SupportUnitCreate
from gateway.ticket.enums import Category, TicketType

DEFAULT_ASSIGNMENT_RULES: dict[Level, list[Level]] = {
    Level.FIRST: [Level.FIRST, Level.SECOND],
    Level.SECOND: [Level.FIRST, Level.SECOND, Level.THIRD],
    Level.THIRD: [Level.SECOND, Level.THIRD],
}


Match = str | list[str] | None


class RoutingRule(BaseModel):
    """One line of the TPM cheat sheet: a ticket matching every field given goes to the unit.

    Values compare without regard to case; a list matches any of its values. Exact values, not
    patterns: the cheat sheet is read by people, and a glob that catches too much routes
    silently to the wrong unit.
    """

    model_config = ConfigDict(extra="forbid")

    component: Match = None
    category: Match = None
    type: Match = None
    vo: Match = None
    support_unit: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, description="Why this rule exists, for the explain API.")

    @model_validator(mode="after")
    def _matches_something(self) -> RoutingRule:
        if not any(self.criteria().values()):
            raise ValueError("a routing rule names at least one of component, category, type, vo")
        for name in ("category", "type"):
            allowed = {v.value.casefold() for v in (Category if name == "category" else TicketType)}
            for value in _values(getattr(self, name)):
                if value.casefold() not in allowed:
                    raise ValueError(f"{name}: '{value}' is not a ticket {name}")
        return self

    def criteria(self) -> dict[str, list[str]]:
        return {
            name: _values(getattr(self, name)) for name in ("component", "category", "type", "vo")
        }

    def mismatch(self, ticket: dict[str, str | None]) -> str | None:
        """None when the ticket matches; else the first field that differs, said plainly."""
        for name, values in self.criteria().items():
            if not values:
                continue
            have = ticket.get(name)
            if have is None or have.casefold() not in {v.casefold() for v in values}:
                wanted = values[0] if len(values) == 1 else f"one of {', '.join(values)}"
                return f"{name} is {have!r}, the rule wants {wanted}"
        return None


def _values(match: Match) -> list[str]:
    if match is None:
        return []
    return [match] if isinstance(match, str) else list(match)


class Site(BaseModel):
    """A site TEAM and ALARM tickets are addressed to (`affected_site`)."""

    model_config = ConfigDict(extra="forbid")

    support_unit: str = Field(description="The unit that supports the site (its NGI, usually).")
    alarm_email: str | None = Field(
        default=None, description="The site's alarm address: every ALARM ticket is mailed there."
    )


class CheatSheet(BaseModel):
    """The TPM cheat sheet as a mapping file: `rules`, first match wins."""

    model_config = ConfigDict(extra="forbid")

    rules: list[RoutingRule] = Field(default_factory=list)


class Routing(BaseModel):
    """How tickets find their support unit and who may hand them to whom."""

    model_config = ConfigDict(extra="forbid")

    default_support_unit: str | None = Field(
        default=None, description="Unit (usually the first-line TPM) that gets unrouted tickets."
    )
    cheat_sheet: str | None = Field(
        default=None,
        description="Path (relative to this file) of the TPM cheat sheet, a YAML mapping file "
        "of rules; its rules come before `rules` and `components`.",
    )
    rules: list[RoutingRule] = Field(
        default_factory=list, description="Cheat-sheet rules given inline; first match wins."
    )
    components: dict[str, str] = Field(
        default_factory=dict,
        description="Shorthand rules: component -> unit, after the other rules.",
    )
    sites: dict[str, Site] = Field(
        default_factory=dict,
        description="Sites by name: TEAM and ALARM tickets go to the affected site's unit, and "
        "an ALARM is also mailed to the site's alarm address.",
    )
    assignment_rules: dict[Level, list[Level]] = Field(
        default_factory=lambda: dict(DEFAULT_ASSIGNMENT_RULES),
        description="For a unit of each level, the levels it may assign tickets to. "
        "Only second-line units may assign to third-line units by default.",
    )

    def all_rules(self) -> list[RoutingRule]:
        """The cheat sheet in order: file rules and inline rules, then the shorthand."""
        shorthand = [
            RoutingRule(component=component, support_unit=unit)
            for component, unit in self.components.items()
        ]
        return [*self.rules, *shorthand]

    def site(self, name: str | None) -> tuple[str | None, Site | None]:
        """The configured site of that name (any case), as configured."""
        folded = (name or "").casefold()
        for configured, site in self.sites.items():
            if configured.casefold() == folded:
                return configured, site
        return None, None

    def may_assign(self, from_level: Level, to_level: Level) -> bool:
        return to_level in self.assignment_rules.get(from_level, [])


class GatewayConfig(BaseModel):
    """The whole configuration file."""

    model_config = ConfigDict(extra="forbid", title="Ticket gateway configuration")

    version: Literal[1] = 1
    support_units: list[SupportUnitCreate] = Field(default_factory=list)
    routing: Routing = Field(default_factory=Routing)
    connections: list[ConnectionConfig] = Field(default_factory=list)
    process: ProcessConfig = Field(default_factory=ProcessConfig)
