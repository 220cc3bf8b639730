"""Cards and forms built from the store: what each audience sees.

Channel cards show the person ID and initials only (never names, dates of
birth or addresses). Staff names come from the organisation config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from bot.cards import Button, Card, Fact, Form, FormField, Option, Section
from store.models import Case, Request
from store.uow import UnitOfWork
from workflows import closure, reopen
from workflows.clock import local_today
from workflows.org import Role
from workflows.requests import (
    ACCEPTED,
    APPROVED,
    BLOCKED,
    CLAIMED,
    CLOSED,
    DECLINED,
    OPEN_STATES,
    REQUESTED,
    RETURNED,
    WITHDRAWN,
    Context,
    describe,
    kind_of,
    may,
    past_withdraw_window,
    withdrawable,
)

STATE_LABELS = {
    REQUESTED: "Waiting for the manager",
    RETURNED: "Returned to the worker",
    APPROVED: "In the virtual worker, unclaimed",
    CLAIMED: "Claimed",
    BLOCKED: "Blocked: work steps open",
    CLOSED: "Closed",
    WITHDRAWN: "Withdrawn",
    ACCEPTED: "Accepted: reopened to the team",
    DECLINED: "Declined: escalated to the group managers",
}


def _who(request: Request) -> str:
    return f"{request.person_id} ({request.person.initials})"


def _date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "never"


def _reason_label(request: Request) -> str:
    code = str(request.details.get("reason", ""))
    label = closure.reasons_for(request.case).get(code, "")
    return f"{code} {label}".strip()


CardBuilder = Callable[[UnitOfWork, Context, Request, str, int], Card]


def request_card(uow: UnitOfWork, ctx: Context, request: Request, audience: str, revision: int) -> Card:
    """A request's card for an audience ("manager", "queue", ...), drawn by its kind's builder."""
    builder = CARD_BUILDERS.get(request.kind)
    if builder is None:
        return Card(title=f"{kind_of(request).label} {request.id}", facts=[Fact("State", STATE_LABELS.get(request.state, request.state))])
    return builder(uow, ctx, request, audience, revision)


def closure_card(uow: UnitOfWork, ctx: Context, request: Request, audience: str, revision: int) -> Card:
    """The manager's card (audience "manager") or the virtual-worker item ("queue")."""
    org = ctx.org
    if audience == "manager" and revision < request.revision:
        return Card(
            title=f"Closure request {request.id} · {_who(request)} · superseded",
            facts=[Fact("State", "Superseded: the worker resubmitted; see the newer card")],
        )
    audit = closure.manager_audit(uow, request)
    facts = [
        Fact("Person", _who(request)),
        Fact("Case type", request.case.case_type),
        Fact("Worker", org.name_of(request.case.worker)),
        Fact("Reason", _reason_label(request)),
        Fact("Closure date", _date(closure.closure_date_of(request))),
        Fact("State", STATE_LABELS.get(request.state, request.state)),
    ]
    others = [p for p in closure.applies_to(request) if p != request.person_id]
    if others:
        facts.append(Fact("Also applies to", ", ".join(others)))
    if request.holder and request.state in (CLAIMED, BLOCKED):
        facts.append(Fact("Held by", org.name_of(request.holder)))
    facts += _late_facts(ctx, request)
    sections: list[Section] = []
    if audience == "manager":
        sections.append(_audit_section(ctx, audit))
    if request.state == BLOCKED or (audience == "manager" and audit.open_steps):
        sections.append(
            Section(
                "Open work steps",
                [f"#{s.id} {s.title} ({s.kind}) · {org.name_of(s.assignee)}" for s in audit.open_steps] or ["none left"],
            )
        )
    if request.note and request.state in (RETURNED, REQUESTED):
        sections.append(Section("Manager's note", [request.note]))
    return Card(
        title=f"Closure request {request.id} · {_who(request)}",
        facts=facts,
        sections=sections,
        buttons=_buttons(ctx, request, audience, audit) + (_reopen_buttons(uow, ctx, request) if audience == "manager" else []),
        footer=describe(org, request),
    )


# Each kind of request registers how its cards are drawn (closure here; transfer and audit later).
CARD_BUILDERS: dict[str, CardBuilder] = {"closure": closure_card}


