"""C13 with issue 7's chasing: an overdue three-month audit escalates to the team manager once,
then comes back every 5 working days (weekly) in the manager's batched reminder, until it is
recorded. At frozen times on the job body, never a running scheduler.

The demo's Eve Sutton (3501779, Under 12s) was last audited on 17 August 2026: her audit fell due
on 17 November 2026. Maria is the Under 12s manager.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from store.models import Case, OutboxMessage
from workflows import audits, reminders
from workflows.clock import LONDON
from workflows.requests import claim

EVE = "3501779"
LINE_START = "Three-month audit"


def london(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=LONDON)


def run_at(seeded, ctx, clock, when):
    clock.at = when
    with seeded() as uow:
        return reminders.run(uow, ctx)


def audit_keys(result: reminders.RunResult) -> list[str]:
    return [k for k in result.claimed if k.startswith("audit_overdue:")]


def eve_case(seeded) -> tuple[int, dt.date | None]:
    """Eve's open case: its ID and when its audit is due."""
    with seeded() as uow:
        case = uow.session.scalars(select(Case).where(Case.person_id == EVE, Case.closed_on.is_(None))).one()
        return case.id, case.audit_due_on


def test_the_demo_audit_is_due_on_17_november(seeded):
    assert eve_case(seeded)[1] == dt.date(2026, 11, 17)


def test_an_overdue_audit_goes_to_the_manager_then_weekly(seeded, ctx, clock):
    assert audit_keys(run_at(seeded, ctx, clock, london(2026, 11, 17))) == []  # due today: not overdue yet
    first = run_at(seeded, ctx, clock, london(2026, 11, 18))  # 1 working day overdue
    case_id = eve_case(seeded)[0]
    assert audit_keys(first) == [f"audit_overdue:{case_id}@20261117:maria:manager"]
    assert audit_keys(run_at(seeded, ctx, clock, london(2026, 11, 23, 16))) == []  # 4 working days: nothing new
    assert audit_keys(run_at(seeded, ctx, clock, london(2026, 11, 24))) == [f"audit_overdue:{case_id}@20261117:maria:weekly:p1"]
    assert audit_keys(run_at(seeded, ctx, clock, london(2026, 11, 30))) == []  # 8 working days: same week
    assert audit_keys(run_at(seeded, ctx, clock, london(2026, 12, 1))) == [f"audit_overdue:{case_id}@20261117:maria:weekly:p2"]


def test_the_line_carries_id_initials_and_how_late_never_the_name(seeded, ctx, clock):
    run_at(seeded, ctx, clock, london(2026, 11, 24))
    with seeded() as uow:
        rows = uow.session.scalars(select(OutboxMessage)).all()
        [line] = [line for row in rows for line in row.body.get("lines", []) if line.startswith(LINE_START)]
    assert EVE in line and "ES" in line and "overdue by 5 working days" in line and "not claimed" in line
    assert "Eve" not in line and "Sutton" not in line


def test_a_recorded_audit_stops_the_chasing(seeded, ctx, clock):
    clock.at = london(2026, 11, 24, 8)
    with seeded() as uow:
        assert audits.raise_due_audits(uow, ctx) >= 1
    with seeded() as uow:
        [audit] = [a for a in audits.overdue(uow, ctx, dt.date(2026, 11, 24)) if a.person_id == EVE]
    with seeded() as uow:
        claim(uow, ctx, audit.request_id, "sam")
    with seeded() as uow:
        values = {f"check_{k}": "yes" for k in audits.CHECKS} | {"outcome": audits.COMPLIANT}
        audits.record_audit(uow, ctx, audit.request_id, "sam", values)
    assert audit_keys(run_at(seeded, ctx, clock, london(2026, 12, 1))) == []
    assert eve_case(seeded)[1] == dt.date(2027, 2, 24)  # three months from the audit
