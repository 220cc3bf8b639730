"""Case closure: the worker's request (C2), the manager's audit facts (C3, C4),
the business-support closure audit (C6-C10). Withdrawal (C11) is the shared one;
reopening a finished closure is ``workflows.reopen``.

Approve, return, claim, reassign and withdraw are the shared mechanism in
``workflows.requests``; this module adds only what is particular to closure.
"""

from __future__ import annotations

import dataclasses
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
from store.uow import UnitOfWork
from workflows import audits, permissions, purchasing, record_items, retention, work_steps
from workflows.clock import local_today
from workflows.errors import FieldErrors, IllegalTransition, NotAllowed, NotFound, WorkflowError
from workflows.org import Organisation, Role
from workflows.requests import (
    APPROVED,
    BLOCKED,
    CLAIMED,
    OPEN_STATES,
    REQUESTED,
    SYSTEM_ACTOR,
    ChecklistItem,
    Context,
    RequestKind,
    announce,
    check_allowed,
    covering,
    describe,
    direct_message,
    load,
    never_seen_face_to_face,
    next_state,
    open_request,
    precheck,
    register_kind,
    route_to_supervisor,
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

# C2: worktray takes a closure date at most 30 days ahead: calendar days, not working days (a date on a form).
MAX_DAYS_AHEAD = 30
END_REASON = "Case closed"
OUTCOMES = ("form completed", "section completed", "NFA case closed")  # C6.5, C6.6
CLOSING_KINDS = {  # C10: what each record item is called on the checklist
    "care_package": "Care package (End Purchased Service request)",
    "legal_status": "Non-LAC legal status",
    "looked_after": "Looked-after period",
    "placement_address": "Placement address",
    "registration": "Registration",
    "class": "Class",
    "home_address": "Home address",
}


# C3: the adults' case closure checklist of seed 002, the manager's audit before approving.
_H_PERSON, _H_CARER, _H_ASSESS = "Personal details", "Carer, assessment, review", "Good conversation, MCA, review, S42, DoLS"
_H_PLAN, _H_FINANCE, _H_PRACTICE = "Support planning, best interest outcome, safeguarding", "Finance, if appropriate", "Best practice"
ADULT_CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("1", _H_PERSON, "Is the person's ethnicity correctly recorded? Did the worker ask?"),
    ChecklistItem("2", _H_PERSON, "Does the record include all appropriate contacts, including other professionals (GP, schools for "
                  "any children in the household), accurate and up to date? If there is a keysafe, is its number recorded?"),
    ChecklistItem("3", _H_CARER, "Is the carer's conversation / follow-up recorded and shared with the carer? Without a carer's "
                  "assessment, was one offered and declined?"),
    ChecklistItem("4", _H_CARER, "Are the carer's details correctly recorded and linked to the cared-for person?"),
    ChecklistItem("5", _H_ASSESS, "Is there an up-to-date signed consent to share information on file?"),
    ChecklistItem("6", _H_ASSESS, "Does the record show a relevant assessment or review of the appropriate type (e.g. Good "
                  "Conversation, Mental Capacity Assessment)?"),
    ChecklistItem("7", _H_ASSESS, "Is it evidenced that the assessment or review was sent to the person and stakeholders as appropriate?"),
    ChecklistItem("8", _H_ASSESS, "Has the assessment or review been authorised?"),
    ChecklistItem("9", _H_PLAN, "Is there a clear record of the outcome (best interest notes, DoLS outcome notified, protection plan "
                  "shared, safeguarding episode closed, support plan completed and sent)? Have all old services ended?"),
    ChecklistItem("10", _H_PLAN, "Are case notes up to date, appropriate and complete?"),
    ChecklistItem("11", _H_PLAN, "Is there an assessment or review on file, and have the person, carer and stakeholders been sent a copy?"),
    ChecklistItem("12", _H_FINANCE, "Has the financial process been discussed with the person and carer/family, and documented in a case note?"),
    ChecklistItem("13", _H_FINANCE, "Has the person been referred for a financial assessment, and has it been carried out?"),
    ChecklistItem("14", _H_FINANCE, "Has the case been to Challenge Panel with the outcome recorded and uploaded? Has funding been "
                  "authorised and the service provision set up?"),
    ChecklistItem("15", _H_FINANCE, "If a service has ended, has its service provision ended on the system?"),
    ChecklistItem("16", _H_PRACTICE, "Was the client physically seen by the social worker immediately before closure? If not, when "
                  "were they last seen, and why was a final visit not needed? Never seen: Service Manager or Head of Service "
                  "agreement is required (C4)."),
    ChecklistItem("17", "Risk", "Is effective risk management evidenced in the assessment and care and support plan (protection plan "
                  "in safeguarding cases; high-risk, complex or self-neglect clients seen face to face or escalated to the Head of "
                  "Service; recommended consultations and onward referrals completed)?"),
    ChecklistItem("18", "Supervision", "Is there recorded evidence of supervision on the client's record (dates, discussion, "
                  "actions and decisions)?"),
)


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
    no_visit_reason: str = Field(default="", max_length=3000, description="C4: why a final face-to-face visit was not needed")


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
    if needs_no_visit_reason(case) and not form.no_visit_reason.strip():
        errors["no_visit_reason"] = "This client has never been seen face to face: note why a final face-to-face visit was not needed (C4)."
    if errors:
        raise FieldErrors(errors)
    chosen = [case.person_id] + [p for p in form.applies_to if p != case.person_id]
    return chosen


