"""Cards and forms built from the store: what each audience sees.

Channel cards show the person ID and initials only (never names, dates of
birth or addresses). Staff names come from the organisation config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot import audit_views, transfer_views
from bot.cards import Button, Card, Fact, Form, FormField, Option, Section
from store.models import Case, RecordItem, Request
from store.uow import UnitOfWork
from workflows import access, closure, deputies, purchasing, radar, record_items, reopen, transfer_terms
from workflows.access import RESTRICTED_LINE, CaseLook, is_restricted
from workflows.clock import LONDON, local_today
from workflows.org import Role
from workflows.requests import (
    ACCEPTED,
    ACTION_WORDS,
    ANSWERS,
    APPROVED,
    BLOCKED,
    CLAIMED,
    CLOSED,
    DECLINED,
    DEPUTY_FOR,
    ON_BEHALF_OF,
    OPEN_STATES,
    REQUESTED,
    RETURNED,
    WITHDRAWN,
    ChecklistItem,
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


def state_label(request: Request) -> str:
    """How the request's state reads: its kind's own words first (a transfer's "accepted")."""
    return kind_of(request).state_labels.get(request.state) or STATE_LABELS.get(request.state, request.state)


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
        return Card(title=f"{kind_of(request).label} {request.id}", facts=[Fact("State", state_label(request))])
    return builder(uow, ctx, request, audience, revision)


def redact_for_channel(card: Card, request: Request) -> Card:
    """What a channel may see of a restricted record (issue 8, data minimisation): the
    neutral line, the request number and the buttons the people there need, so the work
    still flows; no person ID, initials, names, case type, reason, notes or staff.
    A button's confirmation text may name the case, so a neutral one replaces it; the
    details are for whoever acts (the modal, DMs and ephemeral replies check access)."""
    buttons = [replace(b, confirm="Are you sure? This acts on a restricted record.") if b.confirm else b for b in card.buttons]
    return Card(title=f"Request {request.id} · {RESTRICTED_LINE}", buttons=buttons)


def channel_card(uow: UnitOfWork, ctx: Context, request: Request, audience: str, revision: int) -> Card:
    """A request's card as posted to a channel (manager, business support, purchasing,
    the receiving team): the kind's card, redacted when the record is restricted.
    The one place channel cards of requests are drawn (bot.deliver, the console)."""
    card = request_card(uow, ctx, request, audience, revision)
    return redact_for_channel(card, request) if is_restricted(uow, request) else card


def closure_card(uow: UnitOfWork, ctx: Context, request: Request, audience: str, revision: int) -> Card:
    """The manager's card (audience "manager") or the virtual-worker item ("queue")."""
    org = ctx.org
    if audience == "manager" and revision < request.revision:
        return Card(
            title=f"Closure request {request.id} · {_who(request)} · superseded",
            facts=[Fact("State", "Superseded: the worker resubmitted; see the newer card")],
        )
    audit = closure.manager_audit(uow, ctx, request)
    facts = [
        Fact("Person", _who(request)),
        Fact("Case type", request.case.case_type),
        Fact("Worker", org.name_of(request.case.worker)),
        Fact("Reason", _reason_label(request)),
        Fact("Closure date", _date(closure.closure_date_of(request))),
        Fact("State", STATE_LABELS.get(request.state, request.state)),
    ]
    if audience == "manager":  # C2: whom the request is for
        facts.insert(3, Fact("For", _routed_to(uow, ctx, request)))
    others = [p for p in closure.applies_to(request) if p != request.person_id]
    if others:
        facts.append(Fact("Also applies to", ", ".join(others)))
    if request.holder and request.state in (CLAIMED, BLOCKED):
        facts.append(Fact("Held by", deputies.named(uow, ctx, request.holder)))
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
    if audience == "manager" and audit.later_steps:  # D3: on the record, not blocking yet
        sections.append(
            Section(
                "Future work steps (not blocking yet, D3)",
                [f"#{s.id} {s.title} · {_date(s.scheduled_on)} · {org.name_of(s.assignee)}" for s in audit.later_steps],
            )
        )
    # Issue 8: a return note is typed text; it goes to the worker's DM (and the supervisor's copy,
    # _to_approve_card), never onto this card, which lives in a channel.
    return Card(
        title=f"Closure request {request.id} · {_who(request)}",
        facts=facts,
        sections=sections,
        buttons=_buttons(ctx, request, audience, audit) + (_reopen_buttons(uow, ctx, request) if audience == "manager" else []),
        footer=describe(org, request),
    )


def _routed_to(uow: UnitOfWork, ctx: Context, request: Request) -> str:
    """C2: who the request is for: the requester's supervising manager, else the team's managers."""
    supervisor = ctx.org.supervisor_of(request.requested_by, request.team)
    if supervisor is not None:
        return f"{deputies.named(uow, ctx, supervisor.key)} (supervising manager; any manager of the team may act)"
    team = ctx.org.team(request.team).name
    if not ctx.org.supervisors_for(request.requested_by, request.team):  # a manager asked: four eyes
        return f"a manager or service manager of {team} other than {ctx.org.name_of(request.requested_by)} (four eyes, C3)"
    return f"the managers of {team}"


# Each kind of request registers how its cards are drawn (closure here; transfer and audit later).
CARD_BUILDERS: dict[str, CardBuilder] = {"closure": closure_card}
# A kind whose direct messages differ from a closure's registers its own builder.
MESSAGE_BUILDERS: dict[str, Callable[[UnitOfWork, Context, Request, dict[str, Any]], Card]] = {}


def _audit_section(ctx: Context, audit: closure.ManagerAudit) -> Section:
    """C3/C4: the facts the manager checks before approving."""
    lines = [
        f"Open work steps: {len(audit.open_steps)}",
        f"Unauthorised assessments: {', '.join(audit.unauthorised_assessments) or 'none'}",
        f"Last seen face to face: {_date(audit.last_seen)}",
        f"Supervision last recorded: {_date(audit.last_supervision)}",
    ]
    if audit.never_seen:
        lines.append("Never seen face to face: a service manager or head of service must agree this closure (C4)")
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
                for s in [*audit.open_steps, *audit.later_steps]  # D3: a later future step can be cancelled too
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
    """Direct messages (returned, blocked, assigned, closed) from an outbox body.

    A DM is redrawn in place whenever its request moves on, so it is drawn from
    the request as it is now: a "Now" line, and only buttons that can still be used.
    """
    request = uow.requests.get(int(body["request_id"]))
    assert request is not None
    builder = MESSAGE_BUILDERS.get(request.kind, _message_card)
    card = builder(uow, ctx, request, body)
    card.facts.append(Fact("Now", state_label(request)))
    return for_deputy(ctx, card, body)


def for_deputy(ctx: Context, card: Card, body: dict[str, Any]) -> Card:
    """Act-for (issue 8): a DM's copy for the absent person's deputy says whom it is for."""
    if body.get(DEPUTY_FOR):
        card.facts.insert(0, Fact("You are deputy for", ctx.org.name_of(str(body[DEPUTY_FOR]))))
    return card


def by_whom(ctx: Context, request: Request, by: str | None) -> str:
    """Who did the request's last action, as cards name them: "Ben Hale on behalf of Maria Lopez"
    when a deputy acted for an absent person (act-for, issue 8)."""
    name = ctx.org.name_of(by)
    absent = request.details.get(ON_BEHALF_OF)
    if absent and by == request.last_actor:
        return f"{name} on behalf of {ctx.org.name_of(str(absent))}"
    return name


def _message_card(uow: UnitOfWork, ctx: Context, request: Request, body: dict[str, Any]) -> Card:
    view = body["view"]
    who = _who(request)
    if view == "to_approve":
        return _to_approve_card(uow, ctx, request, int(body.get("revision") or request.revision))
    if view == "returned":
        return Card(
            title=f"{kind_of(request).label} {request.id} · {who} · returned",
            facts=[Fact("Returned by", by_whom(ctx, request, body.get("by") or request.last_actor))],
            sections=[Section("What is needed", [request.note or ""])],
            # C11: never a dead end: the worker may resubmit, or withdraw the request
            buttons=[Button("Resubmit", "resubmit", str(request.id), "primary"), *_withdraw_button(ctx, request)]
            if request.state == RETURNED
            else [],
        )
    if view == "blocked":
        steps = [s for s in uow.cases.open_work_steps(closure.applies_to(request)) if s.id in body.get("steps", [])]
        if request.state != BLOCKED:  # unblocked, withdrawn or closed since: nothing left to press here
            return Card(title=f"Closure of {who} · no longer blocked")
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
            title=f"{kind_of(request).label} {request.id} · {who} · approved",
            facts=[Fact("Approved by", by_whom(ctx, request, body.get("by"))), Fact("Next", "Business support will run the closure audit")],
            buttons=_withdraw_button(ctx, request),
        )
    if view == "assigned":
        return Card(
            title=f"{kind_of(request).label} {request.id} · {who} is now yours",
            facts=[Fact("Assigned by", ctx.org.name_of(body.get("by") or request.last_actor))],
        )
    if view == "closed":
        return Card(
            title=f"Case of {who} is closed",
            facts=[Fact("Closure date", _date(closure.closure_date_of(request)))],
            buttons=_reopen_buttons(uow, ctx, request, request.requested_by),
        )
    if view in REOPEN_MESSAGES:
        return REOPEN_MESSAGES[view](uow, ctx, request, body)
    return Card(title=str(body.get("text", "")))


