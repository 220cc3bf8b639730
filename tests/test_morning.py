"""The morning round: future work steps become incoming 5 working days before their date (D3),
which is when they start to block a closure (C6.1); blocked closures are re-checked each morning
by worktray itself. Job bodies are called directly at frozen times; no scheduler runs."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import pytest
from conftest import Journey
from sqlalchemy import select

from store.models import Event, JobRun, OutboxMessage, WorkStep
from store.uow import UnitOfWork
from workflows import closure, work_steps
from workflows.clock import LONDON, FixedClock
from workflows.org import Organisation
from workflows.requests import BLOCKED, CLAIMED, SYSTEM_ACTOR, Context

UTC = dt.UTC
PERSON = "3549728"  # the demo's blocked closure: "CS Case Supervision" (ben) and "CS Home Visit" (amy, future, 3 Dec 2026)


def at_london(y: int, m: int, d: int, hh: int = 7, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=LONDON).astimezone(UTC)


def add_future_step(uow_factory: partial[UnitOfWork], on: dt.date, person_id: str = PERSON, title: str = "CS LAC Review") -> int:
    with uow_factory() as uow:
        step = WorkStep(person_id=person_id, title=title, assignee="amy", kind="future", scheduled_on=on)
        uow.cases.add(step)
        uow.commit()
        return step.id


def step_kinds(uow_factory: partial[UnitOfWork], person_id: str = PERSON) -> dict[str, str]:
    with uow_factory() as uow:
        return {s.title: s.kind for s in uow.cases.open_work_steps([person_id])}


# -- D3: the rule, from the one calendar ----------------------------------------------------------


def test_the_cutoff_is_five_working_days_after_today_over_weekends_and_holidays(ctx: Context, clock: FixedClock) -> None:
    """D3, D4: day 0 does not count; weekends, bank holidays and closure days are skipped."""
    assert work_steps.incoming_cutoff(ctx) == dt.date(2026, 12, 3)  # Thu 26 Nov: Fri, Mon, Tue, Wed, Thu
    # Wed 23, Thu 24, then Christmas Day, the weekend, Boxing Day's substitute (Mon 28), the demo
    # council's shutdown (29-31 Dec, config) and New Year's Day are skipped: Mon 4, Tue 5, Wed 6 Jan.
    clock.at = at_london(2026, 12, 22)
    assert work_steps.incoming_cutoff(ctx) == dt.date(2027, 1, 6)
    assert work_steps.incoming_cutoff(ctx, dt.date(2027, 3, 25)) == dt.date(2027, 4, 5)  # Good Friday 26 Mar 2027


def test_the_lead_time_is_configurable(org: Organisation, clock: FixedClock) -> None:
    """D3's 5 working days is the default of ``work_steps.incoming_days_before``."""
    assert org.work_steps.incoming_days_before == 5
    data = org.model_dump(mode="json")
    data["work_steps"] = {"incoming_days_before": 2}
    two = Context(org=Organisation.model_validate(data), clock=clock)
    assert work_steps.incoming_cutoff(two) == dt.date(2026, 11, 30)
    with pytest.raises(ValueError, match="incoming_days_before"):
        Organisation.model_validate({**data, "work_steps": {"incoming_days_before": -1}})


@pytest.mark.parametrize(
    ("scheduled", "blocks"),
    [
        (dt.date(2026, 12, 3), True),  # the 5th working day after Thu 26 Nov: incoming from today
        (dt.date(2026, 12, 4), False),  # the 6th: not before tomorrow
        (dt.date(2026, 12, 10), False),
        (dt.date(2026, 11, 20), True),  # overdue future work is work to do
    ],
)
def test_a_future_step_blocks_a_closure_only_from_five_working_days_before(
    journey: Journey, seeded: partial[UnitOfWork], scheduled: dt.date, blocks: bool
) -> None:
    """C6.1 with D3: the audit blocks on an incomplete step and a future one only within its lead time."""
    rid = journey.to_state(CLAIMED, "3549723", "amy")  # a person with no open steps
    add_future_step(seeded, scheduled, "3549723")
    plan = journey.open_audit(rid)
    assert bool(plan.blocking_steps) is blocks
    assert journey.get(rid).state == (BLOCKED if blocks else CLAIMED)
    left_open = f"3549723: future work step 'CS LAC Review' ({scheduled:%d/%m/%Y}, not incoming yet, D3)"
    assert (left_open in plan.kept) is not blocks  # the audit says it stays on the record