def needs_no_visit_reason(case: Case) -> bool:
    """C4, the adults' rule: an adult never seen face to face needs the worker's note of
    why a final face-to-face visit was not needed (and a service manager's or head of
    service's agreement). Children's closures have no such rule."""
    return is_adult(case) and case.person.last_seen_face_to_face is None


def check_retention_rules(ctx: Context, cases: dict[str, Case]) -> None:
    """C6.4: each person's own case type needs a rule in the council's schedule;
    without one the closure is refused (nothing falls back to another criteria)."""
    for person_id, case in cases.items():
        if ctx.org.retention_criteria(case.case_type) is None:
            raise retention.NoRetentionRule(person_id, case.case_type)


def _cases_closing(case: Case, applies_to: Sequence[str], member_cases: dict[str, Case | None]) -> dict[str, Case]:
    """Each person the closure applies to, with their own open case (validated by then)."""
    found: dict[str, Case] = {case.person_id: case}
    for person_id in applies_to:
        member_case = member_cases.get(person_id)
        if person_id != case.person_id and member_case is not None:
            found[person_id] = member_case
    return found


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
    if not permissions.has(ctx.org, actor, CLOSURE.name, "request", case.team):
        raise NotAllowed(f"You cannot request closure of {person_id}: you are not a worker or manager in {ctx.org.team(case.team).name}.")
    _refuse_second_open_request(uow, person_id)
    members = member_cases(uow, form)
    applies_to = validate_form(form, case, family_members(uow, person_id), local_today(ctx.clock), members)
    check_retention_rules(ctx, _cases_closing(case, applies_to, members))
    request = open_request(
        uow, ctx, CLOSURE, case, actor, _details(form, applies_to),
        already_open=lambda: _open_request_text(uow, person_id), source=source, event_detail={"reason": form.reason},
    )
    route_to_supervisor(uow, ctx, request)  # C2
    uow.commit()
    return request


def case_types_without_retention(uow: UnitOfWork, org: Organisation) -> list[str]:
    """Case types of open cases that the council's retention schedule has no line for (C6.4):
    their closures will be refused, so the operator is told when worktray starts."""
    return sorted(t for t in uow.cases.open_case_types() if org.retention_criteria(t) is None)


def _refuse_second_open_request(uow: UnitOfWork, person_id: str) -> None:
    if any(r.kind == CLOSURE.name and r.state in OPEN_STATES for r in uow.requests.for_person(person_id)):
        raise IllegalTransition(_open_request_text(uow, person_id))


