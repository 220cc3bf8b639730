"""Issue 7: the chasing engine (workflows.reminders) and its escalation ladders, exactly once.

Every ladder is driven through the real handlers (journey, transfer) on the seeded demo
store, on SQLite and PostgreSQL, and its job body (``reminders.run``) is called at frozen
times (the ``clock`` fixture), never a running scheduler. Times are London (D4).

Demo (worktray/demo/org.yml): Under 12s has workers amy and ben (ben's supervisor is
maria), manager maria, business support sam and tess, group manager gita; 12+ has manager
nadia and group manager rafe. 3549723 is Lily Marsh (LM, worker amy); 3549728 Kai Ellison
(KE, worker ben) has two open work steps (ben's and amy's); 3549750 is Jay Corrin (JC).
Thursday 26 November 2026 is conftest's NOW; Christmas Day 2026 is a Friday, so Boxing
Day is observed on Monday 28 December.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import yaml
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from bot import blockkit, console
from bot.deliver import Deliverer, Posted
from bot.views import reminders_card
from store.models import Assessment, Event, OutboxMessage, Person, Reminder
from store.uow import UnitOfWork
from workflows import reminders, transfer
from workflows import requests as wf
from workflows.clock import LONDON, FixedClock
from workflows.org import ConfigError, Organisation, parse_organisation
from workflows.requests import Context
from workflows.transfer_terms import STANDARDS
from worktray import demo, scheduler
from worktray.bootstrap import App, build

LILY = "3549723"
KAI = "3549728"
JAY = "3549750"


@pytest.fixture(autouse=True)
def _other_ladders_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo has an overdue three-month audit (C13); its ladder has tests of its own
    (tests/test_audit_escalation.py), so these tests of the other ladders leave it out."""
    monkeypatch.delitem(reminders.SOURCES, "overdue_audits")



def transfer_form() -> dict[str, Any]:
    """A transfer of Jay, Under 12s -> 12+ at 11y6m, ready, every standard done (T1, T4)."""
    return {
        "receiving_team": "12plus",
        "point_of_transfer": "age_11y6m",
        "planned_date": "2026-12-24",
        "reason": "Reaches 11 years 6 months.",
        "readiness": "ready",
        **{f"std_{k}": "done" for k in STANDARDS},
    }


def london(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=LONDON)


def run_at(seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, when: dt.datetime) -> reminders.RunResult:
    """One run of the job body at a frozen time, in its own unit of work (as run_job does)."""
    clock.at = when
    with seeded() as uow:
        return reminders.run(uow, ctx)


def sent(seeded: partial[UnitOfWork]) -> list[tuple[str, str, list[str]]]:
    """Every reminder message queued so far: (kind, channel or DM user, lines), oldest first."""
    with seeded() as uow:
        rows = uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(r.kind, r.channel, list(r.body["lines"])) for r in rows if r.body.get("view") == reminders.VIEW]


def dms_to(seeded: partial[UnitOfWork], chat_id: str) -> list[list[str]]:
    return [lines for kind, channel, lines in sent(seeded) if kind == "dm" and channel == chat_id]


def claimed_keys(seeded: partial[UnitOfWork]) -> list[str]:
    with seeded() as uow:
        return [r.key for r in uow.reminders_sent()]


# -- C2, C3: a request waiting for its manager -------------------------------------------------