def test_the_manager_sees_later_future_steps_apart(journey: Journey, seeded: partial[UnitOfWork]) -> None:
    """The manager's audit (C3) lists blocking steps as open work and later ones as not blocking yet (D3)."""
    later = add_future_step(seeded, dt.date(2027, 1, 14))
    rid = journey.request(PERSON, "ben")
    with seeded() as uow:
        audit = closure.manager_audit(uow, journey.ctx, uow.requests.get(rid))
        assert [s.title for s in audit.open_steps] == ["CS Case Supervision", "CS Home Visit"]
        assert [s.id for s in audit.later_steps] == [later]


# -- D3: the morning job flips due future steps to incoming ----------------------------------------


def test_promote_flips_due_future_steps_once_with_an_event_each(
    seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock
) -> None:
    later = add_future_step(seeded, dt.date(2026, 12, 10))
    clock.at = at_london(2026, 11, 26)
    with seeded() as uow:
        assert work_steps.promote_future_steps(uow, ctx) == 1  # the demo's Home Visit of 3 Dec
    assert step_kinds(seeded) == {"CS Case Supervision": "incomplete", "CS Home Visit": "incoming", "CS LAC Review": "future"}
    with seeded() as uow:
        assert work_steps.promote_future_steps(uow, ctx) == 0  # a second instance, or a re-run the same day

    clock.at = at_london(2026, 12, 3)  # 5 working days before Thu 10 Dec
    with seeded() as uow:
        assert work_steps.promote_future_steps(uow, ctx) == 1
        events = uow.session.scalars(select(Event).where(Event.action == "step_incoming").order_by(Event.id)).all()
        assert [(e.actor, e.person_id, e.detail["step"], e.detail["scheduled_on"]) for e in events][-1] == (
            SYSTEM_ACTOR, PERSON, later, "2026-12-10"
        )
        assert len(events) == 2  # one per step, never again
        runs = uow.session.scalars(select(JobRun.period).where(JobRun.job == work_steps.PROMOTE_JOB).order_by(JobRun.id)).all()
        assert runs == ["2026-11-26", "2026-12-03"]
    assert step_kinds(seeded)["CS LAC Review"] == "incoming"


def test_promote_redraws_the_cards_of_open_requests_of_the_person(
    journey: Journey, seeded: partial[UnitOfWork], ctx: Context
) -> None:
    rid = journey.request(PERSON, "ben")
    with seeded() as uow:
        before = len(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.card_key.like(f"request:{rid}:%"))).all())
        assert work_steps.promote_future_steps(uow, ctx) == 1
    with seeded() as uow:
        after = len(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.card_key.like(f"request:{rid}:%"))).all())
    assert after > before


# -- C6.1: blocked closures re-checked each morning --------------------------------------------------


def _blocked(journey: Journey) -> int:
    rid = journey.to_state(BLOCKED, PERSON, "ben")
    assert journey.get(rid).state == BLOCKED
    return rid


def test_recheck_blocked_unblocks_once_the_steps_are_done_as_worktray(
    journey: Journey, seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock
) -> None:
    rid = _blocked(journey)
    clock.at = at_london(2026, 11, 27)
    with seeded() as uow:
        assert closure.recheck_blocked(uow, ctx) == 0  # still blocked: both steps open
    assert journey.get(rid).state == BLOCKED
    journey.finish_steps(PERSON)
    with seeded() as uow:
        assert closure.recheck_blocked(uow, ctx) == 0  # today's run is done; tomorrow's will see it
    assert journey.get(rid).state == BLOCKED

    clock.at = at_london(2026, 11, 30)  # the next working morning
    with seeded() as uow:
        cards_before = len(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.card_key.like(f"request:{rid}:%"))).all())
        assert closure.recheck_blocked(uow, ctx) == 1
    request = journey.get(rid)
    assert (request.state, request.last_actor, request.last_action) == (CLAIMED, SYSTEM_ACTOR, "recheck")
    assert request.holder == "sam"  # still hers to finish
    recheck = [e for e in journey.events(rid) if e.action == "recheck"]
    assert [(e.actor, e.from_state, e.to_state, e.source) for e in recheck] == [(SYSTEM_ACTOR, BLOCKED, CLAIMED, "morning")]
    with seeded() as uow:
        cards_after = len(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.card_key.like(f"request:{rid}:%"))).all())
        assert cards_after > cards_before  # the cards are redrawn through the outbox
        assert closure.recheck_blocked(uow, ctx) == 0


