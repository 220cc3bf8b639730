"""The chasing engine: reminders on escalation ladders, each sent exactly once (issue 7).

A *source* is a function ``(uow, ctx, now) -> Iterable[Owed]`` saying what is owed now;
sources are registered by name (``register_source``), so another module adds a ladder
with one call. A run is two steps, each given its own unit of work by the scheduler:

``owed_now`` (a read-only unit of work):

1. owes nothing outside working hours or on a non-working day (quiet hours, D4:
   ``ctx.org.calendar.is_working_time``): what falls due then is sent by the first run of
   the next working morning;
2. collects what every source owes now, keeps what can be delivered, and drops the keys
   the ``reminders`` table holds already;

``claim_and_queue`` (a short writing unit of work):

3. claims each reminder's key in the ``reminders`` table (INSERT ... ON CONFLICT DO
   NOTHING RETURNING, keys in sorted order so two runs never deadlock) and drops those
   already taken: a restart, a second instance on the same PostgreSQL or a second run
   sends nothing twice;
4. batches what it claimed: one DM per person, one message per channel, listing every
   line, queued through the outbox in the same transaction as the claims.

Why two (issue 9): collecting reads every request in the virtual-worker queues, tens of
thousands at scale, for seconds. In a writing unit of work that held SQLite's write lock
(BEGIN IMMEDIATE) for the whole time, so every click waited, and kept a long transaction
open on PostgreSQL. Read-only, it reads a snapshot and nobody waits for it. A reminder then
reflects the store as it was a few milliseconds before its claim (a request decided in
between may get one last reminder, as if the run had come a moment earlier), and the claim
is still what keeps each reminder to once. ``run`` does both in one unit of work.

A reminder's key is (what, subject, for whom, ladder step) and, for a repeating reminder,
the number of the period it stands for (the nth interval of N working days). A run only
ever owes the *current* period, so a bot down for a week sends one reminder, not one per
missed period. A subject that re-enters a waiting state (returned, then resubmitted)
starts its ladder again: the subject names when it entered the state.

Lines carry person ID and initials only (never a service user's name or notes), so the
same line may go to a channel. Thresholds are per team (``Team.reminders``) in working
days via ``ctx.org.calendar``, except D1's assessment days, which are calendar days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import selectinload

from store.models import Assessment, Case, Person, Request
from store.uow import UnitOfWork
from workflows import access, audits, work_steps
from workflows import closure as _closure  # noqa: F401  (registers the closure kinds the ladders read)
from workflows import transfer as _transfer  # noqa: F401  (registers the transfer kinds: an approved transfer is not queued)
from workflows.clock import LONDON
from workflows.org import ReminderSettings, Role
from workflows.requests import APPROVED, BLOCKED, CLAIMED, REQUESTED, Context, direct_message, kind_of
from workflows.transfer_terms import KIND as TRANSFER
from workflows.transfer_terms import ON_DUTY

ACTOR = "worktray"
VIEW = "reminders"  # the outbox body's view: bot.views.reminders_card draws it
KEY_LENGTH = 200  # store.models.Reminder.key


@dataclass(frozen=True)
class Owed:
    """One reminder owed now.

    ``to`` is a person key (sent as a DM) or, with ``channel=True``, a channel ID (a team
    nudge). ``text`` is one line with person ID and initials only. ``period`` numbers the
    interval of a repeating reminder (1, 2, ...): part of the key, so each period is sent once.
    """

    what: str  # the ladder: "manager_wait", "unclaimed", ...
    subject: str  # what it is about, stable for the ladder's life, e.g. "12@20261126T1000"
    to: str
    step: str  # the ladder's step: "manager", "group_manager", ...
    text: str
    period: int | None = None
    channel: bool = False

    @property
    def key(self) -> str:
        """The exactly-once key: what, subject, for whom, step (and period). A key longer than
        the column keeps its start and ends in a digest of the whole, so it stays unique."""
        base = f"{self.what}:{self.subject}:{'#' if self.channel else ''}{self.to}:{self.step}"
        key = base if self.period is None else f"{base}:p{self.period}"
        if len(key) <= KEY_LENGTH:
            return key
        return f"{key[: KEY_LENGTH - 41]}~{hashlib.sha1(key.encode()).hexdigest()}"


Source = Callable[[UnitOfWork, Context, dt.datetime], Iterable[Owed]]
SOURCES: dict[str, Source] = {}


def register_source(name: str, source: Source) -> Source:
    """Add a ladder to every run (the integrator adds the overdue-audit ladder this way)."""
    SOURCES[name] = source
    return source


@dataclass
class RunResult:
    """What one run did: ``quiet`` (outside working time: nothing claimed), the keys it
    claimed, and how many messages it queued (one per person and per channel)."""

    quiet: bool = False
    claimed: list[str] = field(default_factory=list)
    messages: int = 0


# -- the run -----------------------------------------------------------------------


def collect(uow: UnitOfWork, ctx: Context, now: dt.datetime) -> list[Owed]:
    """Everything every source owes now, one per key, in key order."""
    owed: dict[str, Owed] = {}
    for source in SOURCES.values():
        for item in source(uow, ctx, now):
            owed.setdefault(item.key, item)
    return [owed[key] for key in sorted(owed)]


def _reachable(ctx: Context, item: Owed) -> bool:
    """A DM needs a configured person; nothing is claimed for someone who cannot be told."""
    return item.channel or ctx.org.chat_id_of(item.to) is not None


@dataclass(frozen=True)
class Owing:
    """What ``owed_now`` found for ``claim_and_queue``: the run's time, whether it is quiet
    (outside working time), and the reachable reminders owed and not claimed when read."""

    at: dt.datetime
    items: list[Owed] = field(default_factory=list)
    quiet: bool = False


def owed_now(uow: UnitOfWork, ctx: Context) -> Owing:
    """A run's reading half, meant for a read-only unit of work (it writes nothing): quiet
    hours, every source's collection, the reachable ones, less the keys claimed already.

    The claimed keys are read in the same unit of work as the collection (on SQLite the same
    snapshot), so that in steady state the writing half claims only the keys owed for the
    first time. A key claimed after this read is still refused by the claim."""
    now = ctx.clock.now()
    if not ctx.org.calendar.is_working_time(now):
        return Owing(now, quiet=True)
    owed = [item for item in collect(uow, ctx, now) if _reachable(ctx, item)]
    taken = uow.reminders_claimed(item.key for item in owed)
    return Owing(now, [item for item in owed if item.key not in taken])


def claim_and_queue(uow: UnitOfWork, ctx: Context, owing: Owing) -> RunResult:
    """A run's writing half: claim the keys ``owed_now`` found (in key order, a batch at a time;
    INSERT ... ON CONFLICT DO NOTHING RETURNING), then queue one message per person and per
    channel for those this transaction claimed, record the event and commit.

    The claim, not the read before it, is the exactly-once guard: a key another run or
    instance claimed since ``owed_now`` read the table is not returned, so not sent. With
    nothing owed it touches no table (no write lock is taken)."""
    if owing.quiet:
        return RunResult(quiet=True)
    result = RunResult()
    if not owing.items:
        return result
    now = owing.at
    claimed = uow.claim_reminders([(item.key, item.to[:64]) for item in owing.items], at=now)
    mine = [item for item in owing.items if item.key in claimed]
    result.claimed = [item.key for item in mine]
    for (to, channel), lines in _batches(mine).items():
        result.messages += 1
        body = {"view": VIEW, "lines": lines, "channel": channel}
        if channel:
            uow.send(at=now, kind="card", channel=to, body=body)
        else:
            direct_message(uow, ctx, to, body)
    if mine:
        uow.record(at=now, actor=ACTOR, action="reminders_sent", detail={"keys": result.claimed[:200], "messages": result.messages})
    uow.commit()
    return result


def run(uow: UnitOfWork, ctx: Context) -> RunResult:
    """Both halves in one unit of work (tests, the console, one-off runs). The scheduler's job
    (``worktray.scheduler.send_reminders``) gives ``owed_now`` a read-only unit of work and
    ``claim_and_queue`` a writing one, so the write lock is not held while collecting."""
    return claim_and_queue(uow, ctx, owed_now(uow, ctx))


def _batches(items: list[Owed]) -> dict[tuple[str, bool], list[str]]:
    """One message per person and per channel, listing all its lines (in key order)."""
    batches: dict[tuple[str, bool], list[str]] = {}
    for item in items:
        batches.setdefault((item.to, item.channel), []).append(item.text)
    return batches


# -- helpers for the sources ---------------------------------------------------------


def settings(ctx: Context, team: str | None) -> ReminderSettings:
    """A team's thresholds; the defaults for a team no longer in the config."""
    try:
        return ctx.org.team(team).reminders if team else DEFAULTS
    except KeyError:
        return DEFAULTS


