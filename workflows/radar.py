"""The two-week radar (T2) and the weekly Transfer Meeting agenda (T3).

Both read transfers as ``workflows.transfer_terms`` describes them (kind
"transfer", ``team`` sending, ``receiving_team`` receiving, the details keys);
neither changes a transfer's state. The scheduled posts are exactly-once per
(job, team, period): the body claims its run (``uow.claim_run``) in the same
transaction that queues the digest card, whose card key is per team and period
so that a redraw edits the message in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, select

from store.models import Case, Person, Request
from store.uow import UnitOfWork
from workflows import permissions
from workflows import transfer_terms as terms
from workflows.clock import LONDON, WorkingCalendar, add_months, local_today
from workflows.errors import NotAllowed, NotFound, WorkflowError
from workflows.requests import Context

RADAR_DAYS = 14  # T2: a two-week look ahead, in calendar days (each line also says how many working days away, D4)
RADAR = "radar"
AGENDA = "agenda"
JOBS = (RADAR, AGENDA)
DEFAULT_SCHEDULE = {RADAR: "0 12 * * fri", AGENDA: "0 9 * * mon"}  # T2, T3 (workflows.org.TeamSchedule's defaults)
OUTCOMES = {"agreed": "Agreed", "deferred": "Deferred"}  # T3: the meeting's outcome per transfer
# Who may record a meeting outcome (in the receiving or the sending team): the permission table's row.
MEETING_ROLES = tuple(permissions.rule(terms.KIND, "record_meeting").roles)

STATE_LABELS = {
    terms.POTENTIAL: "Potential",
    "requested": "Ready: with the sending manager",
    "returned": "Returned to the sending worker",
    "approved": "Approved: waiting for the receiving team",
    terms.ON_DUTY: "Held on duty (T6)",
    terms.DISPUTED: "Disputed: with the group managers (T5)",
    terms.ESCALATED: "Disputed: with the service manager (T5)",
    terms.ACCEPTED: "Accepted",
}


@dataclass(frozen=True)
class RadarLine:
    """One transfer coming to the team: IDs and initials only."""

    request_id: int
    person_id: str
    initials: str
    sending_team: str
    point: str  # a key of POINTS_OF_TRANSFER
    planned: dt.date | None
    days_away: int | None  # calendar days from the radar's date
    working_days_away: int | None  # D4: weekends and England's bank holidays left out
    standards_complete: int  # T4: done or not applicable
    standards_outstanding: int
    state: str
    meeting: str | None = None  # T3: the last outcome recorded ("agreed" | "deferred")
    restricted: bool = False  # issue 8: a channel shows only "a restricted record needs your action"


@dataclass(frozen=True)
class TurningLine:
    """T1: a child of a sending team who reaches the age of transfer within the window."""

    person_id: str
    initials: str
    sending_team: str
    reaches_on: dt.date
    days_away: int
    working_days_away: int
    restricted: bool = False  # issue 8: a channel shows only "a restricted record needs your action"


@dataclass
class Radar:
    team: str
    as_of: dt.date
    until: dt.date
    groups: dict[str, list[RadarLine]] = field(default_factory=dict)  # point of transfer -> lines, T1 order
    turning: list[TurningLine] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.groups and not self.turning


def _planned(request: Request) -> dt.date | None:
    raw = request.details.get("planned_date")
    try:
        return dt.date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def _standards(request: Request) -> tuple[int, int]:
    """T4: how many standards are done or not applicable, and how many are outstanding (missing counts)."""
    given = request.details.get("standards") or {}
    complete = sum(1 for key in terms.STANDARDS if (given.get(key) or {}).get("status") in ("done", "na"))
    return complete, len(terms.STANDARDS) - complete


def _line(request: Request, as_of: dt.date, calendar: WorkingCalendar) -> RadarLine:
    planned = _planned(request)
    complete, outstanding = _standards(request)
    meeting = request.details.get("meeting") or {}
    return RadarLine(
        request_id=request.id,
        person_id=request.person_id,
        initials=request.person.initials,
        restricted=request.person.restricted,
        sending_team=request.team,
        point=str(request.details.get("point_of_transfer") or ""),
        planned=planned,
        days_away=(planned - as_of).days if planned else None,
        working_days_away=calendar.working_days_between(as_of, planned) if planned else None,
        standards_complete=complete,
        standards_outstanding=outstanding,
        state=request.state,
        meeting=meeting.get("outcome"),
    )


def coming_transfers(uow: UnitOfWork, ctx: Context, team: str, as_of: dt.date) -> list[RadarLine]:
    """Every transfer to ``team`` still to come (RADAR_STATES), soonest first; no date yet last."""
    lines = [_line(r, as_of, ctx.org.calendar) for r in uow.requests.coming_to(terms.KIND, team, terms.RADAR_STATES)]
    return sorted(lines, key=lambda line: (line.planned is None, line.planned or as_of, line.request_id))


def radar_for(uow: UnitOfWork, ctx: Context, team: str, as_of: dt.date) -> Radar:
    """T2: what is coming to ``team`` in the two weeks from ``as_of``.

    Transfers planned up to 14 days ahead, and those whose planned date has passed but
    which have not moved yet (overdue: still to plan for). A potential transfer with no
    date yet is shown too (T2: cases with the *potential* to transfer). Plus, T1, the
    children of teams configured to feed this one who reach the age of transfer in the window.
    """
    until = as_of + dt.timedelta(days=RADAR_DAYS)
    look = Radar(team=team, as_of=as_of, until=until)
    lines = [line for line in coming_transfers(uow, ctx, team, as_of) if line.planned is None or line.planned <= until]
    for point in [*terms.POINTS_OF_TRANSFER, *sorted({line.point for line in lines} - set(terms.POINTS_OF_TRANSFER))]:
        in_point = [line for line in lines if line.point == point]
        if in_point:
            look.groups[point] = in_point
    listed = {line.person_id for line in lines}
    for sending in ctx.org.teams:
        if sending.age_transfer is None or sending.age_transfer.to != team:
            continue
        for row in _born_for_transfer(uow, sending.key, sending.age_transfer.at_months, as_of, until):
            if row.person_id in listed:
                continue
            reaches = add_months(row.date_of_birth, sending.age_transfer.at_months)
            if as_of <= reaches <= until:
                listed.add(row.person_id)
                look.turning.append(
                    TurningLine(
                        row.person_id, f"{row.first_name[:1]}{row.last_name[:1]}".upper(), sending.key, reaches, (reaches - as_of).days,
                        ctx.org.calendar.working_days_between(as_of, reaches), row.restricted,
                    )
                )
    look.turning.sort(key=lambda t: (t.reaches_on, t.person_id))
    return look


def _born_for_transfer(uow: UnitOfWork, team: str, at_months: int, as_of: dt.date, until: dt.date) -> Sequence[Row[Any]]:
    """T1: the people with an open case in ``team`` born so that they may reach ``at_months`` between
    ``as_of`` and ``until``, in person order: a date-of-birth range in SQL (issue 9: not every open
    case of the team loaded), a few days wider than exact (month ends); the caller checks exactly."""
    earliest = add_months(as_of, -at_months) - dt.timedelta(days=4)
    latest = add_months(until, -at_months) + dt.timedelta(days=4)
    return uow.session.execute(
        select(Case.person_id, Person.first_name, Person.last_name, Person.date_of_birth, Person.restricted)
        .join(Person, Person.id == Case.person_id)
        .where(Case.team == team, Case.closed_on.is_(None), Person.date_of_birth.between(earliest, latest))
        .order_by(Case.person_id, Case.id)
    ).all()


# -- the scheduled posts ------------------------------------------------------------


def period_key(period: dt.datetime) -> str:
    """A run's period: the scheduled time it stands for, in Europe/London to the minute."""
    return period.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def card_key(job: str, team: str, period: str) -> str:
    return f"{job}:{team}:{period}"


