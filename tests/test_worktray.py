"""The work tray (issue 8, "App Home — My work tray"): what waits for whom, at a frozen time.

Core and presentation on the real store (SQLite and PostgreSQL, ``db_url``), requests
driven through the real handlers (``conftest.Journey``), the clock fixed at Thursday
26 November 2026 10:00 UTC and moved by hand. Ages are working days (D4: weekends and
England's bank holidays left out); a line is overdue once it has waited the team's
reminder threshold (``teams[].reminders``: manager_after 2, unclaimed_after 1, ...).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from functools import partial

import pytest
from conftest import Journey, fingerprint
from test_transfer import CHILD, form

from bot import tray_views
from bot.actions import Interactions, Reply
from bot.blockkit import MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, home_view, tray_blocks
from bot.cards import Card
from bot.console import Console, ConsoleSender
from bot.deliver import Deliverer
from commands import worktray as worktray_command
from commands.case import CommandError
from store.models import HomeViewer, WorkStep
from store.uow import UnitOfWork
from workflows import requests as wf
from workflows import transfer, tray
from workflows.access import RESTRICTED_LINE
from workflows.clock import FixedClock
from workflows.org import WORKTRAY_SUBCOMMANDS
from workflows.requests import Context
from worktray.bootstrap import build

KAI = "3549728"  # Kai Ellison (KE), fictitious: Under 12s, worker ben (supervisor maria), an open work step of ben's
EVE = "3501779"  # Eve Sutton (ES), fictitious: Under 12s, her three-month audit overdue (C13)
LILY = "3549723"  # Lily Marsh (LM), fictitious: Under 12s, worker amy


def look(journey: Journey, actor: str, team: str | None = None) -> tray.WorkTray:
    with journey.uow() as uow:
        return tray.work_tray(uow, journey.ctx, actor, team)


def cards(journey: Journey, chat_id: str, page: int = 1) -> list[Card]:
    with journey.uow() as uow:
        return tray_views.home_cards(uow, journey.ctx, chat_id, page)


def buttons(found: list[Card], request_id: int) -> list[tuple[str, str]]:
    line = next(c for c in found if f" {request_id} · " in c.title)
    return [(b.action, b.value) for b in line.buttons]


def monday_after(clock: FixedClock) -> None:
    """Thursday 26 Nov 10:00 -> Tuesday 1 Dec 10:00: 3 working days (Fri, Mon, Tue)."""
    clock.advance(days=5)


def test_a_manager_sees_what_awaits_their_decision_with_its_age_and_overdue_state(journey: Journey, ctx: Context, clock: FixedClock) -> None:
    rid = journey.request(KAI, "ben")  # C2: ben's supervisor is maria
    now = look(journey, "maria")
    [item] = [i for i in now.items if i.request_id == rid]
    assert (item.reason, item.age, item.overdue) == (tray.DECIDE, 0, False)
    assert (item.person_id, item.initials, item.name) == (KAI, "KE", "Kai Ellison")  # Home: a manager of the team may see the name
    monday_after(clock)
    later = look(journey, "maria")
    [item] = [i for i in later.items if i.request_id == rid]
    assert (item.age, item.threshold, item.overdue, item.overdue_by) == (3, 2, True, 1)  # manager_after: 2 working days
    # The same buttons as the manager's channel card, same action and value (Home and card stay identical).
    home = cards(journey, "U0MARIA")
    assert ("approve", str(rid)) in buttons(home, rid) and ("return", str(rid)) in buttons(home, rid)
    assert home[1].title.startswith(f"OVERDUE by 1 working day · Awaiting your decision · Closure request {rid} · {KAI} (KE) Kai Ellison")
    assert "3 working days" in home[1].title and ", born 28/11/2016" in home[1].title  # name and date of birth: access.may_see_details
    # The requester's own request is not "awaiting" ben; a worker elsewhere sees nothing of it.
    assert rid not in [i.request_id for i in look(journey, "ben").items]
    assert look(journey, "dan").items == []


def test_a_manager_sees_the_radar_summary_and_overdue_audits(journey: Journey) -> None:
    maria = look(journey, "maria")
    assert [r.team for r in maria.radar] == ["u12"]
    [audit] = maria.overdue_audits  # C13: Eve Sutton's, due Tuesday 17 Nov 2026
    assert (audit.person_id, audit.working_days_overdue) == (EVE, 7)  # 18, 19, 20, 23, 24, 25, 26 Nov
    summary = next(c for c in cards(journey, "U0MARIA") if c.title == "Your teams")
    text = json.dumps([s.lines for s in summary.sections])
    assert "overdue by 7 working days" in text and f"{EVE} (ES)" in text and "Eve" not in text
    assert look(journey, "amy").radar == [] and look(journey, "amy").overdue_audits == []  # a worker gets no team summary


def test_a_group_manager_sees_the_team_summary_not_the_managers_decisions(journey: Journey) -> None:
    rid = journey.request(KAI, "ben")
    gita = look(journey, "gita")
    assert rid not in [i.request_id for i in gita.items]  # C2: the decision is the managers'
    assert [r.team for r in gita.radar] == ["u12"] and gita.overdue_audits


def test_business_support_see_the_unclaimed_queue_then_what_they_hold(journey: Journey, clock: FixedClock) -> None:
    rid = journey.request(LILY, "amy")
    journey.approve(rid)
    for member in ("sam", "tess"):
        [item] = [i for i in look(journey, member).items if i.request_id == rid]
        assert (item.reason, item.age, item.overdue, item.name, item.born) == (tray.QUEUE, 0, False, None, None)  # BS: ID and initials only
    assert buttons(cards(journey, "U0SAM"), rid) == [("claim", str(rid))]  # not Reassign: that is a manager's
    clock.advance(days=1)  # Friday: 1 working day unclaimed, unclaimed_after 1
    [item] = [i for i in look(journey, "sam").items if i.request_id == rid]
    assert (item.age, item.overdue) == (1, True)
    journey.claim(rid, "sam")
    [item] = [i for i in look(journey, "sam").items if i.request_id == rid]
    assert (item.reason, item.age, item.overdue) == (tray.HELD, 0, False)
    assert buttons(cards(journey, "U0SAM"), rid) == [("audit", str(rid)), ("unclaim", str(rid))]
    assert rid not in [i.request_id for i in look(journey, "tess").items]  # held by sam: out of tess's queue


def test_a_worker_sees_their_returned_request_and_the_work_step_blocking_a_closure(journey: Journey, clock: FixedClock) -> None:
    returned = journey.request(LILY, "amy")
    journey.return_(returned)
    [item] = look(journey, "amy").items
    assert (item.reason, item.request_id, item.age, item.overdue) == (tray.RETURNED_TO_YOU, returned, 0, False)
    assert (item.person_id, item.initials, item.name) == (LILY, "LM", "Lily Marsh")  # her own case: the name on Home
    assert [a for a, _ in buttons(cards(journey, "U0AMY"), returned)] == ["resubmit", "withdraw"]
    clock.advance(days=5)  # Tuesday 1 Dec: 3 working days since it was returned
    [item] = look(journey, "amy").items
    assert (item.age, item.overdue, item.overdue_by) == (3, True, 1)
    clock.advance(days=-5)

    blocked = journey.to_state("blocked", KAI, requester="ben")
    ben = [i for i in look(journey, "ben").items if i.request_id == blocked]
    assert [i.reason for i in ben] == [tray.STEPS]
    with journey.uow() as uow:
        step_id = next(s.id for s in uow.cases.open_work_steps([KAI]) if s.assignee == "ben")
    assert buttons(cards(journey, "U0BEN"), blocked) == [("step_done", str(step_id))]  # the same button as the blocked DM
    assert [i.reason for i in look(journey, "sam").items if i.request_id == blocked] == [tray.HELD]
    with journey.uow() as uow:
        blocking = {s.id: s.assignee for s in tray.work_steps.blocking_steps(uow, journey.ctx, [KAI])}
    if "amy" in blocking.values():  # D3: her future visit (3 Dec) is within the incoming window: it blocks too
        amy_step = next(i for i, who in blocking.items() if who == "amy")
        assert buttons(cards(journey, "U0AMY"), blocked) == [("step_done", str(amy_step))]
    assert blocked not in [i.request_id for i in look(journey, "tess").items]


def test_a_work_step_of_another_teams_blocked_closure_is_in_its_assignees_tray(journey: Journey) -> None:
    """The tray reads the viewer's own teams' requests whole and, of the other teams, those that
    name them, come to their teams or are blocked (``tray._open_requests``): dan works in Adults
    South only, and a step of his blocks an Under 12s closure (C6.1). In a read-only unit of work
    too, where a team's requests are loaded once for every tray drawn in it."""
    with journey.uow() as uow:
        uow.cases.add(WorkStep(person_id=KAI, title="Adults liaison", assignee="dan", kind="incomplete", status="open"))
        uow.commit()
    blocked = journey.to_state("blocked", KAI, requester="ben")
    assert journey.ctx.org.teams_of("dan") == ["adults-south"]
    assert [i.reason for i in look(journey, "dan").items if i.request_id == blocked] == [tray.STEPS]
    with journey.uow(readonly=True) as uow:
        trays = {who: tray.work_tray(uow, journey.ctx, who) for who in ("ben", "dan", "tess")}
    assert [[i.reason for i in trays[who].items if i.request_id == blocked] for who in ("ben", "dan", "tess")] == [
        [tray.STEPS], [tray.STEPS], []
    ]