def _open_request_text(uow: UnitOfWork, person_id: str) -> str:
    existing = [r for r in uow.requests.for_person(person_id) if r.kind == CLOSURE.name and r.state in OPEN_STATES]
    if not existing:
        return f"Someone was quicker: person {person_id} already has an open closure request."
    return f"Person {person_id} already has an open closure request ({existing[0].id}, {existing[0].state})."


def resubmit(
    uow: UnitOfWork, ctx: Context, request_id: int, actor: str, form: ClosureForm, *, source: str | None = None
) -> str:
    """After a return: the worker resubmits; a fresh card, the old one superseded."""
    request = load(uow, request_id)
    precheck(ctx, request, "resubmit", actor, uow)
    case = request.case
    members = member_cases(uow, form)
    applies_to = validate_form(form, case, family_members(uow, request.person_id), local_today(ctx.clock), members)
    check_retention_rules(ctx, _cases_closing(case, applies_to, members))
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
    route_to_supervisor(uow, ctx, request)  # C2: the supervisor gets the fresh revision
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

    open_steps: list[WorkStep]  # C6.1 with D3: the steps that block a closure today
    unauthorised_assessments: list[str]
    never_seen: bool  # C4 (adults): needs a service manager's or head of service's agreement
    last_seen: dt.date | None
    last_supervision: dt.date | None
    later_steps: list[WorkStep] = field(default_factory=list)  # D3: future steps not yet incoming (they do not block)


def manager_audit(uow: UnitOfWork, ctx: Context, request: Request) -> ManagerAudit:
    """What the manager checks before approving (C3-C5, D3); drawn once per request in a read-only unit of work."""
    return uow.memo(("manager_audit", request.id), lambda: _manager_audit(uow, ctx, request))


def _manager_audit(uow: UnitOfWork, ctx: Context, request: Request) -> ManagerAudit:
    people = applies_to(request)
    blocking = work_steps.blocking_steps(uow, ctx, people)
    unauthorised = [
        f"{a.assessment_type} ({a.person_id})" for a in uow.cases.assessments(people) if a.authorised_on is None
    ]
    person = request.person
    return ManagerAudit(
        open_steps=blocking,
        unauthorised_assessments=unauthorised,
        never_seen=is_adult(request.case) and bool(never_seen_face_to_face(uow, request)),
        last_seen=person.last_seen_face_to_face,
        last_supervision=person.last_supervision_on,
        later_steps=[s for s in uow.cases.open_work_steps(people) if s not in blocking],
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
    newly_blocked: bool = False  # C6.1: this opening blocked the item (an already blocked one tells nobody again)
    told: list[str] = field(default_factory=list)  # who got a direct message about the blocking steps, this time


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
        blocking_steps=work_steps.blocking_steps(uow, ctx, applies_to(request)),  # C6.1, D3
        worker_relationships=[],
        organisation_relationships=[],
        service_user_groups=[],
        retention={},
        record_items=[],
    )
    for step in uow.cases.open_work_steps(applies_to(request)):  # D3: not work to do yet, so not ended either
        if step not in plan.blocking_steps:
            plan.kept.append(f"{step.person_id}: future work step '{step.title}' ({step.scheduled_on:%d/%m/%Y}, not incoming yet, D3)")
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
        own_case = _own_case(uow, request, person_id)
        _plan_service_user_groups(uow, ctx, plan, own_case)
        criteria = ctx.org.retention_criteria(own_case.case_type)  # C6.4: this person's own case type
        if criteria is None:
            raise retention.NoRetentionRule(person_id, own_case.case_type)
        existing = [r.retain_until for r in uow.cases.retentions(person_id)]
        dob = person.date_of_birth if person else None
        plan.retention[person_id] = retention.decide(criteria, dob, when, existing)
        plan.record_items.extend(uow.cases.open_record_items(person_id))
    return plan


def _own_case(uow: UnitOfWork, request: Request, person_id: str) -> Case:
    """The person's own case that this closure closes (C6.4: a sibling's own case type)."""
    if person_id == request.person_id:
        return request.case
    case = uow.cases.open_case(person_id)
    if case is not None and case.team == request.team:
        return case
    in_team = [c for c in uow.cases.cases_of(person_id) if c.team == request.team]
    if not in_team:
        raise WorkflowError(f"Nothing changed: {person_id} has no case in {request.team} for this closure to close.")
    return in_team[-1]