def _to_approve_card(uow: UnitOfWork, ctx: Context, request: Request, revision: int) -> Card:
    """C2: the supervising manager's own copy of the request, with Approve and Return only."""
    card = request_card(uow, ctx, request, "manager", revision)
    card.title = f"For you to audit: {card.title}"
    card.buttons = [b for b in card.buttons if b.action in ("approve", "return")]
    if request.note and request.state == REQUESTED:  # a DM to the manager the request names: the note may show
        card.sections.append(Section("Manager's note", [request.note]))
    return card


def _blocked_buttons(ctx: Context, request: Request, steps: list[Any], recipient: str | None) -> list[Button]:
    """Each person gets the buttons they can use: assignees mark their own steps
    done; a manager can cancel incoming or future steps (C7)."""
    buttons = [Button(f"Mark #{s.id} done", "step_done", str(s.id)) for s in steps if s.assignee == recipient]
    if recipient and ctx.org.has_role(recipient, request.team, Role.MANAGER):
        buttons += [
            Button(f"Cancel step #{s.id}", "cancel_step", f"{request.id}:{s.id}") for s in steps if s.kind in ("incoming", "future")
        ]
    return buttons


def case_card(ctx: Context, look: CaseLook, actor: str) -> Card:
    """/case status: the case and its requests (shown to the asker only), as far as
    the asker may see them (``workflows.access``), with the buttons the asker may
    use: request closure, withdraw (C11), reopen a finished closure (C11)."""
    person = look.person
    facts = [Fact("Person", f"{person.id} ({person.initials})")]
    if look.details:  # issue 8: name and date of birth, in this ephemeral reply, only where access.may_see_details allows
        facts += [Fact("Name", f"{person.first_name} {person.last_name}"), Fact("Date of birth", _date(person.date_of_birth) if person.date_of_birth else "not recorded")]
    lines = [
        f"{c.case_type} · {ctx.org.name_of(c.worker)} · opened {_date(c.opened_on)}"
        + (f" · closed {_date(c.closed_on)} ({c.closure_reason})" if c.closed_on else " · open")
        for c in look.cases
    ]
    request_lines = [f"{kind_of(r).label} {r.id}: {state_label(r)}" for r in look.requests]
    buttons = []
    if look.can_request_closure:
        buttons.append(Button("Request closure", "request_closure", person.id, "primary"))
    for r in look.requests:
        if may(ctx.org, actor, "withdraw", r):
            buttons += _withdraw_button(ctx, r)
    buttons += [Button("Reopen", "reopen", str(rid), "primary") for rid in look.can_reopen]  # C11: Manager or Practice Supervisor
    if look.can_request_transfer:  # T1: a worker or manager of the team holding the case
        buttons.append(Button("Request transfer", "request_transfer", person.id))
    return Card(
        title=f"Case {person.id} ({person.initials})",
        facts=facts,
        sections=[Section("Cases", lines or ["none"]), Section("Requests", request_lines or ["none"])],
        buttons=buttons,
    )


