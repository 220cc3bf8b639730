"""The transfer journey (T1, T4-T7, C13; seed 004): a case moves from one team to another.

A transfer is a request kind of its own on the shared mechanism of ``workflows.requests``:
its own transition table and permission rows, declared in ``TRANSFER`` below. ``team`` is
the sending team and ``receiving_team`` the team the case moves to; what the worker gave is
in ``request.details`` as ``workflows.transfer_terms`` documents (the radar reads it).

1. A worker or manager of the sending team raises it: receiving team, point of transfer
   (T1), planned date, short reason and the T4 standards. A pre-birth transfer before 20
   weeks' gestation is refused (T1). Raised early it is *potential* (on the radar), later
   marked ready; ready, it waits for the sending team's manager.
2. The sending team's manager approves or returns it, exactly as a closure (C3).
3. Approved, the receiving team's manager accepts it (allocating one of their workers),
   holds it on duty (T6, a delay reason) or disputes it (T5, a reason). A dispute goes to
   the group managers of both teams, who resolve it or escalate it to the service manager,
   whose decision is final. Nothing in the store moves while a transfer is disputed: the
   case stays with the sending team (T5: services to the child are never held up).
4. Accepted, the case moves at the point of transfer (at once when the planned date has
   come, else ``apply_due_transfers`` from a daily job): the sending team's worker and team
   relationships end, the receiving team's start, a new case row for the receiving team
   and the sending one closed as transferred (T7); and a transfer audit enters the
   receiving team's virtual-worker queue for business support (C13), claimed and
   completed like a closure item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from store.models import Case, OrganisationRelationship, Request, WorkerRelationship
from store.uow import UnitOfWork
from workflows import audits, permissions
from workflows.clock import local_today
from workflows.errors import FieldErrors, IllegalTransition, NotAllowed, NotFound, WorkflowError
from workflows.org import Organisation, Role
from workflows.requests import (
    APPROVED,
    DECLINED,
    REQUESTED,
    RETURNED,
    WITHDRAWN,
    Context,
    RequestKind,
    direct_message,
    load,
    open_request,
    precheck,
    register_kind,
    route_to_supervisor,
    transition,
)
from workflows.transfer_terms import (
    ACCEPTED,
    DISPUTED,
    ESCALATED,
    KIND,
    ON_DUTY,
    POINTS_OF_TRANSFER,
    POTENTIAL,
    PRE_BIRTH_MIN_WEEKS,
    RADAR_STATES,
    STANDARD_STATUSES,
    STANDARDS,
    TRANSFERRED,
)

AUDIT_KIND = "transfer_audit"  # C13: business support's audit at transfer
END_REASON = "Case transferred"  # T7: what the sending team's ended relationships say
CLOSURE_REASON = "TRANSFER"  # the sending team's case row closes with this reason (cases.closure_reason)
READINESS = {"potential": "Potential (on the radar)", "ready": "Ready for the manager"}
# C13: what business support confirm at the audit at transfer.
AUDIT_CHECKS: dict[str, str] = {
    "involvement": "Sending team's involvement ended and receiving team's started (T7)",
    "record_up_to_date": "Record up to date",
    "documents": "Documents from the transfer standards (T4) present",
}
# The two outcomes of a dispute (T5): the transfer goes ahead, or the case stays with the sending team.
OUTCOMES = {"transfer": "The transfer goes ahead", "stay": "The case stays with the sending team"}
WITH_RECEIVING = (APPROVED, ON_DUTY, DISPUTED, ESCALATED, ACCEPTED, TRANSFERRED)

# The transfer's own transition table: (state, action) -> new state.
TRANSFER_TRANSITIONS: dict[tuple[str, str], str] = {
    (POTENTIAL, "mark_ready"): REQUESTED,  # raised early, now ready for the sending manager
    (REQUESTED, "approve"): APPROVED,  # the sending team's manager, as closures (C3)
    (REQUESTED, "return"): RETURNED,
    (RETURNED, "resubmit"): REQUESTED,
    (APPROVED, "accept"): ACCEPTED,  # the receiving manager allocates a worker
    (ON_DUTY, "accept"): ACCEPTED,  # T6: allocated at last
    (APPROVED, "hold_on_duty"): ON_DUTY,  # T6: cannot allocate at once; a delay reason
    (APPROVED, "dispute"): DISPUTED,  # T5: to the group managers of both teams
    (DISPUTED, "resolve_transfer"): APPROVED,  # T5: the group managers agree it goes ahead
    (DISPUTED, "resolve_stay"): DECLINED,  # ... or that the case stays with the sending team
    (DISPUTED, "escalate"): ESCALATED,  # T5: unresolved: to the service manager
    (ESCALATED, "decide_transfer"): APPROVED,  # T5: the service manager's decision is final
    (ESCALATED, "decide_stay"): DECLINED,
    (ACCEPTED, "complete_transfer"): TRANSFERRED,  # T7 at the point of transfer
    **{(s, "withdraw"): WITHDRAWN for s in RADAR_STATES},  # the sending team may drop it while it is to come
}

# Who may do a transfer's own actions, and in which team: the permission table's "transfer"
# rows (``workflows.permissions``): the sending team raises it, the receiving team accepts,
# holds on duty or disputes (T4-T6), group managers of either team resolve, the service manager decides (T5).
TRANSFER_ROLES: dict[str, frozenset[Role]] = {a: r.roles for a, r in permissions.scope_rules(KIND).items()}
ACTING_TEAM: dict[str, str] = {a: r.side for a, r in permissions.scope_rules(KIND).items() if r.side != "sending"}


def _also_announce(org: Organisation, request: Request) -> Sequence[tuple[str, str]]:
    """Once approved, the transfer has a card in the receiving team's manager channel too."""
    if request.receiving_team and "approval" in request.details:
        return [(org.team(request.receiving_team).manager_channel, "receiving")]
    return []