DEFAULTS = ReminderSettings.model_validate({})


def local_date(at: dt.datetime) -> dt.date:
    return at.astimezone(LONDON).date()


def entered_at(request: Request) -> dt.datetime:
    """When the request entered its present state (its last transition), else when it was made."""
    return request.last_action_at or request.requested_at  # as ``store.uow.entered_at``, in the database


def subject(request: Request) -> str:
    """A request as a ladder's subject: its ID and when it entered its state (a re-entry starts afresh)."""
    return f"{request.id}@{entered_at(request).astimezone(dt.UTC):%Y%m%dT%H%M%S}"


def waited(ctx: Context, request: Request, now: dt.datetime) -> int:
    """Working days (D4; day 0 does not count) since the request entered its state."""
    return waited_since(ctx, entered_at(request), now)


def waited_since(ctx: Context, since: dt.datetime, now: dt.datetime) -> int:
    """``waited`` for a request that entered its state at ``since``."""
    return ctx.org.calendar.working_days_between(local_date(since), local_date(now))


def about(request: Request) -> str:
    """How a line names a request: kind, number, person ID and initials (never a name)."""
    return f"{kind_of(request).label} {request.id} · {request.person_id} {request.person.initials}"


def _days(n: int) -> str:
    return f"{n} working day{'' if n == 1 else 's'}"


