"""The support process's numbers: office hours, holidays, reminders, closing, targets.

GGUS counts every deadline in working time; all of these are configuration, with the GGUS
defaults (office hours 09:00-17:00 Monday to Friday, reminders after 5 and 10 working days,
`unsolved` after 15, closed 10 working days after the solution, response targets per priority).
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.ticket.enums import Priority

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WorkingTimeConfig(BaseModel):
    """When the support units work: the clock every deadline and metric counts in."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(default="UTC", description="IANA zone the office hours are in.")
    start: time = Field(default=time(9, 0), description="Office hours start (local time).")
    end: time = Field(default=time(17, 0), description="Office hours end (local time).")
    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS[:5]),
        min_length=1,
        description="Working weekdays.",
    )
    holidays_country: str | None = Field(
        default=None,
        description="ISO 3166 country whose public holidays are days off (the `holidays` "
        "package), e.g. DE; none: no public holidays.",
    )
    holidays_subdivision: str | None = Field(
        default=None, description="Region of that country, e.g. BW (Baden-Wuerttemberg)."
    )
    extra_holidays: list[date] = Field(
        default_factory=list, description="Further days off, e.g. the days between the holidays."
    )

    @model_validator(mode="after")
    def _check(self) -> WorkingTimeConfig:
        if self.end <= self.start:
            raise ValueError("working_time: end must be after start")
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"working_time.timezone: unknown zone '{self.timezone}'") from exc
        if self.holidays_country is not None:
            import holidays

            if self.holidays_country.upper() not in holidays.list_supported_countries():
                raise ValueError(
                    f"working_time.holidays_country: '{self.holidays_country}' is not a "
                    "country the holidays package knows"
                )
        return self


class WaitingForReply(BaseModel):
    """A ticket waiting for the submitter: reminders, then `unsolved`."""

    model_config = ConfigDict(extra="forbid")

    reminders_after_days: list[float] = Field(
        default_factory=lambda: [5.0, 10.0],
        description="Working days in `waiting for reply` after which the submitter is reminded.",
    )
    unsolved_after_days: float | None = Field(
        default=15.0, gt=0, description="Working days after which the ticket is set `unsolved`."
    )

    @field_validator("reminders_after_days")
    @classmethod
    def _ascending(cls, value: list[float]) -> list[float]:
        if any(day <= 0 for day in value) or value != sorted(set(value)):
            raise ValueError("reminders_after_days: positive, ascending, no repeats")
        return value


class AutoClose(BaseModel):
    """A solution the submitter neither verified nor disputed closes the ticket."""

    model_config = ConfigDict(extra="forbid")

    after_days: float | None = Field(
        default=10.0, gt=0, description="Working days after `solved`/`unsolved` to `closed`."
    )


DEFAULT_TARGET_HOURS: dict[Priority, float] = {
    Priority.TOP_PRIORITY: 4.0,
    Priority.VERY_URGENT: 8.0,  # one working day
    Priority.URGENT: 16.0,  # two working days
    Priority.LESS_URGENT: 40.0,  # five working days
}


class ResponseTargets(BaseModel):
    """How soon the responsible unit must answer, per priority, in working hours."""

    model_config = ConfigDict(extra="forbid")

    hours: dict[Priority, float] = Field(
        default_factory=lambda: dict(DEFAULT_TARGET_HOURS),
        description="Working hours from the assignment to the unit's first answer.",
    )
    warn_at: float = Field(
        default=0.75, gt=0, lt=1, description="Share of the target at which the unit is warned."
    )


class RelationsConfig(BaseModel):
    """One report to many sites: how many child tickets one request may open."""

    model_config = ConfigDict(extra="forbid")

    max_children: int = Field(
        default=20, ge=1, le=200, description="Child tickets one request may create at most."
    )


class ProcessConfig(BaseModel):
    """The support process's clock and deadlines."""

    model_config = ConfigDict(extra="forbid")

    working_time: WorkingTimeConfig = Field(default_factory=WorkingTimeConfig)
    waiting_for_reply: WaitingForReply = Field(default_factory=WaitingForReply)
    auto_close: AutoClose = Field(default_factory=AutoClose)
    response_targets: ResponseTargets = Field(default_factory=ResponseTargets)
    relations: RelationsConfig = Field(default_factory=RelationsConfig)
    check_every_seconds: float = Field(
        default=300.0, ge=1, description="How often the process jobs look for due deadlines."
    )
