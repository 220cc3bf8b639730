"""Time: an injectable clock and the one working-day calendar of the project (D4)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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
    """England's bank holidays of a year, substitute days and one-off days included
    (the Platinum Jubilee on 3 June 2022, the State Funeral on 19 September 2022,
    the Coronation on 8 May 2023), as the ``holidays`` package publishes them."""
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


@lru_cache(maxsize=65536)
def _working_days_between(calendar: WorkingCalendar, start: dt.date, end: dt.date) -> int:
    """``WorkingCalendar.working_days_between``, remembered: the scans over every open case and
    request ask it for the same few hundred pairs of dates again and again (issue 9)."""
    if end < start:
        return -_working_days_between(calendar, end, start)
    return sum(1 for n in range(1, (end - start).days + 1) if calendar.is_working_day(start + dt.timedelta(days=n)))


DAY_STARTS = dt.time(9, 0)
DAY_ENDS = dt.time(17, 0)


@dataclass(frozen=True)
class WorkingCalendar:
    """The one working-day clock of the project (D4): Europe/London; weekends, England's
    bank holidays and the council's own closure days (a Christmas shutdown) are not
    working days; working hours are ``day_starts`` to ``day_ends`` on working days.

    Counting: **day 0 is the starting day and does not count.** ``add_working_days(d, 1)``
    is the first working day after ``d``; ``working_days_between(d, e)`` counts the
    working days after ``d`` up to and including ``e``. So a request raised on a Monday
    is "2 working days old" on Wednesday, whatever day of the week it was raised.
    """

    closure_days: frozenset[dt.date] = frozenset()
    day_starts: dt.time = DAY_STARTS
    day_ends: dt.time = DAY_ENDS

    def is_working_day(self, day: dt.date) -> bool:
        """D4: a weekday that is neither one of England's bank holidays nor a closure day."""
        return day.weekday() < 5 and day not in _england_holidays(day.year) and day not in self.closure_days

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """Move n working days forward (n > 0) or back (n < 0) from ``day`` (D3, D4); 0 stays put."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        while remaining:
            day += dt.timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end``; negative when ``end`` is earlier."""
        return _working_days_between(self, start, end)

    def is_working_time(self, at: dt.datetime) -> bool:
        """Within working hours on a working day, London time (quiet hours are the rest)."""
        local = at.astimezone(LONDON)
        return self.is_working_day(local.date()) and self.day_starts <= local.time() < self.day_ends

    def next_working_time(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself if it is working time, else the start of the next working morning (London)."""
        if self.is_working_time(at):
            return at
        local = at.astimezone(LONDON)
        day = local.date()
        if not (self.is_working_day(day) and local.time() < self.day_starts):
            day = self.add_working_days(day, 1)  # the first working day after today
        return dt.datetime.combine(day, self.day_starts, tzinfo=LONDON)


ENGLAND = WorkingCalendar()  # England's bank holidays only: for code and tests with no organisation


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