def _requests(uow: UnitOfWork, ctx: Context, states: tuple[str, ...], kinds: Iterable[str] | None = None, batch: int = 1000) -> Iterator[Request]:
    """Every request (of these kinds, else of any) of every configured team in these states (sending team), in id order.

    A batch at a time (keyset on id), each with its people in one query: a big store's
    virtual-worker queues hold tens of thousands of items, and a batch the ladder has moved
    past is not kept in memory (the session's identity map holds unchanged objects weakly; issue 9)."""
    for team in ctx.org.teams:
        after = 0
        while True:
            query = select(Request).where(Request.team == team.key, Request.state.in_(states), Request.id > after)
            if kinds is not None:
                query = query.where(Request.kind.in_(list(kinds)))
            found = uow.session.scalars(
                query
                .order_by(Request.id)
                .limit(batch)
                .options(selectinload(Request.person))
            ).all()
            yield from found
            if len(found) < batch:
                break
            after = found[-1].id


# -- the ladders ---------------------------------------------------------------------------

# Which requests wait for a manager, and whose: (kind, state) -> the team whose managers decide.
WAITING_FOR_MANAGER: dict[tuple[str, str], str] = {
    ("closure", REQUESTED): "sending",  # C2, C3: the supervising manager
    (TRANSFER, REQUESTED): "sending",  # the sending team's manager approves, as closures
    (TRANSFER, APPROVED): "receiving",  # the receiving team's manager accepts, holds on duty or disputes
}


def _deciders(ctx: Context, request: Request, side: str) -> tuple[str, list[str]]:
    """The deciding team and its deciding managers (C2: the supervisor, else the team's managers)."""
    if side == "receiving" and request.receiving_team:
        team = request.receiving_team
        return team, [p.key for p in ctx.org.members(team, Role.MANAGER)]
    return request.team, [p.key for p in ctx.org.supervisors_for(request.requested_by, request.team)]


def waiting_for_manager(uow: UnitOfWork, ctx: Context, now: dt.datetime) -> Iterator[Owed]:
    """A closure or transfer waiting for its manager: the deciding managers after
    ``manager_after`` working days, the team's group managers after ``group_manager_after``."""
    states = tuple(sorted({state for _, state in WAITING_FOR_MANAGER}))
    kinds = sorted({kind for kind, _ in WAITING_FOR_MANAGER})  # not the queued audits (issue 9: thousands, none waits for a manager)
    for request in _requests(uow, ctx, states, kinds):
        side = WAITING_FOR_MANAGER.get((request.kind, request.state))
        if side is None:
            continue
        team, deciders = _deciders(ctx, request, side)
        limits = settings(ctx, team)
        days = waited(ctx, request, now)
        line = f"{about(request)} · waiting for a decision for {_days(days)}"
        if days >= limits.manager_after:
            for manager in deciders:
                yield Owed("manager_wait", subject(request), manager, "manager", line)
        if days >= limits.group_manager_after:
            for group_manager in ctx.org.members(team, Role.GROUP_MANAGER):
                yield Owed("manager_wait", subject(request), group_manager.key, "group_manager", line)


