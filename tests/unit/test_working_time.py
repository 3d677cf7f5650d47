"""Working time against a minute-by-minute count, over holidays, weekends and DST changes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from gateway.process.config import WorkingTimeConfig
from gateway.process.working_time import WorkingTime

BERLIN = ZoneInfo("Europe/Berlin")
GERMANY = WorkingTime(
    WorkingTimeConfig(
        timezone="Europe/Berlin", holidays_country="DE", extra_holidays=[date(2026, 12, 31)]
    )
)


def counted(clock: WorkingTime, start: datetime, end: datetime) -> float:
    """Working seconds by walking quarter hours (the slow, obvious way)."""
    total, moment, step = 0.0, start, timedelta(minutes=15)
    while moment < end:
        local = moment.astimezone(clock.zone)
        if clock.is_working_day(local.date()) and 9 <= local.hour < 17:
            total += min(step, end - moment).total_seconds()
        moment += step
    return total


def test_christmas_week_in_germany() -> None:
    start = datetime(2026, 12, 23, 16, 0, tzinfo=BERLIN)
    end = datetime(2026, 12, 28, 10, 0, tzinfo=BERLIN)
    # 1 h on the 23rd, 8 h on Christmas Eve (a working day), the 25th and 26th are holidays
    assert GERMANY.seconds_between(start, end) == 10 * 3600
    assert GERMANY.holiday_name(date(2026, 12, 25)) == "Christmas Day"
    assert not GERMANY.is_working_day(date(2026, 12, 31))  # configured as an extra day off
    assert GERMANY.working_days(date(2026, 12, 21), date(2027, 1, 3)) == 7


def test_agrees_with_counting_quarter_hours_over_two_years_with_dst() -> None:
    rng = random.Random(7)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(150):
        start = origin + timedelta(minutes=15 * rng.randrange(70_000))
        end = start + timedelta(minutes=15 * rng.randrange(3_000))
        assert GERMANY.seconds_between(start, end) == counted(GERMANY, start, end), (start, end)


def test_adding_working_time_lands_where_counting_says() -> None:
    rng = random.Random(11)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(300):
        start = origin + timedelta(minutes=rng.randrange(1_000_000))
        seconds = rng.randrange(1, 80 * 8 * 3600)
        due = GERMANY.add(start, seconds)
        assert GERMANY.seconds_between(start, due) == pytest.approx(seconds)
        assert GERMANY.is_working_day(due.astimezone(BERLIN).date())


def test_a_configuration_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValidationError, match="end must be after start"):
        WorkingTimeConfig(start="17:00", end="09:00")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown zone 'Mars/Olympus'"):
        WorkingTimeConfig(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="'XX' is not a country"):
        WorkingTimeConfig(holidays_country="XX")