def test_a_closure_waiting_for_its_manager_climbs_the_ladder_over_a_weekend(seeded, journey, ctx, clock):
    """Raised Thursday 26 Nov: 2 working days is Monday 30 (the weekend does not count), 5 is Thursday 3 Dec."""
    clock.at = london(2026, 11, 26)
    rid = journey.request(LILY, "amy")  # amy has no supervisor: the team's manager, maria, decides (C2)
    assert run_at(seeded, ctx, clock, london(2026, 11, 27, 16, 59)).claimed == []  # 1 working day
    assert run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0)).messages == 1
    assert dms_to(seeded, "U0MARIA") == [[f"Closure request {rid} · {LILY} LM · waiting for a decision for 2 working days"]]
    assert run_at(seeded, ctx, clock, london(2026, 12, 2, 16, 0)).claimed == []  # 4 working days: nothing new
    assert dms_to(seeded, "U0GITA") == []
    assert run_at(seeded, ctx, clock, london(2026, 12, 3, 9, 0)).messages == 1  # 5 working days: the group manager
    assert dms_to(seeded, "U0GITA") == [[f"Closure request {rid} · {LILY} LM · waiting for a decision for 5 working days"]]
    assert len(dms_to(seeded, "U0MARIA")) == 1  # the manager's step was sent once
    assert [k.split(":")[-1] for k in claimed_keys(seeded)] == ["manager", "group_manager"]


def test_bank_holidays_do_not_count_towards_the_wait(seeded, journey, ctx, clock):
    """Raised Wednesday 23 Dec: Christmas Day and the observed Boxing Day (Monday 28) are not
    working days (D4), nor is the demo council's shutdown (29-31 Dec, working_time.closure_days),
    nor New Year's Day, so 2 working days is Monday 4 January."""
    clock.at = london(2026, 12, 23)
    journey.request(LILY, "amy")
    assert run_at(seeded, ctx, clock, london(2026, 12, 24, 16, 0)).claimed == []
    assert run_at(seeded, ctx, clock, london(2026, 12, 28, 10, 0)).quiet  # a bank holiday: quiet
    assert run_at(seeded, ctx, clock, london(2026, 12, 29, 10, 0)).quiet  # the council's shutdown: quiet
    assert run_at(seeded, ctx, clock, london(2027, 1, 4, 9, 0)).messages == 1
    assert len(dms_to(seeded, "U0MARIA")) == 1


def test_a_returned_and_resubmitted_request_starts_its_ladder_again(seeded, journey, ctx, clock):
    clock.at = london(2026, 11, 26)
    rid = journey.request(LILY, "amy")
    run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0))
    clock.at = london(2026, 11, 30, 11, 0)
    journey.return_(rid)
    assert run_at(seeded, ctx, clock, london(2026, 12, 3, 9, 0)).claimed == []  # returned: waits for the worker
    clock.at = london(2026, 12, 3, 10, 0)
    journey.resubmit(rid)
    assert run_at(seeded, ctx, clock, london(2026, 12, 4, 9, 0)).claimed == []  # 1 working day since it came back
    assert run_at(seeded, ctx, clock, london(2026, 12, 7, 9, 0)).messages == 1
    assert len(dms_to(seeded, "U0MARIA")) == 2  # once per wait


def test_a_transfer_waits_for_the_sending_then_the_receiving_managers(seeded, ctx, clock):
    clock.at = london(2026, 11, 26)
    with seeded() as uow:
        rid = transfer.raise_transfer(uow, ctx, "ben", JAY, transfer_form()).id  # ben's supervisor is maria (C2)
    run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0))
    assert dms_to(seeded, "U0MARIA") == [[f"Transfer {rid} · {JAY} JC · waiting for a decision for 2 working days"]]
    clock.at = london(2026, 11, 30, 10, 0)
    with seeded() as uow:
        wf.approve(uow, ctx, rid, "maria")  # now with 12+'s managers to accept, hold on duty or dispute
    assert run_at(seeded, ctx, clock, london(2026, 12, 1, 12, 0)).claimed == []
    run_at(seeded, ctx, clock, london(2026, 12, 2, 9, 0))
    assert dms_to(seeded, "U0NADIA") == [[f"Transfer {rid} · {JAY} JC · waiting for a decision for 2 working days"]]
    assert dms_to(seeded, "U0RAFE") == []
    run_at(seeded, ctx, clock, london(2026, 12, 7, 9, 0))  # 5 working days since approval: 12+'s group manager
    assert len(dms_to(seeded, "U0RAFE")) == 1
    assert dms_to(seeded, "U0GITA") == []  # Under 12s' group manager is not the deciding team's
    assert [c for k, c, _ in sent(seeded) if k == "card"] == []  # a transfer is no virtual-worker item


