"""Smaller defects a new user met (issue 5), each pinned by a test that failed before its fix."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from bot import views
from bot.actions import Interactions
from bot.blockkit import ZWJ, card_blocks, escape
from store.models import OutboxMessage, WorkStep
from store.uow import UnitOfWork
from workflows import closure
from workflows.errors import IllegalTransition
from workflows.requests import APPROVED, BLOCKED, CLAIMED, CLOSED, REQUESTED, RETURNED, WITHDRAWN, Context

Fingerprint = Callable[[], dict[str, list[tuple[object, ...]]]]


def home_visit(uow_factory: partial[UnitOfWork], person_id: str = "3549728") -> int:
    """The id of an open future step on the person (3549728 has one; others get a fictitious one)."""
    with uow_factory() as uow:
        step = next((s for s in uow.cases.open_work_steps([person_id]) if s.kind == "future"), None)
        if step is None:
            step = WorkStep(person_id=person_id, title="CS Home Visit", assignee="amy", kind="future", scheduled_on=dt.date(2026, 12, 10))
            uow.cases.add(step)
            uow.commit()
        return step.id


# -- C7: a work step is cancelled only through an open request ------------------------------


@pytest.mark.parametrize("state", [WITHDRAWN, RETURNED, CLOSED])
def test_a_step_cannot_be_cancelled_through_a_request_that_is_not_open_for_it(
    journey: Any, seeded: partial[UnitOfWork], db_fingerprint: Fingerprint, state: str
) -> None:
    person = "3549723" if state == CLOSED else "3549728"  # closing needs a person without open steps
    rid = journey.to_state(state, person, "amy" if person == "3549723" else "ben")
    step_id = home_visit(seeded, person)  # for the closed case: a step added after the closure
    before = db_fingerprint()
    with seeded() as uow, pytest.raises(IllegalTransition) as refused:
        closure.cancel_step(uow, journey.ctx, rid, step_id, "maria", "Not needed.")
    assert str(refused.value).startswith("Nothing changed: work steps can be cancelled only through an open request (C7).")
    assert f"it is now {state}" in str(refused.value)
    # The button refuses the same way, before any form is shown.
    pressed = Interactions(seeded, journey.ctx).press("U0MARIA", "cancel_step", f"{rid}:{step_id}")
    assert pressed.form is None and pressed.text == str(refused.value)
    assert db_fingerprint() == before


@pytest.mark.parametrize("state", [REQUESTED, APPROVED, CLAIMED, BLOCKED])
def test_a_step_can_be_cancelled_through_an_open_request(journey: Any, seeded: partial[UnitOfWork], state: str) -> None:
    rid = journey.to_state(state, "3549728", "ben")
    step_id = home_visit(seeded)
    with seeded() as uow:
        assert closure.cancel_step(uow, journey.ctx, rid, step_id, "maria", "Not needed.") == "Cancelled work step 'CS Home Visit'."


# -- C6.1: opening the audit again on a blocked item tells nobody, and says so ------------------


def dms(uow_factory: partial[UnitOfWork]) -> int:
    with uow_factory() as uow:
        return len(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dm")).all())


def test_opening_the_audit_again_on_a_blocked_item_does_not_claim_anyone_was_told(
    journey: Any, seeded: partial[UnitOfWork], ctx: Context, db_fingerprint: Fingerprint
) -> None:
    rid = journey.to_state(CLAIMED, "3549728", "ben")
    interactions = Interactions(seeded, ctx)
    before = dms(seeded)
    first = interactions.press("U0SAM", "audit", str(rid))
    assert first.text == (
        "Blocked: work steps are still open: CS Case Supervision (Ben Okafor); CS Home Visit (Amy Brooke). "
        "Told by direct message: Ben Okafor, Amy Brooke, Maria Lopez."
    )
    assert dms(seeded) == before + 3
    unchanged = db_fingerprint()
    again = interactions.press("U0SAM", "audit", str(rid))
    assert again.text is not None
    assert again.text.startswith("Still blocked: work steps are still open: CS Case Supervision (Ben Okafor); CS Home Visit (Amy Brooke).")
    assert "nobody was told again" in again.text and "have been told" not in again.text
    assert db_fingerprint() == unchanged  # no event, no DM


def test_the_plan_says_who_was_told(journey: Any) -> None:
    rid = journey.to_state(CLAIMED, "3549728", "ben")
    first = journey.open_audit(rid)
    again = journey.open_audit(rid)
    assert (first.newly_blocked, first.told) == (True, ["ben", "amy", "maria"])
    assert (again.newly_blocked, again.told) == (False, [])


# -- typed text shows literally on Slack cards: it never formats, links or mentions --------------

TYPED = "*bold* _italic_ ~strike~ `code` ```pre``` http://evil.example/x www.evil.example mailto:a@evil.example evil.example :x: @channel\n> quoted"
MARKUP = re.compile(r"[*_~`]")


def assert_inert(rendered: str, typed: str) -> None:
    """What Slack's mrkdwn would act on is broken up by zero-width joiners, and the text reads as typed."""
    assert rendered.replace(ZWJ, "") == typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for m in MARKUP.finditer(rendered):  # no *, _, ~ or ` can open or close anything
        assert rendered[m.start() - 1] == ZWJ and rendered[m.end()] == ZWJ, rendered[max(0, m.start() - 5) : m.end() + 5]
    for live in ("http:", "www.evil", "mailto:", ".example", "@channel", "@evil", ":x:", "\n&gt;"):
        assert live not in rendered, live


def test_escape_neutralises_mrkdwn_markup_and_bare_links() -> None:
    assert_inert(escape(TYPED), TYPED)
    assert escape("plain words, 26/11/2026 (C7)") == "plain words, 26/11/2026 (C7)"  # nothing to neutralise: unchanged


def test_a_managers_note_on_the_channel_card_shows_literally_in_block_kit(journey: Any, ctx: Context) -> None:
    rid = journey.request("3549723", "amy")
    journey.return_(rid, "maria", note=TYPED)
    journey.resubmit(rid, "amy")  # the new manager card (a channel card) carries the note
    with journey.uow() as uow:
        request = uow.requests.get(rid)
        card = views.request_card(uow, ctx, request, "manager", request.revision)
    blocks = card_blocks(card)
    [note] = [b["text"]["text"] for b in blocks if b.get("text", {}).get("text", "").startswith("*Manager's note*")]
    assert_inert(note.removeprefix("*Manager's note*\n• "), TYPED)
    assert all(t.get("verbatim") is True for b in blocks for t in [b.get("text", {}), *b.get("fields", [])] if t.get("type") == "mrkdwn")
