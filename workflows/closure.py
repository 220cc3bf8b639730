"""Case closure: the worker's request (C2), the manager's audit facts (C3, C4),
the business-support closure audit (C6-C10). Withdrawal (C11) is the shared one;
reopening a finished closure is ``workflows.reopen``.

Approve, return, claim, reassign and withdraw are the shared mechanism in
``workflows.requests``; this module adds only what is particular to closure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from store.models import (
    Case,
    FileRetention,
    OrganisationRelationship,
    RecordItem,
    Request,
    ServiceUserGroup,
    WorkerRelationship,
    WorkStep,
)
from store.uow import DuplicateOpenRequest, UnitOfWork
from workflows import retention
from workflows.clock import local_today
from workflows.errors import FieldErrors, IllegalTransition, NotAllowed, NotFound, WorkflowError
from workflows.org import Role
from workflows.requests import (
    APPROVED,
    BLOCKED,
    CLAIMED,
    OPEN_STATES,
    REQUESTED,
    Context,
    RequestKind,
    announce,
    check_allowed,
    describe,
    direct_message,
    load,
    never_seen_face_to_face,
    next_state,
    precheck,
    register_kind,
    transition,
)

# S1: CIN census reasons for closure, for children's cases.
CHILD_REASONS: dict[str, str] = {
    "RC1": "Adopted",
    "RC2": "Died",
    "RC3": "Child arrangements order",
    "RC4": "Special guardianship order",
    "RC5": "Transferred to services of another local authority",
    "RC6": "Transferred to adult social care services",
    "RC7": "Services ceased for any other reason, including child no longer in need",
    "RC8": "Case closed after assessment, no further action",
    "RC9": "Case closed after assessment, referred to early help",
}

# C1: the reasons an adult's case may close.
ADULT_REASONS: dict[str, str] = {
    "A1": "Objectives achieved, no further input needed",
    "A2": "Ongoing support needed but no role for social care",
    "A3": "Client with capacity declines; no statutory reason to continue",
    "A4": "Moved permanently / transferred to another local authority",
}

MAX_DAYS_AHEAD = 30
END_REASON = "Case closed"
OUTCOMES = ("form completed", "section completed", "NFA case closed")  # C6.5, C6.6
CLOSING_KINDS = {  # C10: what each record item is called on the checklist
    "care_package": "Care package (request to the purchasing team)",
    "legal_status": "Non-LAC legal status",
    "looked_after": "Looked-after period",
    "placement_address": "Placement address",
    "registration": "Registration",
    "class": "Class",
}


def is_adult(case: Case) -> bool:
    return case.case_type == "ADULT"


def reasons_for(case: Case) -> dict[str, str]:
    return ADULT_REASONS if is_adult(case) else CHILD_REASONS


class ClosureForm(BaseModel):
    """C2: what the worker's closure step carries."""

    reason: str
    closure_date: dt.date
    summary: str = Field(min_length=1, max_length=3000)
    visit_done: bool = False
    letter_done: bool = False
    evaluation_done: bool = False
    applies_to: list[str] = Field(default_factory=list, description="family members the closure applies to")


def validate_form(
    form: ClosureForm,
    case: Case,
    members: Sequence[str],
    today: dt.date,
    member_cases: dict[str, Case | None] | None = None,
) -> list[str]:
    """Check the form against the case; raise FieldErrors naming each bad field.

    Returns the person IDs the closure applies to (the person alone, or the
    chosen members of the family group, always including the person).
    """
    errors: dict[str, str] = {}
    reasons = reasons_for(case)
    if form.reason not in reasons:
        kind = "an adult's case (C1)" if is_adult(case) else "a child's case (CIN census RC1-RC9)"
        errors["reason"] = f"Choose a reason for {kind}."
    if form.closure_date < case.opened_on:
        errors["closure_date"] = f"The closure date cannot be before the case opened ({case.opened_on:%d/%m/%Y})."
    elif form.closure_date > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        errors["closure_date"] = f"The closure date cannot be more than {MAX_DAYS_AHEAD} days ahead."
    if not form.summary.strip():
        errors["summary"] = "Write a closing summary."
    unknown = [p for p in form.applies_to if p not in members]
    if unknown:
        errors["applies_to"] = f"Not in this family group: {', '.join(unknown)}."
    elif member_cases is not None:
        problem = _member_problem(form, case, member_cases)
        if problem:
            errors["applies_to"] = problem
    if errors:
        raise FieldErrors(errors)
    chosen = [case.person_id] + [p for p in form.applies_to if p != case.person_id]
    return chosen