# -- C5: the virtual worker ----------------------------------------------------------------------


def test_an_unclaimed_item_is_nudged_in_the_business_support_channel_after_a_working_day(seeded, journey, ctx, clock):
    clock.at = london(2026, 11, 26)
    rid = journey.to_state(wf.APPROVED, LILY, "amy")
    assert run_at(seeded, ctx, clock, london(2026, 11, 26, 16, 30)).claimed == []  # the same day
    assert run_at(seeded, ctx, clock, london(2026, 11, 27, 9, 0)).messages == 1
    assert sent(seeded) == [("card", "C0U12BS", [f"Closure request {rid} · {LILY} LM · unclaimed in the virtual worker for 1 working day"])]


def test_a_claimed_item_left_untouched_reminds_its_holder_then_the_manager(seeded, journey, ctx, clock):
    clock.at = london(2026, 11, 26)
    rid = journey.to_state(wf.CLAIMED, LILY, "amy", holder="sam")
    assert run_at(seeded, ctx, clock, london(2026, 11, 30, 16, 59)).claimed == []  # 2 working days
    run_at(seeded, ctx, clock, london(2026, 12, 1, 9, 0))  # 3 working days: the holder
    assert dms_to(seeded, "U0SAM") == [[f"Closure request {rid} · {LILY} LM · claimed, untouched for 3 working days"]]
    assert dms_to(seeded, "U0MARIA") == []
    assert run_at(seeded, ctx, clock, london(2026, 12, 2, 16, 0)).claimed == []
    run_at(seeded, ctx, clock, london(2026, 12, 3, 9, 0))  # 5 working days: the team manager, told who holds it
    assert dms_to(seeded, "U0MARIA") == [[f"Closure request {rid} · {LILY} LM · claimed, untouched for 5 working days (held by Sam Patel)"]]
    assert [c for k, c, _ in sent(seeded) if k == "card"] == []  # claimed: no channel nudge


def test_touching_a_claimed_item_restarts_the_count(seeded, journey, ctx, clock):
    clock.at = london(2026, 11, 26)
    rid = journey.to_state(wf.CLAIMED, LILY, "amy", holder="sam")
    clock.at = london(2026, 11, 30, 11, 0)
    journey.reassign(rid, to="tess")  # an action on the item
    assert run_at(seeded, ctx, clock, london(2026, 12, 1, 9, 0)).claimed == []  # 1 working day since
    run_at(seeded, ctx, clock, london(2026, 12, 3, 9, 0))
    assert len(dms_to(seeded, "U0TESS")) == 1 and dms_to(seeded, "U0SAM") == []


# -- C6.1: a blocked closure ----------------------------------------------------------------------


def test_a_blocked_closures_step_assignees_are_reminded_every_two_working_days(seeded, journey, ctx, clock):
    clock.at = london(2026, 11, 26)
    rid = journey.to_state(wf.BLOCKED, KAI, "ben")  # steps of ben and amy block it
    with seeded() as uow:
        steps = {s.assignee: s.id for s in uow.cases.open_work_steps([KAI])}
    assert run_at(seeded, ctx, clock, london(2026, 11, 27, 12, 0)).claimed == []
    run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0))  # 2 working days: period 1
    assert dms_to(seeded, "U0BEN") == [[f"Closure request {rid} · {KAI} KE · blocked by your work step(s) #{steps['ben']} CS Case Supervision (C6.1)"]]
    assert dms_to(seeded, "U0AMY") == [[f"Closure request {rid} · {KAI} KE · blocked by your work step(s) #{steps['amy']} CS Home Visit (C6.1)"]]
    assert run_at(seeded, ctx, clock, london(2026, 12, 1, 12, 0)).claimed == []  # 3 working days: same period
    run_at(seeded, ctx, clock, london(2026, 12, 2, 9, 0))  # 4: period 2
    assert len(dms_to(seeded, "U0BEN")) == 2 and len(dms_to(seeded, "U0AMY")) == 2
    journey.finish_steps(KAI)  # done: nothing blocks; nobody is reminded again
    assert run_at(seeded, ctx, clock, london(2026, 12, 4, 9, 0)).claimed == []


