"""Every role x action of a transfer (T5, T6, T7, C13): who may do what, checked in the core.

Written out by hand from the issue and DOMAIN.md, person by person, and deliberately not
derived from ``workflows.transfer.TRANSFER_ROLES``: a change to the rules must change this
file too. Each row is checked through ``may()`` and, for every action with a handler,
through the real handler: each person outside the row is refused and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from test_transfer import CHILD, Transfers, form

from store.uow import UnitOfWork
from workflows import requests as wf
from workflows import transfer
from workflows.errors import NotAllowed
from workflows.requests import Context, load, may

# The demo organisation (worktray/demo/org.yml):
#   Under 12s (sending): amy, ben workers; maria manager; sam, tess business support; gita group
#   manager; pia practice supervisor.   12+ (receiving): femi, lena workers; nadia manager; ivy
#   business support; rafe group manager.   olu: service manager of both (and of Adults South).
#   Adults South: dan worker, ruth manager, hana head of service (no part in this transfer).
PEOPLE = ("amy", "ben", "maria", "sam", "tess", "gita", "olu", "dan", "ruth", "hana", "pia", "femi", "lena", "nadia", "ivy", "rafe")

# 3549750 (Under 12s, allocated worker ben) to 12+, raised by ben.
BENS_TRANSFER_TO_12PLUS: dict[str, set[str]] = {
    "mark_ready": {"ben", "maria"},  # the requester / allocated worker, or a manager of the sending team
    "approve": {"maria", "olu"},  # the sending team's manager, as closures (C3); the service manager may
    "return": {"maria", "olu"},
    "resubmit": {"ben", "maria"},
    "withdraw": {"ben", "maria"},  # the sending team drops it; never the receiving team
    "accept": {"nadia", "rafe"},  # the receiving team's manager or group manager
    "hold_on_duty": {"nadia", "rafe"},  # T6
    "dispute": {"nadia", "rafe"},  # T5
    "resolve_transfer": {"gita", "rafe"},  # T5: the group managers of both teams
    "resolve_stay": {"gita", "rafe"},
    "escalate": {"gita", "rafe"},
    "decide_transfer": {"olu"},  # T5: the service manager, finally
    "decide_stay": {"olu"},
    "complete_transfer": {"nadia", "rafe"},  # T7: done for the accepting manager at the date
}

# The audit at transfer in 12+'s virtual worker (C13), held by ivy.
AUDIT_HELD_BY_IVY: dict[str, set[str]] = {
    "claim": {"ivy"},  # 12+'s business support, not Under 12s'
    "unclaim": {"ivy", "nadia"},  # the holder or a manager
    "reassign": {"nadia"},
    "complete": {"ivy"},  # the holder
}

# The state each action is tried in, and how the real handler is called.
STATE_FOR = {
    "mark_ready": "potential",
    "approve": "requested",
    "return": "requested",
    "resubmit": "returned",
    "withdraw": "approved",
    "accept": "approved",
    "hold_on_duty": "approved",
    "dispute": "approved",
    "resolve_transfer": "disputed",
    "resolve_stay": "disputed",
    "escalate": "disputed",
    "decide_transfer": "escalated",
    "decide_stay": "escalated",
}
HANDLERS: dict[str, Callable[[UnitOfWork, Context, int, str], Any]] = {
    "mark_ready": transfer.mark_ready,
    "approve": wf.approve,
    "return": lambda uow, ctx, rid, actor: wf.return_request(uow, ctx, rid, actor, "Add the chronology."),
    "resubmit": lambda uow, ctx, rid, actor: transfer.resubmit(uow, ctx, rid, actor, form()),
    "withdraw": wf.withdraw,
    "accept": lambda uow, ctx, rid, actor: transfer.accept(uow, ctx, rid, actor, "femi"),
    "hold_on_duty": lambda uow, ctx, rid, actor: transfer.hold_on_duty(uow, ctx, rid, actor, "No capacity."),
    "dispute": lambda uow, ctx, rid, actor: transfer.dispute(uow, ctx, rid, actor, "Not yet."),
    "resolve_transfer": lambda uow, ctx, rid, actor: transfer.resolve(uow, ctx, rid, actor, "transfer", "Agreed."),
    "resolve_stay": lambda uow, ctx, rid, actor: transfer.resolve(uow, ctx, rid, actor, "stay", "Stays."),
    "escalate": lambda uow, ctx, rid, actor: transfer.escalate(uow, ctx, rid, actor, "Cannot agree."),
    "decide_transfer": lambda uow, ctx, rid, actor: transfer.decide(uow, ctx, rid, actor, "transfer", "Final."),
    "decide_stay": lambda uow, ctx, rid, actor: transfer.decide(uow, ctx, rid, actor, "stay", "Final."),
}


@pytest.fixture
def t(seeded: partial[UnitOfWork], ctx: Context) -> Transfers:
    return Transfers(seeded, ctx)


def in_state(t: Transfers, state: str) -> int:
    """Ben's transfer driven into ``state`` through the handlers."""
    rid = t.raise_(readiness="potential" if state == "potential" else "ready")
    if state in ("potential", "requested"):
        return rid
    if state == "returned":
        t.do(wf.return_request, rid, "maria", "Add the chronology.")
        return rid
    t.do(wf.approve, rid, "maria")
    if state == "approved":
        return rid
    t.do(transfer.dispute, rid, "nadia", "Not yet.")
    if state == "disputed":
        return rid
    t.do(transfer.escalate, rid, "gita", "Cannot agree.")
    assert state == "escalated", state
    return rid