def virtual_worker(uow: UnitOfWork, ctx: Context, now: dt.datetime) -> Iterator[Owed]:
    """C5: an item unclaimed for ``unclaimed_after`` working days: a nudge in the team's
    business-support channel; claimed but untouched for ``untouched_holder_after``: a DM to
    the holder, and after ``untouched_manager_after`` to the team manager(s)."""
    for request in _requests(uow, ctx, (APPROVED, CLAIMED)):
        if not kind_of(request).queued:
            continue  # not a virtual-worker item (an approved transfer waits for a manager)
        limits = settings(ctx, request.team)
        days = waited(ctx, request, now)
        if request.state == APPROVED and days >= limits.unclaimed_after:
            line = f"{about(request)} · unclaimed in the virtual worker for {_days(days)}"
            if access.is_restricted(uow, request):  # issue 8: a channel sees only the neutral line
                line = f"{kind_of(request).label} {request.id} · {access.RESTRICTED_LINE}"
            channel = ctx.org.team(request.team).business_support_channel
            yield Owed("unclaimed", subject(request), channel, "bs_channel", line, channel=True)
        if request.state == CLAIMED and request.holder:
            line = f"{about(request)} · claimed, untouched for {_days(days)}"
            if days >= limits.untouched_holder_after:
                yield Owed("untouched", subject(request), request.holder, "holder", line)
            if days >= limits.untouched_manager_after:
                for manager in ctx.org.members(request.team, Role.MANAGER):
                    yield Owed("untouched", subject(request), manager.key, "manager", f"{line} (held by {ctx.org.name_of(request.holder)})")


def blocked_closures(uow: UnitOfWork, ctx: Context, now: dt.datetime) -> Iterator[Owed]:
    """C6.1: a blocked closure's blocking work steps: each assignee reminded every
    ``blocked_every`` working days from when it was blocked (the current period only)."""
    for request in _requests(uow, ctx, (BLOCKED,)):
        every = settings(ctx, request.team).blocked_every
        period = waited(ctx, request, now) // every
        if period < 1:
            continue
        steps: dict[str, list[str]] = {}
        for step in work_steps.blocking_steps(uow, ctx, request.applies_to):  # D3: what blocks today
            steps.setdefault(step.assignee, []).append(f"#{step.id} {step.title}")
        for assignee, titles in steps.items():
            line = f"{about(request)} · blocked by your work step(s) {', '.join(titles)} (C6.1)"
            yield Owed("blocked", subject(request), assignee, "assignee", line, period=period)


def held_on_duty(uow: UnitOfWork, ctx: Context, now: dt.datetime) -> Iterator[Owed]:
    """T6: a transfer held on duty: a review reminder to the receiving team's manager(s)
    every ``duty_review_every`` working days from ``details["duty"]["since"]``."""
    for team in ctx.org.teams:
        every = team.reminders.duty_review_every
        for request in uow.requests.coming_to(TRANSFER, team.key, (ON_DUTY,)):
            since = _duty_since(request)
            days = ctx.org.calendar.working_days_between(since, local_date(now))
            period = days // every
            if period < 1:
                continue
            line = f"{about(request)} · held on duty for {_days(days)}: review and prioritise until allocated (T6)"
            for manager in ctx.org.members(team.key, Role.MANAGER):
                yield Owed("duty_review", f"{request.id}@{since:%Y%m%d}", manager.key, "receiving_manager", line, period=period)


def _duty_since(request: Request) -> dt.date:
    raw = (request.details.get("duty") or {}).get("since")
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        return local_date(entered_at(request))