def _audit_section(ctx: Context, audit: closure.ManagerAudit) -> Section:
    """C3/C4: the facts the manager checks before approving."""
    lines = [
        f"Open work steps: {len(audit.open_steps)}",
        f"Unauthorised assessments: {', '.join(audit.unauthorised_assessments) or 'none'}",
        f"Last seen face to face: {_date(audit.last_seen)}",
        f"Supervision last recorded: {_date(audit.last_supervision)}",
    ]
    if audit.never_seen:
        lines.append("Never seen face to face: a service manager must agree this closure (C4)")
    return Section("Manager's audit (C3)", lines)


def _buttons(ctx: Context, request: Request, audience: str, audit: closure.ManagerAudit) -> list[Button]:
    rid = str(request.id)
    buttons: list[Button] = []
    state = request.state
    if audience == "manager":
        if state == REQUESTED:
            buttons += [Button("Approve", "approve", rid, "primary"), Button("Return", "return", rid)]
        if state in (REQUESTED, APPROVED, CLAIMED, BLOCKED):
            buttons += [
                Button(f"Cancel step #{s.id}", "cancel_step", f"{rid}:{s.id}")
                for s in audit.open_steps
                if s.kind in ("incoming", "future")  # C7: never a started step
            ]
        if state in (APPROVED, CLAIMED, BLOCKED):  # managers need not sit in the business-support channel
            buttons.append(Button("Reassign", "reassign", rid))
    else:
        if state == APPROVED:
            buttons.append(Button("Claim", "claim", rid, "primary"))
        if state == CLAIMED:
            buttons += [Button("Open closure audit", "audit", rid, "primary"), Button("Unclaim", "unclaim", rid)]
        if state == BLOCKED:
            buttons += [Button("Re-check", "recheck", rid, "primary"), Button("Unclaim", "unclaim", rid)]
        if state in (APPROVED, CLAIMED, BLOCKED):
            buttons.append(Button("Reassign", "reassign", rid))
    if audience == "manager":
        buttons += _withdraw_button(ctx, request)
    return buttons


def _withdraw_button(ctx: Context, request: Request) -> list[Button]:
    """C11, for the worker or manager (the manager's card, the worker's DM and /case status);
    never on the business-support card, where nobody may use it. An open request can be
    withdrawn at any time; a finished one never (it is reopened instead)."""
    if not withdrawable(request):
        return []
    rid = str(request.id)
    late = " It is past the 2 weeks of C11: the withdrawal will be marked late." if past_withdraw_window(request, ctx.clock.now()) else ""
    label = kind_of(request).label.lower()
    return [Button("Withdraw", "withdraw", rid, "danger", confirm=f"Withdraw {label} {rid}? The case stays open.{late}")]


def _late_facts(ctx: Context, request: Request) -> list[Fact]:
    """C11: past the 2 weeks, drawn from the clock when the card is drawn (no job edits the request)."""
    if request.state == WITHDRAWN and request.details.get("withdrawn_late"):
        return [Fact("Withdrawn late", "after the 2 weeks of C11")]
    if request.state in OPEN_STATES and past_withdraw_window(request, ctx.clock.now()):
        days = (ctx.clock.now() - request.requested_at).days
        return [Fact("Late", f"open {days} days, past the 2 weeks of C11; a withdrawal now is marked late")]
    return []


def _reopen_buttons(uow: UnitOfWork, ctx: Context, request: Request, actor: str | None = None) -> list[Button]:
    """C11: Reopen on a finished closure while someone it closed has no open case. With an
    ``actor`` (a DM, /case status) only if they may; on the manager channel card always
    (the press is checked: Manager or Practice Supervisor)."""
    if request.state != CLOSED or not reopen.reopenable_people(uow, request):
        return []
    if actor is not None and not reopen.may_reopen(uow, ctx, actor, request):
        return []
    return [Button("Reopen", "reopen", str(request.id), "primary")]