def test_a_missed_week_is_caught_up_once_not_once_per_missed_period(seeded, journey, ctx, clock):
    """Blocked Thursday 26 Nov; the bot is down until Wednesday 9 Dec (9 working days: period 4):
    one reminder each, for period 4, however many runs follow."""
    clock.at = london(2026, 11, 26)
    journey.to_state(wf.BLOCKED, KAI, "ben")
    first = run_at(seeded, ctx, clock, london(2026, 12, 9, 9, 0))
    again = run_at(seeded, ctx, clock, london(2026, 12, 9, 9, 15))
    assert first.messages == 2 and again.claimed == []
    assert len(dms_to(seeded, "U0BEN")) == 1 and len(dms_to(seeded, "U0AMY")) == 1
    assert sorted(k.rsplit(":", 2)[-1] for k in claimed_keys(seeded)) == ["p4", "p4"]


# -- T6: a transfer held on duty ----------------------------------------------------------------


def test_a_transfer_held_on_duty_is_reviewed_weekly_by_the_receiving_manager(seeded, ctx, clock):
    clock.at = london(2026, 11, 30)
    with seeded() as uow:
        rid = transfer.raise_transfer(uow, ctx, "ben", JAY, transfer_form()).id
    with seeded() as uow:
        wf.approve(uow, ctx, rid, "maria")
    with seeded() as uow:
        transfer.hold_on_duty(uow, ctx, rid, "nadia", "No worker free until January.")  # since Monday 30 Nov
    assert run_at(seeded, ctx, clock, london(2026, 12, 4, 16, 0)).claimed == []  # 4 working days
    run_at(seeded, ctx, clock, london(2026, 12, 7, 9, 0))  # 5 working days: the weekly review
    line = f"Transfer {rid} · {JAY} JC · held on duty for 5 working days: review and prioritise until allocated (T6)"
    assert dms_to(seeded, "U0NADIA") == [[line]]
    assert run_at(seeded, ctx, clock, london(2026, 12, 11, 12, 0)).claimed == []
    run_at(seeded, ctx, clock, london(2026, 12, 14, 9, 0))  # the next week
    assert len(dms_to(seeded, "U0NADIA")) == 2
    assert dms_to(seeded, "U0MARIA") == []  # the sending manager is not chased for it


# -- D1: assessment timescales --------------------------------------------------------------------


@pytest.fixture
def assessment(seeded: partial[UnitOfWork]) -> int:
    """An open single assessment of Lily (worker amy; manager maria), triggered Thursday 1 October 2026."""
    with seeded() as uow:
        row = Assessment(person_id=LILY, assessment_type="Single Assessment", trigger_date=dt.date(2026, 10, 1))
        uow.session.add(row)
        uow.commit()
        return row.id


