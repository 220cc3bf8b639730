"""C8: file retention can be extended but never shortened; the rule gives the date.

The property tests state the rule for any date of birth, closure date and existing
retentions: once on the pure decision, and once through the real ``complete()`` on
SQLite and PostgreSQL, reading the retentions back from the store.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from collections import Counter

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from store.models import Case, FileRetention, Person
from workflows import retention
from workflows.clock import local_today
from workflows.org import load_organisation
from worktray import demo

D = dt.date
# The demo organisation's schedule: example values a council replaces with its own (C6.4).
SCHEDULE = {r.case_type: r.criteria_of() for r in load_organisation(demo.DEMO_ORG).retention}
CASE_TYPES = sorted(SCHEDULE)
CIN = SCHEDULE["CIN"]


def years_later(start: dt.date, years: int) -> dt.date:
    """The oracle, written apart from the code: same day and month; 29 Feb -> 28 Feb in a common year."""
    year = start.year + years
    day = min(start.day, calendar.monthrange(year, start.month)[1])
    return dt.date(year, start.month, day)


def after_audit(decision: retention.RetentionDecision, existing: list[dt.date]) -> list[dt.date]:
    """What complete() leaves on the record: the existing retentions, plus one when the rule needs it."""
    return existing + ([decision.retain_until] if decision.needs_new_record else [])


# -- the rule and its example ---------------------------------------------------------------------


def test_the_c8_example_born_12_may_2015_is_kept_until_12_may_2040():
    assert CIN.retain_until(D(2015, 5, 12), D(2026, 11, 26)) == D(2040, 5, 12)
    decision = retention.decide(CIN, D(2015, 5, 12), D(2026, 11, 26), [])
    assert (decision.criteria.name, decision.retain_until, decision.start_date) == ("CS Child in Need", D(2040, 5, 12), D(2026, 11, 26))
    assert decision.needs_new_record
    assert decision.summary() == "add CS Child in Need: retain until 12/05/2040"


@pytest.mark.parametrize(
    ("born", "years", "until"),
    [
        (D(2016, 2, 29), 25, D(2041, 2, 28)),  # a common year: the last day of February
        (D(2016, 2, 29), 24, D(2040, 2, 29)),  # a leap year keeps the 29th
        (D(2015, 2, 28), 25, D(2040, 2, 28)),
        (D(2015, 3, 1), 25, D(2040, 3, 1)),
    ],
)
def test_29_february_births(born, years, until):
    assert retention.add_years(born, years) == until


def test_a_29_february_birth_under_the_cin_rule():
    decision = retention.decide(CIN, D(2016, 2, 29), D(2026, 11, 26), [D(2030, 1, 1)])
    assert decision.retain_until == D(2041, 2, 28)
    assert decision.summary() == "extend retention from 01/01/2030 to 28/02/2041 (CS Child in Need)"


def test_an_existing_longer_retention_is_kept_as_it_is():
    decision = retention.decide(CIN, D(2015, 5, 12), D(2026, 11, 26), [D(2050, 1, 1), D(2030, 5, 12)])
    assert not decision.needs_new_record
    assert decision.existing_until == D(2050, 1, 1)
    assert "already covers" in decision.summary()


def test_the_demo_schedule_covers_every_demo_case_type():
    """The shipped schedule's example values, as the README shows them; a council replaces them."""
    assert {t: (c.years, c.from_birth) for t, c in SCHEDULE.items()} == {
        "CIN": (25, True), "CP": (35, False), "CLA": (75, True), "CWD": (25, True), "EH": (25, True), "ADULT": (8, False),
    }


def test_without_a_date_of_birth_a_birth_rule_counts_from_closure():
    assert retention.decide(CIN, None, D(2026, 11, 26), []).retain_until == D(2051, 11, 26)


# -- properties of the pure decision ----------------------------------------------------------------

births = st.one_of(st.none(), st.dates(D(1920, 1, 1), D(2026, 11, 26)))
closures = st.dates(D(2000, 1, 1), D(2030, 12, 31))
existing_dates = st.lists(st.dates(D(1990, 1, 1), D(2200, 12, 31)), max_size=4)


@given(case_type=st.sampled_from(CASE_TYPES), born=births, closed=closures, existing=existing_dates)
@example(case_type="CIN", born=D(2016, 2, 29), closed=D(2026, 11, 26), existing=[D(2041, 2, 27)])
@example(case_type="CIN", born=D(2016, 2, 29), closed=D(2026, 11, 26), existing=[D(2041, 2, 28)])
@example(case_type="CIN", born=D(2015, 5, 12), closed=D(2026, 11, 26), existing=[D(2030, 5, 12)])
def test_retention_is_never_shortened(case_type, born, closed, existing):
    criteria = SCHEDULE[case_type]
    decision = retention.decide(criteria, born, closed, existing)
    after = after_audit(decision, existing)
    rule_date = years_later(born if criteria.from_birth and born else closed, criteria.years)

    assert decision.retain_until == rule_date
    assert not Counter(existing) - Counter(after), "no existing retention removed or changed"
    assert len(after) - len(existing) <= 1, "at most one record added"
    assert max(after) >= rule_date
    if existing:
        assert max(after) >= max(existing)
        assert decision.needs_new_record == (max(existing) < rule_date), "extend only when nothing covers the rule"
    else:
        assert decision.needs_new_record


