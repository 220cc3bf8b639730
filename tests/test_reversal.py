"""C11: an open request can be withdrawn at any time, late after 2 weeks (marked on the card
and the event); a finished closure is never withdrawn or rewritten (it is reopened: test_reopen.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.views import request_card
from workflows import closure
from workflows.errors import IllegalTransition, NotAllowed
from workflows.requests import CLOSED, RETURNED, WITHDRAWN


def test_withdraw_on_day_15_of_a_returned_request_is_marked_late(seeded, journey, ctx, clock):
    rid = journey.to_state(RETURNED, "3549723")
    clock.advance(seconds=dt.timedelta(days=15).total_seconds())
    message = journey.withdraw(rid, "amy")
    assert "marked as late" in message
    request = journey.get(rid)
    assert request.state == WITHDRAWN
    [event] = [e for e in journey.events(rid) if e.action == "withdraw"]
    assert event.from_state == RETURNED and event.detail == {"late": True, "days_open": 15}
    with seeded() as uow:
        card = request_card(uow, ctx, uow.requests.get(rid), "manager", 1)
    assert {f.label: f.value for f in card.facts}["Withdrawn late"] == "after the 2 weeks of C11"
    assert "Withdraw" not in [b.label for b in card.buttons]


def test_withdraw_within_two_weeks_is_not_marked_late(journey, clock):
    rid = journey.to_state(RETURNED, "3549723")
    clock.advance(seconds=dt.timedelta(days=13).total_seconds())
    journey.withdraw(rid, "maria")
    [event] = [e for e in journey.events(rid) if e.action == "withdraw"]
    assert event.detail == {} and not journey.get(rid).details.get("withdrawn_late")


@pytest.mark.parametrize("days", [0, 15])
def test_a_finished_closure_cannot_be_withdrawn(journey, clock, db_fingerprint, days):
    rid = journey.to_state(CLOSED, "3549723")
    clock.advance(seconds=dt.timedelta(days=days).total_seconds())
    before = db_fingerprint()
    for actor in ("amy", "maria"):
        with pytest.raises(IllegalTransition, match=r"never rewritten.*Reopen"):
            journey.withdraw(rid, actor)
    assert db_fingerprint() == before


def test_a_finished_closure_offers_no_withdraw_or_reverse(seeded, journey, ctx):
    rid = journey.to_state(CLOSED, "3549723")
    with seeded() as uow:
        request = uow.requests.get(rid)
        labels = [b.label for b in request_card(uow, ctx, request, "manager", 1).buttons]
    assert "Withdraw" not in labels and not any("Reverse" in label for label in labels)
    assert "Reopen" in labels


def test_business_support_cannot_withdraw(journey, db_fingerprint):
    rid = journey.to_state("claimed", "3549723")
    before = db_fingerprint()
    with pytest.raises(NotAllowed):
        journey.withdraw(rid, "sam")
    assert db_fingerprint() == before


def test_after_a_withdrawal_a_new_closure_can_be_requested(seeded, journey, ctx, clock):
    rid = journey.to_state(RETURNED, "3549723")
    clock.advance(seconds=dt.timedelta(days=20).total_seconds())
    journey.withdraw(rid, "maria")
    form = closure.ClosureForm(reason="RC8", closure_date=dt.date(2026, 12, 16), summary="Closing again")
    with seeded() as uow:
        assert closure.request_closure(uow, ctx, "amy", "3549723", form).state == "requested"
