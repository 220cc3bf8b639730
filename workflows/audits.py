"""Three-month-interval audits (C13, seed 000): business support audit every open case
three calendar months after it opened or after its last audit.

The due date lives on the case (``cases.audit_due_on``, with ``cases.last_audited_on``);
the store only keeps it and this module sets it, whenever a case opens (a transfer's new
case, a reopened case, an import) or an audit completes: a three-month audit recorded
here, the audit at transfer (``workflows.transfer.complete_audit``); a closure audit
closes the case, so nothing is due after it.

A configurable number of working days before the due date (``teams[].audits.
notice_working_days``, default 10, D4 working days) the daily job ``raise_due_audits``
puts an ``audit`` request in the team's virtual-worker queue: a card in the team's
business-support channel (person ID and initials only). Business support claim it
and **Record audit**: a checklist (each yes or no) and an outcome: compliant, or
actions needed with a note, which is sent by direct message to the allocated worker
and their manager (the note never goes on a channel card).

Exactly once: the database allows one open request of a kind per person (the partial
unique index ``uq_requests_one_open_per_person``), so the job run twice, or on two
instances at once on one PostgreSQL, raises each audit once.

For the reminders and digests: ``due_audits(uow, ctx, team, today)`` and
``overdue(uow, ctx, today)`` list what is due and overdue (``DueAudit``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select, update

from store.models import Case, Person, Request
from store.uow import UnitOfWork
from workflows.clock import add_months, local_today
from workflows.errors import Conflict, FieldErrors, NotFound
from workflows.radar import team_to_show
from workflows.requests import (
    APPROVED,
    OPEN_STATES,
    Context,
    RequestKind,
    direct_message,
    load,
    open_request,
    precheck,
    register_kind,
    transition,
)

KIND = "audit"
INTERVAL_MONTHS = 3  # C13: every three calendar months
FILL_CHUNK = 5000  # due dates per bulk UPDATE (issue 9: an import of 100,000 open cases)
SYSTEM_ACTOR = "worktray"  # who raises an audit: the daily job, not a person
JOB_SOURCE = "job:audits"
# C13: what business support check at the three-month audit, each answered yes or no.
CHECKS: dict[str, str] = {
    "record_up_to_date": "Record up to date",
    "work_steps_current": "Work steps current",
    "worker_and_team_correct": "Allocated worker and team correct",
    "retention_present": "Retention present",
}
YES_NO = {"yes": "Yes", "no": "No"}
COMPLIANT, ACTIONS_NEEDED = "compliant", "actions_needed"
OUTCOMES = {COMPLIANT: "Compliant", ACTIONS_NEEDED: "Actions needed"}
MAX_NOTE = 3000

AUDIT = register_kind(
    RequestKind(
        name=KIND,
        label="Three-month audit",
        actions=frozenset({"claim", "unclaim", "reassign", "complete"}),
        manager_card=False,  # business support's own queue; managers see it with /audits
        state_labels={APPROVED: "In the virtual worker, unclaimed", "closed": "Audit recorded"},
        action_words={"complete": "recorded"},
    )
)


# -- 1. due dates ----------------------------------------------------------------------------


def next_due(last: dt.date) -> dt.date:
    """C13: three calendar months after ``last`` (an opening or an audit); a day the month
    lacks becomes its last day (30 November -> 28 or 29 February)."""
    return add_months(last, INTERVAL_MONTHS)


def first_due(opened_on: dt.date, since: dt.date) -> dt.date:
    """For a case whose audits worktray has not kept (imported, or open before worktray kept
    the dates): the first three-month anniversary of its opening on or after ``since``. For a
    case opened within the last three months that is simply ``next_due(opened_on)``. Counting
    from the opening each time (not from the previous anniversary) keeps month ends steady."""
    # Every anniversary in a calendar month before ``since``'s is before it: start at the last
    # multiple of the interval not after that month gap (issue 9: 100,000 imported cases).
    gap = (since.year - opened_on.year) * 12 + since.month - opened_on.month
    months = max(INTERVAL_MONTHS, gap // INTERVAL_MONTHS * INTERVAL_MONTHS)
    while (due := add_months(opened_on, months)) < since:
        months += INTERVAL_MONTHS
    return due


def case_opened(case: Case) -> None:
    """A case opens (transfer's new case, reopen): its first audit is three months on."""
    case.audit_due_on = next_due(case.opened_on)


def mark_audited(case: Case, on: dt.date) -> None:
    """An audit completed on ``on`` (a three-month audit, the audit at transfer): the clock restarts."""
    case.last_audited_on = on
    case.audit_due_on = next_due(on)


def fill_due_dates(uow: UnitOfWork, today: dt.date) -> int:
    """Give every open case without a due date one (after an import, or rows written by
    other means): three months after its last audit if known, else ``first_due``. The
    caller commits. Returns how many were filled."""
    uow.session.flush()  # cases changed in this transaction are seen, and not overwritten below
    rows = uow.session.execute(
        select(Case.id, Case.opened_on, Case.last_audited_on).where(Case.closed_on.is_(None), Case.audit_due_on.is_(None))
    ).all()
    # Issue 9: after a 100,000-case import, one bulk UPDATE by primary key (executemany, in
    # chunks) instead of an ORM object and an UPDATE per case.
    dues = [{"_id": case_id, "_due": next_due(last) if last else first_due(opened, today)} for case_id, opened, last in rows]
    statement = update(Case.__table__).where(Case.__table__.c.id == bindparam("_id")).values(audit_due_on=bindparam("_due"))  # type: ignore[arg-type]
    for start in range(0, len(dues), FILL_CHUNK):
        uow.session.execute(statement, dues[start : start + FILL_CHUNK])
    if dues:
        uow.session.expire_all()  # Case objects loaded earlier must read the new dates
    return len(dues)


# -- 2. raising the audits (the daily job) -----------------------------------------------------


def _open_audit_exists() -> Any:
    return exists().where(and_(Request.person_id == Case.person_id, Request.kind == KIND, Request.state.in_(OPEN_STATES)))


def horizon(ctx: Context, team: str, today: dt.date) -> dt.date:
    """The last due date the team is told about today: its notice in working days (D4)."""
    return ctx.org.calendar.add_working_days(today, ctx.org.team(team).audits.notice_working_days)


def raise_due_audits(uow: UnitOfWork, ctx: Context, teams: Sequence[str] | None = None) -> int:
    """The daily job's body: one audit request per open case due within its team's notice
    and without an open audit, each in its own transaction. Returns how many were raised.

    Idempotent: a case with an open audit is not picked again, and if another run (another
    instance) raised it first the database refuses the second (one open request of a kind
    per person), which is skipped here, not an error.

    In one unit of work (the CLI, the console); the scheduler runs the three steps in their
    own (``fill_missing_due_dates``, then ``due_now`` read-only, then ``raise_each``)."""
    fill_missing_due_dates(uow, ctx)
    return raise_each(uow, ctx, due_now(uow, ctx, teams))


def fill_missing_due_dates(uow: UnitOfWork, ctx: Context) -> int:
    """The daily job's first step: due dates for open cases without one (``fill_due_dates``), committed."""
    filled = fill_due_dates(uow, local_today(ctx.clock))
    uow.commit()
    return filled


@dataclass(frozen=True)
class DueNow:
    """What ``due_now`` found for ``raise_each``: each team's last due date today, and the
    open cases due by then without an open audit, team by team, soonest first."""

    horizons: dict[str, dt.date]
    cases: list[int]


def due_now(uow: UnitOfWork, ctx: Context, teams: Sequence[str] | None = None) -> DueNow:
    """The daily job's reading step, meant for a read-only unit of work: one query over every
    open case (issue 9: at scale ~100 ms, which in a writing unit of work held SQLite's write
    lock). What it finds may be raised meanwhile by another run: ``raise_each`` re-reads each
    case, and the database refuses a second open audit."""
    today = local_today(ctx.clock)
    horizons = {team: horizon(ctx, team, today) for team in (teams if teams is not None else [t.key for t in ctx.org.teams])}
    if not horizons:
        return DueNow(horizons, [])
    # One query for every team (issue 9: the open audits are read once, not once per team).
    due = uow.session.execute(
        select(Case.id, Case.team)
        .where(or_(*[and_(Case.team == team, Case.audit_due_on <= last_due) for team, last_due in horizons.items()]))
        .where(Case.closed_on.is_(None), ~_open_audit_exists())
        .order_by(Case.audit_due_on, Case.id)
    ).all()
    order = list(horizons)
    ordered = sorted(due, key=lambda row: order.index(row.team))  # team by team, soonest first (a stable sort)
    return DueNow(horizons, [row.id for row in ordered])


def raise_each(uow: UnitOfWork, ctx: Context, due: DueNow) -> int:
    """The daily job's writing step: each case ``due_now`` found, raised in its own short
    transaction (re-checked there: still open, still due); one raised meanwhile is skipped."""
    raised = 0
    for case_id in due.cases:
        try:
            raised += _raise_one(uow, ctx, case_id, due.horizons)
        except Conflict:  # raised meanwhile by another run: once is enough
            continue
    return raised


def _raise_one(uow: UnitOfWork, ctx: Context, case_id: int, horizons: Mapping[str, dt.date]) -> int:
    case = uow.cases.case(case_id)
    last_due = horizons.get(case.team) if case is not None else None
    if case is None or last_due is None or case.closed_on is not None or case.audit_due_on is None or case.audit_due_on > last_due:
        uow.rollback()
        return 0
    due_on = case.audit_due_on.isoformat()
    open_request(
        uow, ctx, AUDIT, case, SYSTEM_ACTOR,
        {"due_on": due_on, "applies_to": [case.person_id]},
        already_open=lambda: f"{case_id} already has a three-month audit open.",
        source=JOB_SOURCE,
        event_detail={"due_on": due_on},
        state=APPROVED,  # straight into the team's virtual-worker queue, as the audit at transfer
    )
    uow.commit()
    return 1


# -- 3. recording the audit ----------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    checklist: dict[str, str]  # check key -> yes | no
    outcome: str  # compliant | actions_needed
    note: str


def _text(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def validate(values: Mapping[str, Any]) -> Recorded:
    """The form's answers, or FieldErrors naming each field: ``check_<key>`` yes|no for each
    of CHECKS, ``outcome`` and ``note`` (needed for actions needed). A check answered no
    is an action needed, so it cannot be recorded as compliant."""
    errors: dict[str, str] = {}
    checklist = {key: _text(values, f"check_{key}").lower() for key in CHECKS}
    for key, label in CHECKS.items():
        if checklist[key] not in YES_NO:
            errors[f"check_{key}"] = f"{label}: answer yes or no."
    outcome, note = _text(values, "outcome"), _text(values, "note")
    if outcome not in OUTCOMES:
        errors["outcome"] = "Choose the outcome: compliant, or actions needed."
    elif outcome == ACTIONS_NEEDED and not note:
        errors["note"] = "Say what actions are needed: the allocated worker and their manager get this note."
    elif outcome == COMPLIANT and "no" in checklist.values():
        errors["outcome"] = "A check is answered no: choose actions needed and say what needs doing."
    if len(note) > MAX_NOTE:
        errors["note"] = f"Keep the note to {MAX_NOTE} characters."
    if errors:
        raise FieldErrors(errors)
    return Recorded(checklist, outcome, note)


def audit_request(uow: UnitOfWork, request_id: int) -> Request:
    """The three-month audit with this ID; any other request is refused (its own form finishes it)."""
    request = load(uow, request_id)
    if request.kind != KIND:
        raise NotFound(f"Request {request_id} is not a three-month audit; nothing changed.")
    return request


def check_record(uow: UnitOfWork, ctx: Context, request_id: int, actor: str) -> Request:
    """May this person record this audit now? The holder, in business support (asked before the
    form opens, and again on submit)."""
    request = audit_request(uow, request_id)
    precheck(ctx, request, "complete", actor, uow)
    return request


def managers_of(ctx: Context, worker: str, team: str) -> list[str]:
    """The allocated worker's manager (C2): their supervisor, else the team's managers."""
    return [p.key for p in ctx.org.supervisors_for(worker, team)]


def record_audit(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, values: Mapping[str, Any], *, source: str | None = None) -> str:
    """C13: the holder records the audit: on the request and the event log, the case's last
    audit and next due date; for actions needed, the note goes by direct message to the
    allocated worker and their manager. One transaction; bad input changes nothing."""
    request = check_record(uow, ctx, request_id, actor)
    recorded = validate(values)
    today = local_today(ctx.clock)
    case = request.case
    # Actions needed: the allocated worker and their manager, those of them chat can reach (in the config).
    named = [case.worker, *[m for m in managers_of(ctx, case.worker, request.team) if m != case.worker]] if recorded.outcome == ACTIONS_NEEDED else []
    told = [key for key in named if ctx.org.chat_id_of(key) is not None]

    def _apply(r: Request) -> None:
        r.details = {
            **r.details,
            "audit": {"checklist": recorded.checklist, "outcome": recorded.outcome, "note": recorded.note, "by": actor, "on": today.isoformat(), "told": told},
        }
        if case.closed_on is None:
            mark_audited(case, today)

    detail: dict[str, Any] = {"checklist": recorded.checklist, "outcome": recorded.outcome, "next_due": next_due(today).isoformat()}
    if recorded.note:
        detail["note"] = recorded.note
    transition(uow, ctx, request, "complete", actor, source=source, detail=detail, apply=_apply)
    for key in told:
        direct_message(uow, ctx, key, {"view": "audit_actions", "request_id": request.id})
    uow.commit()
    next_on = next_due(today).strftime("%d/%m/%Y")
    if recorded.outcome == ACTIONS_NEEDED:
        names = ", ".join(ctx.org.name_of(k) for k in told) or "nobody (neither the worker nor a manager is in the organisation config)"
        return f"Three-month audit {request.id} of {request.person_id} recorded: actions needed. Told by direct message: {names}. Next audit due {next_on} (C13)."
    return f"Three-month audit {request.id} of {request.person_id} recorded: compliant. Next audit due {next_on} (C13)."


# -- 5. what is due and overdue (for /audits, reminders and digests) ---------------------------------


@dataclass(frozen=True)
class DueAudit:
    """An open case whose audit is due within its team's notice, or overdue."""

    team: str
    case_id: int
    person_id: str
    initials: str
    due_on: dt.date
    working_days_overdue: int  # 0 until the due date has passed; then working days after it (D4)
    request_id: int | None  # the open audit request, if raised
    state: str | None  # approved (unclaimed) | claimed
    holder: str | None

    @property
    def overdue(self) -> bool:
        return self.working_days_overdue > 0


def due_audits(uow: UnitOfWork, ctx: Context, team: str, today: dt.date) -> list[DueAudit]:
    """The team's open cases whose audit is due on or before its notice horizon (so due soon,
    due today or overdue), soonest first, with the open audit request if there is one."""
    return _due_by(uow, ctx, {team: horizon(ctx, team, today)}, today)


def _due_by(uow: UnitOfWork, ctx: Context, last_due: dict[str, dt.date], today: dt.date) -> list[DueAudit]:
    """The open cases of these teams due on or before each team's ``last_due``, soonest first, each
    with its open audit. One query for all the teams (issue 9): the indexed ranges on (team,
    audit_due_on), the person's initials and the open audit request joined, only the columns shown."""
    if not last_due:
        return []
    audit = (
        select(Request.id, Request.person_id, Request.state, Request.holder)
        .where(Request.kind == KIND, Request.state.in_(OPEN_STATES))
        .subquery()
    )
    rows = uow.session.execute(
        select(Case.team, Case.id, Case.person_id, Case.audit_due_on, Person.first_name, Person.last_name, audit.c.id, audit.c.state, audit.c.holder)
        .join(Person, Person.id == Case.person_id)
        .outerjoin(audit, audit.c.person_id == Case.person_id)
        .where(or_(*[and_(Case.team == team, Case.audit_due_on <= until) for team, until in last_due.items()]))
        .where(Case.closed_on.is_(None))
        .order_by(Case.audit_due_on, Case.person_id, Case.id)
    ).all()
    late = ctx.org.calendar.working_days_between
    return [
        DueAudit(
            team=team,
            case_id=case_id,
            person_id=person_id,
            initials=f"{first[:1]}{last[:1]}".upper(),
            due_on=due_on,
            working_days_overdue=late(due_on, today) if today > due_on else 0,
            request_id=request_id,
            state=state,
            holder=holder,
        )
        for team, case_id, person_id, due_on, first, last, request_id, state, holder in rows  # tuples: faster than attributes
    ]


def overdue(uow: UnitOfWork, ctx: Context, today: dt.date, teams: Iterable[str] | None = None) -> list[DueAudit]:
    """Every team's (or these teams') overdue audits (past their due date, D4 working days
    counted), most overdue first. Only cases due before today are read, every team in one
    query (issue 9)."""
    yesterday = today - dt.timedelta(days=1)
    keys = [t.key for t in ctx.org.teams] if teams is None else list(teams)
    late = [a for a in _due_by(uow, ctx, dict.fromkeys(keys, yesterday), today) if a.overdue]
    return sorted(late, key=lambda a: (-a.working_days_overdue, a.team, a.person_id))


@dataclass(frozen=True)
class AuditList:
    team: str
    as_of: dt.date
    until: dt.date  # the notice horizon
    audits: list[DueAudit]


def audits_on_demand(uow: UnitOfWork, ctx: Context, actor: str, team: str | None, usage: str) -> AuditList:
    """``/audits [team]``: due and overdue audits of the named team or the actor's only team;
    people with a role in the team may look (as the radar, ``workflows.radar.may_see``)."""
    team = team_to_show(
        ctx, actor, team, "audits", which="Say which team (yours: {yours}). " + usage.replace("{", "{{").replace("}", "}}"),
        unknown="There is no team {team} (teams: {teams}). " + usage.replace("{", "{{").replace("}", "}}"),
    )
    today = local_today(ctx.clock)
    return AuditList(team, today, horizon(ctx, team, today), due_audits(uow, ctx, team, today))