def message_card(uow: UnitOfWork, ctx: Context, body: dict[str, Any]) -> Card:
    """Direct messages (returned, blocked, assigned, closed) from an outbox body."""
    request = uow.requests.get(int(body["request_id"]))
    assert request is not None
    view = body["view"]
    who = _who(request)
    if view == "returned":
        return Card(
            title=f"Closure request {request.id} · {who} · returned",
            facts=[Fact("Returned by", ctx.org.name_of(request.last_actor))],
            sections=[Section("What is needed", [request.note or ""])],
            buttons=[Button("Resubmit", "resubmit", str(request.id), "primary")] if request.state == RETURNED else [],
        )
    if view == "blocked":
        steps = [s for s in uow.cases.open_work_steps(closure.applies_to(request)) if s.id in body.get("steps", [])]
        return Card(
            title=f"Closure of {who} cannot progress",
            sections=[
                Section(
                    "Complete these work steps first (C6.1)",
                    [f"#{s.id} {s.title} · {ctx.org.name_of(s.assignee)}" for s in steps] or ["all done: ask business support to re-check"],
                )
            ],
            buttons=_blocked_buttons(ctx, request, steps, body.get("recipient")),
        )
    if view == "approved":
        return Card(
            title=f"Closure request {request.id} · {who} · approved",
            facts=[Fact("Approved by", ctx.org.name_of(body.get("by"))), Fact("Next", "Business support will run the closure audit")],
            buttons=_withdraw_button(ctx, request),
        )
    if view == "assigned":
        return Card(title=f"Closure request {request.id} · {who} is now yours", facts=[Fact("Assigned by", ctx.org.name_of(request.last_actor))])
    if view == "closed":
        return Card(
            title=f"Case of {who} is closed",
            facts=[Fact("Closure date", _date(closure.closure_date_of(request)))],
            buttons=_reopen_buttons(uow, ctx, request, request.requested_by),
        )
    if view in REOPEN_MESSAGES:
        return REOPEN_MESSAGES[view](uow, ctx, request, body)
    return Card(title=str(body.get("text", "")))


def _blocked_buttons(ctx: Context, request: Request, steps: list[Any], recipient: str | None) -> list[Button]:
    """Each person gets the buttons they can use: assignees mark their own steps
    done; a manager can cancel incoming or future steps (C7)."""
    buttons = [Button(f"Mark #{s.id} done", "step_done", str(s.id)) for s in steps if s.assignee == recipient]
    if recipient and ctx.org.has_role(recipient, request.team, Role.MANAGER):
        buttons += [
            Button(f"Cancel step #{s.id}", "cancel_step", f"{request.id}:{s.id}") for s in steps if s.kind in ("incoming", "future")
        ]
    return buttons


def case_card(uow: UnitOfWork, ctx: Context, person_id: str, actor: str | None = None) -> Card:
    """/case status: the case and its requests (shown to the asker only), with the
    buttons the asker may use: request closure, withdraw or reverse (C11)."""
    person = uow.cases.person(person_id)
    if person is None:
        return Card(title=f"No person {person_id} in the case store")
    cases = uow.cases.cases_of(person_id)
    facts = [Fact("Person", f"{person.id} ({person.initials})")]
    lines = [
        f"{c.case_type} · {ctx.org.name_of(c.worker)} · opened {_date(c.opened_on)}"
        + (f" · closed {_date(c.closed_on)} ({c.closure_reason})" if c.closed_on else " · open")
        for c in cases
    ]
    requests = uow.requests.for_person(person_id)
    request_lines = [f"{r.id} {r.kind}: {STATE_LABELS.get(r.state, r.state)}" for r in requests]
    buttons = []
    if any(c.is_open for c in cases) and not any(r.state in OPEN_STATES for r in requests):
        buttons.append(Button("Request closure", "request_closure", person_id, "primary"))
    for r in requests:
        if actor is not None and may(ctx.org, actor, "withdraw", r):
            buttons += _withdraw_button(ctx, r)
    for r in requests:  # C11: Reopen for a Manager or Practice Supervisor
        if actor is not None:
            buttons += _reopen_buttons(uow, ctx, r, actor)
    return Card(
        title=f"Case {person.id} ({person.initials})",
        facts=facts,
        sections=[Section("Cases", lines or ["none"]), Section("Requests", request_lines or ["none"])],
        buttons=buttons,
    )


# -- forms -------------------------------------------------------------------------


def closure_form(uow: UnitOfWork, ctx: Context, case: Case, previous: dict[str, Any] | None = None, request_id: int | None = None) -> Form:
    """C2: the worker's closure step; S1 reasons for children, C1 for adults."""
    prev = previous or {}
    reasons = closure.reasons_for(case)
    fields = [
        FormField("reason", "Reason for closure", "select", [Option(k, f"{k} {v}") for k, v in reasons.items()], prev.get("reason")),
        FormField("closure_date", "Closure date", "date", initial=prev.get("closure_date") or local_today(ctx.clock).isoformat()),
        FormField("summary", "Closing summary", "textarea", initial=prev.get("summary")),
        FormField(
            "done",
            "Done before closure",
            "checkboxes",
            [Option("visit_done", "Closure visit"), Option("letter_done", "Closure letter"), Option("evaluation_done", "Evaluation")],
            [k for k in ("visit_done", "letter_done", "evaluation_done") if prev.get(k)],
            optional=True,
        ),
    ]
    members = [m for m in closure.family_members(uow, case.person_id) if m != case.person_id]
    if members:
        options = []
        for m in members:
            p = uow.cases.person(m)
            options.append(Option(m, f"{m} ({p.initials if p else '?'})"))
        fields.append(
            FormField("applies_to", "Also applies to (family group)", "checkboxes", options, [m for m in prev.get("applies_to", []) if m in members], optional=True)
        )
    person = case.person
    if request_id is not None:
        return Form("resubmit", "Resubmit closure", "Resubmit", str(request_id), fields, [f"Person {person.id} ({person.initials})"])
    return Form("request_closure", "Request closure", "Send to manager", case.person_id, fields, [f"Person {person.id} ({person.initials}) · {case.case_type}"])