def history_card(ctx: Context, page: access.HistoryPage) -> Card:
    """/case history: who did what and when, newest first (shown to the asker only). Names of
    staff, action words and states; never the notes or answers kept in an event's detail."""
    person = page.person
    lines = [_history_line(ctx, e) for e in page.events]
    more = f"Older: /case history {person.id} {page.page + 1}" if page.page < page.pages else "That is the oldest."
    return Card(
        title=f"History of case {person.id} ({person.initials})",
        facts=[Fact("Page", f"{page.page} of {page.pages}, newest first")],
        sections=[Section("Events", lines or ["none"]), Section("More", [more])],
    )


def _history_line(ctx: Context, event: access.HistoryEntry) -> str:
    when = event.at.astimezone(LONDON).strftime("%d %b %Y %H:%M")
    word = ACTION_WORDS.get(event.action, event.action.replace("_", " "))
    about = f" request {event.request_id}" if event.request_id else ""
    moved = f" ({event.from_state} → {event.to_state})" if event.from_state and event.to_state and event.from_state != event.to_state else ""
    return f"{when} · {ctx.org.name_of(event.actor)} · {word}{about}{moved}"


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
    if closure.is_adult(case):  # C4, the adults' rule
        required = closure.needs_no_visit_reason(case)
        fields.append(
            FormField(
                "no_visit_reason",
                "Why a final face-to-face visit was not needed",
                "textarea",
                initial=prev.get("no_visit_reason") or None,
                optional=not required,
                hint="Required: this client has never been seen face to face (C4)." if required else None,
            )
        )
    person = case.person
    if request_id is not None:
        return Form("resubmit", "Resubmit closure", "Resubmit", str(request_id), fields, [f"Person {person.id} ({person.initials})"])
    return Form("request_closure", "Request closure", "Send to manager", case.person_id, fields, [f"Person {person.id} ({person.initials}) · {case.case_type}"])


