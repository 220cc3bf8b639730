"""The background scheduler (APScheduler 3.11): outbox retries, per team the two-week
radar (T2) and the Transfer Meeting agenda (T3), the reminders (every 15 minutes, sent
in working hours only), and every morning (and once at start) the transfers whose date
has come (T7, 07:00), the morning round (D3 future steps, C6.1 blocked closures, then,
on a working day, the Home tabs of recent viewers redrawn; 07:00) and the three-month
audits falling due (C13, 07:15; one open audit per person, enforced by the database).

No job edits requests: whether a request is past C11's 2 weeks is drawn from the
clock when its card is drawn.

The radar and the agenda run on cron triggers from each team's ``schedule`` in the
organisation config (Europe/London, D4). Every instance schedules them; the job body
(``workflows.radar.post_digest``) claims its (job, team, period) run first, so only one
instance posts. A run's period is the latest scheduled time at or before now, so a run
missed while the bot was down is caught up once, at start-up (``catch_up``): the
period is still unclaimed, the catch-up claims and posts it; later starts find it taken.
Only the latest missed period is caught up (a bot down for three weeks posts one radar).

The chasing engine (``workflows.reminders``) runs every 15 minutes (``send_reminders``);
its body sends only in working time and claims each reminder's key, so every instance
may run it and a reminder still goes once. It runs in two units of work (``run_in_two``):
what is owed is collected in a read-only one, and only the claims and the messages are
written in a short writing one, so people's clicks do not wait for the collection.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.safe_log import log_failure
from store.uow import UnitOfWork, UowFactory
from workflows import audits, closure, deputies, radar, reminders, transfer, tray, work_steps
from workflows.clock import LONDON
from workflows.org import Organisation
from workflows.requests import Context
from worktray.bootstrap import App

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_job(uow_factory: Callable[[], UnitOfWork], ctx: Context, job: Callable[[UnitOfWork, Context], int]) -> int:
    """Run one job in its own unit of work; a failure is logged, never raised into the scheduler."""
    try:
        with uow_factory() as uow:
            return job(uow, ctx)
    except Exception as e:
        log_failure(log, f"job {job.__name__} failed", e)
        return 0


def run_in_two(
    uow_factory: UowFactory, ctx: Context, read: Callable[[UnitOfWork, Context], T], write: Callable[[UnitOfWork, Context, T], int]
) -> int:
    """Run a job whose long part only reads: ``read`` in a read-only unit of work, then
    ``write`` with what it found in a writing one; a failure is logged, never raised.

    Why (issue 9): on SQLite a writing unit of work holds the write lock from its first
    statement (BEGIN IMMEDIATE, and in-process writers take turns), so a job that reads for
    seconds inside one makes every click wait that long; on PostgreSQL it keeps a long
    transaction open. Read-only, the long part reads a snapshot and nobody waits. ``write``
    must still guard what it does (a claim, a compare-and-set): the store may have moved on
    in the milliseconds between the two."""
    try:
        with uow_factory(readonly=True) as uow:
            found = read(uow, ctx)
        with uow_factory() as uow:
            return write(uow, ctx, found)
    except Exception as e:
        log_failure(log, f"job {write.__name__} failed", e)
        return 0


def queue_reminders(uow: UnitOfWork, ctx: Context, owing: reminders.Owing) -> int:
    """``reminders.claim_and_queue`` as ``run_in_two``'s writing half: how many messages it queued."""
    return reminders.claim_and_queue(uow, ctx, owing).messages


def drain_outbox(app: App) -> int:
    """The retry job: APScheduler would log a failure with its message (which can quote a row); we log IDs only."""
    try:
        return app.deliverer.drain()
    except Exception as e:
        log_failure(log, "outbox retry failed", e)
        return 0


def _apply_due_transfers(uow: UnitOfWork, ctx: Context) -> int:
    return len(transfer.apply_due_transfers(uow, ctx))


