"""Reopening after a finished closure (C11) and the three-month closing principle (C12).

A closed case is never rewritten. Reopening is a new social care request [003]: a
new involvement (a new case row) for the people it names, with the previous worker
and team proposed, recorded as its own "reopen" event. A re-referral within three
calendar months of closure (C12) is a request of its own kind, "rereferral", on the
previous team's manager card; Accept reopens through the same new-involvement
function, Decline (with a reason) goes to the team's group managers.

"The same reasons" [004: "the SAME reasons/concern/issues at the time of closure"]
compares the re-referral's reason, an S2 primary need code (N0-N9), with the
primary need recorded on the closed case. The closure reason (S1 RC codes) says why
the case closed, not what the concern was, so it is not what is compared.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select

from store.models import Case, Contact, Request
from store.uow import UnitOfWork
from workflows import audits, permissions
from workflows.clock import local_today
from workflows.errors import FieldErrors, IllegalTransition, NotFound, WorkflowError
from workflows.org import Role
from workflows.requests import (
    CLOSED,
    OPEN_STATES,
    Context,
    RequestKind,
    check_allowed,
    covering,
    direct_message,
    load,
    manager_card_key,
    may,
    open_request,
    precheck,
    register_kind,
    transition,
)

# S2: CIN census primary need codes: what a contact (and a case) is about.
PRIMARY_NEEDS: dict[str, str] = {
    "N1": "Abuse or neglect",
    "N2": "Child's disability",
    "N3": "Parental disability or illness",
    "N4": "Family in acute stress",
    "N5": "Family dysfunction",
    "N6": "Socially unacceptable behaviour",
    "N7": "Low income",
    "N8": "Absent parenting",
    "N9": "Cases other than children in need",
    "N0": "Not stated",
}

REOPEN_EVENT = "reopen"
RE_REFERRAL_MONTHS = 3  # C12


# -- C12: what "within 3 months" means ---------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later; the month's last day when it is shorter
    (31 August + 3 months is 30 November)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def within_three_months(closed_on: dt.date, contact_date: dt.date) -> bool:
    """C12: a contact on or after the closure date and on or before the same day three calendar
    months later. Closed 1 August: 31 October (2 months 30 days) is within, 1 November is the
    last day within, 2 November (3 months 1 day) is not."""
    return closed_on <= contact_date <= add_months(closed_on, RE_REFERRAL_MONTHS)


# -- the new involvement (C11 Reopen and C12 Accept share it) ----------------------------


def open_involvement(
    uow: UnitOfWork,
    ctx: Context,
    *,
    origin: Request,
    actor: str,
    people: Sequence[str],
    previous: dict[str, Case],
    worker: str,
    reason: str | None = None,
    source: str | None = None,
    reshow_origin: bool = True,
) -> list[Case]:
    """A new social care request [003]: a new case row per person, in the previous case's
    team and type, allocated to ``worker``; one "reopen" event. Old rows are not touched."""
    team = origin.team
    if not ctx.org.has_role(worker, team, Role.WORKER):
        raise FieldErrors({"worker": f"{ctx.org.name_of(worker)} is not a worker in {ctx.org.team(team).name}."})
    if not people:
        raise FieldErrors({"people": "Choose who the new involvement is for."})
    already = [p for p in people if uow.cases.open_case(p) is not None]
    if already:
        raise FieldErrors({"people": f"Already open: {', '.join(already)}. Nothing was reopened."})
    today = local_today(ctx.clock)
    cases = [
        Case(
            person_id=p,
            team=team,
            worker=worker,
            case_type=previous[p].case_type,
            opened_on=today,
            primary_need=previous[p].primary_need,
        )
        for p in people
    ]
    for case in cases:
        audits.case_opened(case)  # C13: its first three-month audit
        uow.cases.add(case)
    uow.session.flush()
    now = ctx.clock.now()
    detail: dict[str, object] = {
        "people": list(people),
        "cases": [c.id for c in cases],
        "previous_cases": [previous[p].id for p in people],
        "team": team,
        "worker": worker,
    }
    if reason:
        detail["reason"] = reason
    uow.record(at=now, actor=actor, action=REOPEN_EVENT, request=origin, source=source, detail=detail)
    direct_message(uow, ctx, worker, {"view": "reopened", "request_id": origin.id, "cases": detail["cases"], "by": actor})
    if reshow_origin:  # the origin's manager card loses its Reopen button; the request row is not touched
        uow.send(
            at=now,
            kind="card",
            channel=ctx.org.team(team).manager_channel,
            card_key=manager_card_key(origin),
            body={"view": "request", "audience": "manager", "request_id": origin.id, "revision": origin.revision},
        )
    return cases


# -- C11: Reopen a finished closure ----------------------------------------------------


def closed_cases(uow: UnitOfWork, request: Request) -> list[Case]:
    """The cases a finished request closed: what its audit recorded in details["ended"]["cases"],
    or else the team's cases of the people it applied to that closed on its closure date."""
    if request.state != CLOSED:
        return []
    ids = (request.details.get("ended") or {}).get("cases")
    if ids is not None:
        return [c for c in (uow.cases.case(int(i)) for i in ids) if c is not None]
    closed_on = request.details.get("closure_date")
    return [
        c
        for p in request.applies_to
        for c in uow.cases.cases_of(p)
        if c.team == request.team and c.closed_on is not None and c.closed_on.isoformat() == closed_on
    ]