def _member_problem(form: ClosureForm, case: Case, member_cases: dict[str, Case | None]) -> str | None:
    """Each family member the closure applies to needs an open case in the same
    team that opened on or before the closure date."""
    for person_id in form.applies_to:
        if person_id == case.person_id:
            continue
        member_case = member_cases.get(person_id)
        if member_case is None or member_case.team != case.team:
            return f"{person_id} has no open case in this team to close."
        if form.closure_date < member_case.opened_on:
            return f"{person_id}'s case opened on {member_case.opened_on:%d/%m/%Y}, after the closure date."
    return None


def member_cases(uow: UnitOfWork, form: ClosureForm) -> dict[str, Case | None]:
    return {p: uow.cases.open_case(p) for p in form.applies_to}


def family_members(uow: UnitOfWork, person_id: str) -> list[str]:
    person = uow.cases.person(person_id)
    if person is None or person.family_group is None:
        return [person_id]
    return [m.id for m in person.family_group.members]


def open_case_or_refuse(uow: UnitOfWork, person_id: str) -> Case:
    if uow.cases.person(person_id) is None:
        raise NotFound(f"There is no person {person_id} in the case store.")
    case = uow.cases.open_case(person_id)
    if case is None:
        raise WorkflowError(f"Person {person_id} has no open case to close.")
    return case


def request_closure(
    uow: UnitOfWork, ctx: Context, actor: str, person_id: str, form: ClosureForm, *, source: str | None = None
) -> Request:
    """C2: the worker's closure step sends a request to the supervising manager."""
    case = open_case_or_refuse(uow, person_id)
    if not ctx.org.has_role(actor, case.team, Role.WORKER, Role.MANAGER):
        raise NotAllowed(f"You cannot request closure of {person_id}: you are not a worker or manager in {ctx.org.team(case.team).name}.")
    _refuse_second_open_request(uow, person_id)
    applies_to = validate_form(form, case, family_members(uow, person_id), local_today(ctx.clock), member_cases(uow, form))
    now = ctx.clock.now()
    request = Request(
        kind="closure",
        state=REQUESTED,
        case_id=case.id,
        person_id=person_id,
        team=case.team,
        requested_by=actor,
        requested_at=now,
        details=_details(form, applies_to),
        last_actor=actor,
        last_action="request",
        last_action_at=now,
    )
    try:
        uow.requests.add(request)
    except DuplicateOpenRequest:  # someone else asked at the same moment (the database's unique index)
        uow.rollback()
        _refuse_second_open_request(uow, person_id)
        raise
    request.case = case
    uow.record(at=now, actor=actor, action="request", request=request, to_state=REQUESTED, source=source, detail={"reason": form.reason})
    announce(uow, ctx, request)
    uow.commit()
    return request


def _refuse_second_open_request(uow: UnitOfWork, person_id: str) -> None:
    existing = [r for r in uow.requests.for_person(person_id) if r.kind == "closure" and r.state in OPEN_STATES]
    if existing:
        raise IllegalTransition(f"Person {person_id} already has an open closure request ({existing[0].id}, {existing[0].state}).")


def resubmit(
    uow: UnitOfWork, ctx: Context, request_id: int, actor: str, form: ClosureForm, *, source: str | None = None
) -> str:
    """After a return: the worker resubmits; a fresh card, the old one superseded."""
    request = load(uow, request_id)
    precheck(ctx, request, "resubmit", actor)
    case = request.case
    applies_to = validate_form(form, case, family_members(uow, request.person_id), local_today(ctx.clock), member_cases(uow, form))
    old_revision = request.revision

    def _apply(r: Request) -> None:
        r.details = _details(form, applies_to)
        r.revision = old_revision + 1

    transition(uow, ctx, request, "resubmit", actor, source=source, apply=_apply)
    # Re-show the old card, which now renders as superseded.
    uow.send(
        at=ctx.clock.now(),
        kind="card",
        channel=ctx.org.team(request.team).manager_channel,
        card_key=f"request:{request.id}:r{old_revision}:manager",
        body={"view": "request", "audience": "manager", "request_id": request.id, "revision": old_revision},
    )
    uow.commit()
    return f"Resubmitted request {request.id} to the manager."