def _approved_text(ctx: Context, request: Request) -> str:
    receiving = ctx.org.team(str(request.receiving_team)).name
    return f"Approved. Transfer {request.id} is now with the managers of {receiving} to accept, hold on duty or dispute."


STATE_LABELS = {
    POTENTIAL: "Potential: on the radar (T2)",
    REQUESTED: "Waiting for the sending manager",
    RETURNED: "Returned to the worker",
    APPROVED: "With the receiving team's managers",
    ON_DUTY: "Held on duty: reviewed weekly until allocated (T6)",
    DISPUTED: "Disputed: with the group managers (T5)",
    ESCALATED: "Escalated: with the service manager (T5)",
    ACCEPTED: "Accepted: moves at the point of transfer",
    TRANSFERRED: "Transferred (T7)",
    DECLINED: "Not transferred: the case stays with the sending team (T5)",
    WITHDRAWN: "Withdrawn",
}

TRANSFER = register_kind(
    RequestKind(
        name=KIND,
        label="Transfer",
        queued=False,
        approved_text=_approved_text,
        actions=frozenset(action for _, action in TRANSFER_TRANSITIONS),
        transitions=TRANSFER_TRANSITIONS,
        person_rule_as={"mark_ready": "resubmit"},
        also_announce=_also_announce,
        state_labels=STATE_LABELS,
        action_words={
            "mark_ready": "marked ready",
            "hold_on_duty": "held on duty",
            "dispute": "disputed",
            "resolve_transfer": "resolved (the transfer goes ahead)",
            "resolve_stay": "resolved (the case stays)",
            "escalate": "escalated",
            "decide_transfer": "decided, finally (the transfer goes ahead)",
            "decide_stay": "decided, finally (the case stays)",
            "complete_transfer": "moved to the receiving team (T7), as accepted",
        },
    )
)

# C13: the audit at transfer is a virtual-worker item like a closure's: claim, unclaim, reassign, complete.
TRANSFER_AUDIT = register_kind(
    RequestKind(name=AUDIT_KIND, label="Transfer audit", actions=frozenset({"claim", "unclaim", "reassign", "complete"}))
)