def _queue_digest(uow: UnitOfWork, ctx: Context, job: str, team: str, period: str) -> None:
    """Queue the digest card; the deliverer draws it from the store as it is when sent."""
    uow.send(
        at=ctx.clock.now(),
        kind="card",
        channel=ctx.org.team(team).manager_channel,
        card_key=card_key(job, team, period),
        # as_of: the radar's first day is the day it is drawn (a caught-up radar looks ahead from then)
        body={"digest": job, "team": team, "period": period, "as_of": local_today(ctx.clock).isoformat()},
    )


def post_digest(uow: UnitOfWork, ctx: Context, job: str, team: str, period: dt.datetime, *, redraw: bool = False) -> str:
    """The body of the radar and agenda jobs, exactly once per (job, team, period).

    Returns "posted" (this run claimed the period), "redrawn" (already claimed and
    ``redraw`` asked: the card is queued again under its key and so edited in place) or
    "already done" (nothing written). One transaction: claim, card and event.
    """
    if job not in JOBS:
        raise WorkflowError(f"There is no job {job!r}; the jobs are {', '.join(JOBS)}.")
    ctx.org.team(team)  # an unknown team is a KeyError before anything is written
    key = period_key(period)
    now = ctx.clock.now()
    if uow.claim_run(job=job, team=team, period=key, at=now):
        outcome = "posted"
    elif redraw:
        outcome = "redrawn"
    else:
        return "already done"
    _queue_digest(uow, ctx, job, team, key)
    uow.record(at=now, actor="worktray", action=f"{job}_{outcome}", detail={"team": team, "period": key})
    uow.commit()
    return outcome


