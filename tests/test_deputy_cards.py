"""Act-for (issue 8) and issue 9: the cards that name someone are redrawn when their deputy
period starts or ends, boundedly.

A card names a person with ``workflows.deputies.named``: "Held by Sam Patel (away until Fri 27
Nov 2026: Tess Wong acts for them)" on the cards of the items Sam holds, and "For: Maria Lopez
(...)" on the manager card (and Maria's own copy, the "to_approve" DM) of a closure waiting for
her as the asker's supervising manager (C2). When ``/worktray deputy`` starts or ends a period,
or the period ends with its last day (the morning job), those cards are queued again through
the outbox, at most ``deputies.REDRAW_CAP`` requests' worth (the most recently active), each
card once; beyond that, one notice in the team channel.

On the demo organisation and store, SQLite and PostgreSQL (``db_url``), at the conftest's fixed
time (Thu 26 Nov 2026 10:00 UTC), delivered through a recording chat platform.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from functools import partial
from typing import Any

import pytest
from conftest import Journey
from sqlalchemy import select

from bot.cards import Card
from bot.deliver import Deliverer, Posted
from store.models import OutboxMessage
from store.uow import UnitOfWork
from workflows import deputies
from workflows.clock import LONDON, FixedClock
from workflows.requests import Context
from worktray import scheduler

MGR, BS, ADS_BS = "C0U12MGR", "C0U12BS", "C0ADSBS"
SAM_AWAY = "Sam Patel (away until Fri 27 Nov 2026: Tess Wong acts for them)"
MARIA_AWAY = "Maria Lopez (away until Fri 27 Nov 2026: Pia Novak acts for them)"


class Sender:
    """A chat platform that keeps every card it is given: (what, where, card)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Card]] = []
        self.ts = 0

    def post(self, channel: str, card: Card) -> str:
        self.ts += 1
        self.calls.append(("post", channel, card))
        return f"100.{self.ts}"

    def update(self, channel: str, message_id: str, card: Card) -> None:
        self.calls.append(("update", channel, card))

    def direct(self, user: str, card: Card) -> Posted:
        self.ts += 1
        self.calls.append(("dm", user, card))
        return Posted(f"D{user[1:]}", f"100.{self.ts}")

    def since(self, mark: int) -> list[tuple[str, str, Card]]:
        return self.calls[mark:]


def fact(card: Card, label: str) -> str | None:
    return next((f.value for f in card.facts if f.label == label), None)


def deliver(seeded: partial[UnitOfWork], ctx: Context, sender: Sender) -> list[tuple[str, str, Card]]:
    """Deliver what is due; the calls it made."""
    mark = len(sender.calls)
    Deliverer(seeded, ctx, sender, threads=1).drain()
    return sender.since(mark)


def queued_by(seeded: partial[UnitOfWork], action: Any) -> list[OutboxMessage]:
    """The outbox rows ``action`` queued."""
    with seeded() as uow:
        before = uow.session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0
    action()
    with seeded() as uow:
        rows = list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.id > before).order_by(OutboxMessage.id)))
        uow.session.expunge_all()
        return rows


def appoint(seeded: partial[UnitOfWork], ctx: Context, actor: str, deputy: str, until: dt.date = dt.date(2026, 11, 27)) -> None:
    with seeded() as uow:
        deputies.appoint(uow, ctx, actor, deputy, until, source="test")


def end(seeded: partial[UnitOfWork], ctx: Context, actor: str) -> None:
    with seeded() as uow:
        deputies.end(uow, ctx, actor, source="test")


def claimed_by_sam(journey: Journey, clock: FixedClock, person_id: str, requester: str, minute: int) -> int:
    """A closure claimed by Sam at 10:<minute> (its last activity)."""
    rid = journey.request(person_id, requester)
    journey.approve(rid)
    clock.at = dt.datetime(2026, 11, 26, 10, minute, tzinfo=dt.UTC)
    journey.claim(rid, "sam")
    return rid