def test_overdue_first_the_most_overdue_at_the_top_then_the_oldest(journey: Journey, clock: FixedClock) -> None:
    old = journey.request(KAI, "ben")
    clock.advance(days=4)  # Monday 30 Nov
    young = journey.request(LILY, "amy")
    clock.advance(days=1)  # Tuesday 1 Dec: old waited 3 working days (overdue), young 1
    order = [(i.request_id, i.overdue) for i in look(journey, "maria").items]
    assert order == [(old, True), (young, False)]
    items = [
        tray.TrayItem(tray.DECIDE, n, "closure", "Closure request", "requested", "1", "AB", None, False, age, threshold, "manager", "u12")
        for n, (age, threshold) in enumerate([(1, 2), (5, 2), (3, 1), (4, 9), (2, 2)])
    ]
    assert [i.request_id for i in tray.order(items)] == [1, 2, 4, 3, 0]  # overdue by 3, 2, 0; then not overdue, aged 4, 1


def test_the_tray_writes_nothing(journey: Journey, seeded: partial[UnitOfWork]) -> None:
    journey.to_state("blocked", KAI, requester="ben")
    before = fingerprint(seeded)
    for actor, chat in (("maria", "U0MARIA"), ("sam", "U0SAM"), ("ben", "U0BEN"), ("gita", "U0GITA")):
        look(journey, actor)
        cards(journey, chat)
    assert fingerprint(seeded) == before