def _details(form: ClosureForm, applies_to: list[str]) -> dict[str, object]:
    data = form.model_dump(mode="json")
    data["applies_to"] = applies_to
    return data


def closure_date_of(request: Request) -> dt.date:
    return dt.date.fromisoformat(str(request.details["closure_date"]))


def applies_to(request: Request) -> list[str]:
    return request.applies_to


# -- C3, C4: what the manager sees ---------------------------------------------


@dataclass
class ManagerAudit:
    """C3: facts computed from the store for the manager's card."""

    open_steps: list[WorkStep]
    unauthorised_assessments: list[str]
    never_seen: bool  # C4: needs a service manager's agreement
    last_seen: dt.date | None
    last_supervision: dt.date | None


def manager_audit(uow: UnitOfWork, request: Request) -> ManagerAudit:
    people = applies_to(request)
    unauthorised = [
        f"{a.assessment_type} ({a.person_id})" for a in uow.cases.assessments(people) if a.authorised_on is None
    ]
    person = request.person
    return ManagerAudit(
        open_steps=list(uow.cases.open_work_steps(people)),
        unauthorised_assessments=unauthorised,
        never_seen=bool(never_seen_face_to_face(uow, request)),
        last_seen=person.last_seen_face_to_face,
        last_supervision=person.last_supervision_on,
    )


# -- C6-C10: the business-support closure audit ----------------------------------


@dataclass
class ClosurePlan:
    """What completing the audit will do, in the seed's order (C6)."""

    closure_date: dt.date
    blocking_steps: list[WorkStep]
    worker_relationships: list[WorkerRelationship]
    organisation_relationships: list[OrganisationRelationship]
    service_user_groups: list[ServiceUserGroup]
    retention: dict[str, retention.RetentionDecision]
    record_items: list[RecordItem]
    kept: list[str] = field(default_factory=list)  # C9: what is deliberately left open


def _is_gp(text: str) -> bool:
    """C9: GP relationships stay open on the person's record."""
    return re.search(r"\bGP\b|general practi", text, re.IGNORECASE) is not None


def closure_plan(uow: UnitOfWork, ctx: Context, request: Request) -> ClosurePlan:
    """C6: what to end, add and record, as of the closure date; C9: what never to end."""
    when = closure_date_of(request)
    case = request.case
    team = ctx.org.team(case.team)
    worker_names = {case.worker.lower(), ctx.org.name_of(case.worker).lower()}
    team_names = {team.key.lower(), team.name.lower()}
    plan = ClosurePlan(
        closure_date=when,
        blocking_steps=list(uow.cases.open_work_steps(applies_to(request))),
        worker_relationships=[],
        organisation_relationships=[],
        service_user_groups=[],
        retention={},
        record_items=[],
    )
    for person_id in applies_to(request):
        person = uow.cases.person(person_id)
        for wr in uow.cases.open_worker_relationships(person_id):
            if _is_gp(wr.relationship_type) or wr.worker.lower() not in worker_names:
                plan.kept.append(f"{person_id}: {wr.relationship_type} ({wr.worker})")
            else:
                plan.worker_relationships.append(wr)
        for orel in uow.cases.open_organisation_relationships(person_id):
            if orel.organisation_kind == "team" and orel.organisation.lower() in team_names:
                plan.organisation_relationships.append(orel)
            else:
                plan.kept.append(f"{person_id}: {orel.relationship_type} ({orel.organisation})")
        plan.service_user_groups.extend(uow.cases.open_service_user_groups(person_id))
        existing = [r.retain_until for r in uow.cases.retentions(person_id)]
        dob = person.date_of_birth if person else None
        plan.retention[person_id] = retention.decide(case.case_type, dob, when, existing)
        plan.record_items.extend(uow.cases.open_record_items(person_id))
    return plan