def reopenable_people(uow: UnitOfWork, request: Request) -> list[str]:
    """Who a finished closure closed and who has no open case now (they can be reopened)."""
    return [c.person_id for c in closed_cases(uow, request) if uow.cases.open_case(c.person_id) is None]


def may_reopen(uow: UnitOfWork, ctx: Context, actor: str | None, request: Request) -> bool:
    """Whether to offer Reopen to ``actor`` (C11: Manager or Practice Supervisor of the team)."""
    if actor is None or not may(ctx.org, actor, "reopen", request, covering(uow, ctx, actor)):
        return False
    return bool(reopenable_people(uow, request))


def check_reopen(uow: UnitOfWork, ctx: Context, request: Request, actor: str) -> list[str]:
    """Refuse what cannot be reopened; returns the people who can be."""
    if request.state != CLOSED:
        raise IllegalTransition(
            f"Request {request.id} is not a finished closure ({request.state}): nothing is closed to reopen."
            + (" An open request can be withdrawn instead (C11)." if request.state in OPEN_STATES else "")
        )
    check_allowed(ctx.org, actor, "reopen", request, covering(uow, ctx, actor))
    people = reopenable_people(uow, request)
    if not people:
        raise IllegalTransition(f"Everyone closed by request {request.id} has an open case again: nothing to reopen.")
    return people


def last_closure_of(uow: UnitOfWork, person_id: str) -> Request:
    """/case reopen <person-id>: the finished closure that closed the person's latest closed case."""
    if uow.cases.person(person_id) is None:
        raise NotFound(f"There is no person {person_id} in the case store.")
    cases = sorted((c for c in uow.cases.cases_of(person_id) if c.closed_on is not None), key=lambda c: (c.closed_on, c.id))
    for case in reversed(cases):
        for request in reversed(uow.requests.in_states(case.team, [CLOSED])):
            if case in closed_cases(uow, request):
                return request
    raise WorkflowError(f"Person {person_id} has no closure finished in worktray to reopen.")


def reopen(
    uow: UnitOfWork,
    ctx: Context,
    request_id: int,
    actor: str,
    *,
    people: Sequence[str],
    worker: str,
    reason: str,
    source: str | None = None,
) -> str:
    """C11: a Manager or Practice Supervisor reopens a finished closure as a new involvement
    for the people they choose; the closed cases and what the audit ended stay as they were."""
    request = load(uow, request_id)
    allowed = check_reopen(uow, ctx, request, actor)
    errors: dict[str, str] = {}
    unknown = [p for p in people if p not in allowed]
    if unknown:
        errors["people"] = f"Not closed by request {request.id}, or already open: {', '.join(unknown)}."
    if not reason.strip():
        errors["reason"] = "Say why the case reopens (the new social care request's reason)."
    if errors:
        raise FieldErrors(errors)
    previous = {c.person_id: c for c in closed_cases(uow, request)}
    cases = open_involvement(
        uow, ctx, origin=request, actor=actor, people=people, previous=previous, worker=worker, reason=reason.strip(), source=source
    )
    uow.commit()
    who = ", ".join(c.person_id for c in cases)
    return f"Reopened as a new involvement: {who} in {ctx.org.team(request.team).name}, allocated to {ctx.org.name_of(worker)} (C11)."


