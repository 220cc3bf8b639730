"""The scheduler's triggers as pure functions across the clock changes (D4: Europe/London),
the morning round's wiring, and `worktray jobs list` at a frozen time. No scheduler runs."""

from __future__ import annotations

import datetime as dt
import re
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from freezegun import freeze_time

from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import JobRun
from store.uow import UnitOfWork
from workflows import tray
from workflows.clock import LONDON
from workflows.requests import Context
from worktray import cli, demo
from worktray.bootstrap import App
from worktray.scheduler import (
    MORNING,
    PlannedJob,
    build_scheduler,
    job_lines,
    last_fire,
    morning,
    morning_trigger,
    run_records,
)

UTC = dt.UTC
RADAR = PlannedJob("radar", "12plus", "0 12 * * fri").trigger  # T2's default
AGENDA = PlannedJob("agenda", "12plus", "0 9 * * mon").trigger  # T3's default
TRIGGERS = {"radar": RADAR, "agenda": AGENDA, "morning": morning_trigger()}

# (trigger, the fire's London wall-clock time, its UTC offset in hours). Clock changes:
# Sun 29 Mar 2026, Sun 25 Oct 2026, Sun 28 Mar 2027, Sun 31 Oct 2027 (01:00 UTC each).
FIRES = [
    # March 2026: GMT until Sunday 29, BST from then
    ("radar", dt.datetime(2026, 3, 27, 12), 0),
    ("radar", dt.datetime(2026, 4, 3, 12), 1),
    ("agenda", dt.datetime(2026, 3, 23, 9), 0),
    ("agenda", dt.datetime(2026, 3, 30, 9), 1),  # the morning after the change
    ("morning", dt.datetime(2026, 3, 28, 7), 0),
    ("morning", dt.datetime(2026, 3, 29, 7), 1),  # the day of the change: 07:00 BST is 06:00 UTC
    ("morning", dt.datetime(2026, 3, 30, 7), 1),
    # October 2026: BST until Sunday 25, GMT from then
    ("radar", dt.datetime(2026, 10, 23, 12), 1),
    ("radar", dt.datetime(2026, 10, 30, 12), 0),
    ("agenda", dt.datetime(2026, 10, 19, 9), 1),
    ("agenda", dt.datetime(2026, 10, 26, 9), 0),
    ("morning", dt.datetime(2026, 10, 24, 7), 1),
    ("morning", dt.datetime(2026, 10, 25, 7), 0),
    ("morning", dt.datetime(2026, 10, 26, 7), 0),
    # March 2027 (Sunday 28; Good Friday 26 Mar: a cron is a cron, the bodies decide)
    ("radar", dt.datetime(2027, 3, 26, 12), 0),
    ("radar", dt.datetime(2027, 4, 2, 12), 1),
    ("agenda", dt.datetime(2027, 3, 22, 9), 0),
    ("agenda", dt.datetime(2027, 3, 29, 9), 1),
    ("morning", dt.datetime(2027, 3, 27, 7), 0),
    ("morning", dt.datetime(2027, 3, 28, 7), 1),
    # October 2027 (Sunday 31)
    ("radar", dt.datetime(2027, 10, 29, 12), 1),
    ("radar", dt.datetime(2027, 11, 5, 12), 0),
    ("agenda", dt.datetime(2027, 10, 25, 9), 1),
    ("agenda", dt.datetime(2027, 11, 1, 9), 0),
    ("morning", dt.datetime(2027, 10, 30, 7), 1),
    ("morning", dt.datetime(2027, 10, 31, 7), 0),
    ("morning", dt.datetime(2027, 11, 1, 7), 0),
]


@pytest.mark.parametrize(("name", "local", "offset"), FIRES, ids=[f"{n}-{w:%Y-%m-%d}" for n, w, _ in FIRES])
def test_each_trigger_fires_at_its_london_time_and_the_right_utc_instant(name: str, local: dt.datetime, offset: int) -> None:
    trigger = TRIGGERS[name]
    instant = (local - dt.timedelta(hours=offset)).replace(tzinfo=UTC)
    fire = trigger.get_next_fire_time(None, instant - dt.timedelta(seconds=1))
    assert fire is not None
    assert fire.astimezone(UTC) == instant
    assert fire.astimezone(LONDON).replace(tzinfo=None) == local
    assert last_fire(trigger, instant) == instant  # the period a run at that moment stands for
    assert last_fire(trigger, instant + dt.timedelta(hours=22)) == instant  # March's Sunday has only 23 hours