def record_run(app: App, job: str) -> None:
    """Note that a job ran (``job_runs``, team "*", the London minute) for `worktray jobs list`.

    Only a note: the job's own rules keep it exactly once (moved transfers are no longer
    accepted, a case has one open audit, a reminder's key is claimed once)."""
    now = app.ctx.clock.now()
    try:
        with app.uow() as uow:
            uow.claim_run(job=job, team=work_steps.ALL_TEAMS, period=now.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M"), at=now)
            uow.commit()
    except Exception as e:
        log_failure(log, f"recording a run of {job} failed", e)


def move_due_transfers(app: App) -> int:
    """T7: accepted transfers whose point of transfer has come move (each once: a moved
    transfer is no longer accepted, so two instances or a re-run move nothing twice)."""
    moved = run_job(app.uow, app.ctx, _apply_due_transfers)
    record_run(app, TRANSFERS_DUE)
    if moved:
        app.deliverer.kick()
    return moved


def send_reminders(app: App) -> int:
    """The chasing engine (workflows.reminders): every 15 minutes; it sends only in working
    time (quiet hours claim nothing), each reminder once across runs and instances.

    Collected read-only (``reminders.owed_now``: seconds over a big store's queues), then
    claimed and queued in a short writing unit of work (``reminders.claim_and_queue``): a
    reminder reflects the store a few milliseconds before its claim, and the claim still
    sends it exactly once."""
    queued = run_in_two(app.uow, app.ctx, reminders.owed_now, queue_reminders)
    if app.ctx.org.calendar.is_working_time(app.ctx.clock.now()):  # a quiet-hours run does nothing: not worth noting
        record_run(app, REMINDERS)
    if queued:
        app.deliverer.kick()
    return queued


REMINDERS = "reminders"
REMINDERS_EVERY = dt.timedelta(minutes=15)
TRANSFERS_DUE = "transfers-due"
AUDITS_DUE = "audits-due"
DUE_TRANSFERS_AT = {"hour": 7, "minute": 0}  # every morning, London time, before the working day

# -- D3, C6.1: the morning round ----------------------------------------------------------------

MORNING = "morning"
MORNING_AT = {"hour": 7, "minute": 0}  # London time (D4), before the working day


def refresh_homes(app: App) -> int:
    """Each working morning, after the round's other bodies: the Home tabs of the people who
    opened it recently (``workflows.tray.homes_to_refresh``: within the last 30 days, once a
    working day across instances, claimed in job_runs) are redrawn and republished, so that a
    tab kept open shows today's ages and overdue marks, and no longer what a deputy period that
    ended left on it. Only when the chat platform has a Home (``Deliverer.has_home``): else
    nothing is claimed. Drawn on the deliverer's Home thread, best effort: a failure is logged
    (IDs only) and the next change or opening redraws. Returns how many were handed over."""
    try:
        if not app.deliverer.has_home:
            return 0
        with app.uow() as uow:
            viewers = tray.homes_to_refresh(uow, app.ctx)
        app.deliverer.republish_homes(viewers)
        return len(viewers)
    except Exception as e:
        log_failure(log, "home refresh failed", e)
        return 0


REFRESH_HOMES = "refresh_homes"
# In this order: steps that became incoming first, then the blocked closures re-checked (its
# reading half, every blocked closure's steps, read-only: run_in_two), then the Home tabs
# redrawn (they show what the first two changed, and the day's ages).
MORNING_BODIES: dict[str, Callable[[App], int]] = {
    "promote_future_steps": lambda app: run_job(app.uow, app.ctx, work_steps.promote_future_steps),
    "recheck_blocked": lambda app: run_in_two(app.uow, app.ctx, closure.unblockable, closure.unblock),
    # Act-for: the cards naming someone whose period ended at midnight drop "(away until ...)".
    "redraw_deputy_cards": lambda app: run_in_two(app.uow, app.ctx, deputies.ended_by_date, deputies.redraw_ended),
    REFRESH_HOMES: refresh_homes,
}


def morning_trigger() -> CronTrigger:
    return CronTrigger(timezone=LONDON, **MORNING_AT)


def morning(app: App) -> dict[str, int]:
    """D3: future steps now due become incoming; C6.1: blocked closures whose steps are all done
    or cancelled are unblocked; on a working day, recent viewers' Home tabs are redrawn. Each
    body claims its run of the day (job_runs), so a second instance, a restart or the start-up
    run does nothing twice; each fails on its own. The deliverer is kicked when the first two
    queued messages (the Homes go to its Home thread, not the outbox)."""
    done = {name: body(app) for name, body in MORNING_BODIES.items()}
    if any(count for name, count in done.items() if name != REFRESH_HOMES):
        app.deliverer.kick()
    return done


# Which job_runs rows stand for a scheduled job's runs (job id without "-at-start" -> (job, team)
# pairs); T2 and T3's "radar:<team>" and "agenda:<team>" are read from their ids. A job missing
# here keeps no record of its runs: `worktray jobs list` shows "—" as its last run.
RUN_RECORDS: dict[str, tuple[tuple[str, str], ...]] = {
    MORNING: (
        (work_steps.PROMOTE_JOB, work_steps.ALL_TEAMS),
        (closure.RECHECK_JOB, work_steps.ALL_TEAMS),
        (deputies.REDRAW_JOB, work_steps.ALL_TEAMS),
        (tray.HOME_REFRESH_JOB, work_steps.ALL_TEAMS),
    ),
    TRANSFERS_DUE: ((TRANSFERS_DUE, work_steps.ALL_TEAMS),),
    AUDITS_DUE: ((AUDITS_DUE, work_steps.ALL_TEAMS),),
    REMINDERS: ((REMINDERS, work_steps.ALL_TEAMS),),
}


def run_records(job_id: str) -> tuple[tuple[str, str], ...] | None:
    """The (job, team) keys in job_runs of a scheduled job, or None when it keeps no record."""
    base = job_id.removesuffix("-at-start")
    if base in RUN_RECORDS:
        return RUN_RECORDS[base]
    job, _, team = base.partition(":")
    return ((job, team),) if job in radar.JOBS and team else None


def raise_due_audits(app: App) -> int:
    """C13: raise the three-month audits falling due within each team's notice (each once:
    a case with an open audit is skipped, and the database refuses a second open one).

    Three units of work: the missing due dates filled (a write), the due cases found in a
    read-only one (one query over every open case: SQLite's write lock is not held for it,
    issue 9), then each audit raised in its own short transaction, re-checked there."""
    run_job(app.uow, app.ctx, audits.fill_missing_due_dates)
    raised = run_in_two(app.uow, app.ctx, audits.due_now, audits.raise_each)
    record_run(app, AUDITS_DUE)
    if raised:
        app.deliverer.kick()
    return raised


DUE_AUDITS_AT = {"hour": 7, "minute": 15}  # every morning, London time, after the transfers move


def build_scheduler(app: App) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=LONDON)
    # Retries: the deliverer sends only rows that are due (bot.deliver.retry_delay: 30 s doubling,
    # at most an hour, never given up); a run with nothing due sends nothing. `worktray outbox` shows them.
    scheduler.add_job(
        drain_outbox, IntervalTrigger(minutes=1), args=(app,), id="outbox-retry", coalesce=True, max_instances=1
    )
    for planned in scheduled_jobs(app.ctx.org):  # T2, T3: one cron job per team and digest
        # misfire_grace_time=None: a late fire still runs (the claim keeps it to once per period)
        scheduler.add_job(
            fire, planned.trigger, args=(app, planned.job, planned.team), id=planned.id, coalesce=True, max_instances=1,
            misfire_grace_time=None,
        )
    scheduler.add_job(
        move_due_transfers, CronTrigger(timezone=LONDON, **DUE_TRANSFERS_AT), args=(app,), id=TRANSFERS_DUE,
        coalesce=True, max_instances=1, misfire_grace_time=None,
    )
    scheduler.add_job(
        send_reminders, IntervalTrigger(seconds=int(REMINDERS_EVERY.total_seconds())), args=(app,), id=REMINDERS,
        coalesce=True, max_instances=1, misfire_grace_time=None,
    )
    scheduler.add_job(
        morning, morning_trigger(), args=(app,), id=MORNING, coalesce=True, max_instances=1, misfire_grace_time=None
    )
    # No trigger: once, as soon as the scheduler starts, however long after it was built
    # (a digest missed while the bot was down; transfers whose date came meanwhile).
    scheduler.add_job(catch_up, args=(app,), id="catch-up", misfire_grace_time=None)
    scheduler.add_job(move_due_transfers, args=(app,), id=f"{TRANSFERS_DUE}-at-start", misfire_grace_time=None)
    scheduler.add_job(morning, args=(app,), id=f"{MORNING}-at-start", misfire_grace_time=None)  # today's, if not yet done
    scheduler.add_job(
        raise_due_audits, CronTrigger(timezone=LONDON, **DUE_AUDITS_AT), args=(app,), id=AUDITS_DUE,
        coalesce=True, max_instances=1, misfire_grace_time=None,
    )
    scheduler.add_job(raise_due_audits, args=(app,), id=f"{AUDITS_DUE}-at-start", misfire_grace_time=None)
    return scheduler


