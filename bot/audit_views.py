"""Cards, direct messages and the form of the three-month audit (C13), and the ``/audits`` list.

Registered in ``bot.views`` (CARD_BUILDERS / MESSAGE_BUILDERS) like every kind. The card in
the business-support channel carries the person ID and initials only, and never the note
business support type: that goes only to the allocated worker and their manager, by DM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from bot.cards import Button, Card, Fact, Form, FormField, Option, Section
from store.models import Request
from store.uow import UnitOfWork
from workflows import audits, deputies
from workflows.clock import local_today
from workflows.requests import APPROVED, CLAIMED, CLOSED, Context, describe


def _who(request: Request) -> str:
    return f"{request.person_id} ({request.person.initials})"


def _day(value: dt.date | str | None) -> str:
    if not value:
        return "not set"
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return day.strftime("%d/%m/%Y")


def _due(ctx: Context, request: Request) -> str:
    """The due date, and how late it is now (working days, D4), drawn from the clock."""
    due_on = request.details.get("due_on")
    if not due_on:
        return "not set"
    due = dt.date.fromisoformat(str(due_on))
    today = local_today(ctx.clock)
    if request.state != CLOSED and today > due:
        return f"{_day(due)} (overdue by {ctx.org.calendar.working_days_between(due, today)} working days)"
    return _day(due)


STATE_WORDS = {APPROVED: "In the virtual worker, unclaimed", CLAIMED: "Claimed", CLOSED: "Audit recorded"}


def audit_card(uow: UnitOfWork, ctx: Context, request: Request, audience: str, revision: int) -> Card:
    """C13: the item in the team's virtual worker: Claim; then Record audit for the holder."""
    rid = str(request.id)
    recorded = request.details.get("audit") or {}
    facts = [
        Fact("Person", _who(request)),
        Fact("Case type", request.case.case_type),
        Fact("Allocated worker", ctx.org.name_of(request.case.worker)),
        Fact("Audit due", _due(ctx, request)),
        Fact("State", STATE_WORDS.get(request.state, request.state)),
    ]
    if request.holder and request.state == CLAIMED:
        facts.append(Fact("Held by", deputies.named(uow, ctx, request.holder)))
    if request.case.closed_on is not None and request.state != CLOSED:  # closed or transferred since it was raised
        facts.append(Fact("Case", f"Closed on {_day(request.case.closed_on)}: nothing more is due on it; record this audit to clear it"))
    if request.state == CLOSED and recorded:
        outcome = audits.OUTCOMES.get(str(recorded.get("outcome")), "?")
        if recorded.get("outcome") == audits.ACTIONS_NEEDED:  # the note itself only by DM
            outcome += ": the allocated worker and their manager were told by direct message"
        facts += [Fact("Outcome", outcome), Fact("Recorded by", ctx.org.name_of(recorded.get("by"))),
                  Fact("Next audit due", _day(audits.next_due(dt.date.fromisoformat(str(recorded["on"])))))]
    buttons: list[Button] = []
    if request.state == APPROVED:
        buttons.append(Button("Claim", "claim", rid, "primary"))
    if request.state == CLAIMED:
        buttons += [Button("Record audit", "record_audit", rid, "primary"), Button("Unclaim", "unclaim", rid)]
    if request.state in (APPROVED, CLAIMED):
        buttons.append(Button("Reassign", "reassign", rid))
    team = ctx.org.team(request.team).name
    return Card(title=f"Three-month audit {rid} · {_who(request)} · {team} (C13)", facts=facts, buttons=buttons, footer=describe(ctx.org, request))


def audit_message(uow: UnitOfWork, ctx: Context, request: Request, body: dict[str, Any]) -> Card:
    """DMs: "actions needed" to the allocated worker and their manager (with the note), or "assigned"."""
    rid = str(request.id)
    if body.get("view") == "audit_actions":
        recorded = request.details.get("audit") or {}
        no = [label for key, label in audits.CHECKS.items() if (recorded.get("checklist") or {}).get(key) == "no"]
        return Card(
            title=f"Three-month audit {rid} · {_who(request)}: actions needed (C13)",
            facts=[
                Fact("Team", ctx.org.team(request.team).name),
                Fact("Allocated worker", ctx.org.name_of(request.case.worker)),
                Fact("Audited by", ctx.org.name_of(recorded.get("by"))),
                Fact("Audited on", _day(recorded.get("on"))),
            ],
            sections=[Section("Actions needed", [str(recorded.get("note") or "")]), Section("Checks answered no", no or ["none"])],
        )
    return Card(title=f"Three-month audit {rid} · {_who(request)} is now yours", facts=[Fact("Assigned by", ctx.org.name_of(body.get("by")))])


def record_form(request: Request) -> Form:
    """C13: the checklist (each yes or no) and the outcome; a note for actions needed."""
    yes_no = [Option(k, v) for k, v in audits.YES_NO.items()]
    fields = [FormField(f"check_{key}", label, "select", yes_no) for key, label in audits.CHECKS.items()]
    fields += [
        FormField("outcome", "Outcome", "select", [Option(k, v) for k, v in audits.OUTCOMES.items()]),
        FormField("note", "Actions needed", "textarea", optional=True,
                  hint="Needed for actions needed: sent by direct message to the allocated worker and their manager, never to a channel"),
    ]
    return Form("record_audit", "Three-month audit", "Record", str(request.id), fields,
                [f"Three-month audit {request.id} · {_who(request)} · due {_day(request.details.get('due_on'))} (C13)."])


def _line(ctx: Context, audit: audits.DueAudit, today: dt.date) -> str:
    """IDs and initials only."""
    if audit.overdue:
        late = f"overdue by {audit.working_days_overdue} working days"
    else:
        to_go = ctx.org.calendar.working_days_between(today, audit.due_on)
        late = f"due in {to_go} working days" if to_go > 0 else "due today"
    if audit.request_id is None:
        where = "not raised yet"
    elif audit.state == CLAIMED:
        where = f"audit {audit.request_id} held by {ctx.org.name_of(audit.holder)}"
    else:
        where = f"audit {audit.request_id} unclaimed"
    return f"{audit.person_id} ({audit.initials}) · {_day(audit.due_on)}, {late} · {where}"


def audits_card(ctx: Context, look: audits.AuditList) -> Card:
    """``/audits [team]``: overdue first, then those due up to the team's notice horizon."""
    name = ctx.org.team(look.team).name
    if not look.audits:
        return Card(title=f"Three-month audits for {name}: none due up to {_day(look.until)}")
    late = [a for a in look.audits if a.overdue]
    soon = [a for a in look.audits if not a.overdue]
    sections = []
    if late:
        sections.append(Section("Overdue", [_line(ctx, a, look.as_of) for a in late]))
    if soon:
        sections.append(Section(f"Due up to {_day(look.until)}", [_line(ctx, a, look.as_of) for a in soon]))
    return Card(
        title=f"Three-month audits for {name}: {len(late)} overdue, {len(soon)} due up to {_day(look.until)}",
        facts=[Fact("As of", _day(look.as_of))],
        sections=sections,
        footer="IDs and initials only. Working days leave out weekends, England's bank holidays and closure days (D4).",
    )


CARDS: dict[str, Callable[[UnitOfWork, Context, Request, str, int], Card]] = {audits.KIND: audit_card}
MESSAGES: dict[str, Callable[[UnitOfWork, Context, Request, dict[str, Any]], Card]] = {audits.KIND: audit_message}