def _plan_service_user_groups(uow: UnitOfWork, ctx: Context, plan: ClosurePlan, case: Case) -> None:
    """C6.3: end only the groups the closing team's service added and that are no longer
    relevant; another service's groups, or one another open case of the person still needs, stay."""
    other_teams = {c.team for c in uow.cases.cases_of(case.person_id) if c.is_open and c.id != case.id and c.team != case.team}
    for sug in uow.cases.open_service_user_groups(case.person_id):
        if not ctx.org.owns_group(case.team, sug.group):
            plan.kept.append(f"{case.person_id}: service user group {sug.group} (another service's, C6.3)")
        elif any(_owns(ctx, team, sug.group) for team in other_teams):
            plan.kept.append(f"{case.person_id}: service user group {sug.group} (still relevant to another open case, C6.3)")
        else:
            plan.service_user_groups.append(sug)


def _owns(ctx: Context, team: str, group: str) -> bool:
    try:
        return ctx.org.owns_group(team, group)
    except KeyError:  # a case of a team no longer in the config
        return False


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
    check_allowed(ctx.org, actor, "complete", request, covering(uow, ctx, actor))
    plan = closure_plan(uow, ctx, request)
    if plan.blocking_steps and request.state == CLAIMED:
        step_ids = [s.id for s in plan.blocking_steps]
        transition(uow, ctx, request, "block", actor, source=source, detail={"steps": step_ids})
        plan.told = _tell_about_blocking_steps(uow, ctx, request, plan.blocking_steps)
        plan.newly_blocked = True
        uow.commit()
    return plan


def _tell_about_blocking_steps(uow: UnitOfWork, ctx: Context, request: Request, steps: list[WorkStep]) -> list[str]:
    """C6.1: each step's assignee, the allocated worker and the team manager get a DM.

    Returns who was sent one (people not in the organisation config cannot be reached)."""
    recipients: dict[str, list[int]] = {}
    for step in steps:
        recipients.setdefault(step.assignee, []).append(step.id)
    everything = [s.id for s in steps]
    # The allocated worker and the manager hear of every step, even when they also hold one.
    recipients[request.case.worker] = everything
    for manager in ctx.org.members(request.team, Role.MANAGER):
        recipients[manager.key] = everything
    told = []
    for person_key, step_ids in recipients.items():
        body = {"view": "blocked", "request_id": request.id, "steps": step_ids, "recipient": person_key}
        if direct_message(uow, ctx, person_key, body):
            told.append(person_key)
    return told


def recheck(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, *, source: str | None = None) -> str:
    """C6.1: unblock once every step is done (or cancelled by a manager, C7); a future step
    not yet incoming (D3) does not keep it blocked."""
    request = load(uow, request_id)
    next_state(ctx.org, request, "recheck")  # not blocked (any more): say what already happened
    check_allowed(ctx.org, actor, "recheck", request, covering(uow, ctx, actor))
    remaining = work_steps.blocking_steps(uow, ctx, applies_to(request))
    if remaining:
        names = "; ".join(f"{s.title} ({ctx.org.name_of(s.assignee)})" for s in remaining)
        return f"Still blocked: {len(remaining)} work step(s) remain open: {names}."
    transition(uow, ctx, request, "recheck", actor, source=source)
    uow.commit()
    return f"Request {request.id} is unblocked. Open the closure audit to finish it."


RECHECK_JOB = "recheck-blocked"  # its run per day in job_runs


def recheck_blocked(uow: UnitOfWork, ctx: Context) -> int:
    """The morning job (C6.1): each blocked closure is re-checked as the holder's Re-check
    does, by worktray itself (``SYSTEM_ACTOR``); those whose blocking steps are all done or
    cancelled (or no longer due, D3) are unblocked: the event log and the cards are updated
    (the outbox) as any transition does. Reminding the steps' assignees is not done here.

    Exactly once a day across instances and restarts: the run claims (job, "*", today) in
    job_runs, in the one transaction that unblocks. Returns how many were unblocked.

    In one unit of work (tests, by hand); the scheduler gives ``unblockable`` a read-only one
    and ``unblock`` a writing one."""
    return unblock(uow, ctx, unblockable(uow, ctx))