# -- C12: re-referral within three months ----------------------------------------------


@dataclass(frozen=True)
class Rereferral:
    """What considering a contact came to: a request on the previous team's card, or why not."""

    request: Request | None
    message: str


# C12: the previous team's manager accepts or declines; whoever recorded it may withdraw it.
REREFERRAL = register_kind(
    RequestKind(name="rereferral", label="Re-referral", queued=False, actions=frozenset({"accept", "decline", "withdraw"}))
)


def need_code(reason: str) -> str:
    code = reason.strip().upper()
    if code not in PRIMARY_NEEDS:
        raise WorkflowError(f"'{reason[:20]}' is not a reason: give the S2 primary need code the contact is about (N0-N9), e.g. N1.")
    return code


def same_reason(closed: Case, code: str) -> bool | None:
    """C12: the contact's primary need against the closed case's; None when none was recorded."""
    return None if closed.primary_need is None else closed.primary_need == code


def consider(
    uow: UnitOfWork,
    ctx: Context,
    actor: str,
    person_id: str,
    reason: str,
    *,
    contact_date: dt.date | None = None,
    contact_id: int | None = None,
    source: str | None = None,
) -> Rereferral:
    """C12: is this contact a re-referral within 3 months of closure? If so, a request on the
    previous team's manager card (not committed); if not, say why and write nothing."""
    code = need_code(reason)
    if uow.cases.person(person_id) is None:
        raise NotFound(f"There is no person {person_id} in the case store.")
    open_case = uow.cases.open_case(person_id)
    if open_case is not None:
        # The team is named only to someone with a role in it (issue 8: nothing about a person outside one's teams).
        team = f" in {ctx.org.team(open_case.team).name}" if permissions.may_view(ctx.org, actor, "view_case", open_case.team) else ""
        return Rereferral(None, f"{person_id} has an open case{team}: the contact goes to the team holding it, not a re-referral (C12).")
    closed = sorted((c for c in uow.cases.cases_of(person_id) if c.closed_on is not None), key=lambda c: (c.closed_on, c.id))
    when = contact_date or local_today(ctx.clock)
    if not closed:
        return Rereferral(None, f"{person_id} has no closed case: this is a new referral. Nothing was recorded.")
    last = closed[-1]
    assert last.closed_on is not None
    if not within_three_months(last.closed_on, when):
        return Rereferral(
            None,
            f"Not within the 3-month closing principle (C12): {person_id}'s case closed on {last.closed_on:%d/%m/%Y}, "
            f"the contact is of {when:%d/%m/%Y}. This is a new referral. Nothing was recorded.",
        )
    pending = [r for r in uow.requests.for_person(person_id) if r.kind == REREFERRAL.name and r.state in OPEN_STATES]
    if pending:
        raise IllegalTransition(f"{person_id} already has a re-referral waiting for the team's manager ({pending[0].id}).")
    match = same_reason(last, code)
    details = {
        "reason": code,
        "contact_date": when.isoformat(),
        "closed_on": last.closed_on.isoformat(),
        "closure_reason": last.closure_reason,
        "primary_need_at_closure": last.primary_need,
        "same_reason": match,
        "proposed_worker": last.worker,
        "applies_to": [person_id],
        **({"contact_id": contact_id} if contact_id is not None else {}),
    }
    request = open_request(
        uow, ctx, REREFERRAL, last, actor, details,
        already_open=lambda: f"{person_id} already has a re-referral waiting for the team's manager.",
        source=source,
        event_detail={"reason": code, "contact_date": when.isoformat(), "same_reason": match},
    )
    team = ctx.org.team(last.team).name
    return Rereferral(request, f"Re-referral {request.id} for {person_id} sent to the managers of {team} (closed {last.closed_on:%d/%m/%Y}; C12).")


