"""Every role x action: who may do what, checked in the core (not only by hiding buttons).

The expected tables below are written out by hand from the issue and DOMAIN.md, person
by person, and deliberately not derived from ``workflows.requests.ROLES_FOR``: a change
to the rules must change this file too. Each is checked through ``may()`` and through
the real handlers, where a refusal raises NotAllowed and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import Journey

from workflows import closure, purchasing, reopen
from workflows.errors import FieldErrors, NotAllowed
from workflows.requests import APPROVED, BLOCKED, CLAIMED, REQUESTED, RETURNED, ROLES_FOR, load, may, transition

# The demo organisation (worktray/demo/org.yml):
#   amy, ben: Under 12s workers   maria: Under 12s manager   sam, tess: Under 12s business support
#   gita: group manager   olu: service manager (both teams)   dan: Adults South worker
#   ruth: Adults South manager   hana: Adults South head of service (C4)
#   (sam is business support in Adults South too)
#   pia: Under 12s practice supervisor (C11 reopen, C12 re-referral decisions)
PEOPLE = ("amy", "ben", "maria", "sam", "tess", "gita", "olu", "dan", "ruth", "hana", "pia")

# 3549723 (Under 12s): requested by amy, its allocated worker; held by sam.
U12_AMYS_REQUEST_HELD_BY_SAM: dict[str, set[str]] = {
    "request": {"amy", "ben", "maria"},  # workers and the manager of the team
    "approve": {"maria", "olu"},  # C3 the manager; C4 a service manager may sign off
    "return": {"maria", "olu"},
    "resubmit": {"amy", "maria"},  # the requester / allocated worker, or the manager; not ben
    "claim": {"sam", "tess"},  # C5 business support
    "unclaim": {"sam", "maria"},  # the holder or a manager; not tess
    "reassign": {"maria"},
    "block": {"sam"},  # only the holder runs the audit
    "recheck": {"sam"},
    "complete": {"sam"},
    "withdraw": {"amy", "maria"},  # C11 worker or manager
    "cancel_step": {"maria"},  # C7 only a manager
    "send_on": {"maria", "olu"},  # C10: whoever approves hands the item on (End Purchased Service)
    "reopen": {"maria", "pia"},  # C11 a Manager or Practice Supervisor
    "accept": {"maria", "pia"},  # C12 the previous team's manager
    "decline": {"maria", "pia"},
}

# 3549728 (Under 12s, allocated worker ben): requested by maria herself; held by tess.
U12_MARIAS_REQUEST_HELD_BY_TESS: dict[str, set[str]] = {
    "request": {"amy", "ben", "maria"},
    "approve": {"olu"},  # C3 four eyes: maria made the request, so she neither approves nor returns it
    "return": {"olu"},
    "resubmit": {"ben", "maria"},  # the allocated worker may, though he did not request it; amy may not
    "claim": {"sam", "tess"},
    "unclaim": {"tess", "maria"},
    "reassign": {"maria"},
    "block": {"tess"},
    "recheck": {"tess"},
    "complete": {"tess"},
    "withdraw": {"ben", "maria"},
    "cancel_step": {"maria"},
    "send_on": {"maria", "olu"},
    "reopen": {"maria", "pia"},
    "accept": {"maria", "pia"},
    "decline": {"maria", "pia"},
}

# 4100001 (Adults South): requested by dan, its allocated worker; approved by olu (C4); held by sam.
ADULTS_DANS_REQUEST_HELD_BY_SAM: dict[str, set[str]] = {
    "request": {"dan", "ruth"},
    "approve": {"ruth", "olu", "hana"},  # may() is the role rule; C4 then still needs olu or hana for this client
    "return": {"ruth", "olu", "hana"},
    "resubmit": {"dan", "ruth"},
    "claim": {"sam"},
    "unclaim": {"sam", "ruth"},
    "reassign": {"ruth"},
    "block": {"sam"},
    "recheck": {"sam"},
    "complete": {"sam"},
    "withdraw": {"dan", "ruth"},
    "cancel_step": {"ruth"},
    "send_on": {"ruth", "olu"},
    "reopen": {"ruth"},
    "accept": {"ruth"},
    "decline": {"ruth"},
}

SCENARIOS = {
    "u12-amy-sam": (("3549723", "amy", "sam"), U12_AMYS_REQUEST_HELD_BY_SAM),
    "u12-maria-tess": (("3549728", "maria", "tess"), U12_MARIAS_REQUEST_HELD_BY_TESS),
    "adults-dan-sam": (("4100001", "dan", "sam"), ADULTS_DANS_REQUEST_HELD_BY_SAM),
}


def test_every_action_has_an_expected_row():
    """A new action in ROLES_FOR without a hand-written row here fails."""
    for _, table in SCENARIOS.values():
        assert set(table) == set(ROLES_FOR)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_may_matches_the_hand_written_table(journey, seeded, ctx, scenario):
    (person_id, requester, holder), expected = SCENARIOS[scenario]
    rid = journey.to_state(CLAIMED, person_id, requester, holder=holder)
    with seeded() as uow:
        request = uow.requests.get(rid)
        wrong = [
            (action, person, allowed)
            for action in sorted(expected)
            for person in PEOPLE
            if (allowed := may(ctx.org, person, action, request)) != (person in expected[action])
        ]
    assert wrong == [], "may() disagrees with the table for (action, person, may says)"


def test_nobody_outside_the_team_may_act(journey, seeded, ctx):
    """dan and ruth have no say over an Under 12s request, whatever their role elsewhere."""
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    with seeded() as uow:
        request = uow.requests.get(rid)
        assert not any(may(ctx.org, p, a, request) for p in ("dan", "ruth", "gita") for a in ROLES_FOR)


# -- the same rules through the real handlers ---------------------------------------------------
# Each action on the request where it is legal: 3549723 (requested by amy, held by sam), or
# 3549728 (requested by ben, held by sam) for the steps-related actions.

Setup = Callable[[Journey], int]
Act = Callable[[Journey, int, str], object]


def _step_id(journey: Journey, title: str) -> int:
    with journey.uow() as uow:
        return next(s.id for s in uow.cases.open_work_steps(["3549728"]) if s.title == title)


def _blocked_and_done(journey: Journey) -> int:
    rid = journey.to_state(BLOCKED, "3549728", "ben", holder="sam")
    journey.finish_steps("3549728")
    return rid


def _purchase_approved(journey: Journey) -> int:
    """An End Purchased Service request on amy's 3549723, approved but not yet handed on:
    the state ``send_on`` acts from (C10; ``approve`` does both in one transaction)."""
    rid = journey.request("3549723")
    with journey.uow() as uow:
        today = journey.ctx.clock.now().date()
        eps = purchasing.raise_request(uow, journey.ctx, load(uow, rid), "3549723", [], today, "sam")
        transition(uow, journey.ctx, eps, "approve", "olu")  # the shared transition alone: no after_approve hook
        uow.commit()
        return eps.id


def _send_on(journey: Journey, rid: int, actor: str) -> object:
    """The shared transition an End Purchased Service request takes when authorised (C10)."""
    with journey.uow() as uow:
        request = transition(uow, journey.ctx, load(uow, rid), "send_on", actor)
        uow.commit()
        return request


def _cancel_step(journey: Journey, rid: int, actor: str) -> object:
    with journey.uow() as uow:
        return closure.cancel_step(uow, journey.ctx, rid, _step_id(journey, "CS Home Visit"), actor, "Visit no longer needed.")


def _closed(journey: Journey) -> int:
    return journey.to_state("closed", "3549723")


def _reopen(journey: Journey, rid: int, actor: str) -> object:
    with journey.uow() as uow:
        return reopen.reopen(uow, journey.ctx, rid, actor, people=["3549723"], worker="amy", reason="New information from school.")


def _rereferred(journey: Journey) -> int:
    journey.to_state("closed", "3549723")
    with journey.uow() as uow:
        outcome = reopen.consider(uow, journey.ctx, "amy", "3549723", "N1")
        assert outcome.request is not None
        uow.commit()
        return outcome.request.id


def _accept(journey: Journey, rid: int, actor: str) -> object:
    with journey.uow() as uow:
        return reopen.accept(uow, journey.ctx, rid, actor)


def _decline(journey: Journey, rid: int, actor: str) -> object:
    with journey.uow() as uow:
        return reopen.decline(uow, journey.ctx, rid, actor, "Different concern; new assessment needed.")


HANDLERS: dict[str, tuple[Setup, Act, set[str], str | None]] = {
    # action: (drive a request to where the action is legal, do it as actor, allowed, state after)
    "request": (lambda j: 0, lambda j, rid, a: j.request("3549723", a), {"amy", "ben", "maria"}, REQUESTED),
    "approve": (lambda j: j.to_state(REQUESTED), lambda j, rid, a: j.approve(rid, a), {"maria", "olu"}, APPROVED),
    "return": (lambda j: j.to_state(REQUESTED), lambda j, rid, a: j.return_(rid, a), {"maria", "olu"}, RETURNED),
    "resubmit": (lambda j: j.to_state(RETURNED), lambda j, rid, a: j.resubmit(rid, a), {"amy", "maria"}, REQUESTED),
    "claim": (lambda j: j.to_state(APPROVED), lambda j, rid, a: j.claim(rid, a), {"sam", "tess"}, CLAIMED),
    "unclaim": (lambda j: j.to_state(CLAIMED), lambda j, rid, a: j.unclaim(rid, a), {"sam", "maria"}, APPROVED),
    "reassign": (lambda j: j.to_state(CLAIMED), lambda j, rid, a: j.reassign(rid, "tess", a), {"maria"}, CLAIMED),
    "block": (lambda j: j.to_state(CLAIMED, "3549728", "ben"), lambda j, rid, a: j.open_audit(rid, a), {"sam"}, BLOCKED),
    "recheck": (_blocked_and_done, lambda j, rid, a: j.recheck(rid, a), {"sam"}, CLAIMED),
    "complete": (lambda j: j.to_state(CLAIMED), lambda j, rid, a: j.complete(rid, a), {"sam"}, "closed"),
    "withdraw": (lambda j: j.to_state(REQUESTED), lambda j, rid, a: j.withdraw(rid, a), {"amy", "maria"}, "withdrawn"),
    "cancel_step": (lambda j: j.to_state(REQUESTED, "3549728", "ben"), _cancel_step, {"maria"}, None),
    "send_on": (_purchase_approved, _send_on, {"maria", "olu"}, "closed"),
    "reopen": (_closed, _reopen, {"maria", "pia"}, "closed"),  # C11: the closed request is not rewritten
    "accept": (_rereferred, _accept, {"maria", "pia"}, "accepted"),
    "decline": (_rereferred, _decline, {"maria", "pia"}, "declined"),
}

ALLOWED_CASES = [(action, person) for action, (_, _, allowed, _) in HANDLERS.items() for person in sorted(allowed)]


def test_the_handler_table_agrees_with_the_first_scenario():
    """The handler cases use 3549723 as amy's request held by sam (3549728 by ben for the steps)."""
    for action, (_, _, allowed, _) in HANDLERS.items():
        assert allowed == U12_AMYS_REQUEST_HELD_BY_SAM[action], action
    assert set(HANDLERS) == set(ROLES_FOR)