# -- T2, T3: the radar and the agenda, exactly once per (job, team, period) ----------------


@dataclass(frozen=True)
class PlannedJob:
    job: str  # "radar" | "agenda"
    team: str
    cron: str

    @property
    def id(self) -> str:
        return f"{self.job}:{self.team}"

    @property
    def trigger(self) -> CronTrigger:
        """Crontab in Europe/London; day names (mon ... sun) as APScheduler counts 0 as Monday."""
        return CronTrigger.from_crontab(self.cron, timezone=LONDON)

    def last_due(self, now: dt.datetime) -> dt.datetime | None:
        """The latest scheduled time at or before ``now``: the period a run now stands for."""
        return last_fire(self.trigger, now)

    def next_due(self, now: dt.datetime) -> dt.datetime | None:
        return self.trigger.get_next_fire_time(None, now)


def scheduled_jobs(org: Organisation) -> list[PlannedJob]:
    """Every team's radar and agenda from its ``schedule`` (a ``null`` time turns one off)."""
    planned = []
    for team in org.teams:
        for job, cron in ((radar.RADAR, team.schedule.radar), (radar.AGENDA, team.schedule.agenda)):
            if cron:
                planned.append(PlannedJob(job, team.key, cron))
    return planned


def last_fire(trigger: CronTrigger, now: dt.datetime) -> dt.datetime | None:
    """APScheduler 3 only looks forward: step from a little way back up to ``now``."""
    for lookback in (1, 8, 32, 367):
        fire_at = trigger.get_next_fire_time(None, now - dt.timedelta(days=lookback))
        last = None
        while fire_at is not None and fire_at <= now:
            last = fire_at
            fire_at = trigger.get_next_fire_time(fire_at, fire_at + dt.timedelta(seconds=1))
        if last is not None:
            return last
    return None