def approve_form(request: Request, checklist: list[ChecklistItem]) -> Form:
    """C3: the manager's case note (optional) and, for adults, the 18-item checklist:
    each item yes, no or not applicable; a "no" needs a note."""
    fields = [
        FormField("note", "Case note: the discussion and decision", "textarea", optional=True,
                  hint="Recorded on the request and in the event log; not shown on channel cards."),
    ]
    answers = [Option(k, v) for k, v in ANSWERS.items()]
    for item in checklist:
        fields.append(FormField(f"answer_{item.key}", f"{item.key}. {item.heading}: {item.text}", "select", answers))
        fields.append(FormField(f"note_{item.key}", f"Note on item {item.key}", "text", optional=True, hint="Needed when the answer is no."))
    intro = [f"{kind_of(request).label} {request.id} · {_who(request)}"]
    why = request.details.get("no_visit_reason")
    if why:  # C4: shown to the approver only (a modal), never on a channel card
        intro.append(f"Why no final face-to-face visit was needed (the worker's note, C4): {why}")
    if checklist:
        intro.append("Adults' case closure checklist (C3): answer every item; a \"no\" needs a note.")
    return Form("approve", "Approve request", "Approve", str(request.id), fields, intro)


def return_form(request: Request) -> Form:
    return Form(
        "return",
        "Return request",
        "Return",
        str(request.id),
        [FormField("note", "What is needed before approval?", "textarea")],
        [f"{kind_of(request).label} {request.id} · {_who(request)}"],
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
        intro.append("Also open on the record (C10): " + "; ".join(_item_label(i) for i in plan.record_items))
        intro.append("Tick below what this closure ends; the rest stays open.")
    if plan.kept:
        intro.append("Left open (C6.3, C9): " + "; ".join(plan.kept))
    checklist = [
        Option("closure_date", "Closure date checked"),
        Option("relationships", "Worker, team and user group ended"),
        Option("retention", "File retention recorded"),
    ]
    if plan.record_items:
        checklist.append(Option("items", "Open record items reviewed (C10)"))
    checklist += [
        Option("form completed", "Form completed"),
        Option("section completed", "Section completed"),
        Option("NFA case closed", "Next action: NFA case closed"),
    ]
    fields = [FormField("checklist", "Closure audit (C6)", "checkboxes", checklist), *record_item_fields(plan.record_items)]
    return Form("audit", "Closure audit", "Close case", str(request.id), fields, intro)


# -- C10: the record items this closure may end, chosen item by item ---------------------


def _item_label(item: RecordItem) -> str:
    """An item as the audit names it. Addresses are never shown, only their kind and date."""
    kind = closure.CLOSING_KINDS.get(item.kind, item.kind)
    if item.kind in record_items.ADDRESSES:
        return f"#{item.id} {item.person_id}: {kind}{' (primary)' if item.is_primary else ''} from {_date(item.from_date)}"
    return f"#{item.id} {item.person_id}: {kind}: {item.description}"


def record_item_fields(items: list[RecordItem]) -> list[FormField]:
    """What business support choose (C10): the items to end, a registration's end reason,
    a looked-after period's local and DoH (SSDA903 REC, S3) end reasons, and per young
    person with a placement address whether they are leaving care."""
    fields: list[FormField] = []
    choosable = [i for i in items if i.kind in record_items.CHOOSABLE]
    if choosable:
        fields.append(
            FormField(
                record_items.end_items_key(),
                "End with this closure (C10)",
                "checkboxes",
                [Option(str(i.id), _item_label(i)) for i in choosable],
                optional=True,
                hint="Nothing is ended unless ticked. A care package goes to the manager as an End Purchased Service request.",
            )
        )
    for item in choosable:
        if item.kind == "registration":
            fields.append(FormField(record_items.end_reason_key(item.id), f"#{item.id} registration: end reason", "text", optional=True))
        if item.kind == "looked_after":
            fields.append(FormField(record_items.local_end_reason_key(item.id), f"#{item.id} looked-after period: local end reason", "text", optional=True))
            rec = [Option(code, f"{code} {label}") for code, label in record_items.REC_CODES.items()]
            fields.append(FormField(record_items.rec_key(item.id), f"#{item.id} looked-after period: DoH end reason (REC)", "select", rec, optional=True))
    for person_id in dict.fromkeys(i.person_id for i in items if i.kind == "placement_address"):
        fields.append(
            FormField(
                record_items.leaving_care_key(person_id),
                f"Is {person_id} leaving care?",
                "select",
                [Option("yes", "Yes: make the home address primary, end the placement address"), Option("no", "No: the placement address stays")],
            )
        )
    return fields


# -- C10: the End Purchased Service request's cards -------------------------------------------

PURCHASE_STATES = {
    REQUESTED: "Waiting for the manager to authorise",
    RETURNED: "Returned to the worker",
    CLOSED: "Authorised: sent to the purchasing team",
    WITHDRAWN: "Withdrawn: the care package stays open",
}


def _purchase_facts(ctx: Context, request: Request) -> list[Fact]:
    """Person ID and initials only; the services are service descriptions, not personal data."""
    return [
        Fact("Person", _who(request)),
        Fact("Team", ctx.org.team(request.team).name),
        Fact("End from", _date(purchasing.end_date_of(request))),
        Fact("Raised by", f"Closure request {request.details.get('closure_request')}"),
        Fact("State", PURCHASE_STATES.get(request.state, STATE_LABELS.get(request.state, request.state))),
    ]


def _services_section(request: Request) -> Section:
    return Section("Services to end", [f"{i['description']} (from {_date(dt.date.fromisoformat(i['from_date']))})" for i in request.details.get("items", [])])


def end_purchase_card(uow: UnitOfWork, ctx: Context, request: Request, audience: str, revision: int) -> Card:
    """The manager's card (authorise or return), and once authorised the purchasing team's
    card (audience "onward"), which says what to end and from when."""
    label = purchasing.LABEL
    if audience == "onward":
        return Card(
            title=f"End purchased services · {_who(request)}",
            facts=[
                Fact("Person", _who(request)),
                Fact("End from", _date(purchasing.end_date_of(request))),
                Fact("Team", ctx.org.team(request.team).name),
                Fact("Authorised by", ctx.org.name_of(request.last_actor)),
                Fact("Request", f"{label} {request.id}"),
            ],
            sections=[_services_section(request)],
        )
    sections = [_services_section(request)]  # no return note: this card lives in a channel (issue 8)
    rid = str(request.id)
    buttons: list[Button] = []
    if request.state == REQUESTED:
        buttons += [Button("Authorise", "approve", rid, "primary"), Button("Return", "return", rid)]
    return Card(
        title=f"{label} {request.id} · {_who(request)}",
        facts=_purchase_facts(ctx, request),
        sections=sections,
        buttons=buttons + _withdraw_purchase_button(ctx, request),
        footer=describe(ctx.org, request),
    )


def _withdraw_purchase_button(ctx: Context, request: Request) -> list[Button]:
    if request.state not in (REQUESTED, RETURNED) or not withdrawable(request, ctx.clock.now()):
        return []
    rid = str(request.id)
    return [Button("Withdraw", "withdraw", rid, "danger", confirm=f"Withdraw {purchasing.LABEL} {rid}? The care package stays open.")]


def end_purchase_message(uow: UnitOfWork, ctx: Context, request: Request, body: dict[str, Any]) -> Card:
    """Direct messages about an End Purchased Service request (returned, authorised)."""
    label, who, rid = purchasing.LABEL, _who(request), str(request.id)
    if body["view"] == "returned":
        buttons = [Button("Resubmit", "resubmit_purchase", rid, "primary")] if request.state == RETURNED else []
        return Card(
            title=f"{label} {rid} · {who} · returned",
            facts=[Fact("Returned by", ctx.org.name_of(request.last_actor)), Fact("End from", _date(purchasing.end_date_of(request)))],
            sections=[Section("What is needed", [request.note or ""]), _services_section(request)],
            buttons=buttons + _withdraw_purchase_button(ctx, request),
        )
    if body["view"] == "approved":
        return Card(
            title=f"{label} {rid} · {who} · authorised",
            facts=[Fact("Authorised by", ctx.org.name_of(body.get("by"))), Fact("Next", "Sent to the purchasing team")],
        )
    return Card(title=f"{label} {rid} · {who}", facts=_purchase_facts(ctx, request))


def resubmit_purchase_form(request: Request) -> Form:
    return Form(
        "resubmit_purchase",
        "Resubmit request",
        "Resubmit",
        str(request.id),
        [FormField("end_date", "Services end from", "date", initial=str(request.details.get("end_date")))],
        [f"{purchasing.LABEL} {request.id} · {_who(request)}", *(f"Service: {i['description']}" for i in request.details.get("items", []))],
    )


CARD_BUILDERS[purchasing.KIND] = end_purchase_card
MESSAGE_BUILDERS[purchasing.KIND] = end_purchase_message


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
# T1-T7, C13: the transfer and its audit at transfer (bot.transfer_views)
CARD_BUILDERS.update(transfer_views.CARDS)
MESSAGE_BUILDERS.update(transfer_views.MESSAGES)
# C13: the three-month audit (bot.audit_views)
CARD_BUILDERS.update(audit_views.CARDS)
MESSAGE_BUILDERS.update(audit_views.MESSAGES)


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


# -- T2, T3: the two-week radar and the Transfer Meeting agenda (workflows.radar) ----------------


def _away(days: int | None, working: int | None) -> str:
    if days is None or working is None:
        return "date not set"
    if days < 0:
        return f"overdue by {-days} days"
    return f"in {days} days ({working} working)"


def _radar_line(ctx: Context, line: radar.RadarLine) -> str:
    """IDs and initials only; the reason and the standards' notes (typed text) never go on a channel."""
    if line.restricted:  # issue 8: the transfer number and the neutral line, nothing else
        return f"Transfer {line.request_id} · {RESTRICTED_LINE}"
    planned = _date(line.planned) if line.planned else "no date yet"
    standards = f"standards {line.standards_complete}/{line.standards_complete + line.standards_outstanding}"
    if line.standards_outstanding:
        standards += f" ({line.standards_outstanding} outstanding)"
    meeting = f" · meeting: {radar.OUTCOMES[line.meeting].lower()}" if line.meeting in radar.OUTCOMES else ""
    return (
        f"{line.person_id} ({line.initials}) from {_team_name(ctx, line.sending_team)} · {planned}, "
        f"{_away(line.days_away, line.working_days_away)} · {standards} · "
        f"{radar.STATE_LABELS.get(line.state, line.state)} · transfer {line.request_id}{meeting}"
    )


def _turning_line(ctx: Context, t: radar.TurningLine) -> str:
    if t.restricted:  # issue 8: no ID, initials, team or date of a restricted record
        return RESTRICTED_LINE
    return (
        f"{t.person_id} ({t.initials}) in {_team_name(ctx, t.sending_team)} · {_date(t.reaches_on)}, "
        f"{_away(t.days_away, t.working_days_away)} · no transfer raised yet"
    )


def _team_name(ctx: Context, key: str) -> str:
    try:
        return ctx.org.team(key).name
    except KeyError:
        return key


def radar_card(ctx: Context, look: radar.Radar) -> Card:
    """T2: the two-week radar, grouped by point of transfer (T1); an empty one says so in one line."""
    name = _team_name(ctx, look.team)
    title = f"Two-week radar for {name}: {_date(look.as_of)} to {_date(look.until)}"
    if look.empty:
        return Card(title=f"Two-week radar for {name}: no transfers planned and nobody turning 11y6m from {_date(look.as_of)} to {_date(look.until)}")
    sections = [
        Section(transfer_terms.POINTS_OF_TRANSFER.get(point, point or "Point of transfer not given"), [_radar_line(ctx, line) for line in lines])
        for point, lines in look.groups.items()
    ]
    if look.turning:
        sections.append(
            Section(
                "Reaching 11 years 6 months (T1: Under 12s to 12+)",
                [_turning_line(ctx, t) for t in look.turning],
            )
        )
    count = sum(len(lines) for lines in look.groups.values())
    return Card(
        title=title,
        facts=[Fact("Transfers", str(count)), Fact("Turning 11y6m", str(len(look.turning)))],
        sections=sections,
        footer="IDs and initials only. Working days leave out weekends and England's bank holidays (D4).",
    )


def agenda_card(uow: UnitOfWork, ctx: Context, team: str, period: str, as_of: dt.date) -> Card:
    """T3: the Transfer Meeting's agenda, with an Agreed / Deferred button per transfer."""
    lines = radar.coming_transfers(uow, ctx, team, as_of)
    name = _team_name(ctx, team)
    if not lines:
        return Card(title=f"Transfer Meeting {_date(as_of)} for {name}: no transfers to discuss")
    buttons: list[Button] = []
    for line in lines:
        value = f"{line.request_id}:{period}"
        buttons += [
            Button(f"{line.request_id} Agreed", "meeting_agreed", value, "primary" if line.meeting != "agreed" else None),
            Button(f"{line.request_id} Deferred", "meeting_deferred", value),
        ]
    return Card(
        title=f"Transfer Meeting {_date(as_of)} for {name}: {len(lines)} transfers",
        sections=[Section("For discussion", [_radar_line(ctx, line) for line in lines])],
        buttons=buttons,
        footer="Record each transfer's outcome; the card is redrawn in place.",
    )


def digest_card(uow: UnitOfWork, ctx: Context, body: dict[str, Any]) -> Card:
    """A scheduled digest from its outbox body, drawn from the store as it is when delivered."""
    team, period, as_of = str(body["team"]), str(body["period"]), radar.digest_as_of(body)
    if body["digest"] == radar.AGENDA:
        return agenda_card(uow, ctx, team, period, as_of)
    return radar_card(ctx, radar.radar_for(uow, ctx, team, as_of))


def reminders_card(body: dict[str, Any]) -> Card:
    """The chasing engine's batch (workflows.reminders): one card listing every line owed to
    one person or one channel in a run. The lines carry person IDs and initials only; the
    title (the notification text) carries none."""
    lines = [str(line) for line in body.get("lines") or []]
    count = f"{len(lines)} thing{'' if len(lines) == 1 else 's'}"
    if body.get("channel"):
        return Card(title=f"Reminder: {count} waiting in the team's queue", sections=[Section("Waiting", lines)])
    return Card(
        title=f"Reminder: {count} waiting for you",
        sections=[Section("Waiting for you", lines)],
        footer="Sent in working hours only, once per step (see the README: Reminders and chasing).",
    )


def deputy_notice_card(ctx: Context, body: dict[str, Any]) -> Card:
    """Act-for (``workflows.deputies.card_change``): a period started or ended for someone whose
    cards are more than the redrawn ones. Staff names and counts only."""
    absent, deputy = ctx.org.name_of(str(body.get("absent"))), ctx.org.name_of(str(body.get("deputy")))
    items, redrawn = int(body.get("items") or 0), int(body.get("redrawn") or 0)
    if body.get("until"):
        title = f"{absent} is away until the end of {body['until']}: {deputy} acts for {absent} on their {items:,} open items."
    else:
        title = f"{absent} is back: {deputy} no longer acts for {absent} on their {items:,} open items."
    return Card(
        title=title,
        footer=f"The {redrawn:,} most recently active cards show it now; the others show it as they next change (Home shows it as it is).",
    )
