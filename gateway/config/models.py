"""The configuration file's model; `schemas/config.schema.json` is exported from it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.connection.models import ConnectionConfig
from gateway.support_unit.models import Level, SupportUnitCreate

DEFAULT_ASSIGNMENT_RULES: dict[Level, list[Level]] = {
    Level.FIRST: [Level.FIRST, Level.SECOND],
    Level.SECOND: [Level.FIRST, Level.SECOND, Level.THIRD],
    Level.THIRD: [Level.SECOND, Level.THIRD],
}


class Routing(BaseModel):
    """How tickets find their support unit and who may hand them to whom."""

    model_config = ConfigDict(extra="forbid")

    default_support_unit: str | None = Field(
        default=None, description="Unit (usually the first-line TPM) that gets unrouted tickets."
    )
    components: dict[str, str] = Field(
        default_factory=dict,
        description="The TPM cheat sheet: component -> unit, for tickets that name no unit.",
    )
    assignment_rules: dict[Level, list[Level]] = Field(
        default_factory=lambda: dict(DEFAULT_ASSIGNMENT_RULES),
        description="For a unit of each level, the levels it may assign tickets to. "
        "Only second-line units may assign to third-line units by default.",
    )

    def unit_for(self, component: str | None) -> str | None:
        """The cheat sheet's unit for a component, else the default unit."""
        return self.components.get(component or "", self.default_support_unit)

    def may_assign(self, from_level: Level, to_level: Level) -> bool:
        return to_level in self.assignment_rules.get(from_level, [])


class GatewayConfig(BaseModel):
    """The whole configuration file."""

    model_config = ConfigDict(extra="forbid", title="Ticket gateway configuration")

    version: Literal[1] = 1
    support_units: list[SupportUnitCreate] = Field(default_factory=list)
    routing: Routing = Field(default_factory=Routing)
    connections: list[ConnectionConfig] = Field(default_factory=list)