def return_form(request: Request) -> Form:
    return Form(
        "return",
        "Return request",
        "Return",
        str(request.id),
        [FormField("note", "What is needed before approval?", "textarea")],
        [f"Closure request {request.id} · {_who(request)}"],
    )


def cancel_step_form(request: Request, step_id: int, title: str) -> Form:
    return Form(
        "cancel_step",
        "Cancel work step",
        "Cancel step",
        f"{request.id}:{step_id}",
        [FormField("reason", "Reason for cancelling", "textarea")],
        [f"Cancel '{title}' on {_who(request)} (C7: managers only, incoming or future steps only)"],
    )


def reassign_form(ctx: Context, request: Request) -> Form:
    people = ctx.org.members(request.team, Role.BUSINESS_SUPPORT)
    return Form(
        "reassign",
        "Reassign item",
        "Reassign",
        str(request.id),
        [FormField("to", "Give it to", "select", [Option(p.key, p.name) for p in people], request.holder)],
    )


def audit_form(ctx: Context, request: Request, plan: closure.ClosurePlan) -> Form:
    """C6 as a checklist, in the seed's order; the detail sits above the ticks."""
    when = _date(plan.closure_date)
    ended = [f"{w.person_id}: {w.relationship_type}: {w.worker}" for w in plan.worker_relationships]
    ended += [f"{o.person_id}: {o.relationship_type}: {o.organisation}" for o in plan.organisation_relationships]
    ended += [f"{s.person_id}: service user group {s.group}" for s in plan.service_user_groups]
    intro = [
        f"Closure audit · request {request.id} · {_who(request)}",
        "1. No work steps are open (C6.1).",
        f"2. Closure date: {when}",
        f"3. End as of {when}: " + ("; ".join(ended) or "nothing open"),
        "4. File retention: " + "; ".join(f"{p}: {d.summary()}" for p, d in plan.retention.items()),
    ]
    if plan.record_items:
        intro.append(
            "Also open on the record (C10): "
            + "; ".join(f"{i.person_id}: {closure.CLOSING_KINDS.get(i.kind, i.kind)}: {i.description}" for i in plan.record_items)
        )
    if plan.kept:
        intro.append("Left open (C9): " + "; ".join(plan.kept))
    checklist = [
        Option("closure_date", "Closure date checked"),
        Option("relationships", "Worker, team and user group ended"),
        Option("retention", "File retention recorded"),
    ]
    if plan.record_items:
        checklist.append(Option("items", "Open items ended (C10)"))
    checklist += [
        Option("form completed", "Form completed"),
        Option("section completed", "Section completed"),
        Option("NFA case closed", "Next action: NFA case closed"),
    ]
    fields = [FormField("checklist", "Closure audit (C6)", "checkboxes", checklist)]
    for item in plan.record_items:
        fields.append(
            FormField(f"end_reason_{item.id}", f"End reason: {closure.CLOSING_KINDS.get(item.kind, item.kind)}", "text", initial=closure.END_REASON)
        )
    return Form("audit", "Closure audit", "Close case", str(request.id), fields, intro)


# -- C11 Reopen and C12 re-referral ----------------------------------------------------


def _need(code: object) -> str:
    text = str(code or "")
    return f"{text} {reopen.PRIMARY_NEEDS.get(text, '')}".strip() or "not recorded"


def _same_reason(request: Request) -> str:
    """C12: whether the re-referral is for the same reason as at closure (S2 primary need)."""
    match = request.details.get("same_reason")
    at_closure = request.details.get("primary_need_at_closure")
    if match is None:
        return "not known: no primary need recorded on the closed case"
    return f"yes ({at_closure})" if match else f"no: closed with {_need(at_closure)}"


