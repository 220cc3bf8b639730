"""Restricted records (issue 8, data minimisation), through the workflows and the rendering.

A restricted person's request shows in channels only as "a restricted record needs your
action" with its number and the buttons the people there need; DMs to the people the
journey names keep the details. The same holds for the radar and agenda digests (T2, T3)
and the reminders' business-support nudge (C5). Fictitious demo people: 3549723 is Lily
Marsh (LM, worker amy).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from functools import partial

import pytest
from sqlalchemy import select
from test_radar import RADAR_DAY, add_child, add_transfer

from bot.cards import Button, Card, Fact
from bot.deliver import Deliverer, Posted
from bot.views import agenda_card, radar_card, redact_for_channel
from store.models import OutboxMessage
from store.uow import UnitOfWork
from workflows import radar, reminders
from workflows import requests as wf
from workflows.access import RESTRICTED_LINE
from workflows.clock import LONDON
from workflows.requests import Context

LILY = "3549723"
NAMES = ("Lily", "Marsh", "Tam", "Quill")


def restrict(seeded: partial[UnitOfWork], person_id: str) -> None:
    with seeded() as uow:
        person = uow.cases.person(person_id)
        assert person is not None
        person.restricted = True
        uow.commit()


class CardSender:
    """Keeps every card as delivered: (where, channel or user, card)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Card]] = []

    def post(self, channel: str, card: Card) -> str:
        self.sent.append(("channel", channel, card))
        return f"100.{len(self.sent)}"

    def update(self, channel: str, message_id: str, card: Card) -> None:
        self.sent.append(("dm" if channel.startswith("D") else "channel", channel, card))

    def direct(self, user: str, card: Card) -> Posted:
        self.sent.append(("dm", user, card))
        return Posted(f"D{user[1:]}", f"100.{len(self.sent)}")

    def text(self, where: str) -> str:
        return json.dumps([dataclasses.asdict(card) for w, _, card in self.sent if w == where], ensure_ascii=False)


def test_a_restricted_closure_journey_posts_neutral_channel_cards_and_detailed_dms(seeded, journey, ctx):
    """C2 manager card, C5 virtual-worker item, through to closed (C6): every channel card is neutral."""
    restrict(seeded, LILY)
    sender = CardSender()
    deliverer = Deliverer(seeded, ctx, sender)
    rid = journey.to_state(wf.REQUESTED, LILY, "amy")
    deliverer.drain()
    [(_, channel, card)] = [s for s in sender.sent if s[0] == "channel"]
    assert (channel, card.title) == ("C0U12MGR", f"Request {rid} · {RESTRICTED_LINE}")
    assert [b.label for b in card.buttons] == ["Approve", "Return", "Withdraw"]  # the work still flows
    assert not card.facts and not card.sections and card.footer is None
    with seeded() as uow:
        wf.approve(uow, ctx, rid, "maria")
    deliverer.drain()
    queue = [card for w, ch, card in sender.sent if w == "channel" and ch == "C0U12BS"]
    assert queue and queue[-1].title == f"Request {rid} · {RESTRICTED_LINE}"
    assert [b.label for b in queue[-1].buttons] == ["Claim", "Reassign"]
    channels = sender.text("channel")
    for forbidden in (LILY, "(LM)", "LM", *NAMES, "RC", "Amy"):
        assert forbidden not in channels, forbidden
    assert LILY in sender.text("dm")  # the worker's DM (a person the journey names) keeps the details


def test_an_unrestricted_closure_still_shows_the_id_and_initials(seeded, journey, ctx):
    sender = CardSender()
    rid = journey.to_state(wf.REQUESTED, LILY, "amy")
    Deliverer(seeded, ctx, sender).drain()
    assert f"Closure request {rid} · {LILY} (LM)" in sender.text("channel")


def test_redaction_keeps_buttons_but_not_a_confirmation_that_names_the_case() -> None:
    card = Card(
        title="Closure request 7 · 3549723 (LM)",
        facts=[Fact("Person", "3549723 (LM)")],
        buttons=[Button("Claim", "claim", "7"), Button("Withdraw", "withdraw", "7", "danger", confirm="Withdraw closure 7 of 3549723?")],
        footer="Requested by Amy",
    )

    class _Request:
        id = 7

    redacted = redact_for_channel(card, _Request())  # type: ignore[arg-type]
    assert redacted.title == f"Request 7 · {RESTRICTED_LINE}" and redacted.fallback_text == redacted.title
    assert [(b.label, b.action, b.value) for b in redacted.buttons] == [("Claim", "claim", "7"), ("Withdraw", "withdraw", "7")]
    assert "3549723" not in json.dumps(dataclasses.asdict(redacted))


def test_the_reminders_channel_nudge_of_a_restricted_item_is_neutral(seeded, journey, ctx, clock, monkeypatch: pytest.MonkeyPatch):
    """C5: an unclaimed item is nudged in business support's channel; restricted, it says only that it needs action."""
    monkeypatch.delitem(reminders.SOURCES, "overdue_audits")  # its ladder has tests of its own
    restrict(seeded, LILY)
    clock.at = dt.datetime(2026, 11, 26, 10, tzinfo=LONDON)
    rid = journey.to_state(wf.APPROVED, LILY, "amy")
    clock.at = dt.datetime(2026, 11, 27, 9, tzinfo=LONDON)
    with seeded() as uow:
        assert reminders.run(uow, ctx).messages == 1
    with seeded() as uow:
        rows = [(r.channel, r.body["lines"]) for r in uow.session.scalars(select(OutboxMessage)) if r.body.get("view") == reminders.VIEW]
    assert rows == [("C0U12BS", [f"Closure request {rid} · {RESTRICTED_LINE}"])]


def test_the_radar_and_agenda_show_a_restricted_transfer_by_number_only(seeded: partial[UnitOfWork], ctx: Context) -> None:
    """T2, T3: a restricted child coming to 12+ (and one turning 11y6m) shows no ID, initials, team or date."""
    with seeded() as uow:
        add_child(uow, "3700020", dt.date(2012, 1, 1))
        add_child(uow, "3700021", dt.date(2015, 6, 24))  # 11y6m on 24/12/2026: in the window
        uow.commit()
    restrict(seeded, "3700020")
    restrict(seeded, "3700021")
    rid = add_transfer(seeded, "3700020", planned=dt.date(2026, 12, 29))
    with seeded() as uow:
        card = radar_card(ctx, radar.radar_for(uow, ctx, "12plus", RADAR_DAY))
        agenda = agenda_card(uow, ctx, "12plus", "2026-12-21T09:00", dt.date(2026, 12, 21))
    lines = [line for s in card.sections for line in s.lines]
    assert f"Transfer {rid} · {RESTRICTED_LINE}" in lines
    assert RESTRICTED_LINE in lines  # the child turning 11y6m
    shown = json.dumps([dataclasses.asdict(card), dataclasses.asdict(agenda)], ensure_ascii=False)
    for forbidden in ("3700020", "3700021", "TQ", "Tam", "Quill", "24/12/2026", "29/12/2026"):
        assert forbidden not in shown, forbidden
    assert [b.label for b in agenda.buttons][:2] == [f"{rid} Agreed", f"{rid} Deferred"]
