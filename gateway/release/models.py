"""A release announcement and what it did."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from gateway.inputs import MAX_DB_INT, InputModel


class ReleaseCreate(InputModel):
    """A released fix: the tickets it fixes, by hub id or by component (or both)."""

    product: str = Field(min_length=1, max_length=128, examples=["dCache"])
    version: str = Field(min_length=1, max_length=64, examples=["9.2.14"])
    tickets: list[int] = Field(default_factory=list, max_length=500)
    component: str | None = Field(default=None, min_length=1, max_length=128)
    notes: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _names_what_it_fixes(self) -> ReleaseCreate:
        if not self.tickets and self.component is None:
            raise ValueError("a release names the tickets or the component it fixes")
        if any(not 1 <= t <= MAX_DB_INT for t in self.tickets):
            raise ValueError("tickets: hub ids are positive integers")
        return self


class Skipped(BaseModel):
    ticket: int
    reason: str


class Release(BaseModel):
    id: int
    product: str
    version: str
    component: str | None
    notes: str | None
    announced_by: str
    announced_at: datetime
    solved: list[int] = Field(description="Tickets on hold this release solved.")
    skipped: list[Skipped] = Field(description="Tickets named that it did not solve, and why.")