# -- the same, through complete() on the store ---------------------------------------------------------


def retentions(uow_factory, person_id: str) -> list[tuple[int, str, str, dt.date, dt.date]]:
    with uow_factory() as uow:
        found = uow.session.scalars(select(FileRetention).where(FileRetention.person_id == person_id).order_by(FileRetention.id))
        return [(r.id, r.criteria, r.rule, r.start_date, r.retain_until) for r in found]


def test_3501779s_short_retention_is_extended_never_shortened(journey, seeded):
    """The demo's 3501779 (born 12 May 2015, CIN) has an Early Help retention to 2030."""
    before = retentions(seeded, "3501779")
    assert [r[4] for r in before] == [D(2030, 5, 12)]
    rid = journey.to_state("claimed", "3501779", "amy")
    plan = journey.open_audit(rid)
    assert plan.retention["3501779"].summary() == "extend retention from 12/05/2030 to 12/05/2040 (CS Child in Need)"
    journey.complete(rid)
    after = retentions(seeded, "3501779")
    assert after[: len(before)] == before, "the existing record is untouched"
    [(_, criteria, rule, start, until)] = after[len(before):]
    assert (criteria, rule, start, until) == (
        "CS Child in Need",
        "File to be retained for 25 years from date of birth",
        local_today(journey.ctx.clock),  # C6.4: as of the closure date
        D(2040, 5, 12),
    )


def test_a_longer_existing_retention_is_left_alone(journey, seeded):
    with seeded() as uow:
        uow.cases.add(FileRetention(person_id="3501779", criteria="CS Child Protection", rule="35 years from closure",
                                    start_date=D(2020, 1, 1), retain_until=D(2055, 1, 1)))
        uow.commit()
    before = retentions(seeded, "3501779")
    rid = journey.to_state("claimed", "3501779", "amy")
    journey.complete(rid)
    assert retentions(seeded, "3501779") == before
    [event] = [e for e in journey.events(rid) if e.action == "complete"]
    assert "already covers" in event.detail["retention"]["3501779"]


_person_ids = itertools.count(9000001)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    case_type=st.sampled_from(CASE_TYPES),
    born=births,
    days_open=st.integers(0, 5000),
    days_ahead=st.integers(-3000, 30),
    existing=existing_dates,
)
@example(case_type="CIN", born=D(2016, 2, 29), days_open=100, days_ahead=0, existing=[D(2041, 2, 27)])
def test_complete_never_shortens_a_retention(journey, seeded, case_type, born, days_open, days_ahead, existing):
    """Any person, any case type, any existing retentions: after the audit nothing is shorter."""
    today = local_today(journey.ctx.clock)
    closure_date = today + dt.timedelta(days=days_ahead)
    person_id = str(next(_person_ids))
    adult = case_type == "ADULT"
    with seeded() as uow:
        uow.cases.add(Person(id=person_id, first_name="Test", last_name="Person", date_of_birth=born,
                             last_seen_face_to_face=D(2026, 1, 1)))
        uow.session.flush()
        uow.cases.add(Case(person_id=person_id, team="adults-south" if adult else "u12", worker="dan" if adult else "amy",
                           case_type=case_type, opened_on=closure_date - dt.timedelta(days=days_open)))
        for until in existing:
            uow.cases.add(FileRetention(person_id=person_id, criteria="Earlier", rule="earlier rule",
                                        start_date=D(1990, 1, 1), retain_until=until))
        uow.commit()
    before = retentions(seeded, person_id)

    rid = journey.request(person_id, "dan" if adult else "amy", closure_date=closure_date)
    journey.approve(rid)
    journey.claim(rid, "sam")
    journey.complete(rid, "sam")

    after = retentions(seeded, person_id)
    criteria = SCHEDULE[case_type]
    rule_date = years_later(born if criteria.from_birth and born else closure_date, criteria.years)
    assert after[: len(before)] == before, "no existing record changed"
    assert len(after) - len(before) <= 1
    assert max(r[4] for r in after) >= rule_date
    if before:
        assert max(r[4] for r in after) >= max(r[4] for r in before)
        longest = max(r[4] for r in before)
        assert (len(after) > len(before)) == (longest < rule_date), "a record is added exactly when nothing covers the rule"
    else:
        assert len(after) == 1
    for added in after[len(before):]:
        assert (added[3], added[4]) == (closure_date, rule_date)
