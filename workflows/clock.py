"""Time: an injectable clock and the working-day calendar of England (D4)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """An aware datetime."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock for tests and replays: it moves only when told to."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at = self.at + dt.timedelta(**kwargs)


def local_today(clock: Clock) -> dt.date:
    """Today's date in Europe/London (D4), which is what users mean by 'today'."""
    return clock.now().astimezone(LONDON).date()


@lru_cache(maxsize=64)
def _england_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def is_working_day(day: dt.date) -> bool:
    """D4: weekdays that are not bank holidays of England."""
    return day.weekday() < 5 and day not in _england_holidays(day.year)


def add_working_days(day: dt.date, n: int) -> dt.date:
    """Move n working days forward (n > 0) or back (n < 0) from day (D3, D4)."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    while remaining:
        day += dt.timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (D4); negative when ``end`` is earlier."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for n in range(1, (end - start).days + 1) if is_working_day(start + dt.timedelta(days=n)))


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day of the month ``months`` later; the month's last day where it has no such day
    (a child born on 31 August reaches 11 years 6 months on 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - every month has a 28th