def rereferral_card(uow: UnitOfWork, ctx: Context, request: Request, audience: str, revision: int) -> Card:
    """C12: the previous team's manager card: who, when it closed, the proposed worker, the match."""
    org = ctx.org
    d = request.details
    facts = [
        Fact("Person", _who(request)),
        Fact("Contact date", _date(dt.date.fromisoformat(str(d["contact_date"])))),
        Fact("Reason", _need(d.get("reason"))),
        Fact("Closed on", f"{_date(dt.date.fromisoformat(str(d['closed_on'])))} ({d.get('closure_reason') or 'no reason recorded'})"),
        Fact("Same reason as at closure", _same_reason(request)),
        Fact("Previous worker (proposed)", org.name_of(str(d.get("proposed_worker")))),
        Fact("State", STATE_LABELS.get(request.state, request.state)),
    ]
    if request.state == ACCEPTED:
        facts.append(Fact("Allocated to", org.name_of(str(d.get("accepted_worker")))))
    buttons: list[Button] = []
    if request.state == REQUESTED:
        rid = str(request.id)
        buttons = [Button("Accept", "accept", rid, "primary"), Button("Decline", "decline", rid)]
    return Card(
        title=f"Re-referral {request.id} · {_who(request)} · within 3 months of closure (C12)",
        facts=facts,
        buttons=buttons,
        footer=describe(org, request),
    )


CARD_BUILDERS["rereferral"] = rereferral_card


def _reopened_message(uow: UnitOfWork, ctx: Context, request: Request, body: dict[str, Any]) -> Card:
    cases = [c for c in (uow.cases.case(int(i)) for i in body.get("cases", [])) if c is not None]
    return Card(
        title="A case reopens to you: " + ", ".join(f"{c.person_id} ({c.person.initials})" for c in cases),
        facts=[Fact("Team", ctx.org.team(request.team).name), Fact("Reopened by", ctx.org.name_of(body.get("by")))],
    )


def _declined_message(uow: UnitOfWork, ctx: Context, request: Request, body: dict[str, Any]) -> Card:
    """C12: to each group manager of the team; the decline reason is in a DM, never a channel."""
    return Card(
        title=f"Re-referral {request.id} · {_who(request)} declined by {ctx.org.team(request.team).name}",
        facts=[
            Fact("Declined by", ctx.org.name_of(request.last_actor)),
            Fact("Previous worker", ctx.org.name_of(str(request.details.get("proposed_worker")))),
            Fact("Same reason as at closure", _same_reason(request)),
        ],
        sections=[Section("Why", [request.note or ""])],
    )


REOPEN_MESSAGES: dict[str, Callable[[UnitOfWork, Context, Request, dict[str, Any]], Card]] = {
    "reopened": _reopened_message,
    "rereferral_declined": _declined_message,
}


def _worker_options(ctx: Context, team: str) -> list[Option]:
    return [Option(p.key, p.name) for p in ctx.org.members(team, Role.WORKER)]


def reopen_form(uow: UnitOfWork, ctx: Context, request: Request, people: list[str]) -> Form:
    """C11: the new social care request, short: who, the worker (the previous one proposed), why."""
    previous = next((c.worker for c in reopen.closed_cases(uow, request)), None)
    options = []
    for person_id in people:
        person = uow.cases.person(person_id)
        options.append(Option(person_id, f"{person_id} ({person.initials if person else '?'})"))
    team = ctx.org.team(request.team).name
    return Form(
        "reopen",
        "Reopen: new request",
        "Reopen",
        str(request.id),
        [
            FormField("people", "Reopen for", "checkboxes", options, list(people)),
            FormField("worker", f"Allocated worker ({team})", "select", _worker_options(ctx, request.team), previous),
            FormField("reason", "Why the case reopens", "textarea"),
        ],
        [f"New social care request after closure {request.id} · {_who(request)} · {team} (C11). The closed case stays as it was."],
    )


def accept_form(ctx: Context, request: Request) -> Form:
    """C12: the previous worker proposed; the manager may choose another worker of the team."""
    return Form(
        "accept",
        "Accept re-referral",
        "Accept",
        str(request.id),
        [FormField("worker", "Allocate to", "select", _worker_options(ctx, request.team), str(request.details.get("proposed_worker") or ""))],
        [f"Re-referral {request.id} · {_who(request)}: a new involvement in {ctx.org.team(request.team).name} (C12)."],
    )


def decline_form(request: Request) -> Form:
    return Form(
        "decline",
        "Decline re-referral",
        "Decline",
        str(request.id),
        [FormField("reason", "Why not (the group managers decide next)", "textarea")],
        [f"Re-referral {request.id} · {_who(request)} (C12)"],
    )