def open_assessments(uow: UnitOfWork, ctx: Context, now: dt.datetime) -> Iterator[Owed]:
    """D1: an open assessment (not completed) of an open case: the allocated worker and
    their manager(s) reminded at ``assessment_reminders`` calendar days from the trigger
    date (20 and 35), and alerted once past ``assessment_overdue_after`` (45). Only the
    latest step reached is owed, so a bot that was down sends one, not each it missed."""
    today = local_date(now)
    for team in ctx.org.teams:
        limits = team.reminders
        for row in _open_assessments(uow, team.key, today - dt.timedelta(days=min([*limits.assessment_reminders, limits.assessment_overdue_after + 1]))):
            days = (today - row.trigger_date).days
            step = _assessment_step(limits, days)
            if step is None:
                continue
            due = row.trigger_date + dt.timedelta(days=limits.assessment_overdue_after)
            state = "OVERDUE" if step == "overdue" else "open"
            initials = f"{row.first_name[:1]}{row.last_name[:1]}".upper()
            line = (
                f"{row.assessment_type} {row.id} · {row.person_id} {initials} · {state}: "
                f"day {days} since {row.trigger_date:%d %b %Y}, due by {due:%d %b %Y} (D1)"
            )
            people = [row.worker, *(p.key for p in ctx.org.supervisors_for(row.worker, team.key))]
            for person in dict.fromkeys(people):
                yield Owed("assessment", f"{row.id}@{row.trigger_date:%Y%m%d}", person, step, line)


def _open_assessments(uow: UnitOfWork, team: str, triggered_by: dt.date) -> list[Row[Any]]:
    """D1: the open assessments, triggered on or before ``triggered_by``, of people with an open case
    in ``team`` (with that case's worker: the latest case if several), in assessment order. One query
    with only the columns the lines need (issue 9: not every open case of the team loaded)."""
    rows = uow.session.execute(
        select(Assessment.id, Assessment.assessment_type, Assessment.trigger_date, Case.person_id, Case.worker, Person.first_name, Person.last_name)
        .join(Case, Case.person_id == Assessment.person_id)
        .join(Person, Person.id == Case.person_id)
        .where(Assessment.completed_on.is_(None), Assessment.trigger_date <= triggered_by, Case.team == team, Case.closed_on.is_(None))
        .order_by(Assessment.id, Case.id)
    ).all()
    return list({row.id: row for row in rows}.values())  # the last (newest) case per assessment, as before


def _assessment_step(limits: ReminderSettings, days: int) -> str | None:
    """The latest step an assessment ``days`` old has reached: "overdue" past the limit, else "d<N>"."""
    if days > limits.assessment_overdue_after:
        return "overdue"
    reached = [d for d in limits.assessment_reminders if d <= days]
    return f"d{reached[-1]}" if reached else None


def overdue_audits(uow: UnitOfWork, ctx: Context, now: dt.datetime) -> Iterator[Owed]:
    """C13: a three-month audit past its due date escalates to the team's manager(s) once,
    then comes back every ``audit_overdue_every`` working days in the manager's batched
    reminder (their weekly digest of what waits), until it is recorded."""
    for audit in audits.overdue(uow, ctx, local_date(now)):
        every = settings(ctx, audit.team).audit_overdue_every
        where = "not claimed" if audit.request_id is None or audit.holder is None else f"held by {ctx.org.name_of(audit.holder)}"
        raised = f"Three-month audit {audit.request_id}" if audit.request_id else "Three-month audit (not raised yet)"
        line = (
            f"{raised} · {audit.person_id} {audit.initials} · due {audit.due_on:%d %b %Y}, overdue by "
            f"{_days(audit.working_days_overdue)} ({where}) (C13)"
        )
        subject = f"{audit.case_id}@{audit.due_on:%Y%m%d}"
        period = audit.working_days_overdue // every
        for manager in ctx.org.members(audit.team, Role.MANAGER):
            if period < 1:
                yield Owed("audit_overdue", subject, manager.key, "manager", line)
            else:
                yield Owed("audit_overdue", subject, manager.key, "weekly", line, period=period)


register_source("waiting_for_manager", waiting_for_manager)
register_source("virtual_worker", virtual_worker)
register_source("blocked_closures", blocked_closures)
register_source("held_on_duty", held_on_duty)
register_source("open_assessments", open_assessments)
register_source("overdue_audits", overdue_audits)
