"""D3/D4: working days skip weekends and England's bank holidays; 'today' is London's.

The expected dates are written out by hand from the published England and Wales bank
holidays (gov.uk), not computed with the ``holidays`` package the code uses.
"""

from __future__ import annotations

import datetime as dt

import pytest

from workflows.clock import FixedClock, SystemClock, add_working_days, is_working_day, local_today
from workflows.errors import FieldErrors

D = dt.date
UTC = dt.UTC


@pytest.mark.parametrize(
    "day",
    [
        D(2026, 12, 25),  # Christmas Day (Friday)
        D(2026, 12, 26),  # Boxing Day (Saturday)
        D(2026, 12, 28),  # Boxing Day substitute day (Monday)
        D(2027, 1, 1),  # New Year's Day
        D(2027, 3, 26),  # Good Friday
        D(2027, 3, 29),  # Easter Monday
        D(2027, 5, 3),  # Early May bank holiday
        D(2027, 8, 30),  # Summer bank holiday, England: last Monday of August
        D(2027, 12, 27),  # Christmas Day substitute (25th is a Saturday)
        D(2027, 12, 28),  # Boxing Day substitute
        D(2026, 11, 28),  # a Saturday
        D(2026, 11, 29),  # a Sunday
    ],
)
def test_not_working_days(day):
    assert not is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        D(2026, 11, 26),  # an ordinary Thursday
        D(2026, 11, 30),  # St Andrew's Day: a Scottish holiday, not England's
        D(2026, 12, 24),  # Christmas Eve is a working day
        D(2026, 12, 29),
        D(2027, 1, 4),  # 2 January is Scotland's, and a Saturday anyway
        D(2027, 8, 2),  # Scotland's summer bank holiday (first Monday of August)
        D(2027, 3, 17),  # St Patrick's Day: Northern Ireland only
    ],
)
def test_working_days(day):
    assert is_working_day(day)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2026, 11, 26), 1, D(2026, 11, 27)),  # Thu -> Fri
        (D(2026, 11, 27), 1, D(2026, 11, 30)),  # Fri -> Mon, over the weekend
        (D(2026, 12, 24), 1, D(2026, 12, 29)),  # over Christmas, the weekend and the substitute Monday
        (D(2026, 12, 23), 3, D(2026, 12, 30)),
        (D(2026, 12, 31), 1, D(2027, 1, 4)),  # New Year's Day and a weekend
        (D(2027, 3, 25), 1, D(2027, 3, 30)),  # Good Friday, weekend, Easter Monday
        (D(2026, 11, 26), 5, D(2026, 12, 3)),
        (D(2026, 11, 26), 0, D(2026, 11, 26)),
        (D(2026, 11, 28), 0, D(2026, 11, 28)),  # zero moves nowhere, even from a Saturday
    ],
)
def test_add_working_days_forwards(start, n, expected):
    assert add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2026, 12, 29), -1, D(2026, 12, 24)),
        (D(2027, 3, 30), -1, D(2027, 3, 25)),
        (D(2026, 11, 30), -1, D(2026, 11, 27)),
        # D3: future work moves into incoming work 5 working days before its date
        (D(2026, 12, 10), -5, D(2026, 12, 3)),  # the demo's "CS Home Visit"
        (D(2027, 1, 4), -5, D(2026, 12, 23)),  # back over New Year, the weekends and Christmas
    ],
)
def test_add_working_days_backwards(start, n, expected):
    assert add_working_days(start, n) == expected


@pytest.mark.parametrize("n", [1, 3, 5, 10, 20])
@pytest.mark.parametrize("start", [D(2026, 12, 21), D(2027, 3, 22), D(2026, 11, 26)])
def test_forwards_then_backwards_returns_to_a_working_start(start, n):
    assert is_working_day(start)
    there = add_working_days(start, n)
    assert is_working_day(there)
    assert add_working_days(there, -n) == start


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (dt.datetime(2026, 6, 30, 22, 59, tzinfo=UTC), D(2026, 6, 30)),  # BST: 23:59 in London
        (dt.datetime(2026, 6, 30, 23, 0, tzinfo=UTC), D(2026, 7, 1)),  # BST: midnight in London, still 30 June in UTC
        (dt.datetime(2026, 11, 26, 23, 59, tzinfo=UTC), D(2026, 11, 26)),  # GMT: London is UTC
        (dt.datetime(2026, 11, 27, 0, 0, tzinfo=UTC), D(2026, 11, 27)),
        (dt.datetime(2026, 3, 28, 23, 30, tzinfo=UTC), D(2026, 3, 28)),  # the night the clocks go forward: still GMT
        (dt.datetime(2026, 10, 24, 23, 30, tzinfo=UTC), D(2026, 10, 25)),  # the night they go back: still BST
    ],
)
def test_local_today_is_londons_date(utc, expected):
    assert local_today(FixedClock(utc)) == expected


def test_local_today_from_another_zone():
    new_york = dt.timezone(dt.timedelta(hours=-5))
    assert local_today(FixedClock(dt.datetime(2026, 11, 26, 20, 0, tzinfo=new_york))) == D(2026, 11, 27)


def test_a_fixed_clock_needs_an_aware_time_and_moves_only_when_told():
    with pytest.raises(ValueError, match="aware"):
        FixedClock(dt.datetime(2026, 11, 26, 10, 0))
    clock = FixedClock(dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(days=14, minutes=1)
    assert clock.now() == dt.datetime(2026, 12, 10, 10, 1, tzinfo=UTC)


def test_the_system_clock_is_aware():
    assert SystemClock().now().tzinfo is not None


def test_the_30_day_limit_counts_from_londons_today(journey, clock):
    """C2 at 00:30 on 1 July in London (23:30 UTC on 30 June): 31 July is 30 days ahead, 1 August is not."""
    clock.at = dt.datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    with pytest.raises(FieldErrors) as refused:
        journey.request("3549723", "amy", closure_date=D(2026, 8, 1))
    assert list(refused.value.errors) == ["closure_date"]
    rid = journey.request("3549723", "amy", closure_date=D(2026, 7, 31))
    assert journey.get(rid).details["closure_date"] == "2026-07-31"
