"""Cards, direct messages and forms of the transfer journey (T1, T4-T7, C13).

Registered in ``bot.views`` (CARD_BUILDERS / MESSAGE_BUILDERS) like every kind. Channel
cards carry the person ID and initials only; typed text (the reason, a delay or dispute
reason, a decision's note) appears only in direct messages to the people who decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from bot.cards import Button, Card, Fact, Form, FormField, Option, Section
from store.models import Case, Request
from store.uow import UnitOfWork
from workflows import deputies, transfer
from workflows.org import Role
from workflows.requests import APPROVED, CLAIMED, REQUESTED, RETURNED, Context, describe
from workflows.transfer_terms import DISPUTED, ESCALATED, ON_DUTY, POINTS_OF_TRANSFER, POTENTIAL, RADAR_STATES, STANDARDS

STATUS_WORDS = {"done": "done", "na": "not applicable", "outstanding": "outstanding"}


def _who(request: Request) -> str:
    return f"{request.person_id} ({request.person.initials})"


def _day(iso: object) -> str:
    return dt.date.fromisoformat(str(iso)).strftime("%d/%m/%Y") if iso else "not set"


def _label(request: Request) -> str:
    return transfer.STATE_LABELS.get(request.state, request.state)


def _teams(ctx: Context, request: Request) -> str:
    return f"{ctx.org.team(request.team).name} → {ctx.org.team(str(request.receiving_team)).name}"


def standards_summary(request: Request) -> str:
    """T4 at a glance: how many standards are done, not applicable, outstanding."""
    statuses = [str(s.get("status")) for s in (request.details.get("standards") or {}).values()]
    return ", ".join(f"{statuses.count(k)} {w}" for k, w in STATUS_WORDS.items())


def _facts(ctx: Context, request: Request) -> list[Fact]:
    d = request.details
    facts = [
        Fact("Person", _who(request)),
        Fact("Case type", request.case.case_type),
        Fact("From → to", _teams(ctx, request)),
        Fact("Worker (sending)", ctx.org.name_of(request.case.worker)),
        Fact("Point of transfer (T1)", POINTS_OF_TRANSFER.get(str(d.get("point_of_transfer")), "?")),
        Fact("Planned transfer date", _day(d.get("planned_date"))),
        Fact("Transfer standards (T4)", standards_summary(request)),
        Fact("State", _label(request)),
    ]
    if d.get("allocated_worker"):
        facts.append(Fact("Allocated to (receiving)", ctx.org.name_of(str(d["allocated_worker"]))))
    if d.get("transferred_on"):
        facts.append(Fact("Transferred on", _day(d["transferred_on"])))
    return facts


def _standards_section(request: Request) -> Section:
    standards = request.details.get("standards") or {}
    return Section(
        "Transfer standards (T4)",
        [f"{label}: {STATUS_WORDS.get(str((standards.get(key) or {}).get('status')), 'outstanding')}" for key, label in STANDARDS.items()],
    )


def _withdraw(request: Request) -> list[Button]:
    if request.state not in RADAR_STATES:
        return []
    rid = str(request.id)
    return [Button("Withdraw", "withdraw", rid, "danger", confirm=f"Withdraw transfer {rid}? The case stays with the sending team.")]


def transfer_card(uow: UnitOfWork, ctx: Context, request: Request, audience: str, revision: int) -> Card:
    """The sending team's manager card ("manager") or the receiving team's ("receiving")."""
    rid = str(request.id)
    if audience == "manager" and revision < request.revision:
        return Card(title=f"Transfer {rid} · {_who(request)} · superseded", facts=[Fact("State", "Superseded: the worker resubmitted; see the newer card")])
    buttons: list[Button] = []
    state = request.state
    if audience == "receiving":
        if state == APPROVED:
            buttons = [Button("Accept", "transfer_accept", rid, "primary"), Button("Hold on duty", "transfer_hold", rid)]
            if not (request.details.get("dispute") or {}).get("outcome"):  # T5: a decided dispute is not raised again
                buttons.append(Button("Dispute", "transfer_dispute", rid, "danger"))
        if state == ON_DUTY:
            buttons = [Button("Accept (allocate)", "transfer_accept", rid, "primary")]
        title = f"Transfer {rid} to {ctx.org.team(str(request.receiving_team)).name} · {_who(request)}"
    else:
        if state == POTENTIAL:
            buttons = [Button("Mark ready", "mark_ready", rid, "primary")]
        if state == REQUESTED:
            buttons = [Button("Approve", "approve", rid, "primary"), Button("Return", "return", rid)]
        buttons += _withdraw(request)
        title = f"Transfer {rid} · {_who(request)} · {_teams(ctx, request)}"
    return Card(title=title, facts=_facts(ctx, request), sections=[_standards_section(request)], buttons=buttons, footer=describe(ctx.org, request))


def transfer_message(uow: UnitOfWork, ctx: Context, request: Request, body: dict[str, Any]) -> Card:
    """Direct messages about a transfer, redrawn in place as it moves on."""
    view = str(body.get("view"))
    rid = str(request.id)
    who = _who(request)
    d = request.details
    dispute = d.get("dispute") or {}
    if view == "to_approve":  # C2: the supervising manager's own copy
        card = transfer_card(uow, ctx, request, "manager", int(body.get("revision") or request.revision))
        card.title = f"For you to approve: {card.title}"
        card.buttons = [b for b in card.buttons if b.action in ("approve", "return")]
        return card
    if view == "returned":
        return Card(
            title=f"Transfer {rid} · {who} · returned",
            facts=[Fact("Returned by", ctx.org.name_of(body.get("by") or request.last_actor))],
            sections=[Section("What is needed", [request.note or ""])],
            buttons=[Button("Resubmit", "transfer_resubmit", rid, "primary"), *_withdraw(request)] if request.state == RETURNED else [],
        )
    if view == "approved":
        return Card(title=f"Transfer {rid} · {who} · approved", facts=[Fact("Next", "The receiving team's managers accept, hold on duty or dispute it")])
    if view == "transfer_accepted":
        return Card(title=f"Transfer {rid} · {who} · accepted", facts=_facts(ctx, request))
    if view == "transfer_allocated":
        return Card(title=f"A case transfers to you: {who}", facts=_facts(ctx, request))
    if view == "transfer_dispute":  # T5: to the group managers of both teams
        buttons = [Button("Resolve", "transfer_resolve", rid, "primary"), Button("Escalate", "transfer_escalate", rid)] if request.state == DISPUTED else []
        return Card(
            title=f"Transfer {rid} · {who} · disputed by {ctx.org.team(str(request.receiving_team)).name} (T5)",
            facts=[*_facts(ctx, request), Fact("Disputed by", ctx.org.name_of(dispute.get("by")))],
            sections=[Section("Why disputed", [str(dispute.get("reason") or "")]), Section("Meanwhile", ["The case stays with the sending team (T5)."])],
            buttons=buttons,
        )
    if view == "transfer_escalated":  # T5: to the service manager
        return Card(
            title=f"Transfer {rid} · {who} · dispute escalated to you (T5)",
            facts=[*_facts(ctx, request), Fact("Escalated by", ctx.org.name_of(dispute.get("escalated_by")))],
            sections=[Section("Why disputed", [str(dispute.get("reason") or "")]), Section("Why escalated", [str(dispute.get("escalation_note") or "")])],
            buttons=[Button("Decide (final)", "transfer_decide", rid, "primary")] if request.state == ESCALATED else [],
        )
    if view == "transfer_settled":
        outcome = transfer.OUTCOMES.get(str(dispute.get("outcome")), "")
        final = "settled by the service manager's final decision" if dispute.get("final") else "resolved by the group managers"
        return Card(
            title=f"Transfer {rid} · {who} · dispute {final}",
            facts=[Fact("Outcome", outcome), Fact("By", ctx.org.name_of(dispute.get("settled_by"))), Fact("Disputed by", ctx.org.name_of(dispute.get("by")))],
            sections=[Section("Why", [str(dispute.get("note") or "")])],
        )
    return Card(title=f"Transfer {rid} · {who}", facts=_facts(ctx, request))


def audit_card(uow: UnitOfWork, ctx: Context, request: Request, audience: str, revision: int) -> Card:
    """C13: the audit at transfer in the receiving team's virtual worker (and its manager channel)."""
    rid = str(request.id)
    d = request.details
    facts = [
        Fact("Person", _who(request)),
        Fact("From", ctx.org.team(str(d.get("from_team"))).name if d.get("from_team") else "?"),
        Fact("Transferred on", _day(d.get("transferred_on"))),
        Fact("Allocated worker", ctx.org.name_of(request.case.worker)),
        Fact("State", {APPROVED: "In the virtual worker, unclaimed", CLAIMED: "Claimed", "closed": "Audit done"}.get(request.state, request.state)),
    ]
    if request.holder and request.state == CLAIMED:
        facts.append(Fact("Held by", deputies.named(uow, ctx, request.holder)))
    buttons: list[Button] = []
    if audience == "queue" and request.state == APPROVED:
        buttons.append(Button("Claim", "claim", rid, "primary"))
    if audience == "queue" and request.state == CLAIMED:
        buttons += [Button("Open audit at transfer", "transfer_audit", rid, "primary"), Button("Unclaim", "unclaim", rid)]
    if request.state in (APPROVED, CLAIMED):
        buttons.append(Button("Reassign", "reassign", rid))
    team = ctx.org.team(request.team).name
    return Card(title=f"Audit at transfer {rid} · {_who(request)} · {team} (C13)", facts=facts, buttons=buttons, footer=describe(ctx.org, request))