def unblockable(uow: UnitOfWork, ctx: Context) -> list[int]:
    """The reading half of ``recheck_blocked``, meant for a read-only unit of work: the blocked
    closures none of whose steps block any more. It looks up each blocked closure's steps
    (hundreds at scale, ~100 ms), which in a writing unit of work held SQLite's write lock (issue 9)."""
    return [
        request.id
        for request in uow.requests.in_states_everywhere([BLOCKED])
        if request.kind == CLOSURE.name and not work_steps.blocking_steps(uow, ctx, applies_to(request))
    ]


def unblock(uow: UnitOfWork, ctx: Context, request_ids: Sequence[int]) -> int:
    """The writing half of ``recheck_blocked``: claim today's run, then unblock each closure
    ``unblockable`` found, checked again here (still blocked, still nothing blocking: it read
    the store a moment ago), in one transaction. A closure that became unblockable after the
    read waits for tomorrow's run, as one that became so just after the run always did."""
    now = ctx.clock.now()
    today = local_today(ctx.clock).isoformat()
    if not uow.claim_run(job=RECHECK_JOB, team=work_steps.ALL_TEAMS, period=today, at=now):
        return 0
    unblocked = 0
    for request_id in request_ids:
        request = uow.requests.get(request_id)
        if request is None or request.state != BLOCKED or work_steps.blocking_steps(uow, ctx, applies_to(request)):
            continue
        transition(uow, ctx, request, "recheck", SYSTEM_ACTOR, source="morning", system=True)
        unblocked += 1
    uow.commit()
    return unblocked


def cancel_step(
    uow: UnitOfWork, ctx: Context, request_id: int, step_id: int, actor: str, reason: str, *, source: str | None = None
) -> str:
    """C7: a manager cancels an incoming or future step with a reason; never an incomplete one."""
    request = load(uow, request_id)
    refuse_unless_steps_cancellable(ctx, request)
    check_allowed(ctx.org, actor, "cancel_step", request, covering(uow, ctx, actor))
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


# C7: steps are cancelled through a request that is still going somewhere. A returned one
# waits for its worker (the manager's card offers no Cancel then); a withdrawn or closed
# one is over, and must not become a way to cancel work on a case that stays open.
STEP_CANCEL_STATES = (REQUESTED, APPROVED, CLAIMED, BLOCKED)