def test_an_open_assessment_reminds_at_20_and_35_days_and_alerts_past_45(seeded, ctx, clock, assessment):
    assert run_at(seeded, ctx, clock, london(2026, 10, 20, 12, 0)).claimed == []  # day 19
    run_at(seeded, ctx, clock, london(2026, 10, 21, 9, 0))  # day 20
    line20 = f"Single Assessment {assessment} · {LILY} LM · open: day 20 since 01 Oct 2026, due by 15 Nov 2026 (D1)"
    assert dms_to(seeded, "U0AMY") == [[line20]] and dms_to(seeded, "U0MARIA") == [[line20]]
    assert run_at(seeded, ctx, clock, london(2026, 11, 4, 12, 0)).claimed == []  # day 34
    run_at(seeded, ctx, clock, london(2026, 11, 5, 9, 0))  # day 35
    assert len(dms_to(seeded, "U0AMY")) == 2
    clock.at = london(2026, 11, 15, 12, 0)  # day 45, a Sunday: not overdue yet (and quiet)
    with seeded() as uow:
        assert [o.step for o in reminders.collect(uow, ctx, clock.now())] == ["d35", "d35"]
    run_at(seeded, ctx, clock, london(2026, 11, 16, 9, 0))  # day 46: overdue
    [*_, overdue] = dms_to(seeded, "U0MARIA")
    assert overdue == [f"Single Assessment {assessment} · {LILY} LM · OVERDUE: day 46 since 01 Oct 2026, due by 15 Nov 2026 (D1)"]
    with seeded() as uow:  # completed: nothing more is owed
        found = uow.session.get(Assessment, assessment)
        assert found is not None
        found.completed_on = dt.date(2026, 11, 16)
        uow.commit()
    assert run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0)).claimed == []


def test_an_assessment_missed_while_down_sends_only_its_latest_step(seeded, ctx, clock, assessment):
    run_at(seeded, ctx, clock, london(2026, 11, 9, 9, 0))  # day 39: the 20-day reminder was never sent
    assert [k.split(":")[-1] for k in claimed_keys(seeded)] == ["d35", "d35"]
    assert len(dms_to(seeded, "U0AMY")) == 1


# -- quiet hours, batching, exactly once -----------------------------------------------------------


def test_quiet_hours_defer_to_the_next_working_morning_and_send_once(seeded, journey, ctx, clock, db_fingerprint):
    """Due on Friday 27 Nov, but the only runs that day are in the evening: nothing is sent or
    claimed at 20:00, nor on Saturday or at 08:59 on Monday; Monday 09:00 sends it, once."""
    clock.at = london(2026, 11, 26)
    journey.to_state(wf.APPROVED, LILY, "amy")
    before = db_fingerprint()
    for when in (london(2026, 11, 27, 20, 0), london(2026, 11, 28, 12, 0), london(2026, 11, 30, 8, 59)):
        assert run_at(seeded, ctx, clock, when).quiet
    assert db_fingerprint() == before  # nothing claimed, nothing queued
    assert run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0)).messages == 1
    assert run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 15)).claimed == []
    assert len(sent(seeded)) == 1


def test_two_things_for_one_person_go_in_one_message(seeded, journey, ctx, clock):
    clock.at = london(2026, 11, 26)
    first = journey.request(LILY, "amy")
    second = journey.request("3501779", "amy")
    result = run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0))
    assert result.messages == 1 and len(result.claimed) == 2
    [lines] = dms_to(seeded, "U0MARIA")
    assert [line.split(" · ")[0] for line in lines] == [f"Closure request {first}", f"Closure request {second}"]


def test_two_items_in_one_queue_go_in_one_channel_message(seeded, journey, ctx, clock):
    clock.at = london(2026, 11, 26)
    journey.to_state(wf.APPROVED, LILY, "amy")
    journey.to_state(wf.APPROVED, "3501779", "amy")
    run_at(seeded, ctx, clock, london(2026, 11, 27, 9, 0))
    [(kind, channel, lines)] = sent(seeded)
    assert (kind, channel, len(lines)) == ("card", "C0U12BS", 2)


def test_a_run_twice_sends_once_and_logs_one_event(seeded, journey, ctx, clock):
    clock.at = london(2026, 11, 26)
    journey.request(LILY, "amy")
    assert run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0)).messages == 1
    assert run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0)).messages == 0
    assert len(sent(seeded)) == 1
    with seeded() as uow:
        events = uow.session.scalars(select(Event).where(Event.action == "reminders_sent")).all()
        assert [(e.actor, e.detail["messages"]) for e in events] == [("worktray", 1)]