# -- 1. raising it -------------------------------------------------------------------


def _text(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def validate(ctx: Context, case: Case, values: Mapping[str, Any]) -> dict[str, Any]:
    """The form's answers -> the transfer's details (workflows.transfer_terms), or FieldErrors.

    Keys: receiving_team, point_of_transfer, planned_date (ISO), reason, gestation_weeks
    (pre-birth), readiness ("potential" | "ready"), std_<key> (done | na | outstanding) and
    why_<key> (why not applicable) for each T4 standard.
    """
    errors: dict[str, str] = {}
    receiving = _text(values, "receiving_team")
    if receiving not in [t.key for t in ctx.org.teams] or receiving == case.team:
        errors["receiving_team"] = "Choose the team the case moves to (another team than the one holding it)."
    point = _text(values, "point_of_transfer")
    if point not in POINTS_OF_TRANSFER:
        errors["point_of_transfer"] = "Choose the point of transfer (T1)."
    planned: dt.date | None = None
    try:
        planned = dt.date.fromisoformat(_text(values, "planned_date"))
    except ValueError:
        errors["planned_date"] = "Give the planned transfer date as YYYY-MM-DD."
    reason = _text(values, "reason")
    if not reason or len(reason) > 500:
        errors["reason"] = "Give a short reason for the transfer (up to 500 characters)."
    details: dict[str, Any] = {}
    if point == "pre_birth":  # T1: not before 20 weeks' gestation
        weeks = _text(values, "gestation_weeks")
        if not (weeks.isascii() and weeks.isdigit() and len(weeks) <= 3):  # int() raises on "²" and on thousands of digits
            errors["gestation_weeks"] = "A pre-birth transfer needs the weeks of gestation (T1)."
        elif int(weeks) < PRE_BIRTH_MIN_WEEKS:
            errors["gestation_weeks"] = f"Not before {PRE_BIRTH_MIN_WEEKS} weeks' gestation: a pre-birth transfer at {int(weeks)} weeks is refused (T1)."
        else:
            details["gestation_weeks"] = int(weeks)
    standards: dict[str, dict[str, str]] = {}
    for key in STANDARDS:
        status = _text(values, f"std_{key}") or "outstanding"
        why = _text(values, f"why_{key}")
        if status not in STANDARD_STATUSES:
            errors[f"std_{key}"] = "Done, not applicable or outstanding."
        elif status == "na" and not why:
            errors[f"why_{key}"] = "Say why this standard does not apply (T4)."
        standards[key] = {"status": status, "why": why}
    readiness = _text(values, "readiness") or "ready"
    if readiness not in READINESS:
        errors["readiness"] = "Potential or ready."
    if errors:
        raise FieldErrors(errors)
    assert planned is not None
    return {
        **details,
        "receiving_team": receiving,
        "point_of_transfer": point,
        "planned_date": planned.isoformat(),
        "reason": reason,
        "standards": standards,
        "applies_to": [case.person_id],
    }


def pending_transfer(uow: UnitOfWork, person_id: str) -> Request | None:
    """The person's transfer still to come, if any (one at a time)."""
    return next((r for r in uow.requests.for_person(person_id) if r.kind == KIND and r.state in RADAR_STATES), None)


def case_to_transfer(uow: UnitOfWork, ctx: Context, person_id: str, actor: str) -> Case:
    """The open case a worker or manager of its team may transfer; refused otherwise (nothing written)."""
    if uow.cases.person(person_id) is None:
        raise NotFound(f"There is no person {person_id} in the case store.")
    case = uow.cases.open_case(person_id)
    if case is None:
        raise WorkflowError(f"{person_id} has no open case to transfer.")
    if not permissions.has(ctx.org, actor, KIND, "request", case.team):
        raise NotAllowed(f"You cannot transfer {person_id}: you are not a worker or manager in {ctx.org.team(case.team).name}.")
    pending = pending_transfer(uow, person_id)
    if pending is not None:
        raise IllegalTransition(f"{person_id} already has transfer {pending.id} to come ({pending.state}): withdraw it first.")
    return case


def raise_transfer(uow: UnitOfWork, ctx: Context, actor: str, person_id: str, values: Mapping[str, Any], *, source: str | None = None) -> Request:
    """T1: raise a transfer, potential (on the radar) or ready (with the sending manager); commits."""
    case = case_to_transfer(uow, ctx, person_id, actor)
    details = validate(ctx, case, values)
    ready = (_text(values, "readiness") or "ready") == "ready"
    request = open_request(
        uow, ctx, TRANSFER, case, actor, details,
        already_open=lambda: f"{person_id} already has a transfer waiting.",
        source=source,
        event_detail={k: details[k] for k in ("receiving_team", "point_of_transfer", "planned_date")},
        state=REQUESTED if ready else POTENTIAL,
        receiving_team=details["receiving_team"],
    )
    if ready:
        route_to_supervisor(uow, ctx, request)
    uow.commit()
    return request


def raised_text(ctx: Context, request: Request) -> str:
    receiving = ctx.org.team(str(request.receiving_team)).name
    if request.state == POTENTIAL:
        return f"Potential transfer {request.id} of {request.person_id} to {receiving} recorded: it shows on the radar (T2). Mark it ready when it is."
    return f"Transfer {request.id} of {request.person_id} to {receiving} sent to the manager."


def mark_ready(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, *, source: str | None = None) -> str:
    """A potential transfer becomes ready: it goes to the sending team's manager."""
    request = transition(uow, ctx, load(uow, request_id), "mark_ready", actor, source=source)
    route_to_supervisor(uow, ctx, request)
    uow.commit()
    return f"Transfer {request.id} is ready and with the manager."


def resubmit(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, values: Mapping[str, Any], *, source: str | None = None) -> str:
    """A returned transfer, corrected, goes back to the sending manager (a fresh card)."""
    request = load(uow, request_id)
    precheck(ctx, request, "resubmit", actor, uow)
    details = validate(ctx, request.case, {**values, "readiness": "ready"})

    def _apply(r: Request) -> None:  # what others recorded on it (e.g. a Transfer Meeting outcome) stays
        r.details = {**{k: v for k, v in r.details.items() if k != "gestation_weeks"}, **details}
        r.receiving_team = details["receiving_team"]
        r.revision += 1

    transition(uow, ctx, request, "resubmit", actor, source=source, apply=_apply)
    route_to_supervisor(uow, ctx, request)
    uow.commit()
    return f"Transfer {request.id} resubmitted to the manager."


# -- 3. the receiving team -------------------------------------------------------------


def planned_date_of(request: Request) -> dt.date:
    return dt.date.fromisoformat(str(request.details["planned_date"]))


def accept(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, worker: str, *, source: str | None = None) -> str:
    """The receiving team's manager allocates one of their workers; the case moves at the
    point of transfer: at once if its date has come, else by ``apply_due_transfers``."""
    request = load(uow, request_id)
    precheck(ctx, request, "accept", actor, uow)
    receiving = str(request.receiving_team)
    if not worker or not ctx.org.has_role(worker, receiving, Role.WORKER):
        who = ctx.org.name_of(worker) if worker else "Nobody"
        raise FieldErrors({"worker": f"{who} is not a worker in {ctx.org.team(receiving).name}: choose the allocated worker from the receiving team."})

    def _apply(r: Request) -> None:
        r.details = {**r.details, "allocated_worker": worker, "accepted_by": actor, "accepted_on": local_today(ctx.clock).isoformat()}

    transition(uow, ctx, request, "accept", actor, source=source, detail={"worker": worker}, apply=_apply)
    direct_message(uow, ctx, request.requested_by, {"view": "transfer_accepted", "request_id": request.id})
    when = planned_date_of(request)
    if when <= local_today(ctx.clock):
        _move(uow, ctx, request, source=source)
        uow.commit()
        return f"Accepted: {request.person_id} is now with {ctx.org.team(receiving).name}, allocated to {ctx.org.name_of(worker)} (T7)."
    uow.commit()
    return f"Accepted: {request.person_id} moves to {ctx.org.team(receiving).name} on {when:%d/%m/%Y}, allocated to {ctx.org.name_of(worker)}."


def hold_on_duty(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, reason: str, *, source: str | None = None) -> str:
    """T6: the receiving team cannot allocate at once: held on duty with a delay reason,
    reviewed weekly until a worker is allocated (Accept from the same card)."""
    request = load(uow, request_id)
    precheck(ctx, request, "hold_on_duty", actor, uow)
    reason = reason.strip()
    if not reason:
        raise FieldErrors({"reason": "Record the delay reason: why the case cannot be allocated now (T6)."})

    def _apply(r: Request) -> None:
        r.details = {**r.details, "duty": {"reason": reason, "by": actor, "since": local_today(ctx.clock).isoformat()}}

    transition(uow, ctx, request, "hold_on_duty", actor, source=source, detail={"reason": reason}, apply=_apply)
    uow.commit()
    return f"Transfer {request.id} is held on duty in {ctx.org.team(str(request.receiving_team)).name}, reviewed weekly until allocated (T6)."


def dispute_managers(org: Organisation, request: Request, role: Role) -> list[str]:
    """The people with ``role`` in either team of the transfer (T5), each once."""
    keys: list[str] = []
    for team in (request.team, str(request.receiving_team)):
        keys += [p.key for p in org.members(team, role) if p.key not in keys]
    return keys


def dispute(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, reason: str, *, source: str | None = None) -> str:
    """T5: the receiving team disputes the transfer; the group managers of both teams get it.
    Nothing in the store moves: the case stays with the sending team meanwhile."""
    request = load(uow, request_id)
    precheck(ctx, request, "dispute", actor, uow)
    if (request.details.get("dispute") or {}).get("outcome"):
        raise IllegalTransition(f"Nothing changed: the dispute of transfer {request.id} was decided; accept or hold it on duty.")
    reason = reason.strip()
    if not reason:
        raise FieldErrors({"reason": "Say why the transfer is disputed: the group managers decide next (T5)."})
    group_managers = dispute_managers(ctx.org, request, Role.GROUP_MANAGER)
    if not group_managers:
        raise WorkflowError("Neither team has a group manager in the config to take the dispute to; nothing changed.")

    def _apply(r: Request) -> None:
        r.details = {**r.details, "dispute": {"reason": reason, "by": actor, "since": local_today(ctx.clock).isoformat()}}

    transition(uow, ctx, request, "dispute", actor, source=source, detail={"reason": reason, "to": group_managers}, apply=_apply)
    for key in group_managers:
        direct_message(uow, ctx, key, {"view": "transfer_dispute", "request_id": request.id})
    uow.commit()
    return f"Transfer {request.id} is disputed; the group managers decide next (T5): {', '.join(ctx.org.name_of(k) for k in group_managers)}. The case stays with the sending team meanwhile."


def resolve(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, outcome: str, note: str, *, source: str | None = None) -> str:
    """T5: a group manager of either team resolves the dispute: the transfer goes ahead (back to
    the receiving manager to accept or hold on duty) or the case stays with the sending team."""
    return _settle(uow, ctx, request_id, actor, outcome, note, prefix="resolve", source=source)


def decide(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, outcome: str, note: str, *, source: str | None = None) -> str:
    """T5: the service manager's decision on an escalated dispute is final and closes it."""
    return _settle(uow, ctx, request_id, actor, outcome, note, prefix="decide", source=source)


def _settle(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, outcome: str, note: str, *, prefix: str, source: str | None) -> str:
    request = load(uow, request_id)
    action = f"{prefix}_{outcome}" if outcome in OUTCOMES else f"{prefix}_transfer"
    precheck(ctx, request, action, actor, uow)
    note = note.strip()
    errors = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = "Choose: the transfer goes ahead, or the case stays with the sending team."
    if not note:
        errors["note"] = "Record the decision's reason (T5)."
    if errors:
        raise FieldErrors(errors)
    final = prefix == "decide"

    def _apply(r: Request) -> None:
        # who disputed stays recorded ("by"); who settled it is "settled_by"
        settled = {"outcome": outcome, "note": note, "settled_by": actor, "settled_on": local_today(ctx.clock).isoformat(), "final": final}
        r.details = {**r.details, "dispute": {**(r.details.get("dispute") or {}), **settled}}

    transition(uow, ctx, request, action, actor, source=source, detail={"outcome": outcome, "note": note, "final": final}, apply=_apply)
    direct_message(uow, ctx, request.requested_by, {"view": "transfer_settled", "request_id": request.id})
    uow.commit()
    who = "settled by the service manager's final decision" if final else "resolved by the group managers"
    return f"Dispute of transfer {request.id} {who}: {OUTCOMES[outcome].lower()} (T5)."


def escalate(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, note: str, *, source: str | None = None) -> str:
    """T5: the group managers cannot resolve it: the service manager decides, finally."""
    request = load(uow, request_id)
    precheck(ctx, request, "escalate", actor, uow)
    note = note.strip()
    if not note:
        raise FieldErrors({"note": "Say why the dispute is escalated to the service manager (T5)."})
    service_managers = dispute_managers(ctx.org, request, Role.SERVICE_MANAGER)
    if not service_managers:
        raise WorkflowError("Neither team has a service manager in the config to decide; nothing changed.")

    def _apply(r: Request) -> None:
        r.details = {**r.details, "dispute": {**(r.details.get("dispute") or {}), "escalated_by": actor, "escalation_note": note}}

    transition(uow, ctx, request, "escalate", actor, source=source, detail={"note": note, "to": service_managers}, apply=_apply)
    for key in service_managers:
        direct_message(uow, ctx, key, {"view": "transfer_escalated", "request_id": request.id})
    uow.commit()
    return f"Dispute of transfer {request.id} escalated to {', '.join(ctx.org.name_of(k) for k in service_managers)}, whose decision is final (T5)."


# -- 4. at the point of transfer (T7) and the audit at transfer (C13) -------------------


def transfer_date(request: Request) -> dt.date:
    """The day the case moves: the planned date, or the day of acceptance when that came later."""
    planned = planned_date_of(request)
    accepted = request.details.get("accepted_on")
    return max(planned, dt.date.fromisoformat(accepted)) if accepted else planned


def _move(uow: UnitOfWork, ctx: Context, request: Request, *, source: str | None) -> None:
    """T7: end the sending team's worker and team relationships, add the receiving team's and
    worker's, close the sending case as transferred and open the receiving team's; then queue
    the audit at transfer (C13). One transaction with the "complete_transfer" transition."""
    when = transfer_date(request)
    case = request.case
    if case.closed_on is not None:  # a closed record is never rewritten (C11): say so, move nothing
        raise WorkflowError(f"Nothing moved: {request.person_id}'s case in {ctx.org.team(request.team).name} is closed; withdraw transfer {request.id}.")
    sending, receiving = ctx.org.team(request.team), ctx.org.team(str(request.receiving_team))
    worker = str(request.details["allocated_worker"])
    old_worker_names = {case.worker.lower(), ctx.org.name_of(case.worker).lower()}
    old_team_names = {sending.key.lower(), sending.name.lower()}
    person_id = request.person_id
    ended_workers = [w for w in uow.cases.open_worker_relationships(person_id) if w.worker.lower() in old_worker_names]
    ended_teams = [
        o for o in uow.cases.open_organisation_relationships(person_id) if o.organisation_kind == "team" and o.organisation.lower() in old_team_names
    ]
    new_case = Case(person_id=person_id, team=receiving.key, worker=worker, case_type=case.case_type, opened_on=when, primary_need=case.primary_need)
    audits.case_opened(new_case)  # C13: due three months on, unless the audit at transfer restarts it sooner
    added_worker = WorkerRelationship(
        person_id=person_id,
        worker=ctx.org.name_of(worker),
        relationship_type=ended_workers[0].relationship_type if ended_workers else "Key Worker (Childrens Social Care)",
        from_date=when,
    )
    added_team = OrganisationRelationship(
        person_id=person_id,
        organisation=receiving.name,
        organisation_kind="team",
        relationship_type=ended_teams[0].relationship_type if ended_teams else "Key Team (Childrens Social Care)",
        from_date=when,
    )
    accepted_by = str(request.details.get("accepted_by") or request.last_actor)

    def _apply(r: Request) -> None:
        for wr in ended_workers:
            wr.to_date, wr.end_reason = when, END_REASON
        for orel in ended_teams:
            orel.to_date, orel.end_reason = when, END_REASON
        case.closed_on, case.closure_reason = when, CLOSURE_REASON
        for record in (new_case, added_worker, added_team):
            uow.cases.add(record)
        uow.session.flush()
        r.details = {
            **r.details,
            "transferred_on": when.isoformat(),
            "new_case": new_case.id,
            "ended": {"worker_relationships": [w.id for w in ended_workers], "organisation_relationships": [o.id for o in ended_teams], "cases": [case.id]},
            "added": {"worker_relationships": [added_worker.id], "organisation_relationships": [added_team.id], "cases": [new_case.id]},
        }

    transition(uow, ctx, request, "complete_transfer", accepted_by, source=source, detail={"on": when.isoformat()}, apply=_apply)
    audit = open_request(
        uow, ctx, TRANSFER_AUDIT, new_case, accepted_by,
        {"transfer_id": request.id, "transferred_on": when.isoformat(), "from_team": sending.key, "applies_to": [person_id]},
        already_open=lambda: f"{person_id} already has a transfer audit in the queue.",
        source=source,
        state=APPROVED,  # straight into the receiving team's virtual-worker queue (C13)
    )
    request.details = {**request.details, "audit_id": audit.id}
    direct_message(uow, ctx, worker, {"view": "transfer_allocated", "request_id": request.id})


def apply_due_transfers(uow: UnitOfWork, ctx: Context) -> list[int]:
    """The daily job's body: every accepted transfer whose point of transfer has come moves
    now (T7), each in its own transaction. Returns the IDs moved; running it twice moves nothing twice."""
    today = local_today(ctx.clock)
    due = [r.id for r in _accepted(uow) if planned_date_of(r) <= today]
    moved: list[int] = []
    for request_id in due:
        request = load(uow, request_id)
        if request.state != ACCEPTED:
            continue
        try:
            _move(uow, ctx, request, source="job:transfers")
        except WorkflowError:
            uow.rollback()
            continue
        uow.commit()
        moved.append(request_id)
    return moved


def _accepted(uow: UnitOfWork) -> list[Request]:
    return list(uow.session.scalars(select(Request).where(Request.kind == KIND, Request.state == ACCEPTED).order_by(Request.id)))


def complete_audit(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, confirmed: Sequence[str], *, source: str | None = None) -> str:
    """C13: business support's audit at transfer, by the holder, every check ticked."""
    request = load(uow, request_id)
    precheck(ctx, request, "complete", actor, uow)
    missing = [label for key, label in AUDIT_CHECKS.items() if key not in confirmed]
    if missing:
        raise FieldErrors({"checklist": "Tick every item of the audit at transfer: " + "; ".join(missing) + "."})
    today = local_today(ctx.clock)

    def _apply(r: Request) -> None:  # C13: the audit at transfer counts: the receiving case's clock restarts
        if r.case.closed_on is None:
            audits.mark_audited(r.case, today)

    transition(uow, ctx, request, "complete", actor, source=source, detail={"checked": list(AUDIT_CHECKS)}, apply=_apply)
    uow.commit()
    return f"Audit at transfer {request.id} of {request.person_id} complete (C13); next three-month audit due {audits.next_due(today):%d/%m/%Y}."