def rereferral(
    uow: UnitOfWork, ctx: Context, actor: str, person_id: str, reason: str, *, contact_date: dt.date | None = None, source: str | None = None
) -> str:
    """``/case rereferral <person-id> <reason>``: consider the contact and commit if it is one."""
    outcome = consider(uow, ctx, actor, person_id, reason, contact_date=contact_date, source=source)
    if outcome.request is not None:
        uow.commit()
    return outcome.message


def accept(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, worker: str | None = None, *, source: str | None = None) -> str:
    """C12: the previous team takes the person back: a new involvement for the proposed
    worker, or another worker of the team the manager chooses."""
    request = load(uow, request_id)
    precheck(  # next_state refuses accept/decline on a kind without them
        ctx, request, "accept", actor, uow)
    worker = worker or str(request.details.get("proposed_worker") or "")
    cases = open_involvement(
        uow, ctx, origin=request, actor=actor, people=[request.person_id], previous={request.person_id: request.case}, worker=worker, source=source,
        reshow_origin=False,
    )
    detail = {"worker": worker, "cases": [c.id for c in cases]}

    def _apply(r: Request) -> None:
        r.details = {**r.details, "accepted_worker": worker, "cases": detail["cases"]}

    transition(uow, ctx, request, "accept", actor, source=source, detail=detail, apply=_apply)
    uow.commit()
    return f"Accepted: {request.person_id} reopens in {ctx.org.team(request.team).name}, allocated to {ctx.org.name_of(worker)} (C12)."


def decline(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, reason: str, *, source: str | None = None) -> str:
    """C12: not agreed; a reason is needed and the team's group managers are told (a DM each)."""
    request = load(uow, request_id)
    precheck(  # next_state refuses accept/decline on a kind without them
        ctx, request, "decline", actor, uow)
    reason = reason.strip()
    if not reason:
        raise FieldErrors({"reason": "Say why the re-referral is declined: the group managers decide next (C12)."})
    group_managers = [p.key for p in ctx.org.members(request.team, Role.GROUP_MANAGER)]
    if not group_managers:  # nowhere to escalate: refuse rather than lose the decision
        raise WorkflowError(f"{ctx.org.team(request.team).name} has no group manager in the config to escalate to; nothing changed.")

    def _apply(r: Request) -> None:
        r.note = reason

    transition(uow, ctx, request, "decline", actor, source=source, detail={"reason": reason, "escalated_to": group_managers}, apply=_apply)
    told = [key for key in group_managers if direct_message(uow, ctx, key, {"view": "rereferral_declined", "request_id": request.id})]
    uow.commit()
    return f"Declined re-referral {request.id}; told the group managers: {', '.join(ctx.org.name_of(k) for k in told)}."


def consider_contacts(uow: UnitOfWork, ctx: Context, actor: str = "import") -> list[str]:
    """C12 for imported contacts (contacts.csv): each contact after a person's latest closure and
    within 3 months of it becomes a re-referral card, once (a request remembers its contact).
    Returns one line per re-referral made; other contacts are new referrals: nothing written."""
    made: list[str] = []
    already = {
        r.details.get("contact_id")
        for r in uow.session.scalars(select(Request).where(Request.kind == REREFERRAL.name))
    }
    # Only a person with a closed case and no open one can be re-referred (``consider`` says
    # so for the others and writes nothing): asked once in SQL, not per contact (issue 9: an
    # export brings thousands of contacts, nearly all about open cases).
    open_case = exists().where(Case.person_id == Contact.person_id, Case.closed_on.is_(None))
    closed_case = exists().where(Case.person_id == Contact.person_id, Case.closed_on.is_not(None))
    candidates = select(Contact).where(~open_case, closed_case).order_by(Contact.contact_date, Contact.id)
    for contact in uow.session.scalars(candidates).all():
        if contact.id in already:
            continue
        try:
            outcome = consider(
                uow, ctx, actor, contact.person_id, contact.reason, contact_date=contact.contact_date, contact_id=contact.id, source="import:contacts.csv"
            )
        except WorkflowError:
            continue  # e.g. a re-referral is already waiting for the person: the manager has it
        if outcome.request is not None:
            uow.commit()  # each re-referral its own transaction: a later refusal cannot undo it
            made.append(outcome.message)
    return made