@pytest.mark.parametrize(
    ("name", "now", "expected"),
    [
        # The morning after a change, before the day's run: the last fire is yesterday's, in its own offset.
        ("morning", dt.datetime(2026, 3, 30, 5, 59, tzinfo=UTC), dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
        ("morning", dt.datetime(2026, 3, 29, 5, 59, tzinfo=UTC), dt.datetime(2026, 3, 28, 7, 0, tzinfo=UTC)),
        ("morning", dt.datetime(2026, 10, 26, 6, 59, tzinfo=UTC), dt.datetime(2026, 10, 25, 7, 0, tzinfo=UTC)),
        ("morning", dt.datetime(2026, 10, 25, 6, 59, tzinfo=UTC), dt.datetime(2026, 10, 24, 6, 0, tzinfo=UTC)),
        ("morning", dt.datetime(2027, 3, 29, 5, 0, tzinfo=UTC), dt.datetime(2027, 3, 28, 6, 0, tzinfo=UTC)),
        ("morning", dt.datetime(2027, 11, 1, 6, 0, tzinfo=UTC), dt.datetime(2027, 10, 31, 7, 0, tzinfo=UTC)),
        # Monday 09:00: 08:30 UTC on the Monday after October's change is 08:30 London, not yet the agenda
        ("agenda", dt.datetime(2026, 10, 26, 8, 30, tzinfo=UTC), dt.datetime(2026, 10, 19, 8, 0, tzinfo=UTC)),
        # ... and on the Monday after March's, 08:30 UTC is 09:30 BST: this week's agenda
        ("agenda", dt.datetime(2026, 3, 30, 8, 30, tzinfo=UTC), dt.datetime(2026, 3, 30, 8, 0, tzinfo=UTC)),
        ("agenda", dt.datetime(2027, 11, 1, 8, 59, tzinfo=UTC), dt.datetime(2027, 10, 25, 8, 0, tzinfo=UTC)),
        ("radar", dt.datetime(2026, 3, 29, 12, 0, tzinfo=UTC), dt.datetime(2026, 3, 27, 12, 0, tzinfo=UTC)),
        ("radar", dt.datetime(2026, 10, 26, 7, 0, tzinfo=UTC), dt.datetime(2026, 10, 23, 11, 0, tzinfo=UTC)),
    ],
)
def test_last_fire_on_the_morning_after_a_change(name: str, now: dt.datetime, expected: dt.datetime) -> None:
    assert last_fire(TRIGGERS[name], now) == expected


def test_a_day_of_the_change_has_one_morning_run_not_two_or_none() -> None:
    """25 hours in October's Sunday, 23 in March's: still one 07:00 each day."""
    for start in (dt.datetime(2026, 3, 28, 8, tzinfo=UTC), dt.datetime(2026, 10, 24, 8, tzinfo=UTC)):
        fires = []
        at = start
        while len(fires) < 3:
            nxt = TRIGGERS["morning"].get_next_fire_time(None, at)
            assert nxt is not None
            fires.append(nxt.astimezone(LONDON))
            at = nxt + dt.timedelta(seconds=1)
        assert [f.time() for f in fires] == [dt.time(7, 0)] * 3
        assert [(f.date() - fires[0].date()).days for f in fires] == [0, 1, 2]


# -- the morning round's wiring --------------------------------------------------------------------


class CountingDeliverer:
    """A chat platform with no Home tab (as the console): the morning round redraws no Home."""

    kicks = 0
    has_home = False

    def kick(self) -> None:
        self.kicks += 1


def test_the_morning_round_is_scheduled_at_seven_london_and_once_at_start(seeded: partial[UnitOfWork], ctx: Context) -> None:
    app = App(ctx=ctx, uow=seeded, interactions=None, deliverer=CountingDeliverer())  # type: ignore[arg-type]
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    daily = jobs[MORNING].trigger
    assert isinstance(daily, CronTrigger) and str(daily.timezone) == "Europe/London"
    assert f"{MORNING}-at-start" in jobs and jobs[MORNING].misfire_grace_time is None

    assert morning(app) == {"promote_future_steps": 1, "recheck_blocked": 0, "redraw_deputy_cards": 0, "refresh_homes": 0}  # the demo's Home Visit of 3 Dec
    assert app.deliverer.kicks == 1
    assert morning(app) == {"promote_future_steps": 0, "recheck_blocked": 0, "redraw_deputy_cards": 0, "refresh_homes": 0}  # the start-up run after the 07:00 one
    assert app.deliverer.kicks == 1
    with seeded() as uow:  # no Home on this platform: the day's refresh is not claimed (an instance with one may take it)
        assert uow.job_run(job=tray.HOME_REFRESH_JOB, team="*", period="2026-11-26") is None


def test_run_records_say_which_jobs_keep_a_record() -> None:
    assert run_records("radar:12plus") == (("radar", "12plus"),)
    assert run_records(MORNING) == run_records(f"{MORNING}-at-start") == (
        ("promote-steps", "*"), ("recheck-blocked", "*"), ("deputy-cards", "*"), ("home-refresh", "*")
    )
    assert run_records("transfers-due") == run_records("transfers-due-at-start") == (("transfers-due", "*"),)
    assert run_records("reminders") == (("reminders", "*"),) and run_records("audits-due") == (("audits-due", "*"),)
    assert run_records("outbox-retry") is None and run_records("catch-up") is None


# -- `worktray jobs list` ---------------------------------------------------------------------------


def test_jobs_list_shows_every_job_with_schedule_next_and_last_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], org: Any, ctx: Context
) -> None:
    """Every job of build_scheduler, derived from it (not a hand list), at a frozen Saturday before
    March's clock change: next runs in London time, BST from Sunday; last runs from job_runs, "—"
    for jobs that keep none."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade(url)
    engine = make_engine(url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        uow.session.add_all([
            JobRun(job="promote-steps", team="*", period="2026-03-27", ran_at=dt.datetime(2026, 3, 27, 7, 0, tzinfo=UTC)),
            JobRun(job="recheck-blocked", team="*", period="2026-03-28", ran_at=dt.datetime(2026, 3, 28, 7, 0, 2, tzinfo=UTC)),
            JobRun(job="radar", team="12plus", period="2026-03-27T12:00", ran_at=dt.datetime(2026, 3, 27, 12, 0, 1, tzinfo=UTC)),
        ])
        uow.commit()
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKTRAY_CONFIG", str(demo.DEMO_ORG))
    with freeze_time("2026-03-28 12:00:00"):
        assert cli.main(["jobs", "list"]) == 0
        expected_ids = [job.id for job in build_scheduler(App(ctx=ctx, uow=None, interactions=None, deliverer=None)).get_jobs()]  # type: ignore[arg-type]
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in out[1:-1]}
    assert list(rows) == expected_ids
    assert {"outbox-retry", "radar:u12", "agenda:adults-south", "transfers-due", MORNING, "catch-up"} <= set(rows)

    def columns(job_id: str) -> tuple[str, str, str]:
        _, schedule, next_run, last_run = re.split(r"\s{2,}", rows[job_id])
        return schedule, next_run, last_run

    assert columns(MORNING) == ("cron 0 7 * * * (Europe/London)", "Sun 2026-03-29 07:00", "Sat 2026-03-28 07:00 (for 2026-03-28)")
    assert columns("agenda:12plus") == ("cron 0 9 * * mon (Europe/London)", "Mon 2026-03-30 09:00", "never")
    assert columns("radar:12plus") == ("cron 0 12 * * fri (Europe/London)", "Fri 2026-04-03 12:00", "Fri 2026-03-27 12:00 (for 2026-03-27T12:00)")
    assert columns("transfers-due") == ("cron 0 7 * * * (Europe/London)", "Sun 2026-03-29 07:00", "never")
    assert columns("outbox-retry") == ("every 1 minute(s)", "Sat 2026-03-28 12:01", "—")
    assert columns("catch-up") == ("once, at start-up", "at start-up", "—")
    assert columns(f"{MORNING}-at-start") == ("once, at start-up", "at start-up", "Sat 2026-03-28 07:00 (for 2026-03-28)")


def test_job_lines_come_from_the_scheduler(ctx: Context) -> None:
    app = App(ctx=ctx, uow=None, interactions=None, deliverer=None)  # type: ignore[arg-type]
    scheduler = build_scheduler(app)
    scheduler.add_job(print, CronTrigger.from_crontab("15 8 * * tue", timezone=LONDON), id="added-later")
    lines = {line.id: line for line in job_lines(scheduler, dt.datetime(2026, 10, 24, 12, tzinfo=UTC))}
    assert lines["added-later"].schedule == "cron 15 8 * * tue (Europe/London)"
    assert lines["added-later"].next_run == "Tue 2026-10-27 08:15" and lines["added-later"].record is None
