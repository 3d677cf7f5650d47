"""The explain API's request and answer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gateway.inputs import InputModel
from gateway.ticket.enums import Category, TicketType
from gateway.ticket.models import ShortText, UnitName


class DraftTicket(InputModel):
    """The fields routing reads; everything else of a ticket may be left out."""

    type: TicketType | None = None
    category: Category | None = None
    component: ShortText | None = None
    vo: ShortText | None = None
    affected_site: ShortText | None = None
    support_unit: UnitName | None = None


class RuleView(BaseModel):
    index: int
    support_unit: str
    component: list[str] = Field(default_factory=list)
    category: list[str] = Field(default_factory=list)
    type: list[str] = Field(default_factory=list)
    vo: list[str] = Field(default_factory=list)
    note: str | None = None


class SkippedRule(BaseModel):
    rule: RuleView
    why: str


class Explanation(BaseModel):
    support_unit: str | None
    by: str = Field(description="named | site | rule | default | none")
    reason: str
    rule: RuleView | None = None
    site: str | None = None
    alarm_notifies: str | None = Field(
        default=None, description="The address an ALARM ticket is mailed to, if any."
    )
    skipped: list[SkippedRule] = Field(
        default_factory=list, description="The cheat-sheet rules before the match, and why not."
    )
