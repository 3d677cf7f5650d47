"""Periods as people name them: a year, a quarter, a month, an ISO week, or two dates."""

from __future__ import annotations

import re
from datetime import date, timedelta

from gateway.errors import InvalidInput

PATTERN = r"^\d{4}(-(Q[1-4]|\d{2}|W\d{2}))?$"
MAX_DAYS = 3 * 366  # a longer period is a report job, not a request


def parse(
    period: str | None, since: date | None, until: date | None, today: date
) -> tuple[date, date]:
    """`[since, until)` for `2026`, `2026-Q4`, `2026-11`, `2026-W48`, or explicit dates;
    without either, the current quarter."""
    if period is not None and (since is not None or until is not None):
        raise InvalidInput("give either period or since/until, not both")
    if period is not None:
        first, after = _named(period)
    elif since is not None or until is not None:
        first = since or (until or today) - timedelta(days=91)
        after = until or today + timedelta(days=1)
    else:
        first, after = _quarter(today.year, (today.month - 1) // 3 + 1)
    if after <= first:
        raise InvalidInput("until: must be after since")
    if (after - first).days > MAX_DAYS:
        raise InvalidInput(f"the period is {(after - first).days} days; at most {MAX_DAYS}")
    return first, after


def _named(text: str) -> tuple[date, date]:
    if not re.fullmatch(PATTERN, text):
        raise InvalidInput(f"period: '{text}' is not a year, quarter, month or week (2026-Q4)")
    year = int(text[:4])
    rest = text[5:]
    try:
        if not rest:
            return date(year, 1, 1), date(year + 1, 1, 1)
        if rest.startswith("Q"):
            return _quarter(year, int(rest[1]))
        if rest.startswith("W"):
            monday = date.fromisocalendar(year, int(rest[1:]), 1)
            return monday, monday + timedelta(days=7)
        month = int(rest)
        first = date(year, month, 1)
        return first, date(year + month // 12, month % 12 + 1, 1)
    except ValueError:
        raise InvalidInput(f"period: '{text}' names no such month or week") from None


def _quarter(year: int, quarter: int) -> tuple[date, date]:
    first = date(year, 3 * quarter - 2, 1)
    return first, (date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1))