def test_a_future_step_not_yet_due_does_not_keep_a_closure_blocked(
    journey: Journey, seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock
) -> None:
    """D3: once the blocking steps are done, a step scheduled further out than 5 working days
    (added since) does not block: the morning unblocks it, and so does the holder's Re-check."""
    rid = _blocked(journey)
    journey.finish_steps(PERSON)
    add_future_step(seeded, dt.date(2026, 12, 11))
    with seeded() as uow:
        assert closure.recheck_blocked(uow, ctx) == 1
    assert journey.get(rid).state == CLAIMED


def test_the_holders_recheck_counts_only_due_steps(journey: Journey, seeded: partial[UnitOfWork]) -> None:
    rid = _blocked(journey)
    journey.finish_steps(PERSON)
    add_future_step(seeded, dt.date(2026, 12, 4))  # the 6th working day: not yet
    assert journey.recheck(rid) == f"Request {rid} is unblocked. Open the closure audit to finish it."


def test_recheck_blocked_leaves_a_request_that_is_not_blocked(
    journey: Journey, seeded: partial[UnitOfWork], ctx: Context, db_fingerprint: Any
) -> None:
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    with seeded() as uow:
        assert closure.recheck_blocked(uow, ctx) == 0
    assert journey.get(rid).state == CLAIMED


def test_two_instances_running_the_morning_at_once_change_each_thing_once(
    journey: Journey, seeded: partial[UnitOfWork], org: Organisation, clock: FixedClock
) -> None:
    """Two bot instances (threads with their own connections) run the morning bodies at the same moment:
    one claims the day and does the work, the other finds it taken (on PostgreSQL it waits on the unique key)."""
    import threading

    rid = _blocked(journey)
    journey.finish_steps(PERSON)
    add_future_step(seeded, dt.date(2026, 12, 2), "3549723")
    results: list[tuple[int, int]] = []
    start = threading.Barrier(2)

    def instance() -> None:
        ctx = Context(org=org, clock=clock)
        start.wait()
        with seeded() as uow:
            promoted = work_steps.promote_future_steps(uow, ctx)
        with seeded() as uow:
            results.append((promoted, closure.recheck_blocked(uow, ctx)))

    threads = [threading.Thread(target=instance) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [(0, 0), (1, 1)] or sorted(results) == [(0, 1), (1, 0)]
    assert journey.get(rid).state == CLAIMED
    assert [e.actor for e in journey.events(rid) if e.action == "recheck"] == [SYSTEM_ACTOR]
    assert len([e for e in journey.events() if e.action == "step_incoming"]) == 1


def test_the_manager_card_shows_a_later_step_apart_and_lets_it_be_cancelled(journey: Journey, seeded: partial[UnitOfWork]) -> None:
    """D3 on the manager's card: the step does not count as open work yet, but C7 still lets a manager cancel it."""
    from bot.views import request_card

    later = add_future_step(seeded, dt.date(2027, 1, 14))
    rid = journey.request(PERSON, "ben")
    with seeded() as uow:
        card = request_card(uow, journey.ctx, uow.requests.get(rid), "manager", 1)
    sections = {s.heading: s.lines for s in card.sections}
    assert sections["Future work steps (not blocking yet, D3)"] == [f"#{later} CS LAC Review · 14/01/2027 · Amy Brooke"]
    assert all(f"#{later} " not in line for line in sections["Open work steps"])
    assert "Open work steps: 2" in sections["Manager's audit (C3)"]
    assert f"Cancel step #{later}" in [b.label for b in card.buttons]