def audit_message(uow: UnitOfWork, ctx: Context, request: Request, body: dict[str, Any]) -> Card:
    return Card(title=f"Audit at transfer {request.id} · {_who(request)} is now yours", facts=[Fact("Assigned by", ctx.org.name_of(body.get("by")))])


# -- forms ---------------------------------------------------------------------------


def transfer_form(ctx: Context, case: Case, previous: dict[str, Any] | None = None, request_id: int | None = None) -> Form:
    """T1, T4: the transfer form; ``request_id`` makes it the resubmit of a returned one."""
    prev = previous or {}
    standards = prev.get("standards") or {}
    teams = [Option(t.key, t.name) for t in ctx.org.teams if t.key != case.team]
    fields = [
        FormField("receiving_team", "Receiving team", "select", teams, prev.get("receiving_team")),
        FormField("point_of_transfer", "Point of transfer (T1)", "select", [Option(k, v) for k, v in POINTS_OF_TRANSFER.items()], prev.get("point_of_transfer")),
        FormField("planned_date", "Planned transfer date", "date", initial=prev.get("planned_date")),
        FormField("reason", "Short reason", "text", initial=prev.get("reason")),
        FormField("gestation_weeks", "Weeks of gestation (pre-birth only)", "text", initial=str(prev["gestation_weeks"]) if prev.get("gestation_weeks") else None,
                  optional=True, hint="T1: a pre-birth transfer is not before 20 weeks' gestation"),
    ]
    if request_id is None:
        fields.append(FormField("readiness", "Potential or ready", "select", [Option(k, v) for k, v in transfer.READINESS.items()], "ready"))
    statuses = [Option("done", "Done"), Option("na", "Not applicable"), Option("outstanding", "Outstanding")]
    for key, label in STANDARDS.items():
        given = standards.get(key) or {}
        fields.append(FormField(f"std_{key}", label, "select", statuses, str(given.get("status") or "outstanding")))
        fields.append(FormField(f"why_{key}", "Why not applicable", "text", initial=given.get("why") or None, optional=True))
    callback, metadata = ("transfer_resubmit", str(request_id)) if request_id is not None else ("transfer", case.person_id)
    return Form(callback, "Transfer", "Send", metadata, fields, [f"Transfer of {case.person_id} ({case.person.initials}) from {ctx.org.team(case.team).name} (T1, T4)."])