def test_two_runs_at_once_send_once(db_url, seeded, journey, org, clock):
    """Two bot instances (threads, each its own unit of work and connection) run at the same
    moment, on several days: every reminder is queued once (on PostgreSQL the second claimer
    waits on the unique key, then finds it taken)."""
    clock.at = london(2026, 11, 26)
    journey.request(LILY, "amy")
    journey.to_state(wf.BLOCKED, KAI, "ben")
    journey.to_state(wf.APPROVED, "3501779", "amy")
    results: list[reminders.RunResult] = []
    errors: list[BaseException] = []
    for when in (london(2026, 11, 27, 9, 0), london(2026, 11, 30, 9, 0), london(2026, 12, 2, 9, 0), london(2026, 12, 3, 9, 0)):
        start = threading.Barrier(3)
        day_clock = FixedClock(when)

        def instance(start: threading.Barrier = start, day_clock: FixedClock = day_clock) -> None:
            try:
                with seeded() as uow:
                    start.wait(60)
                    results.append(reminders.run(uow, Context(org=org, clock=day_clock)))
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=instance) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert errors == []
    keys = [k for r in results for k in r.claimed]
    assert len(keys) == len(set(keys)) == len(claimed_keys(seeded))
    assert sum(r.messages for r in results) == len(sent(seeded))
    # Friday: the nudge; Monday: maria, ben, amy; Wednesday: ben, amy again; Thursday: gita and sam? (no: unclaimed only)
    assert len(dms_to(seeded, "U0MARIA")) == 1 and len(dms_to(seeded, "U0GITA")) == 1
    assert len(dms_to(seeded, "U0BEN")) == 2 and len(dms_to(seeded, "U0AMY")) == 2
    assert len([c for k, c, _ in sent(seeded) if k == "card"]) == 1
    with seeded() as uow:
        assert len(uow.session.scalars(select(Reminder)).all()) == len(keys)


# -- configuration -----------------------------------------------------------------------------


def org_with(**team_reminders: dict[str, Any]) -> Organisation:
    """The demo organisation with a ``reminders:`` block on some teams."""
    data = yaml.safe_load(demo.DEMO_ORG.read_text(encoding="utf-8"))
    for team in data["teams"]:
        if team["key"] in team_reminders:
            team["reminders"] = team_reminders[team["key"]]
    return Organisation.model_validate(data)


def test_the_demo_config_without_a_reminders_block_gets_the_defaults(org):
    limits = org.team("u12").reminders
    assert (limits.manager_after, limits.group_manager_after, limits.unclaimed_after) == (2, 5, 1)
    assert (limits.untouched_holder_after, limits.untouched_manager_after, limits.blocked_every) == (3, 5, 2)
    assert (limits.duty_review_every, limits.assessment_reminders, limits.assessment_overdue_after) == (5, [20, 35], 45)


def test_a_teams_config_changes_its_thresholds(seeded, journey, clock):
    org = org_with(u12={"manager_after": 3, "unclaimed_after": 2, "assessment_reminders": [10]})
    ctx = Context(org=org, clock=clock)
    clock.at = london(2026, 11, 26)
    journey.request(LILY, "amy")
    journey.to_state(wf.APPROVED, "3501779", "amy")
    assert run_at(seeded, ctx, clock, london(2026, 11, 27, 9, 0)).claimed == []  # the nudge now waits 2 days
    run_at(seeded, ctx, clock, london(2026, 11, 30, 9, 0))
    assert dms_to(seeded, "U0MARIA") == [] and len(sent(seeded)) == 1  # the nudge only
    run_at(seeded, ctx, clock, london(2026, 12, 1, 9, 0))  # 3 working days
    assert len(dms_to(seeded, "U0MARIA")) == 1


