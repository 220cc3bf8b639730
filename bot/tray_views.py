"""The work tray as cards (issue 8): the App Home and ``/worktray``, one card a line.

Neutral like ``bot.views``: ``bot.blockkit.home_view`` and ``tray_blocks`` render it for
Slack, the console as text. A line's buttons are taken from the request's own card (or the
direct message that names the person, for a returned request, a dispute or a blocking
step), keeping only those the person may use (``workflows.requests.may``): the same action
IDs and values as the channel card, so a press on Home runs the same handler, and the
channel card is redrawn through the outbox as for any other press.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot import views
from bot.cards import Button, Card, Section
from store.uow import UnitOfWork
from workflows import audits, tray, work_steps
from workflows.access import RESTRICTED_LINE
from workflows.org import Organisation
from workflows.requests import Context, Request, may

PAGE_SIZE = 20  # lines a Home page: 2 blocks a line, well within Slack's 100 blocks a view
MESSAGE_LINES = 12  # lines in a /worktray reply: a message holds 50 blocks
MORE = "tray_more"  # the "Show more" button's action: its value is the page to show
# A card's button -> the core action whose permission it needs (``requests.may``).
BUTTON_ACTIONS = {
    "approve": "approve",
    "return": "return",
    "claim": "claim",
    "unclaim": "unclaim",
    "reassign": "reassign",
    "audit": "complete",
    "recheck": "recheck",
    "withdraw": "withdraw",
    "cancel_step": "cancel_step",
    "resubmit": "resubmit",
    "transfer_resubmit": "resubmit",
    "resubmit_purchase": "resubmit",
    "accept": "accept",
    "decline": "decline",
    "mark_ready": "mark_ready",
    "transfer_accept": "accept",
    "transfer_hold": "hold_on_duty",
    "transfer_dispute": "dispute",
    "transfer_resolve": "resolve_transfer",
    "transfer_escalate": "escalate",
    "transfer_decide": "decide_transfer",
    "transfer_audit": "complete",
    "record_audit": "complete",
}
CARD_AUDIENCES = ("manager", "queue", "receiving")


def _allowed(org: Organisation, actor: str, button: Button, request: Request, covering: tuple[str, ...] = ()) -> bool:
    action = BUTTON_ACTIONS.get(button.action)
    if action is None:  # step_done (the assignee's own), anything new: the core checks the press
        return True
    try:
        return may(org, actor, action, request, covering)
    except KeyError:
        return False


def line_buttons(uow: UnitOfWork, ctx: Context, actor: str, item: tray.TrayItem, request: Request) -> list[Button]:
    """The buttons of the line: those of the card it stands for, that ``actor`` may use."""
    if item.audience in CARD_AUDIENCES:
        card = views.request_card(uow, ctx, request, item.audience, request.revision)
    else:  # the direct message that names the person: returned, a dispute, a blocking step
        body: dict[str, Any] = {"view": item.audience, "request_id": request.id, "recipient": actor}
        if item.audience == "blocked":
            body["steps"] = [s.id for s in work_steps.blocking_steps(uow, ctx, request.applies_to)]
        card = views.MESSAGE_BUILDERS.get(request.kind, views._message_card)(uow, ctx, request, body)
    acting_for = (item.on_behalf_of,) if item.on_behalf_of else ()  # a deputy's line: the absent person's buttons
    buttons = [b for b in card.buttons if _allowed(ctx.org, actor, b, request, acting_for)]
    if item.hidden:  # a confirmation text may name the case (as on a channel card)
        buttons = [replace(b, confirm="Are you sure? This acts on a restricted record.") if b.confirm else b for b in buttons]
    return buttons


def _days(n: int) -> str:
    return f"{n} working day{'' if n == 1 else 's'}"


def line_text(ctx: Context, item: tray.TrayItem, request: Request) -> str:
    """One line: why, which request, whose (ID and initials; the name only where allowed), how long, late or not."""
    name = f" {item.name}" if item.name else ""  # name and date of birth: only where access.may_see_details allows
    name += f", born {item.born:%d/%m/%Y}" if item.name and item.born else ""
    who = RESTRICTED_LINE if item.hidden else f"{item.person_id} ({item.initials}){name}"
    late = f"OVERDUE by {_days(item.overdue_by)} · " if item.overdue else ""
    behalf = f" · on behalf of {ctx.org.name_of(item.on_behalf_of)}" if item.on_behalf_of else ""
    return (
        f"{late}{tray.REASONS[item.reason]} · {item.label} {item.request_id} · {who} · "
        f"{views.state_label(request)} · {_days(item.age)}{behalf}"
    )


def item_card(uow: UnitOfWork, ctx: Context, actor: str, item: tray.TrayItem, request: Request | None = None) -> Card:
    request = request or uow.requests.get(item.request_id)
    assert request is not None
    return Card(title=line_text(ctx, item, request), buttons=line_buttons(uow, ctx, actor, item, request))


def _team_name(ctx: Context, key: str) -> str:
    try:
        return ctx.org.team(key).name
    except KeyError:
        return key


def summary_card(ctx: Context, look: tray.WorkTray) -> Card | None:
    """For managers: the team's radar in counts (T2) and the overdue three-month audits (C13)."""
    sections = [
        Section(
            f"Two-week radar: {_team_name(ctx, r.team)}",
            [f"{r.transfers} transfer(s) coming, {r.overdue} past their planned date; {r.turning} reaching 11y6m (see /radar {r.team})"],
        )
        for r in look.radar
    ]
    if look.overdue_audits:
        sections.append(Section("Overdue three-month audits (C13)", [_audit_line(ctx, a) for a in look.overdue_audits[:10]]))
        if len(look.overdue_audits) > 10:
            sections[-1].lines.append(f"and {len(look.overdue_audits) - 10} more: see /audits")
    return Card(title="Your teams", sections=sections) if sections else None