def test_the_cards_of_what_sam_holds_say_who_acts_from_the_start_to_the_end(
    seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, journey: Journey
) -> None:
    rid = claimed_by_sam(journey, clock, "3549723", "amy", 5)
    sender = Sender()
    deliver(seeded, ctx, sender)  # the cards as they are: posted, then edited
    title = f"Closure request {rid} "

    appoint(seeded, ctx, "sam", "tess")
    calls = deliver(seeded, ctx, sender)
    redrawn = {channel: card for what, channel, card in calls if what == "update" and card.title.startswith(title)}
    assert set(redrawn) == {MGR, BS}  # the manager card and the virtual-worker card: each once
    assert [fact(card, "Held by") for card in redrawn.values()] == [SAM_AWAY, SAM_AWAY]
    assert Counter((what, channel) for what, channel, _ in calls) == {("update", MGR): 1, ("update", BS): 1}  # no notice: all redrawn

    clock.at = dt.datetime(2026, 11, 26, 15, 0, tzinfo=LONDON)
    end(seeded, ctx, "sam")  # back early
    calls = deliver(seeded, ctx, sender)
    assert {channel: fact(card, "Held by") for what, channel, card in calls if what == "update"} == {MGR: "Sam Patel", BS: "Sam Patel"}


def test_the_card_waiting_for_marias_decision_and_her_copy_say_who_acts(
    seeded: partial[UnitOfWork], ctx: Context, journey: Journey
) -> None:
    """C2: Ben's closure waits for his supervisor Maria: its manager card and Maria's "to_approve"
    DM say "For: Maria Lopez ..."; both are redrawn, and nothing else of the request."""
    rid = journey.request("3549728", actor="ben")
    sender = Sender()
    deliver(seeded, ctx, sender)
    rows = queued_by(seeded, lambda: appoint(seeded, ctx, "maria", "pia"))
    assert sorted((r.kind, r.channel, r.card_key) for r in rows) == [
        ("card", MGR, f"request:{rid}:r1:manager"),
        ("dm", "U0MARIA", f"dm:{rid}:v1:U0MARIA:to_approve"),
    ]
    calls = deliver(seeded, ctx, sender)
    assert [fact(card, "For") for _, _, card in calls] == [f"{MARIA_AWAY} (supervising manager; any manager of the team may act)"] * 2