def test_a_restricted_record_shows_details_only_to_permitted_people(journey: Journey) -> None:
    with journey.uow() as uow:
        person = uow.cases.person(LILY)
        assert person is not None
        person.restricted = True
        uow.commit()
    rid = journey.request(LILY, "amy")
    maria = cards(journey, "U0MARIA")  # a manager of the team: permitted
    assert any(f"{LILY} (LM) Lily Marsh" in c.title for c in maria)
    journey.approve(rid)
    sam = cards(journey, "U0SAM")  # business support: the number and the neutral line, and the button to act
    line = next(c for c in sam if f" {rid} · " in c.title)
    assert RESTRICTED_LINE in line.title and [b.action for b in line.buttons] == ["claim"]
    shown = json.dumps(home_view(sam))
    for forbidden in (LILY, "(LM)", "Lily", "Marsh"):
        assert forbidden not in shown


def test_home_pages_within_slacks_block_limit(journey: Journey) -> None:
    rid = journey.request(KAI, "ben")
    with journey.uow() as uow:
        [item] = [i for i in tray.work_tray(uow, journey.ctx, "maria").items if i.request_id == rid]
        many = tray.WorkTray("maria", None, dt.date(2026, 11, 26), items=[item] * 45)
        pages = [tray_views.tray_cards(uow, journey.ctx, many, page) for page in (1, 2, 3)]
        reply = tray_views.tray_cards(uow, journey.ctx, many, page_size=tray_views.MESSAGE_LINES, home=False)
    for n, page in enumerate(pages, start=1):
        view = home_view(page)
        assert view["type"] == "home" and len(view["blocks"]) <= MAX_VIEW_BLOCKS
        assert f"(page {n} of 3)" in page[0].title
    assert [b.value for b in pages[0][-1].buttons] == ["2"] and pages[0][-1].buttons[0].action == tray_views.MORE
    assert [b.value for b in pages[2][-1].buttons] == ["1"]  # the last page: back to the top
    assert sum(1 for c in pages[0] if f" {rid} · " in c.title) == tray_views.PAGE_SIZE
    assert len(tray_blocks(reply)) <= MAX_MESSAGE_BLOCKS and "open worktray's Home tab" in reply[-1].title


