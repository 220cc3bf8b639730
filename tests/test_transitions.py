"""The closure state machine: every transition in the table works, every other pair is refused.

Requests are driven into each state through the real handlers (``journey``), on SQLite
and PostgreSQL. A successful transition appends exactly one event and writes its outbox
rows in the same transaction; a refused one writes nothing at all and says what already
happened (the issue: "a second click ... changes nothing and tells the clicker what
already happened").
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import Journey
from sqlalchemy import select, text

from store.models import OutboxMessage
from workflows.closure import CLOSURE
from workflows.errors import Conflict, IllegalTransition
from workflows.requests import (
    APPROVED,
    BLOCKED,
    CLAIMED,
    CLOSED,
    REQUESTED,
    RETURNED,
    TRANSITIONS,
    WITHDRAWN,
    claim,
    describe,
    load,
    transition,
)

STATES = (REQUESTED, RETURNED, APPROVED, CLAIMED, BLOCKED, CLOSED, WITHDRAWN)
# The closure's part of the shared table (a re-referral's accept/decline: test_reopen.py).
CLOSURE_TRANSITIONS = {pair: new for pair, new in TRANSITIONS.items() if pair[1] in CLOSURE.actions}
ACTIONS = sorted({action for _, action in CLOSURE_TRANSITIONS})

# 3549728 has open work steps (C6.1), so it is the person whose audit blocks;
# 3549723 has none, so its audit can finish. Each is requested by its allocated worker.
WITH_STEPS = ("3549728", "ben")
WITHOUT_STEPS = ("3549723", "amy")


def person_for(state: str, action: str) -> tuple[str, str]:
    return WITH_STEPS if BLOCKED in (state, CLOSURE_TRANSITIONS.get((state, action))) else WITHOUT_STEPS


def perform(journey: Journey, request_id: int, action: str, requester: str) -> object:
    """Do ``action`` as someone whose role allows it, through the real handler."""
    handlers: dict[str, Callable[[], object]] = {
        "approve": lambda: journey.approve(request_id, "maria"),
        "return": lambda: journey.return_(request_id, "maria", "Add the closure letter."),
        "resubmit": lambda: journey.resubmit(request_id, requester),
        "claim": lambda: journey.claim(request_id, "tess"),
        "unclaim": lambda: journey.unclaim(request_id, "sam"),
        "reassign": lambda: journey.reassign(request_id, to="tess", actor="maria"),
        "block": lambda: journey.open_audit(request_id, "sam"),
        "recheck": lambda: journey.recheck(request_id, "sam"),
        "complete": lambda: journey.complete(request_id, "sam"),
        "withdraw": lambda: journey.withdraw(request_id, requester),
        "send_on": lambda: send_on(journey, request_id, "maria"),
    }
    return handlers[action]()


def send_on(journey: Journey, request_id: int, actor: str) -> object:
    """The shared hand-on after approval (C10: End Purchased Service requests do it in their
    after_approve hook; no closure button offers it), straight through ``transition``."""
    with journey.uow() as uow:
        request = transition(uow, journey.ctx, load(uow, request_id), "send_on", actor)
        uow.commit()
        return request


ACTOR = {
    "approve": "maria",
    "return": "maria",
    "claim": "tess",
    "unclaim": "sam",
    "reassign": "maria",
    "block": "sam",
    "recheck": "sam",
    "complete": "sam",
    "send_on": "maria",
}


def outbox(uow_factory) -> list[OutboxMessage]:
    with uow_factory() as uow:
        rows = list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all())
        uow.session.expunge_all()
        return rows


def test_the_table_is_the_one_in_the_issue():
    """requested -> approved | returned -> requested ...; approved -> claimed -> blocked <-> claimed -> closed; withdrawn."""
    assert TRANSITIONS[(REQUESTED, "approve")] == APPROVED
    assert TRANSITIONS[(REQUESTED, "return")] == RETURNED
    assert TRANSITIONS[(RETURNED, "resubmit")] == REQUESTED
    assert TRANSITIONS[(APPROVED, "claim")] == CLAIMED
    assert TRANSITIONS[(CLAIMED, "block")] == BLOCKED
    assert TRANSITIONS[(BLOCKED, "recheck")] == CLAIMED
    assert TRANSITIONS[(CLAIMED, "complete")] == CLOSED
    # C11: withdrawn from any open state at any time; a finished closure is never withdrawn (it is reopened)
    assert {s for (s, a) in TRANSITIONS if a == "withdraw"} == {REQUESTED, RETURNED, APPROVED, CLAIMED, BLOCKED}
    assert not any(s == CLOSED for s, _ in TRANSITIONS), "closed is final: C11 reopens as a new involvement"
    assert not any(s == WITHDRAWN for s, _ in TRANSITIONS), "withdrawn is final"


def test_a_request_starts_with_one_event_and_a_manager_card(journey, seeded, clock):
    rid = journey.request("3549723", "amy")
    [event] = journey.events(rid)
    assert (event.action, event.actor, event.from_state, event.to_state) == ("request", "amy", None, REQUESTED)
    [card] = outbox(seeded)
    assert (card.kind, card.channel, card.card_key) == ("card", "C0U12MGR", f"request:{rid}:r1:manager")
    assert card.created_at == clock.now()


@pytest.mark.parametrize(("state", "action"), sorted(CLOSURE_TRANSITIONS))
def test_every_transition_works_from_its_state(journey, seeded, clock, state, action):
    person, requester = person_for(state, action)
    rid = journey.to_state(state, person, requester)
    if action == "recheck":
        journey.finish_steps(person)  # C6.1: the assignees finish their steps
    events_before = journey.events()
    outbox_before = {m.id for m in outbox(seeded)}

    perform(journey, rid, action, requester)

    request = journey.get(rid)
    assert request.state == CLOSURE_TRANSITIONS[(state, action)]
    new_events = journey.events()[len(events_before):]
    assert len(new_events) == 1, [e.action for e in new_events]
    [event] = new_events
    actor = ACTOR.get(action, requester)
    assert (event.request_id, event.action, event.actor) == (rid, action, actor)
    assert (event.from_state, event.to_state) == (state, request.state)
    assert (request.last_action, request.last_actor) == (action, actor)
    new_rows = [m for m in outbox(seeded) if m.id not in outbox_before]
    manager_card = f"request:{rid}:r{request.revision}:manager"
    assert manager_card in {m.card_key for m in new_rows}, "the manager card is re-shown with the new state"
    if request.state in (APPROVED, CLAIMED, BLOCKED):
        assert f"request:{rid}:queue" in {m.card_key for m in new_rows}, "the virtual-worker card is re-shown"
    assert all(m.created_at == event.at == clock.now() for m in new_rows)


@pytest.mark.parametrize("state", STATES)
def test_every_pair_not_in_the_table_is_refused_and_says_what_happened(journey, db_fingerprint, ctx, state):
    person, requester = WITH_STEPS if state == BLOCKED else WITHOUT_STEPS
    rid = journey.to_state(state, person, requester)
    illegal = [a for a in ACTIONS if (state, a) not in CLOSURE_TRANSITIONS]
    assert illegal
    what_happened = describe(ctx.org, journey.get(rid))
    before = db_fingerprint()
    for action in illegal:
        if (state, action) == (BLOCKED, "block"):
            continue  # re-opening a blocked audit only shows it again: checked below
        with pytest.raises(IllegalTransition) as refused:
            perform(journey, rid, action, requester)
        assert what_happened in str(refused.value), (action, str(refused.value))
    assert db_fingerprint() == before, "a refused action writes nothing: no state, event or outbox row"
    assert journey.get(rid).state == state


def test_opening_a_blocked_audit_again_shows_the_steps_and_writes_nothing(journey, db_fingerprint):
    rid = journey.to_state(BLOCKED, *WITH_STEPS)
    before = db_fingerprint()
    plan = journey.open_audit(rid, "sam")
    assert [s.title for s in plan.blocking_steps] == ["CS Case Supervision", "CS Home Visit"]
    assert db_fingerprint() == before


def test_an_audit_without_open_steps_does_not_block(journey, db_fingerprint):
    rid = journey.to_state(CLAIMED, *WITHOUT_STEPS)
    before = db_fingerprint()
    plan = journey.open_audit(rid, "sam")
    assert plan.blocking_steps == []
    assert db_fingerprint() == before
    assert journey.get(rid).state == CLAIMED


# -- second clicks: the same person twice, and another person after ---------------------

SECOND_CLICKS = [
    # (state before, action, the first clicker, who clicks again after)
    (REQUESTED, "approve", "maria", ["maria", "olu"]),
    (REQUESTED, "return", "maria", ["maria", "olu"]),
    (RETURNED, "resubmit", "amy", ["amy", "maria"]),
    (APPROVED, "claim", "sam", ["sam", "tess"]),
    (CLAIMED, "unclaim", "sam", ["sam", "maria"]),
    (BLOCKED, "recheck", "sam", ["sam", "tess"]),
    (CLAIMED, "complete", "sam", ["sam", "tess"]),
    (REQUESTED, "withdraw", "amy", ["amy", "maria"]),
    (CLAIMED, "reassign", "maria", ["maria"]),  # to tess, twice: the second changes nothing
]


def click(journey: Journey, rid: int, action: str, actor: str) -> object:
    handlers: dict[str, Callable[[], object]] = {
        "approve": lambda: journey.approve(rid, actor),
        "return": lambda: journey.return_(rid, actor),
        "resubmit": lambda: journey.resubmit(rid, actor),
        "claim": lambda: journey.claim(rid, actor),
        "unclaim": lambda: journey.unclaim(rid, actor),
        "recheck": lambda: journey.recheck(rid, actor),
        "complete": lambda: journey.complete(rid, actor),
        "withdraw": lambda: journey.withdraw(rid, actor),
        "reassign": lambda: journey.reassign(rid, to="tess", actor=actor),
    }
    return handlers[action]()


@pytest.mark.parametrize(("state", "action", "first", "again"), SECOND_CLICKS, ids=[c[1] for c in SECOND_CLICKS])
def test_a_second_click_changes_nothing_and_says_what_happened(journey, db_fingerprint, ctx, state, action, first, again):
    person, requester = WITH_STEPS if state == BLOCKED else WITHOUT_STEPS
    rid = journey.to_state(state, person, requester)
    if action == "recheck":
        journey.finish_steps(person)
    click(journey, rid, action, first)
    what_happened = describe(ctx.org, journey.get(rid))
    assert ctx.org.name_of(first) in what_happened
    before = db_fingerprint()
    for actor in again:
        with pytest.raises(IllegalTransition) as refused:
            click(journey, rid, action, actor)
        message = str(refused.value)
        assert message.startswith("Nothing changed."), message
        assert what_happened in message
    assert db_fingerprint() == before


def test_a_second_closure_request_for_the_same_person_is_refused(journey, db_fingerprint):
    rid = journey.request("3549723", "amy")
    before = db_fingerprint()
    with pytest.raises(IllegalTransition, match=f"already has an open closure request \\({rid}, requested\\)"):
        journey.request("3549723", "maria")
    assert db_fingerprint() == before


# -- one transaction: the state, the event and the outbox rows, all or nothing -----------


def test_a_lost_compare_and_set_writes_no_event_and_no_outbox_row(journey, seeded, ctx, db_fingerprint):
    """The request changes under the claimer (its version moved on): nothing of the claim survives."""
    rid = journey.to_state(APPROVED)
    before = db_fingerprint()
    with seeded() as uow:
        seen = uow.requests.get(rid)
        assert seen is not None and seen.state == APPROVED
        # Another writer moves the version on after our read; the ORM still holds the old one.
        uow.session.execute(text("UPDATE requests SET version = version + 1 WHERE id = :id"), {"id": rid})
        with pytest.raises(Conflict, match="Someone was quicker"):
            claim(uow, ctx, rid, "sam")
    assert db_fingerprint() == before
    assert journey.get(rid).holder is None


def test_a_transition_commits_its_event_and_outbox_rows_together(journey, seeded):
    """Read back from a fresh unit of work: the claim, its event and its cards are all there."""
    rid = journey.to_state(APPROVED)
    journey.claim(rid, "sam")
    claims = [e for e in journey.events(rid) if e.action == "claim"]
    queue_cards = [m for m in outbox(seeded) if m.card_key == f"request:{rid}:queue"]
    assert len(claims) == 1 and claims[0].actor == "sam"
    assert len(queue_cards) == 2  # shown when approved, re-shown when claimed
    assert journey.get(rid).holder == "sam"


def test_withdraw_clears_the_holder(journey):
    rid = journey.to_state(CLAIMED)
    journey.withdraw(rid, "amy")
    request = journey.get(rid)
    assert (request.state, request.holder) == (WITHDRAWN, None)


def test_resubmit_makes_a_fresh_card_and_shows_the_old_one_again(journey, seeded):
    """Issue step 3: resubmitting posts a fresh card and marks the old one superseded."""
    rid = journey.to_state(RETURNED)
    journey.resubmit(rid, "amy", summary="Closure letter added.")
    request = journey.get(rid)
    assert request.revision == 2
    assert request.details["summary"] == "Closure letter added."
    keys = [m.card_key for m in outbox(seeded)]
    assert keys[-2:] == [f"request:{rid}:r2:manager", f"request:{rid}:r1:manager"]


def test_closure_moves_only_through_the_table(journey, ctx):
    """The whole journey from the issue, read back from the event log."""
    rid = journey.to_state(CLAIMED, *WITH_STEPS)
    journey.open_audit(rid)
    journey.finish_steps("3549728")
    journey.recheck(rid)
    journey.complete(rid)
    moves = [(e.from_state, e.action, e.to_state) for e in journey.events(rid) if e.action != "step_done"]
    assert moves == [
        (None, "request", REQUESTED),
        (REQUESTED, "approve", APPROVED),
        (APPROVED, "claim", CLAIMED),
        (CLAIMED, "block", BLOCKED),
        (BLOCKED, "recheck", CLAIMED),
        (CLAIMED, "complete", CLOSED),
    ]
    assert all(TRANSITIONS[(f, a)] == t for f, a, t in moves[1:])