def test_beyond_the_cap_the_most_recently_active_are_redrawn_and_the_team_channels_told(
    seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, journey: Journey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9: a business-support member may hold thousands of items. The command redraws the
    cards of the ``REDRAW_CAP`` most recently active (here 1), each once, and tells the channels
    of Sam's teams (he is business support in Under 12s and Adults South) how many others there are."""
    monkeypatch.setattr(deputies, "REDRAW_CAP", 1)
    older = claimed_by_sam(journey, clock, "3549723", "amy", 5)
    newer = claimed_by_sam(journey, clock, "3549728", "ben", 20)
    sender = Sender()
    deliver(seeded, ctx, sender)

    rows = queued_by(seeded, lambda: appoint(seeded, ctx, "sam", "tess"))
    assert sorted((r.channel, r.card_key or "notice") for r in rows) == [  # Ben's closure: Maria's copy names Sam too
        (ADS_BS, "notice"), (BS, "notice"), (BS, f"request:{newer}:queue"), (MGR, f"request:{newer}:r1:manager"),
        ("U0MARIA", f"dm:{newer}:v1:U0MARIA:to_approve"),
    ]
    calls = deliver(seeded, ctx, sender)
    assert not any(card.title.startswith(f"Closure request {older} ") for _, _, card in calls)
    notices = [(channel, card.title) for what, channel, card in calls if what == "post"]
    told = "Sam Patel is away until the end of Fri 27 Nov 2026: Tess Wong acts for Sam Patel on their 2 open items."
    assert notices == [(BS, told), (ADS_BS, told)] or notices == [(ADS_BS, told), (BS, told)]

    rows = queued_by(seeded, lambda: end(seeded, ctx, "sam"))
    assert len([r for r in rows if r.card_key]) == 3 and len([r for r in rows if not r.card_key]) == 2
    calls = deliver(seeded, ctx, sender)
    assert {c.title for what, _, c in calls if what == "post"} == {"Sam Patel is back: Tess Wong no longer acts for Sam Patel on their 2 open items."}


def test_the_morning_redraws_the_cards_once_a_period_has_ended_with_its_last_day(
    seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, journey: Journey
) -> None:
    """A period ends at midnight (London) after its last day: the morning job redraws the cards
    that named Sam, once a day across runs; a period ended early was redrawn then, not again."""
    claimed_by_sam(journey, clock, "3549723", "amy", 5)
    sender = Sender()
    deliver(seeded, ctx, sender)
    appoint(seeded, ctx, "sam", "tess", until=dt.date(2026, 11, 26))  # today only
    appoint(seeded, ctx, "maria", "pia", until=dt.date(2026, 11, 26))
    clock.at = dt.datetime(2026, 11, 26, 16, 0, tzinfo=LONDON)
    end(seeded, ctx, "maria")  # back early: redrawn now (Maria is named by nothing here anyway)
    deliver(seeded, ctx, sender)

    clock.at = dt.datetime(2026, 11, 27, 7, 0, tzinfo=LONDON)  # the next morning
    with seeded(readonly=True) as uow:
        changes = deputies.ended_by_date(uow, ctx)
    assert [len(c.redraws) for c in changes] == [2]  # Sam's period only: its manager and virtual-worker cards
    with seeded() as uow:
        assert deputies.redraw_ended(uow, ctx, changes) == 2
    calls = deliver(seeded, ctx, sender)
    assert {channel: fact(card, "Held by") for what, channel, card in calls if what == "update"} == {MGR: "Sam Patel", BS: "Sam Patel"}
    with seeded() as uow:
        assert deputies.redraw_after_ended_periods(uow, ctx) == 0  # today's run is taken

    clock.at = dt.datetime(2026, 11, 28, 7, 0, tzinfo=LONDON)  # the day after: nothing ended since
    with seeded() as uow:
        assert deputies.redraw_after_ended_periods(uow, ctx) == 0


def test_the_morning_round_runs_the_redraw_as_one_of_its_bodies(
    seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, journey: Journey
) -> None:
    from test_scheduler_time import CountingDeliverer

    from worktray.bootstrap import App

    claimed_by_sam(journey, clock, "3549723", "amy", 5)
    sender = Sender()
    deliver(seeded, ctx, sender)
    appoint(seeded, ctx, "sam", "tess", until=dt.date(2026, 11, 26))
    deliver(seeded, ctx, sender)
    clock.at = dt.datetime(2026, 11, 27, 7, 0, tzinfo=LONDON)
    app = App(ctx=ctx, uow=seeded, interactions=None, deliverer=CountingDeliverer())  # type: ignore[arg-type]
    assert scheduler.morning(app)["redraw_deputy_cards"] == 2  # the manager and virtual-worker cards of Sam's item
    assert app.deliverer.kicks == 1  # type: ignore[attr-defined]
    assert scheduler.morning(app)["redraw_deputy_cards"] == 0  # the start-up run after the 07:00 one
    assert ("deputy-cards", "*") in scheduler.RUN_RECORDS[scheduler.MORNING]


def test_the_request_rows_are_not_touched(seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, journey: Journey) -> None:
    """Redrawing is not a transition: no new version, so a click in flight does not lose its compare-and-set."""
    rid = claimed_by_sam(journey, clock, "3549723", "amy", 5)
    deliver(seeded, ctx, Sender())
    before = journey.get(rid)
    appoint(seeded, ctx, "sam", "tess")
    after = journey.get(rid)
    assert (after.version, after.details, after.last_action_at) == (before.version, before.details, before.last_action_at)


class HomeSender(Sender):
    """... with a Home tab: every Home published, (chat user, its cards' titles)."""

    def __init__(self) -> None:
        super().__init__()
        self.homes: list[tuple[str, list[str]]] = []

    def publish_home(self, user: str, cards: list[Card]) -> None:
        self.homes.append((user, [c.title for c in cards]))


def test_the_deputys_home_gains_the_items_and_loses_them_at_an_early_end(
    seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, journey: Journey
) -> None:
    """The redrawn cards' requests redraw the Homes they touch (``tray.affected_by``: a deputy
    always has a role other than worker in the absent person's team, so it is among them): Tess's
    gains Sam's item "on behalf of" him at the start and, at an early end, loses it, rather than
    keeping it until the next morning."""
    from workflows import tray

    rid = claimed_by_sam(journey, clock, "3549723", "amy", 5)
    with seeded() as uow:
        tray.note_home_opened(uow, ctx, "U0TESS")
    sender = HomeSender()
    deliver(seeded, ctx, sender)

    def tess_home() -> list[str]:
        [*_, (_user, titles)] = [h for h in sender.homes if h[0] == "U0TESS"] or [("U0TESS", ["never published"])]
        return titles

    appoint(seeded, ctx, "sam", "tess")
    deliver(seeded, ctx, sender)
    assert any(str(rid) in t and "on behalf of Sam Patel" in t for t in tess_home())
    published = len(sender.homes)
    clock.at = dt.datetime(2026, 11, 26, 15, 0, tzinfo=LONDON)
    end(seeded, ctx, "sam")
    deliver(seeded, ctx, sender)
    assert len(sender.homes) > published and not any("on behalf of Sam Patel" in t for t in tess_home())
