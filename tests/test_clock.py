"""D3/D4: working days skip weekends and England's bank holidays; 'today' is London's.

The expected dates are written out by hand from the published England and Wales bank
holidays (gov.uk), not computed with the ``holidays`` package the code uses.
"""

from __future__ import annotations

import datetime as dt

import pytest

from workflows.clock import ENGLAND, FixedClock, SystemClock, local_today
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
    assert not ENGLAND.is_working_day(day)


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
    assert ENGLAND.is_working_day(day)


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
    assert ENGLAND.add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2026, 12, 29), -1, D(2026, 12, 24)),
        (D(2027, 3, 30), -1, D(2027, 3, 25)),
        (D(2026, 11, 30), -1, D(2026, 11, 27)),
        # D3: future work moves into incoming work 5 working days before its date
        (D(2026, 12, 10), -5, D(2026, 12, 3)),  # a future step of 10 Dec is incoming from 3 Dec
        (D(2027, 1, 4), -5, D(2026, 12, 23)),  # back over New Year, the weekends and Christmas
    ],
)
def test_add_working_days_backwards(start, n, expected):
    assert ENGLAND.add_working_days(start, n) == expected


@pytest.mark.parametrize("n", [1, 3, 5, 10, 20])
@pytest.mark.parametrize("start", [D(2026, 12, 21), D(2027, 3, 22), D(2026, 11, 26)])
def test_forwards_then_backwards_returns_to_a_working_start(start, n):
    assert ENGLAND.is_working_day(start)
    there = ENGLAND.add_working_days(start, n)
    assert ENGLAND.is_working_day(there)
    assert ENGLAND.add_working_days(there, -n) == start


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


# -- issue 7: the one calendar: one-off holidays, closure days, working hours, BST ---------------


@pytest.mark.parametrize(
    "day",
    [
        D(2022, 6, 2),  # Spring bank holiday moved from the last Monday of May for the Jubilee
        D(2022, 6, 3),  # Platinum Jubilee bank holiday (one-off)
        D(2022, 9, 19),  # State Funeral of Queen Elizabeth II (one-off)
        D(2023, 5, 8),  # Coronation of King Charles III (one-off)
        D(2020, 5, 8),  # VE Day 75: the Early May bank holiday moved to a Friday
        D(2021, 12, 27),  # Christmas substitute (25th a Saturday)
        D(2021, 12, 28),  # Boxing Day substitute (26th a Sunday)
        D(2022, 1, 3),  # New Year's Day substitute (1st a Saturday)
        D(2023, 1, 2),  # New Year's Day substitute (1st a Sunday)
    ],
)
def test_one_off_and_substitute_bank_holidays_are_not_working_days(day):
    assert not ENGLAND.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        D(2022, 5, 30),  # the last Monday of May 2022 was worked: the holiday moved to 2 June
        D(2020, 5, 4),  # the first Monday of May 2020 was worked: the holiday moved to 8 May
        D(2023, 5, 2),  # the day after the Early May bank holiday
    ],
)
def test_days_a_holiday_moved_away_from_are_working_days(day):
    assert ENGLAND.is_working_day(day)


def test_add_working_days_over_the_coronation_weekend_and_the_jubilee():
    assert ENGLAND.add_working_days(D(2023, 5, 5), 1) == D(2023, 5, 9)  # Fri 5 -> over the weekend and Mon 8 (Coronation)
    assert ENGLAND.add_working_days(D(2022, 6, 1), 1) == D(2022, 6, 6)  # Wed -> over the two Jubilee days and a weekend
    assert ENGLAND.working_days_between(D(2022, 9, 16), D(2022, 9, 20)) == 1  # Mon 19 was the State Funeral


def test_a_year_boundary_counts_both_years_holidays():
    assert ENGLAND.working_days_between(D(2026, 12, 24), D(2027, 1, 5)) == 5  # 29, 30, 31 Dec; 4, 5 Jan
    assert ENGLAND.add_working_days(D(2027, 1, 4), -5) == D(2026, 12, 23)


def test_closure_days_from_the_config_are_not_working_days():
    from workflows.clock import WorkingCalendar

    shutdown = WorkingCalendar(closure_days=frozenset({D(2026, 12, 29), D(2026, 12, 30), D(2026, 12, 31)}))
    assert ENGLAND.is_working_day(D(2026, 12, 29)) and not shutdown.is_working_day(D(2026, 12, 29))
    assert shutdown.add_working_days(D(2026, 12, 24), 1) == D(2027, 1, 4)
    assert shutdown.working_days_between(D(2026, 12, 24), D(2027, 1, 4)) == 1