def accept_form(ctx: Context, request: Request) -> Form:
    team = str(request.receiving_team)
    workers = [Option(p.key, p.name) for p in ctx.org.members(team, Role.WORKER)]
    return Form(
        "transfer_accept", "Accept transfer", "Accept", str(request.id),
        [FormField("worker", f"Allocated worker ({ctx.org.team(team).name})", "select", workers)],
        [f"Transfer {request.id} · {_who(request)} · planned {_day(request.details.get('planned_date'))}: the case moves at the point of transfer (T7)."],
    )


def _reason_form(callback: str, title: str, submit: str, request: Request, key: str, label: str, intro: str) -> Form:
    return Form(callback, title, submit, str(request.id), [FormField(key, label, "textarea")], [f"Transfer {request.id} · {_who(request)}: {intro}"])


def hold_form(request: Request) -> Form:
    return _reason_form("transfer_hold", "Hold on duty", "Hold on duty", request, "reason", "Delay reason", "held on duty, reviewed weekly until allocated (T6).")


def dispute_form(request: Request) -> Form:
    return _reason_form("transfer_dispute", "Dispute transfer", "Dispute", request, "reason", "Why", "the group managers of both teams decide next (T5).")


def escalate_form(request: Request) -> Form:
    return _reason_form("transfer_escalate", "Escalate dispute", "Escalate", request, "note", "Why escalate", "the service manager's decision is final (T5).")


def settle_form(request: Request, callback: str) -> Form:
    """T5: the group managers' resolution ("transfer_resolve") or the service manager's final decision ("transfer_decide")."""
    final = callback == "transfer_decide"
    return Form(
        callback, "Decide dispute" if final else "Resolve dispute", "Decide" if final else "Resolve", str(request.id),
        [
            FormField("outcome", "Outcome", "select", [Option(k, v) for k, v in transfer.OUTCOMES.items()]),
            FormField("note", "Reason", "textarea"),
        ],
        [f"Transfer {request.id} · {_who(request)}" + (": your decision is final (T5)." if final else ": resolve, or escalate to the service manager (T5).")],
    )


def audit_form(request: Request) -> Form:
    return Form(
        "transfer_audit", "Audit at transfer", "Complete", str(request.id),
        [FormField("checklist", "Checked", "checkboxes", [Option(k, v) for k, v in transfer.AUDIT_CHECKS.items()])],
        [f"Audit at transfer {request.id} · {_who(request)} (C13)."],
    )


CARDS: dict[str, Callable[[UnitOfWork, Context, Request, str, int], Card]] = {transfer.KIND: transfer_card, transfer.AUDIT_KIND: audit_card}
MESSAGES: dict[str, Callable[[UnitOfWork, Context, Request, dict[str, Any]], Card]] = {transfer.KIND: transfer_message, transfer.AUDIT_KIND: audit_message}