def test_a_bad_threshold_is_refused_naming_its_line():
    text = demo.DEMO_ORG.read_text(encoding="utf-8").replace(
        "    business_support_channel: C0U12BS\n", "    business_support_channel: C0U12BS\n    reminders: {manager_after: 0}\n", 1
    )
    with pytest.raises(ConfigError) as refused:
        parse_organisation(text, "org.yml")
    assert "teams.0.reminders.manager_after" in str(refused.value)
    assert "line 9" in str(refused.value)


# -- personal data: channel posts carry IDs and initials only --------------------------------------


def test_reminder_messages_carry_no_service_user_names_and_channels_no_names_at_all(seeded, journey, ctx, clock, assessment):
    clock.at = london(2026, 11, 26)
    journey.to_state(wf.APPROVED, LILY, "amy")
    journey.to_state(wf.CLAIMED, "3501779", "amy", holder="sam")
    journey.to_state(wf.BLOCKED, KAI, "ben")
    for day in (27, 30):
        run_at(seeded, ctx, clock, london(2026, 11, day, 9, 0))
    run_at(seeded, ctx, clock, london(2026, 12, 3, 9, 0))
    with seeded() as uow:
        service_users = {n for p in uow.session.scalars(select(Person)) for n in (p.first_name, p.last_name)}
    staff = {part for person in ctx.org.people for part in person.name.split()}
    messages = sent(seeded)
    assert {k for k, _, _ in messages} == {"card", "dm"}
    for kind, _channel, lines in messages:
        words = set(re.findall(r"[A-Za-z]+", " ".join(lines)))  # whole words: "Pat" (a service user) is not in "Patel"
        assert not words & service_users, lines
        if kind == "card":
            assert not words & staff, lines


# -- the registry, the card, the scheduler ---------------------------------------------------------


def test_a_registered_source_is_part_of_every_run(seeded, ctx, clock, monkeypatch):
    """How the overdue-audit ladder is added: one register_source call."""

    def overdue_audits(uow: UnitOfWork, ctx: Context, now: dt.datetime) -> Iterator[reminders.Owed]:
        yield reminders.Owed("audit_overdue", "case-7", "maria", "manager", "Audit of 3549723 LM · overdue")
        yield reminders.Owed("audit_overdue", "case-7", "C0U12BS", "bs", "Audit of 3549723 LM · overdue", channel=True)
        yield reminders.Owed("audit_overdue", "case-7", "nobody-configured", "manager", "unreachable")

    monkeypatch.setitem(reminders.SOURCES, "overdue_audits", overdue_audits)
    result = run_at(seeded, ctx, clock, london(2026, 11, 26, 11, 0))
    assert result.claimed == ["audit_overdue:case-7:#C0U12BS:bs", "audit_overdue:case-7:maria:manager"]
    assert dms_to(seeded, "U0MARIA") == [["Audit of 3549723 LM · overdue"]]
    assert run_at(seeded, ctx, clock, london(2026, 11, 26, 11, 15)).claimed == []
    with seeded(readonly=True) as uow:  # the reading half drops what is claimed: the writing half has nothing to claim
        assert reminders.owed_now(uow, ctx) == reminders.Owing(clock.now())