def digest_as_of(body: dict[str, Any]) -> dt.date:
    """The digest's first day: the day it was queued (else its period's date)."""
    return dt.date.fromisoformat(str(body.get("as_of") or body["period"])[:10])


# -- on demand, and T3: the meeting's outcome per transfer ------------------------------


def may_see(ctx: Context, actor: str, team: str, action: str = "view_radar") -> bool:
    """A team's radar shows IDs and initials of children coming to it: people with a role in
    the team (its group and service managers have one) may look (the permission table's
    ``view_radar``; ``view_audits`` for /audits)."""
    return permissions.may_view(ctx.org, actor, action, team)


def may_record_outcome(ctx: Context, actor: str, request: Request) -> bool:
    """T3: a manager of the sending or the receiving team (the table's ``record_meeting``)."""
    return permissions.has(ctx.org, actor, terms.KIND, "record_meeting", request.team, request.receiving_team)


def team_to_show(ctx: Context, actor: str, team: str | None, what: str, *, which: str, unknown: str, action: str | None = None) -> str:
    """The team a team view (``/radar``, ``/audits``) is for: the named one or the actor's only
    team, known and one the actor has a role in (``may_see``). ``which`` and ``unknown`` word the
    refusals: ``which`` takes {yours}, ``unknown`` takes {team} and {teams}. ``action`` is the
    permission table's view row (``view_<what>`` unless given)."""
    teams = ctx.org.teams_of(actor)
    if team is None:
        if len(teams) != 1:
            raise WorkflowError(which.format(yours=", ".join(teams) or "none"))
        team = teams[0]
    try:
        ctx.org.team(team)
    except KeyError:
        raise NotFound(unknown.format(team=repr(team[:30]), teams=", ".join(t.key for t in ctx.org.teams))) from None
    if not may_see(ctx, actor, team, action or f"view_{what}"):
        raise NotAllowed(f"Only people with a role in {ctx.org.team(team).name} may see its {what}.")
    return team


def radar_on_demand(uow: UnitOfWork, ctx: Context, actor: str, team: str | None) -> Radar:
    """``/radar [team]``: the radar as of today, for the named team or the actor's only team."""
    team = team_to_show(
        ctx, actor, team, "radar", which="Say which team: /radar <team> (yours: {yours}).", unknown="There is no team {team}. Teams: {teams}."
    )
    return radar_for(uow, ctx, team, local_today(ctx.clock))


def record_outcome(uow: UnitOfWork, ctx: Context, request_id: int, outcome: str, period: str, actor: str, source: str | None = None) -> str:
    """T3: record the meeting's "agreed" or "deferred" on the transfer and redraw the agenda in place.

    Not a transition: the transfer's state is unchanged (the journey decides it); the
    outcome goes in ``details["meeting"]`` and the event log, in one transaction.
    """
    if outcome not in OUTCOMES:
        raise WorkflowError("That outcome is not agreed or deferred; nothing changed.")
    request = uow.requests.get(request_id)
    if request is None or request.kind != terms.KIND or request.receiving_team is None:
        raise NotFound(f"There is no transfer {request_id}.")
    if request.state not in terms.RADAR_STATES:
        raise WorkflowError(f"Transfer {request_id} is no longer for discussion; nothing changed.")
    if not may_record_outcome(ctx, actor, request):
        raise NotAllowed("Only managers of the sending or receiving team record the Transfer Meeting's outcome.")
    now = ctx.clock.now()
    meeting: dict[str, Any] = {"outcome": outcome, "period": period, "by": actor, "at": now.isoformat()}
    request.details = {**request.details, "meeting": meeting}  # a new dict: the JSON column sees the change
    uow.record(at=now, actor=actor, action="meeting_outcome", request=request, source=source, detail={"outcome": outcome, "period": period})
    uow.requests.save()
    if uow.job_run(job=AGENDA, team=request.receiving_team, period=period) is not None:
        _queue_digest(uow, ctx, AGENDA, request.receiving_team, period)  # same key: edited in place
    uow.commit()
    return f"Recorded for transfer {request.id} ({request.person_id}): {OUTCOMES[outcome].lower()} at the Transfer Meeting."