def test_every_transfer_action_has_a_row() -> None:
    """A new transfer action without a hand-written row here fails."""
    assert set(BENS_TRANSFER_TO_12PLUS) == set(transfer.TRANSFER.actions)
    assert set(HANDLERS) | {"complete_transfer"} == set(transfer.TRANSFER.actions)
    assert set(AUDIT_HELD_BY_IVY) == set(transfer.TRANSFER_AUDIT.actions)


@pytest.mark.parametrize("action", sorted(BENS_TRANSFER_TO_12PLUS))
def test_who_may_per_may(t: Transfers, action: str) -> None:
    rid = t.raise_()
    with t.uow() as uow:
        request = load(uow, rid)
        allowed = {p for p in PEOPLE if may(t.ctx.org, p, action, request)}
    assert allowed == BENS_TRANSFER_TO_12PLUS[action]


@pytest.mark.parametrize("action", sorted(HANDLERS))
def test_everyone_else_is_refused_by_the_handler_and_nothing_is_written(
    t: Transfers, db_fingerprint: Callable[[], object], action: str
) -> None:
    rid = in_state(t, STATE_FOR[action])
    before = db_fingerprint()
    for person in PEOPLE:
        if person in BENS_TRANSFER_TO_12PLUS[action]:
            continue
        with pytest.raises(NotAllowed), t.uow() as uow:
            HANDLERS[action](uow, t.ctx, rid, person)
    assert db_fingerprint() == before
    allowed = sorted(BENS_TRANSFER_TO_12PLUS[action])[0]  # and one who may, may
    with t.uow() as uow:
        HANDLERS[action](uow, t.ctx, rid, allowed)


def test_audit_at_transfer_roles(t: Transfers) -> None:
    rid = t.approved(planned_date="2026-11-26")
    t.do(transfer.accept, rid, "nadia", "femi")
    audit_id = int(t.get(rid).details["audit_id"])
    with t.uow() as uow:
        audit = load(uow, audit_id)
        assert {p for p in PEOPLE if may(t.ctx.org, p, "claim", audit)} == AUDIT_HELD_BY_IVY["claim"]
    t.do(wf.claim, audit_id, "ivy")
    with t.uow() as uow:
        audit = load(uow, audit_id)
        for action in ("unclaim", "reassign", "complete"):
            assert {p for p in PEOPLE if may(t.ctx.org, p, action, audit)} == AUDIT_HELD_BY_IVY[action], action
        assert (audit.person_id, audit.team) == (CHILD, "12plus")