def refuse_unless_steps_cancellable(ctx: Context, request: Request) -> None:
    """Refuse (changing nothing) to cancel a work step through a request that is not open for it."""
    if request.state not in STEP_CANCEL_STATES:
        raise IllegalTransition(
            f"Nothing changed: work steps can be cancelled only through an open request (C7). {describe(ctx.org, request)}"
        )


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
    choices: record_items.RecordChoices | None = None,
    source: str | None = None,
) -> str:
    """C6.2-C6.6 and C8-C10: apply the audit to the store; the case is closed.

    ``confirmed`` must hold every checklist item ticked by the holder:
    "closure_date", "relationships", "retention", "items" (if any are open:
    the open record items were reviewed) and the three outcomes. ``choices``
    say which open record items this closure ends (C10): nothing else is ended;
    chosen care packages raise End Purchased Service requests.
    """
    request = load(uow, request_id)
    if request.state == BLOCKED:
        raise IllegalTransition(f"Nothing changed. {describe(ctx.org, request)} Re-check once its work steps are done.")
    precheck(ctx, request, "complete", actor, uow)
    plan = closure_plan(uow, ctx, request)
    if plan.blocking_steps:
        raise IllegalTransition("Work steps are still open on the record: open the audit again to block the item (C6.1).")
    needed = ["closure_date", "relationships", "retention", *(["items"] if plan.record_items else []), *OUTCOMES]
    missing = [c for c in needed if c not in confirmed]
    if missing:
        raise FieldErrors({"checklist": "Tick every item of the closure audit before finishing: " + ", ".join(missing) + "."})
    choices = choices or record_items.RecordChoices()
    choices = dataclasses.replace(choices, end_reasons={**(end_reasons or {}), **choices.end_reasons})
    chosen = record_items.decide(plan.record_items, choices, purchasing_channel=ctx.org.purchasing_channel_of(request.team))
    purchasing.refuse_if_open(uow, list(chosen.end_purchases))
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
        record_items.apply(chosen, when)  # C10: only what business support chose
        closed_cases = []
        for person_id in applies_to(r):  # C6.6: NFA case closed
            case = uow.cases.open_case(person_id)
            if case is not None and case.team == r.team:
                case.closed_on = when
                case.closure_reason = str(r.details["reason"])
                audits.mark_audited(case, local_today(ctx.clock))  # C13: the closure audit is an audit
                closed_cases.append(case.id)
        # What this closure ended, so that a reversal within 2 weeks (C11) can reopen exactly that.
        r.details = {**r.details, "outcomes": list(OUTCOMES), "ended": {**ended, "cases": closed_cases}}

    ended = {
        "worker_relationships": [w.id for w in plan.worker_relationships],
        "organisation_relationships": [o.id for o in plan.organisation_relationships],
        "service_user_groups": [s.id for s in plan.service_user_groups],
        "record_items": chosen.ended_ids,
    }
    detail = {**{f"ended_{k}": v for k, v in ended.items()}, "retention": {p: d.summary() for p, d in plan.retention.items()}}
    transition(uow, ctx, request, "complete", actor, source=source, detail={**detail, **chosen.event_detail()}, apply=_apply)
    _raise_end_purchases(uow, ctx, request, chosen, actor, source)
    direct_message(uow, ctx, request.requested_by, {"view": "closed", "request_id": request.id})
    uow.commit()
    raised = request.details.get("end_purchase_requests") or []
    sent = f" End Purchased Service request {', '.join(map(str, raised))} sent to the manager (C10)." if raised else ""
    return f"Closed: person {request.person_id}'s case is closed as of {when:%d/%m/%Y}.{sent}"


def _raise_end_purchases(
    uow: UnitOfWork, ctx: Context, request: Request, decision: record_items.RecordDecision, actor: str, source: str | None
) -> None:
    """C10: chosen care packages are not ended here; each person's go to the manager as an
    End Purchased Service request. The closure records which requests it raised."""
    when = closure_date_of(request)
    raised = [
        purchasing.raise_request(uow, ctx, request, person_id, items, when, actor, source=source).id
        for person_id, items in decision.end_purchases.items()
    ]
    request.details = {
        **request.details,
        "end_purchase_requests": raised,
        "made_primary": [i.id for i in decision.make_primary],
        "kept_record_items": [i.id for i in decision.kept],
    }


def may_agree_never_seen(org: Organisation, actor: str, request: Request, covering: Sequence[str] = ()) -> bool:
    """C4: a service manager or head of service of the team (the table's ``approve_never_seen``),
    or the deputy of one (act-for)."""
    return any(permissions.has(org, p, CLOSURE.name, "approve_never_seen", request.team) for p in (actor, *covering))


def _check_approve(uow: UnitOfWork, ctx: Context, request: Request, actor: str) -> None:
    """C4, the adults' rule: an adult never seen face to face needs a service manager's
    or a head of service's agreement. Children's closures have no such rule."""
    if not is_adult(request.case):
        return
    never_seen = never_seen_face_to_face(uow, request)
    if never_seen and not may_agree_never_seen(ctx.org, actor, request, covering(uow, ctx, actor)):
        raise NotAllowed(
            f"Nothing changed: {', '.join(never_seen)} never seen face to face: a service manager or head of service must agree this closure (C4)."
        )


def _approval_checklist(request: Request) -> Sequence[ChecklistItem]:
    """C3: for adults' cases the manager's audit is the 18-item checklist of seed 002."""
    return ADULT_CHECKLIST if is_adult(request.case) else ()


CLOSURE = register_kind(
    RequestKind(name="closure", label="Closure request", check_approve=_check_approve, approval_checklist=_approval_checklist)
)