@pytest.mark.parametrize("action", sorted(HANDLERS))
def test_every_refusal_raises_not_allowed_and_writes_nothing(journey, db_fingerprint, action):
    setup, act, allowed, _ = HANDLERS[action]
    rid = setup(journey)
    before = db_fingerprint()
    for person in PEOPLE:
        if person in allowed:
            continue
        with pytest.raises(NotAllowed) as refused:
            act(journey, rid, person)
        assert str(refused.value), "the refusal says why"
    assert db_fingerprint() == before


@pytest.mark.parametrize(("action", "person"), ALLOWED_CASES)
def test_every_allowed_person_can_act(journey, action, person):
    setup, act, _, state_after = HANDLERS[action]
    rid = setup(journey)
    act(journey, rid, person)
    if action == "request":
        with journey.uow() as uow:
            [request] = uow.requests.for_person("3549723")
            rid = request.id
            assert request.requested_by == person
    events = journey.events(rid)
    assert (events[-1].action, events[-1].actor) == (action, person)
    if state_after is not None:
        assert journey.get(rid).state == state_after


def test_a_refused_request_names_the_team(journey, db_fingerprint):
    before = db_fingerprint()
    with pytest.raises(NotAllowed, match="not a worker or manager in Under 12s"):
        journey.request("3549723", "sam")
    assert db_fingerprint() == before


def test_only_the_assignee_marks_a_step_done(journey, db_fingerprint):
    step_id = _step_id(journey, "CS Case Supervision")  # assigned to ben
    before = db_fingerprint()
    for person in ("amy", "maria", "sam"):
        with pytest.raises(NotAllowed, match="Only Ben Okafor"), journey.uow() as uow:
            closure.mark_step_done(uow, journey.ctx, step_id, person)
    assert db_fingerprint() == before


def test_reassign_only_to_business_support_of_the_team(journey, db_fingerprint):
    rid = journey.to_state(CLAIMED)
    before = db_fingerprint()
    for to in ("amy", "maria", "gita"):
        with pytest.raises(FieldErrors) as refused:
            journey.reassign(rid, to=to, actor="maria")
        assert "is not business support in Under 12s" in refused.value.errors["to"]
    assert db_fingerprint() == before