def _audit_line(ctx: Context, audit: audits.DueAudit) -> str:
    raised = f"audit {audit.request_id}" if audit.request_id else "not raised yet"
    held = f", held by {ctx.org.name_of(audit.holder)}" if audit.holder else (", unclaimed" if audit.request_id else "")
    return f"{audit.person_id} ({audit.initials}) · {_team_name(ctx, audit.team)} · overdue by {_days(audit.working_days_overdue)} · {raised}{held}"


def tray_cards(uow: UnitOfWork, ctx: Context, look: tray.WorkTray, page: int = 1, page_size: int = PAGE_SIZE, *, home: bool = True) -> list[Card]:
    """The tray, a page of it: a heading card, the page's lines (one card each, with their
    buttons), the managers' summary, and a "Show more" button (Home) or a pointer to Home.
    A tray drawn a page at a time (``tray.work_tray(page=...)``) is shown as its page."""
    if look.page is not None:
        page, page_size = look.page, look.page_size
    waiting = look.waiting
    pages = max(1, -(-waiting // page_size))
    page = min(max(page, 1), pages)
    shown = look.items if look.page is not None else look.items[(page - 1) * page_size : page * page_size]
    where = f" in {_team_name(ctx, look.team)}" if look.team else ""
    heading = f"My work tray{where}: {waiting} waiting, {look.overdue} overdue"
    if pages > 1:
        heading += f" (page {page} of {pages})"
    cards = [Card(title=heading, footer="Overdue first, the most overdue at the top; then the oldest. Ages in working days (D4).")]
    cards += [item_card(uow, ctx, look.actor, item, look.requests.get(item.request_id)) for item in shown]
    if not waiting:
        cards.append(Card(title="Nothing is waiting for you."))
    summary = summary_card(ctx, look) if page == 1 else None
    if summary is not None:
        cards.append(summary)
    if page < pages:
        rest = waiting - page * page_size
        if home:
            cards.append(Card(title=f"{rest} more", buttons=[Button("Show more", MORE, str(page + 1))]))
        else:
            cards.append(Card(title=f"{rest} more: open worktray's Home tab to see them all."))
    elif page > 1 and home:
        cards.append(Card(title="That is all.", buttons=[Button("Back to the top", MORE, "1")]))
    return cards


def home_cards(uow: UnitOfWork, ctx: Context, chat_user_id: str, page: int = 1) -> list[Card]:
    """The Home tab of a chat user: their tray (page ``page``) and the commands."""
    person = ctx.org.person_by_chat_id(chat_user_id)
    if person is None:
        cards = [Card(title="worktray", sections=[Section("Not set up", ["You are not in worktray's organisation config; ask your administrator to add you."])])]
    else:
        cards = tray_cards(uow, ctx, tray.work_tray(uow, ctx, person.key, page=page, page_size=PAGE_SIZE))
    return [*cards, Card(title="Commands", sections=[Section("Type these anywhere; the answers are shown to you only", HOME_HELP)])]


HOME_HELP = [
    "/worktray [team]: this work tray (in one team), shown to you only",
    "/case close <person-id>: ask for a case to be closed",
    "/case status <person-id>: the case and its requests",
    "/case history <person-id> [page]: who did what on the case, newest first",
    "/case transfer <person-id>: ask for a case to move to another team",
    "/case reopen <person-id>: reopen a finished closure as a new involvement (managers, practice supervisors)",
    "/case rereferral <person-id> <N-code>: a contact within 3 months of closure goes back to the previous team",
    "/case help: what each command does",
    "/radar [team]: the two-week radar of transfers coming to a team (T2)",
    "/audits [team]: due and overdue three-month audits of a team (C13)",
    "/worktray deputy @person until <date>: who acts for you while you are away (/worktray deputy: who; ... end: stop)",
]


def affected_viewers(uow: UnitOfWork, ctx: Context, request_ids: set[int]) -> set[str]:
    """The chat user IDs whose Home to republish after these requests moved: each person
    (``workflows.tray.affected_by``) who has a chat ID and has opened Home
    (``workflows.tray.note_home_opened``). The others are left out before any tray is drawn:
    drawing is the cost, and Slack draws their Home afresh when they open it."""
    people: set[str] = set()
    for request in uow.requests.with_people(request_ids):  # one query for the batch's requests, not one each
        people |= tray.affected_by(uow, ctx, request)
    return tray.home_viewers(uow, {c for c in (ctx.org.chat_id_of(p) for p in people) if c})