def test_a_scheduled_run_collects_without_holding_the_write_lock(app, seeded, clock, monkeypatch):
    """Issue 9: the scheduler's run collects in a read-only unit of work, so while a source is
    still collecting another writer commits. (When the run collected in its writing unit of
    work, on SQLite that writer waited for the write lock until the run ended, then failed as
    "database is locked".) A key that writer claims meanwhile is not sent by the run: the claim,
    not the read before it, keeps each reminder to once."""
    collecting, release = threading.Event(), threading.Event()
    owed = [reminders.Owed("test", f"s-{n}", "maria", "manager", f"line {n}") for n in (1, 2)]

    def blocking(uow: UnitOfWork, ctx: Context, now: dt.datetime) -> Iterator[reminders.Owed]:
        collecting.set()
        if release.wait(60):
            yield from owed

    monkeypatch.setitem(reminders.SOURCES, "blocking", blocking)
    clock.at = london(2026, 11, 26, 11, 0)
    queued: list[int] = []
    job = threading.Thread(target=lambda: queued.append(scheduler.send_reminders(app)))
    job.start()
    try:
        assert collecting.wait(60)
        with app.uow() as uow:  # another instance, meanwhile, claims the first key and commits
            assert uow.claim_reminders([(owed[0].key, "maria")], at=clock.now()) == {owed[0].key}
            uow.commit()
    finally:
        release.set()
        job.join(120)
    assert queued == [1]
    assert dms_to(seeded, "U0MARIA") == [["line 2"]]
    assert claimed_keys(seeded) == [owed[0].key, owed[1].key]


def test_the_reminders_card_lists_the_lines_under_a_title_without_personal_details():
    card = reminders_card({"view": "reminders", "lines": ["Closure request 1 · 3549723 LM · waiting"], "channel": False})
    assert card.fallback_text == "Reminder: 1 thing waiting for you"
    assert [s.lines for s in card.sections] == [["Closure request 1 · 3549723 LM · waiting"]]
    assert "3549723 LM" in str(blockkit.card_blocks(card))
    assert "3549723 LM" in console.render_text(card)
    team = reminders_card({"view": "reminders", "lines": ["a", "b"], "channel": True})
    assert team.fallback_text == "Reminder: 2 things waiting in the team's queue"


class RecordingSender:
    def __init__(self) -> None:
        self.direct_to: list[tuple[str, str]] = []
        self.posted: list[tuple[str, str]] = []

    def post(self, channel: str, card: Any) -> str:
        self.posted.append((channel, card.title))
        return f"100.{len(self.posted)}"

    def update(self, channel: str, message_id: str, card: Any) -> None:
        pass

    def direct(self, user: str, card: Any) -> Posted:
        self.direct_to.append((user, card.title))
        return Posted(f"D{user[1:]}", f"200.{len(self.direct_to)}")


@pytest.fixture
def app(seeded: partial[UnitOfWork], db_url: str, org: Organisation, clock: FixedClock) -> Iterator[App]:
    built = build(db_url, org, RecordingSender(), clock=clock, migrate=False)
    yield built
    built.uow.args[0].kw["bind"].dispose()


def test_the_scheduler_runs_reminders_every_15_minutes_and_the_deliverer_sends_them(app, journey, clock):
    jobs = {job.id: job for job in scheduler.build_scheduler(app).get_jobs()}
    assert isinstance(jobs["reminders"].trigger, IntervalTrigger)
    assert jobs["reminders"].trigger.interval == dt.timedelta(minutes=15)
    clock.at = london(2026, 11, 26)
    journey.request(LILY, "amy")
    clock.at = london(2026, 11, 30, 7, 0)
    assert scheduler.send_reminders(app) == 0  # before the working day: nothing
    clock.at = london(2026, 11, 30, 9, 0)
    assert scheduler.send_reminders(app) == 1
    assert scheduler.send_reminders(app) == 0
    sender = app.deliverer.sender
    assert isinstance(sender, RecordingSender) and isinstance(app.deliverer, Deliverer)
    app.deliverer.drain()
    assert ("U0MARIA", "Reminder: 1 thing waiting for you") in sender.direct_to


def test_a_key_longer_than_its_column_stays_unique_and_fits():
    long = [reminders.Owed("audit_overdue", "x" * 300, "maria", "manager", "line", period=n) for n in (1, 2)]
    assert all(len(o.key) == reminders.KEY_LENGTH for o in long)
    assert long[0].key != long[1].key
    assert reminders.Owed("a", "b", "maria", "manager", "line", period=3).key == "a:b:maria:manager:p3"
