"""Working time: the clock GGUS counts deadlines and metrics in.

`seconds_between` is what every reminder, target and metric asks, over up to a million tickets, so
it is arithmetic, not a walk over the days: whole weeks, the days left over, minus the holidays
that fall on working days (kept sorted per year, found by bisection).
"""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from gateway.process.config import WEEKDAYS, WorkingTimeConfig


class WorkingTime:
    """Office hours and days off of one configuration."""

    def __init__(self, config: WorkingTimeConfig) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self._start = config.start
        self._end = config.end
        self.day_seconds = _seconds(config.end) - _seconds(config.start)
        self._workdays = frozenset(WEEKDAYS.index(day) for day in config.days)
        self._extra = frozenset(config.extra_holidays)
        self._years: set[int] = set()
        self._off: list[date] = []  # days off that fall on working weekdays, sorted

    # ---------------------------------------------------------------- days

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self._workdays and not self._is_holiday(day)

    def holiday_name(self, day: date) -> str | None:
        if day in self._extra:
            return "extra holiday"
        calendar = self._calendar(day.year)
        return calendar.get(day) if calendar is not None else None

    def working_days(self, first: date, last: date) -> int:
        """Working days from `first` to `last`, both included (0 when last < first)."""
        if last < first:
            return 0
        self._cover(first.year, last.year)
        weekdays = self._weekdays(first, last)
        lo = bisect.bisect_left(self._off, first)
        hi = bisect.bisect_right(self._off, last)
        return weekdays - (hi - lo)

    # ---------------------------------------------------------------- time

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds from `start` to `end` (aware datetimes); 0 when end <= start."""
        if end <= start:
            return 0.0
        a = start.astimezone(self.zone)
        b = end.astimezone(self.zone)
        if a.date() == b.date():
            return self._within(a.date(), a.timetz(), b.timetz())
        first = self._within(a.date(), a.timetz(), None)
        last = self._within(b.date(), None, b.timetz())
        middle = self.working_days(a.date() + timedelta(days=1), b.date() - timedelta(days=1))
        return first + last + middle * self.day_seconds

    def days_between(self, start: datetime, end: datetime) -> float:
        """Working days (of office-hours length) from `start` to `end`."""
        return self.seconds_between(start, end) / self.day_seconds

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of working time after `start` (UTC): when a deadline falls due."""
        moment = start.astimezone(self.zone)
        day = moment.date()
        begin = _seconds(moment.timetz().replace(tzinfo=None))
        lo, hi = _seconds(self._start), _seconds(self._end)
        left = max(0.0, seconds)
        for _ in range(366 * 50):  # a bound: no configuration has a year without work
            if self.is_working_day(day):
                since = max(begin, lo)
                room = max(0.0, hi - since)
                if left <= room:
                    return _at(day, since + left, self.zone)
                left -= room
            day += timedelta(days=1)
            begin = 0.0
            while True:  # whole weeks at once
                week = self.working_days(day, day + timedelta(days=6)) * self.day_seconds
                if week == 0 or week >= left:
                    break
                left -= week
                day += timedelta(days=7)
        raise ValueError("working time: no working day within fifty years")

    # ---------------------------------------------------------------- inside

    def _within(self, day: date, since: time | None, until: time | None) -> float:
        """Working seconds of one day between two local clock times (None: the day's edge)."""
        if not self.is_working_day(day):
            return 0.0
        lo = _seconds(self._start)
        hi = _seconds(self._end)
        if since is not None:
            lo = max(lo, _seconds(since))
        if until is not None:
            hi = min(hi, _seconds(until))
        return float(max(0.0, hi - lo))

    def _weekdays(self, first: date, last: date) -> int:
        """Days from `first` to `last` (inclusive) whose weekday is a working one."""
        total = (last - first).days + 1
        weeks, rest = divmod(total, 7)
        count = weeks * len(self._workdays)
        start = first.weekday()
        count += sum(1 for i in range(rest) if (start + i) % 7 in self._workdays)
        return count

    def _is_holiday(self, day: date) -> bool:
        if day in self._extra:
            return True
        self._cover(day.year, day.year)
        index = bisect.bisect_left(self._off, day)
        return index < len(self._off) and self._off[index] == day

    def _cover(self, first_year: int, last_year: int) -> None:
        missing = [y for y in range(first_year, last_year + 1) if y not in self._years]
        if not missing:
            return
        for year in missing:
            self._years.add(year)
            days = set(self._extra_in(year))
            calendar = self._calendar(year)
            if calendar is not None:
                days.update(calendar.keys())
            for day in days:
                if day.weekday() in self._workdays:
                    bisect.insort(self._off, day)

    def _extra_in(self, year: int) -> list[date]:
        return [day for day in self._extra if day.year == year]

    def _calendar(self, year: int) -> holidays.HolidayBase | None:
        country = self.config.holidays_country
        if country is None:
            return None
        return holidays.country_holidays(
            country.upper(), subdiv=self.config.holidays_subdivision, years=year
        )


def _seconds(clock: time) -> float:
    return clock.hour * 3600 + clock.minute * 60 + clock.second + clock.microsecond / 1e6


def _at(day: date, seconds: float, zone: ZoneInfo) -> datetime:
    # aware + timedelta is wall-clock arithmetic: 09:00 + 3 h is 12:00 local, on DST days too
    local = datetime.combine(day, time(0), tzinfo=zone) + timedelta(seconds=seconds)
    return local.astimezone(UTC)