def open_audit(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, *, source: str | None = None) -> ClosurePlan:
    """C6.1: start the audit. If work steps remain the item becomes blocked and
    the assignee of each step, the allocated worker and the team manager are told.

    Returns the plan; ``plan.blocking_steps`` non-empty means it is blocked.
    """
    request = load(uow, request_id)
    if request.state not in (CLAIMED, BLOCKED):
        # Say what already happened (a second click after the audit finished, or before a claim).
        hint = " Claim it before opening its audit." if request.state == APPROVED else ""
        raise IllegalTransition(f"Nothing changed. {describe(ctx.org, request)}{hint}")
    check_allowed(ctx.org, actor, "complete", request)
    plan = closure_plan(uow, ctx, request)
    if plan.blocking_steps and request.state == CLAIMED:
        step_ids = [s.id for s in plan.blocking_steps]
        transition(uow, ctx, request, "block", actor, source=source, detail={"steps": step_ids})
        _tell_about_blocking_steps(uow, ctx, request, plan.blocking_steps)
        uow.commit()
    return plan


def _tell_about_blocking_steps(uow: UnitOfWork, ctx: Context, request: Request, steps: list[WorkStep]) -> None:
    """C6.1: each step's assignee, the allocated worker and the team manager get a DM."""
    recipients: dict[str, list[int]] = {}
    for step in steps:
        recipients.setdefault(step.assignee, []).append(step.id)
    everything = [s.id for s in steps]
    # The allocated worker and the manager hear of every step, even when they also hold one.
    recipients[request.case.worker] = everything
    for manager in ctx.org.members(request.team, Role.MANAGER):
        recipients[manager.key] = everything
    for person_key, step_ids in recipients.items():
        body = {"view": "blocked", "request_id": request.id, "steps": step_ids, "recipient": person_key}
        direct_message(uow, ctx, person_key, body)


def recheck(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, *, source: str | None = None) -> str:
    """C6.1: unblock once every step is done (or cancelled by a manager, C7)."""
    request = load(uow, request_id)
    next_state(ctx.org, request, "recheck")  # not blocked (any more): say what already happened
    check_allowed(ctx.org, actor, "recheck", request)
    remaining = uow.cases.open_work_steps(applies_to(request))
    if remaining:
        names = "; ".join(f"{s.title} ({ctx.org.name_of(s.assignee)})" for s in remaining)
        return f"Still blocked: {len(remaining)} work step(s) remain open: {names}."
    transition(uow, ctx, request, "recheck", actor, source=source)
    uow.commit()
    return f"Request {request.id} is unblocked. Open the closure audit to finish it."


def cancel_step(
    uow: UnitOfWork, ctx: Context, request_id: int, step_id: int, actor: str, reason: str, *, source: str | None = None
) -> str:
    """C7: a manager cancels an incoming or future step with a reason; never an incomplete one."""
    request = load(uow, request_id)
    check_allowed(ctx.org, actor, "cancel_step", request)
    step = uow.cases.work_step(step_id)
    if step is None or step.person_id not in applies_to(request):
        raise NotFound(f"Work step {step_id} is not on this request's record.")
    if step.status != "open":
        raise IllegalTransition(f"Work step {step_id} is already {step.status}.")
    if step.kind not in ("incoming", "future"):
        raise IllegalTransition(
            f"'{step.title}' has been started (incomplete work): it cannot be cancelled, only finished by {ctx.org.name_of(step.assignee)} (C7)."
        )
    if not reason.strip():
        raise FieldErrors({"reason": "Give a reason for cancelling the work step (C7)."})
    step.status = "cancelled"
    step.cancel_reason = reason.strip()
    now = ctx.clock.now()
    uow.record(at=now, actor=actor, action="cancel_step", request=request, source=source, detail={"step": step_id, "reason": reason.strip()})
    _touch(uow, ctx, request)
    uow.commit()
    return f"Cancelled work step '{step.title}'."


def mark_step_done(uow: UnitOfWork, ctx: Context, step_id: int, actor: str, *, source: str | None = None) -> str:
    """The step's assignee records it finished (C6.1: they complete it)."""
    step = uow.cases.work_step(step_id)
    if step is None:
        raise NotFound(f"There is no work step {step_id}.")
    if step.assignee != actor:
        raise NotAllowed(f"Only {ctx.org.name_of(step.assignee)} can mark '{step.title}' done.")
    if step.status != "open":
        raise IllegalTransition(f"Work step '{step.title}' is already {step.status}.")
    step.status = "done"
    now = ctx.clock.now()
    uow.record(at=now, actor=actor, action="step_done", person_id=step.person_id, source=source, detail={"step": step_id})
    for request in uow.requests.for_person(step.person_id):
        if request.state in (REQUESTED, BLOCKED, CLAIMED):
            _touch(uow, ctx, request)
    uow.commit()
    return f"Marked '{step.title}' done."


