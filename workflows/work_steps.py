"""D3: future work steps become incoming work a number of working days before their date.

A *future* step (a visit planned for 10 December) is not yet work to do: it becomes
*incoming* ``work_steps.incoming_days_before`` working days (default 5, D4's calendar)
before its scheduled date. From that day, and not before, a closure of the person
counts it as blocking (C6.1). The rule is decided here from the date, so a closure
audit opened before the morning job has run that day still sees it; the morning job
(``promote_future_steps``) then flips the step's kind so that the record says so too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import partial

from store.models import WorkStep
from store.uow import UnitOfWork
from workflows.clock import local_today
from workflows.requests import BLOCKED, CLAIMED, REQUESTED, SYSTEM_ACTOR, Context, announce

FUTURE = "future"
INCOMING = "incoming"
PROMOTE_JOB = "promote-steps"  # its run per day in job_runs (one instance promotes, once a day)
ALL_TEAMS = "*"  # job_runs' team for a job that covers every team


def incoming_cutoff(ctx: Context, today: dt.date | None = None) -> dt.date:
    """D3: the last scheduled date that counts as incoming today: ``incoming_days_before``
    working days after today (day 0, today, does not count: D4)."""
    day = today if today is not None else local_today(ctx.clock)
    return ctx.org.calendar.add_working_days(day, ctx.org.work_steps.incoming_days_before)


def is_due(step: WorkStep, cutoff: dt.date) -> bool:
    """An open step is work to do now unless it is a future step dated after the cutoff (D3).
    A future step with no date is taken as due: nothing says it can wait."""
    if step.status != "open":
        return False
    return step.kind != FUTURE or step.scheduled_on is None or step.scheduled_on <= cutoff


def blocking_steps(uow: UnitOfWork, ctx: Context, person_ids: Iterable[str]) -> list[WorkStep]:
    """C6.1 with D3: the open steps that block a closure of these people today (read once per
    read-only unit of work: the trays and cards drawn together ask for the same people's)."""
    people = tuple(person_ids)
    cutoff = incoming_cutoff(ctx)
    return uow.memo(("blocking_steps", people), lambda: [s for s in uow.cases.open_work_steps(people) if is_due(s, cutoff)])


def blocking_steps_of(uow: UnitOfWork, ctx: Context, groups: Iterable[Iterable[str]]) -> dict[tuple[str, ...], list[WorkStep]]:
    """``blocking_steps`` of many requests' people (each request's ``applies_to``) at once: one
    query for all of them (500 people a query), not one a request (issue 9: the work tray looks
    at every blocked request). Each group's steps are what ``blocking_steps`` gives for it (in id
    order), and a read-only unit of work keeps them for it too."""
    wanted = list(dict.fromkeys(tuple(g) for g in groups))
    people = sorted({p for g in wanted for p in g})
    cutoff = incoming_cutoff(ctx)
    by_person: dict[str, list[WorkStep]] = {}
    for step in uow.cases.open_work_steps(people):
        if is_due(step, cutoff):
            by_person.setdefault(step.person_id, []).append(step)
    found: dict[tuple[str, ...], list[WorkStep]] = {}
    for group in wanted:
        steps = sorted((s for p in dict.fromkeys(group) for s in by_person.get(p, [])), key=lambda s: s.id)
        found[group] = uow.memo(("blocking_steps", group), partial(list, steps))
    return found


def promote_future_steps(uow: UnitOfWork, ctx: Context) -> int:
    """The morning job (D3): every open future step now within its lead time becomes incoming,
    with an event each (actor "worktray"); the open requests of its person are redrawn.

    Exactly once a day across instances and restarts: the run claims (job, "*", today) in
    job_runs in the same transaction; a second run that day changes nothing. The flip itself
    is idempotent too (a step already incoming is not looked at again). Returns how many moved.
    """
    today = local_today(ctx.clock)
    now = ctx.clock.now()
    if not uow.claim_run(job=PROMOTE_JOB, team=ALL_TEAMS, period=today.isoformat(), at=now):
        return 0
    due = uow.cases.open_work_steps_scheduled(FUTURE, incoming_cutoff(ctx, today))
    people: set[str] = set()
    for step in due:
        step.kind = INCOMING
        detail = {"step": step.id, "scheduled_on": step.scheduled_on.isoformat() if step.scheduled_on else None, "rule": "D3"}
        uow.record(at=now, actor=SYSTEM_ACTOR, action="step_incoming", person_id=step.person_id, detail=detail)
        people.add(step.person_id)
    for person_id in sorted(people):  # the cards of their open requests now show the step as incoming
        for request in uow.requests.for_person(person_id):
            if request.state in (REQUESTED, CLAIMED, BLOCKED):
                announce(uow, ctx, request)
    uow.commit()
    return len(due)