def test_day_zero_does_not_count():
    """The documented convention: the starting day is day 0; n working days after it is the nth after."""
    assert ENGLAND.add_working_days(D(2026, 11, 26), 0) == D(2026, 11, 26)
    assert ENGLAND.working_days_between(D(2026, 11, 26), D(2026, 11, 26)) == 0
    assert ENGLAND.working_days_between(D(2026, 11, 27), D(2026, 11, 30)) == 1  # Fri -> Mon
    assert ENGLAND.working_days_between(D(2026, 11, 28), D(2026, 11, 30)) == 1  # Sat -> Mon



@pytest.mark.parametrize(
    ("utc", "working"),
    [
        (dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC), True),  # GMT: 09:00 in London
        (dt.datetime(2026, 11, 26, 8, 59, tzinfo=UTC), False),
        (dt.datetime(2026, 11, 26, 16, 59, tzinfo=UTC), True),
        (dt.datetime(2026, 11, 26, 17, 0, tzinfo=UTC), False),  # the end is not working time
        (dt.datetime(2026, 7, 1, 8, 0, tzinfo=UTC), True),  # BST: 09:00 in London is 08:00 UTC
        (dt.datetime(2026, 7, 1, 16, 0, tzinfo=UTC), False),  # BST: 17:00 in London
        (dt.datetime(2026, 3, 30, 8, 0, tzinfo=UTC), True),  # the Monday after the clocks went forward
        (dt.datetime(2026, 10, 26, 8, 30, tzinfo=UTC), False),  # the Monday after they went back: 08:30 GMT
        (dt.datetime(2026, 12, 25, 11, 0, tzinfo=UTC), False),  # Christmas Day
        (dt.datetime(2026, 11, 28, 11, 0, tzinfo=UTC), False),  # Saturday
    ],
)
def test_working_hours_are_londons(utc, working):
    assert ENGLAND.is_working_time(utc) is working


@pytest.mark.parametrize(
    ("utc", "expected_london"),
    [
        (dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC), dt.datetime(2026, 11, 26, 10, 0)),  # now: within hours
        (dt.datetime(2026, 11, 26, 7, 0, tzinfo=UTC), dt.datetime(2026, 11, 26, 9, 0)),  # early: this morning
        (dt.datetime(2026, 11, 26, 18, 0, tzinfo=UTC), dt.datetime(2026, 11, 27, 9, 0)),  # evening: tomorrow
        (dt.datetime(2026, 11, 27, 18, 0, tzinfo=UTC), dt.datetime(2026, 11, 30, 9, 0)),  # Friday night: Monday
        (dt.datetime(2026, 12, 24, 17, 30, tzinfo=UTC), dt.datetime(2026, 12, 29, 9, 0)),  # over Christmas
        (dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC), dt.datetime(2026, 3, 30, 9, 0)),  # into BST: 08:00 UTC
        (dt.datetime(2026, 10, 24, 12, 0, tzinfo=UTC), dt.datetime(2026, 10, 26, 9, 0)),  # out of BST: 09:00 UTC
    ],
)
def test_the_next_working_morning(utc, expected_london):
    from workflows.clock import LONDON

    got = ENGLAND.next_working_time(utc)
    assert got.astimezone(LONDON).replace(tzinfo=None) == expected_london


def test_the_organisation_config_sets_closure_days_and_hours():
    from workflows.org import Organisation

    org = Organisation.model_validate(
        {
            "name": "Test",
            "teams": [{"key": "t", "name": "T", "manager_channel": "C1", "business_support_channel": "C2"}],
            "people": [{"key": "p", "name": "P", "chat_user_id": "U1", "roles": [{"team": "t", "role": "manager"}]}],
            "working_time": {"closure_days": ["2026-12-29"], "day_starts": "08:30", "day_ends": "16:30"},
        }
    )
    assert not org.calendar.is_working_day(D(2026, 12, 29))
    assert org.calendar.is_working_time(dt.datetime(2026, 11, 26, 8, 30, tzinfo=UTC))
    assert not org.calendar.is_working_time(dt.datetime(2026, 11, 26, 16, 30, tzinfo=UTC))
    with pytest.raises(ValueError, match="day_starts"):
        Organisation.model_validate({**org.model_dump(mode="json"), "working_time": {"day_starts": "17:00", "day_ends": "09:00"}})