def _touch(uow: UnitOfWork, ctx: Context, request: Request) -> None:
    """Re-show a request's cards after a change that is not a state transition."""
    announce(uow, ctx, request)


def complete(
    uow: UnitOfWork,
    ctx: Context,
    request_id: int,
    actor: str,
    *,
    confirmed: Sequence[str],
    end_reasons: dict[int, str] | None = None,
    source: str | None = None,
) -> str:
    """C6.2-C6.6 and C8-C10: apply the audit to the store; the case is closed.

    ``confirmed`` must hold every checklist item ticked by the holder:
    "closure_date", "relationships", "retention", "items" (if any are open)
    and the three outcomes.
    """
    request = load(uow, request_id)
    if request.state == BLOCKED:
        raise IllegalTransition(f"Nothing changed. {describe(ctx.org, request)} Re-check once its work steps are done.")
    precheck(ctx, request, "complete", actor)
    plan = closure_plan(uow, ctx, request)
    if plan.blocking_steps:
        raise IllegalTransition("Work steps are still open on the record: open the audit again to block the item (C6.1).")
    needed = ["closure_date", "relationships", "retention", *(["items"] if plan.record_items else []), *OUTCOMES]
    missing = [c for c in needed if c not in confirmed]
    if missing:
        raise FieldErrors({"checklist": "Tick every item of the closure audit before finishing: " + ", ".join(missing) + "."})
    end_reasons = end_reasons or {}
    when = plan.closure_date

    def _apply(r: Request) -> None:
        for wr in plan.worker_relationships:  # C6.3
            wr.to_date, wr.end_reason = when, END_REASON
        for orel in plan.organisation_relationships:
            orel.to_date, orel.end_reason = when, END_REASON
        for sug in plan.service_user_groups:
            sug.end_date = when
        for person_id, decision in plan.retention.items():  # C6.4, C8
            if decision.needs_new_record:
                uow.cases.add(
                    FileRetention(
                        person_id=person_id,
                        criteria=decision.criteria.name,
                        rule=decision.criteria.rule,
                        start_date=decision.start_date,
                        retain_until=decision.retain_until,
                    )
                )
        for item in plan.record_items:  # C10
            item.to_date, item.end_reason = when, end_reasons.get(item.id) or END_REASON
        closed_cases = []
        for person_id in applies_to(r):  # C6.6: NFA case closed
            case = uow.cases.open_case(person_id)
            if case is not None and case.team == r.team:
                case.closed_on = when
                case.closure_reason = str(r.details["reason"])
                closed_cases.append(case.id)
        # What this closure ended, so that a reversal within 2 weeks (C11) can reopen exactly that.
        r.details = {**r.details, "outcomes": list(OUTCOMES), "ended": {**ended, "cases": closed_cases}}

    ended = {
        "worker_relationships": [w.id for w in plan.worker_relationships],
        "organisation_relationships": [o.id for o in plan.organisation_relationships],
        "service_user_groups": [s.id for s in plan.service_user_groups],
        "record_items": [i.id for i in plan.record_items],
    }
    detail = {**{f"ended_{k}": v for k, v in ended.items()}, "retention": {p: d.summary() for p, d in plan.retention.items()}}
    transition(uow, ctx, request, "complete", actor, source=source, detail=detail, apply=_apply)
    direct_message(uow, ctx, request.requested_by, {"view": "closed", "request_id": request.id})
    uow.commit()
    return f"Closed: person {request.person_id}'s case is closed as of {when:%d/%m/%Y}."


def _check_approve(uow: UnitOfWork, ctx: Context, request: Request, actor: str) -> None:
    """C4: a person never seen face to face needs a service manager's agreement."""
    never_seen = never_seen_face_to_face(uow, request)
    if never_seen and not ctx.org.has_role(actor, request.team, Role.SERVICE_MANAGER):
        raise NotAllowed(f"{', '.join(never_seen)} never seen face to face: a service manager must agree this closure (C4).")


CLOSURE = register_kind(RequestKind(name="closure", label="Closure request", check_approve=_check_approve))