# -- /worktray: parsing, the core's answer, the console ------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", worktray_command.WorkTray(None)), ("u12", worktray_command.WorkTray("u12")), ("  U12 ", worktray_command.WorkTray("u12"))],
)
def test_worktray_parses(text: str, expected: worktray_command.WorkTray) -> None:
    assert worktray_command.parse(text) == expected


@pytest.mark.parametrize(("text", "message"), [("u12 extra", "Usage: `/worktray`"), ("no/such", "Usage"), ("deputy @ben until 2026-12-01", "Unknown subcommand 'deputy'")])
def test_worktray_refuses_what_it_cannot_read(text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(")) as refused:
        worktray_command.parse(text)
    assert worktray_command.USAGE in str(refused.value)


def test_the_adapter_dispatches_the_shared_reserved_words(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """The words `/worktray` reads as sub-commands are one list (workflows.org.WORKTRAY_SUBCOMMANDS,
    refused as team keys by the org config): the adapter has a handler for each, and a word added
    to the list reaches its handler, in any case, with the rest of the text."""
    import bot.actions

    assert set(Interactions.WORKTRAY_SUBCOMMAND_HANDLERS) == set(WORKTRAY_SUBCOMMANDS)
    heard: list[tuple[str, str]] = []

    def away(self: Interactions, chat_user_id: str, rest: str, source: str | None) -> Reply:
        heard.append((chat_user_id, rest))
        return Reply(text="away")

    monkeypatch.setattr(bot.actions, "WORKTRAY_SUBCOMMANDS", (*WORKTRAY_SUBCOMMANDS, "away"))
    monkeypatch.setitem(Interactions.WORKTRAY_SUBCOMMAND_HANDLERS, "away", away)
    interactions = Interactions(lambda: pytest.fail("a sub-command's dispatch opens no unit of work"), ctx)
    assert interactions.worktray("U0MARIA", "Away until friday").text == "away"
    assert heard == [("U0MARIA", "until friday")]


def test_worktray_answers_the_asker_and_refuses_teams_they_may_not_see(journey: Journey, seeded: partial[UnitOfWork], ctx: Context) -> None:
    rid = journey.request(KAI, "ben")
    interactions = Interactions(seeded, ctx)
    reply = interactions.worktray("U0MARIA", "")
    assert reply.cards[0].title.startswith("My work tray: 1 waiting") and any(f" {rid} · " in c.title for c in reply.cards)
    assert interactions.worktray("U0MARIA", "u12").cards[0].title.startswith("My work tray in Under 12s: 1 waiting")
    before = fingerprint(seeded)
    for text, message in [
        ("adults-south", "Only people with a role in Adults South may see its work tray."),
        ("nosuch", "There is no team 'nosuch'"),
        ("u12 u12", "Usage: `/worktray`"),
    ]:
        refused = interactions.worktray("U0MARIA", text)
        assert refused.cards == [] and refused.text is not None and message in refused.text, (text, refused.text)
    assert "not in worktray's organisation config" in (interactions.worktray("U0NOBODY", "").text or "")
    assert fingerprint(seeded) == before


def test_worktray_in_the_console(journey: Journey, db_url: str, ctx: Context) -> None:
    rid = journey.request(KAI, "ben")
    out = io.StringIO()
    app = build(db_url, ctx.org, ConsoleSender(ctx.org, out), ctx.clock)
    Console(app, out, echo=True).run(["as maria", "/worktray", "/worktray adults-south"])
    text = out.getvalue()
    assert f"Closure request {rid} · {KAI} (KE)" in text and "Approve" in text
    assert "Only people with a role in Adults South may see its work tray." in text


# -- transfers: the receiving managers' decision, the group managers' dispute, the service manager's (T5) ----


def test_transfer_decisions_and_disputes_reach_the_right_trays(journey: Journey, clock: FixedClock) -> None:
    def do(fn: object, *args: object) -> None:
        with journey.uow() as uow:
            fn(uow, journey.ctx, *args)  # type: ignore[operator]

    with journey.uow() as uow:
        rid = transfer.raise_transfer(uow, journey.ctx, "ben", CHILD, form(planned_date="2026-11-20")).id
    assert [(i.reason, i.audience) for i in look(journey, "maria").items if i.request_id == rid] == [(tray.DECIDE, "manager")]
    do(wf.approve, rid, "maria", wf.Approval())
    [nadia] = [i for i in look(journey, "nadia").items if i.request_id == rid]  # the receiving manager decides now
    assert (nadia.reason, nadia.audience, nadia.team) == (tray.DECIDE, "receiving", "12plus")
    assert [a for a, _ in buttons(cards(journey, "U0NADIA"), rid)] == ["transfer_accept", "transfer_hold", "transfer_dispute"]
    assert rid not in [i.request_id for i in look(journey, "maria").items]
    do(transfer.dispute, rid, "nadia", "Not at the point of transfer yet.")
    for group_manager, chat in (("gita", "U0GITA"), ("rafe", "U0RAFE")):  # T5: both teams' group managers
        assert [i.reason for i in look(journey, group_manager).items if i.request_id == rid] == [tray.DISPUTE]
        assert [a for a, _ in buttons(cards(journey, chat), rid)] == ["transfer_resolve", "transfer_escalate"]
    assert rid not in [i.request_id for i in look(journey, "nadia").items]
    do(transfer.escalate, rid, "gita", "Cannot agree.")
    assert [i.reason for i in look(journey, "olu").items if i.request_id == rid] == [tray.DISPUTE]
    assert buttons(cards(journey, "U0OLU"), rid) == [("transfer_decide", str(rid))]
    assert rid not in [i.request_id for i in look(journey, "gita").items]


def test_only_home_viewers_trays_are_drawn_after_a_request_moves(journey: Journey, ctx: Context, clock: FixedClock) -> None:
    """Issue 9: ``affected_viewers`` (whose Homes the deliverer draws after a move) keeps the people
    who have opened Home (``note_home_opened``), so no tray is drawn for the others; a second
    opening moves ``last_opened_at`` only (an upsert)."""
    rid = journey.request(LILY, "amy")  # amy's request: amy, the Under 12s managers, business support, ...
    with journey.uow() as uow:
        assert sorted(tray_views.affected_viewers(uow, ctx, {rid})) == []  # nobody has opened Home yet
    with journey.uow() as uow:
        tray.note_home_opened(uow, ctx, "U0MARIA")
    first = clock.now()
    clock.advance(hours=2)
    for chat_id in ("U0MARIA", "U0RUTH", "U0NOTINORG"):
        with journey.uow() as uow:
            tray.note_home_opened(uow, ctx, chat_id)
    with journey.uow() as uow:
        assert sorted(tray_views.affected_viewers(uow, ctx, {rid})) == ["U0MARIA"]  # a viewer the request does not touch (ruth, adults-south) is not drawn
        # Someone outside the organisation is not noted (no request is ever in their tray).
        assert tray.home_viewers(uow, {"U0MARIA", "U0AMY", "U0RUTH", "U0NOTINORG"}) == {"U0MARIA", "U0RUTH"}
        row = uow.session.get(HomeViewer, "U0MARIA")  # the first opening kept, the last moved
        assert row is not None and (row.first_opened_at, row.last_opened_at) == (first, clock.now())


def test_the_morning_refresh_takes_the_recent_viewers_once_a_working_day(journey: Journey, clock: FixedClock) -> None:
    """``homes_to_refresh``: the people who opened Home within ``RECENT_HOME_VIEWERS`` (its first
    moment included) and are still in the organisation, sorted; nobody on a day that is not a
    working day (nothing claimed then); the day claimed once, by the first of two instances."""
    ctx = journey.ctx
    monday = dt.datetime(2026, 11, 30, 7, tzinfo=dt.UTC)  # 07:00 London (GMT)
    window = tray.RECENT_HOME_VIEWERS
    for chat_id, opened in (("U0SAM", monday - dt.timedelta(days=3)), ("U0MARIA", monday - window), ("U0TESS", monday - window - dt.timedelta(seconds=1))):
        clock.at = opened
        with journey.uow() as uow:
            tray.note_home_opened(uow, ctx, chat_id)
    with journey.uow() as uow:  # someone the organisation config no longer has (noted while it did)
        uow.home_viewers.opened("U0GONE", monday - dt.timedelta(days=1))
        uow.commit()
    clock.at = monday - dt.timedelta(days=2)
    with journey.uow() as uow:
        assert tray.homes_to_refresh(uow, ctx) == []  # Saturday: no age moves, nothing claimed
        assert uow.job_run(job=tray.HOME_REFRESH_JOB, team="*", period="2026-11-28") is None
    clock.at = monday
    with journey.uow() as uow:
        assert uow.home_viewers.opened_since(monday - window) == ["U0GONE", "U0MARIA", "U0SAM"]
    other = Context(org=ctx.org, clock=clock)  # a second instance
    with journey.uow() as first, journey.uow() as second:
        assert tray.homes_to_refresh(first, ctx) == ["U0MARIA", "U0SAM"]
        assert tray.homes_to_refresh(second, other) == []  # the day is taken
    clock.advance(hours=9)  # a restart in the afternoon
    with journey.uow() as uow:
        assert tray.homes_to_refresh(uow, ctx) == []
        assert uow.job_run(job=tray.HOME_REFRESH_JOB, team="*", period="2026-11-30") is not None


class HomeSender:
    """A chat platform with a Home tab (Slack's side, recorded): it takes every card and notes
    each Home published; ``all_in`` is set once everyone in ``expected`` has one."""

    def __init__(self, expected: set[str]) -> None:
        self.expected = expected
        self.homes: dict[str, list[Card]] = {}
        self.all_in = threading.Event()

    def post(self, channel: str, card: Card) -> str:
        return "1.1"

    def update(self, channel: str, message_id: str, card: Card) -> None:
        pass

    def direct(self, user: str, card: Card) -> str:
        return "1.1"

    def publish_home(self, user: str, cards: list[Card]) -> None:
        self.homes[user] = cards
        if self.expected <= set(self.homes):
            self.all_in.set()


def test_the_morning_refresh_is_drawn_on_the_deliverers_home_thread(journey: Journey, ctx: Context) -> None:
    """``Deliverer.republish_homes``: once started, the Homes are drawn and published on its Home
    thread (as after a delivery), each as it is now, though no request of theirs moved."""
    journey.request(LILY, "amy")
    sender = HomeSender({"U0MARIA", "U0SAM"})
    deliverer = Deliverer(journey.uow, ctx, sender)
    assert deliverer.has_home and not Deliverer(journey.uow, ctx, ConsoleSender(ctx.org, io.StringIO())).has_home
    deliverer.start()
    try:
        deliverer.republish_homes(["U0MARIA", "U0SAM"])
        assert sender.all_in.wait(60)
    finally:
        deliverer.stop()
    assert set(sender.homes) == {"U0MARIA", "U0SAM"}  # nobody else: none of those the request touches opened Home
    assert sender.homes["U0MARIA"][0].title == "My work tray: 1 waiting, 0 overdue"
    assert sender.homes["U0SAM"][0].title == "My work tray: 0 waiting, 0 overdue"