def planned_job(org: Organisation, job: str, team: str) -> PlannedJob:
    """The configured job of a team; a job the team turned off can still be run by hand, on its default time."""
    found = next((p for p in scheduled_jobs(org) if p.job == job and p.team == team), None)
    if found is not None:
        return found
    default = radar.DEFAULT_SCHEDULE.get(job)
    if default is None:
        raise KeyError(job)
    return PlannedJob(job, team, default)


def run_digest(
    uow_factory: Callable[[], UnitOfWork], ctx: Context, job: str, team: str, at: dt.datetime | None = None, *, redraw: bool = False
) -> str:
    """Run one digest for the period due at ``at`` (default: now): "posted", "redrawn",
    "already done" or "not due yet" (no scheduled time before ``at``)."""
    period = planned_job(ctx.org, job, team).last_due(at or ctx.clock.now())
    if period is None:
        return "not due yet"
    with uow_factory() as uow:
        return radar.post_digest(uow, ctx, job, team, period, redraw=redraw)


def fire(app: App, job: str, team: str) -> str:
    """What the cron trigger calls; a failure is logged (IDs only), never raised into the scheduler."""
    try:
        done = run_digest(app.uow, app.ctx, job, team)
        app.deliverer.kick()
        return done
    except Exception as e:
        log_failure(log, f"{job} job for team {team} failed", e)
        return "failed"


def catch_up(app: App) -> dict[str, str]:
    """At start-up: run every team's digest for its latest period; those already run are untouched."""
    return {planned.id: fire(app, planned.job, planned.team) for planned in scheduled_jobs(app.ctx.org)}


# -- `worktray jobs list`: every job the scheduler has, from its triggers -----------------------


@dataclass(frozen=True)
class JobLine:
    id: str
    schedule: str
    next_run: str  # London time, or "at start-up"
    record: tuple[tuple[str, str], ...] | None  # its job_runs keys; None: it keeps no record


def describe_schedule(trigger: BaseTrigger) -> str:
    """A trigger in words: crontab (minute hour day month day-of-week, London), an interval, or once."""
    if isinstance(trigger, CronTrigger):
        fields = {f.name: str(f) for f in trigger.fields}
        crontab = " ".join(fields[n] for n in ("minute", "hour", "day", "month", "day_of_week"))
        return f"cron {crontab} ({trigger.timezone})"
    if isinstance(trigger, IntervalTrigger):
        seconds = int(trigger.interval.total_seconds())
        if seconds % 3600 == 0:
            return f"every {seconds // 3600} hour(s)"
        return f"every {seconds // 60} minute(s)" if seconds % 60 == 0 else f"every {seconds} s"
    if isinstance(trigger, DateTrigger):
        return "once, at start-up"
    return str(trigger)


def next_run_text(trigger: BaseTrigger, now: dt.datetime) -> str:
    """The next fire time after ``now``, London time; a start-up job runs at the next start."""
    if isinstance(trigger, DateTrigger):
        return "at start-up"
    next_at = trigger.get_next_fire_time(None, now)
    return next_at.astimezone(LONDON).strftime("%a %Y-%m-%d %H:%M") if next_at else "never"


def job_lines(scheduler: BaseScheduler, now: dt.datetime) -> list[JobLine]:
    """Every job the scheduler holds (started or not), in the order it was added."""
    return [
        JobLine(job.id, describe_schedule(job.trigger), next_run_text(job.trigger, now), run_records(job.id))
        for job in scheduler.get_jobs()
    ]
