"""The transfer journey (T1, T4-T7, C13): each transition and refusal, the dispute ladder to a
final decision, and the store's relationships ended and added with the right dates.

Demo (worktray/demo/org.yml): 3549750 is an Under 12s child (worker ben) who reaches 11y6m on
3 December 2026; 12+ has workers femi and lena, manager nadia, business support ivy and group
manager rafe; gita is Under 12s' group manager; olu the service manager of both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from store.models import Event, OrganisationRelationship, OutboxMessage, Request, WorkerRelationship
from store.uow import UnitOfWork
from workflows import requests as wf
from workflows import transfer
from workflows.errors import FieldErrors, IllegalTransition, NotAllowed
from workflows.requests import Context
from workflows.transfer_terms import ACCEPTED, DISPUTED, ESCALATED, ON_DUTY, POTENTIAL, STANDARDS, TRANSFERRED

CHILD = "3549750"
TODAY = dt.date(2026, 11, 26)  # conftest's NOW


def form(**changes: Any) -> dict[str, Any]:
    """A valid transfer form: Under 12s -> 12+ at 11y6m, on 3 December, every standard done."""
    values: dict[str, Any] = {
        "receiving_team": "12plus",
        "point_of_transfer": "age_11y6m",
        "planned_date": "2026-12-03",
        "reason": "Reaches 11 years 6 months.",
        "readiness": "ready",
        **{f"std_{k}": "done" for k in STANDARDS},
    }
    values.update(changes)
    return values


class Transfers:
    """Drives transfers through the real handlers, one unit of work per step."""

    def __init__(self, uow: partial[UnitOfWork], ctx: Context) -> None:
        self.uow = uow
        self.ctx = ctx

    def raise_(self, actor: str = "ben", person_id: str = CHILD, **changes: Any) -> int:
        with self.uow() as uow:
            return transfer.raise_transfer(uow, self.ctx, actor, person_id, form(**changes)).id

    def do(self, fn: Callable[..., str], *args: Any, **kwargs: Any) -> str:
        with self.uow() as uow:
            return fn(uow, self.ctx, *args, **kwargs)

    def approved(self, **changes: Any) -> int:
        rid = self.raise_(**changes)
        self.do(wf.approve, rid, "maria")
        return rid

    def get(self, rid: int) -> Request:
        with self.uow() as uow:
            r = uow.requests.get(rid)
            assert r is not None
            uow.session.expunge(r)
            return r

    def cards(self, rid: int) -> set[tuple[str, str]]:
        """(channel, card key) of every card queued for the request."""
        with self.uow() as uow:
            rows = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.card_key.like(f"request:{rid}:%")))
            return {(m.channel, str(m.card_key)) for m in rows}

    def events(self, rid: int) -> list[str]:
        with self.uow() as uow:
            return [e.action for e in uow.session.scalars(select(Event).where(Event.request_id == rid).order_by(Event.id))]


@pytest.fixture
def t(seeded: partial[UnitOfWork], ctx: Context) -> Transfers:
    return Transfers(seeded, ctx)


# -- raising: T1, T4, potential -> ready ------------------------------------------------


def test_raise_ready_goes_to_the_sending_manager(t: Transfers) -> None:
    rid = t.raise_()
    r = t.get(rid)
    assert (r.kind, r.state, r.team, r.receiving_team) == ("transfer", "requested", "u12", "12plus")
    assert r.details["point_of_transfer"] == "age_11y6m" and r.details["planned_date"] == "2026-12-03"
    assert r.details["standards"]["chronology"] == {"status": "done", "why": ""}
    assert {k for _, k in t.cards(rid)} == {f"request:{rid}:r1:manager"}  # the sending manager's card; nothing for 12+ yet
    assert t.events(rid) == ["request"]


def test_pre_birth_before_20_weeks_is_refused_and_writes_nothing(t: Transfers, db_fingerprint: Callable[[], object]) -> None:
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as e:
        t.raise_(point_of_transfer="pre_birth", gestation_weeks="18")
    assert "20 weeks" in e.value.errors["gestation_weeks"]
    with pytest.raises(FieldErrors) as e:
        t.raise_(point_of_transfer="pre_birth")
    assert "gestation_weeks" in e.value.errors
    assert db_fingerprint() == before
    rid = t.raise_(point_of_transfer="pre_birth", gestation_weeks="20")  # T1: at 20 weeks it may
    assert t.get(rid).details["gestation_weeks"] == 20


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"receiving_team": "u12"}, "receiving_team"),  # not to the team holding it
        ({"receiving_team": "nowhere"}, "receiving_team"),
        ({"point_of_transfer": "whenever"}, "point_of_transfer"),
        ({"planned_date": "next week"}, "planned_date"),
        ({"reason": "  "}, "reason"),
        ({"std_genogram": "na"}, "why_genogram"),  # T4: not applicable needs a why
        ({"std_genogram": "maybe"}, "std_genogram"),
        ({"readiness": "soon"}, "readiness"),
    ],
)
def test_form_refusals(t: Transfers, db_fingerprint: Callable[[], object], changes: dict[str, str], field: str) -> None:
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as e:
        t.raise_(**changes)
    assert field in e.value.errors
    assert db_fingerprint() == before


def test_outstanding_and_not_applicable_with_why_are_recorded(t: Transfers) -> None:
    rid = t.raise_(std_genogram="na", why_genogram="Single parent, no wider family known.", std_chronology="outstanding")
    standards = t.get(rid).details["standards"]
    assert standards["genogram"] == {"status": "na", "why": "Single parent, no wider family known."}
    assert standards["chronology"]["status"] == "outstanding"


def test_only_the_sending_teams_workers_and_managers_raise_one_at_a_time(t: Transfers, db_fingerprint: Callable[[], object]) -> None:
    before = db_fingerprint()
    for outsider in ("sam", "nadia", "femi", "dan"):
        with pytest.raises(NotAllowed):
            t.raise_(actor=outsider)
    assert db_fingerprint() == before
    t.raise_(readiness="potential")
    with pytest.raises(IllegalTransition):
        t.raise_(actor="amy")


def test_potential_then_ready(t: Transfers) -> None:
    rid = t.raise_(readiness="potential")
    assert t.get(rid).state == POTENTIAL
    with pytest.raises(IllegalTransition):  # not with the manager yet
        t.do(wf.approve, rid, "maria")
    with pytest.raises(NotAllowed):  # amy is neither its requester nor its worker
        t.do(transfer.mark_ready, rid, "amy")
    t.do(transfer.mark_ready, rid, "ben")
    assert t.get(rid).state == "requested"
    with pytest.raises(IllegalTransition):
        t.do(transfer.mark_ready, rid, "ben")
    assert t.events(rid) == ["request", "mark_ready"]


# -- the sending manager: approve / return as closures --------------------------------------


def test_return_resubmit_approve(t: Transfers) -> None:
    rid = t.raise_()
    with pytest.raises(FieldErrors):
        t.do(wf.return_request, rid, "maria", " ")
    t.do(wf.return_request, rid, "maria", "Add the chronology.")
    assert t.get(rid).state == "returned"
    t.do(transfer.resubmit, rid, "ben", form(planned_date="2026-12-04"))
    r = t.get(rid)
    assert (r.state, r.revision, r.details["planned_date"]) == ("requested", 2, "2026-12-04")
    with pytest.raises(NotAllowed):  # four eyes: ben cannot approve (and is no manager)
        t.do(wf.approve, rid, "ben")
    text = t.do(wf.approve, rid, "maria")
    assert "12+" in text and t.get(rid).state == "approved"


def test_approval_puts_a_card_in_the_receiving_managers_channel(t: Transfers) -> None:
    rid = t.approved()
    keys = t.cards(rid)
    assert ("C0P12MGR", f"request:{rid}:receiving") in keys
    assert not any(channel == "C0U12BS" for channel, _ in keys)  # a transfer is no virtual-worker item


# -- the receiving manager: accept, hold on duty, dispute ---------------------------------


def test_accept_refuses_a_worker_outside_the_receiving_team(t: Transfers, db_fingerprint: Callable[[], object]) -> None:
    rid = t.approved()
    before = db_fingerprint()
    for worker in ("amy", "nadia", ""):
        with pytest.raises(FieldErrors) as e:
            t.do(transfer.accept, rid, "nadia", worker)
        assert "worker" in e.value.errors
    with pytest.raises(NotAllowed):  # the sending manager does not accept for 12+
        t.do(transfer.accept, rid, "maria", "femi")
    assert db_fingerprint() == before


def test_accept_before_the_date_waits_for_the_point_of_transfer(t: Transfers, seeded: partial[UnitOfWork], ctx: Context) -> None:
    rid = t.approved()
    t.do(transfer.accept, rid, "nadia", "femi")
    r = t.get(rid)
    assert (r.state, r.details["allocated_worker"]) == (ACCEPTED, "femi")
    with seeded() as uow:
        assert transfer.apply_due_transfers(uow, ctx) == []  # 26 Nov: not yet
        assert uow.cases.open_case(CHILD).team == "u12"  # type: ignore[union-attr]
    ctx.clock.now = lambda: dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)  # type: ignore[method-assign]
    with seeded() as uow:
        assert transfer.apply_due_transfers(uow, ctx) == [rid]
    with seeded() as uow:
        assert transfer.apply_due_transfers(uow, ctx) == []  # never twice
    _assert_moved(seeded, rid, dt.date(2026, 12, 3))
    assert t.events(rid) == ["request", "approve", "accept", "complete_transfer"]


def _assert_moved(seeded: partial[UnitOfWork], rid: int, when: dt.date) -> None:
    """T7: the sending worker and team relationships end on the day, the receiving ones start;
    the sending case closes as transferred and a new case opens for 12+; GP and school stay."""
    with seeded() as uow:
        request = uow.requests.get(rid)
        assert request is not None and request.state == TRANSFERRED
        cases = sorted(uow.cases.cases_of(CHILD), key=lambda c: c.id)
        old, new = cases[-2], cases[-1]
        assert (old.team, old.closed_on, old.closure_reason) == ("u12", when, transfer.CLOSURE_REASON)
        assert (new.team, new.worker, new.opened_on, new.closed_on, new.case_type) == ("12plus", "femi", when, None, "CIN")
        workers = {(w.worker, w.from_date, w.to_date, w.end_reason) for w in uow.cases.open_worker_relationships(CHILD)}
        assert ("Femi Adebayo", when, None, None) in workers
        assert not any(w[0] == "Ben Okafor" for w in workers)
        assert any(w[0] == "Dr Iris Vale" for w in workers)  # the GP stays
        ended = uow.session.scalars(select(WorkerRelationship).where(WorkerRelationship.person_id == CHILD, WorkerRelationship.worker == "Ben Okafor")).one()
        assert (ended.to_date, ended.end_reason) == (when, transfer.END_REASON)
        teams = {(o.organisation, o.from_date) for o in uow.cases.open_organisation_relationships(CHILD) if o.organisation_kind == "team"}
        assert teams == {("12+", when)}
        old_team = uow.session.scalars(
            select(OrganisationRelationship).where(OrganisationRelationship.person_id == CHILD, OrganisationRelationship.organisation == "Under 12s")
        ).one()
        assert (old_team.to_date, old_team.end_reason) == (when, transfer.END_REASON)
        audit = uow.requests.get(int(request.details["audit_id"]))
        assert audit is not None
        assert (audit.kind, audit.state, audit.team, audit.case_id) == ("transfer_audit", "approved", "12plus", new.id)


def test_accept_on_or_after_the_date_moves_at_once(t: Transfers, seeded: partial[UnitOfWork]) -> None:
    rid = t.approved(planned_date="2026-11-20")  # the planned date has passed: it moves today
    text = t.do(transfer.accept, rid, "nadia", "femi")
    assert "now with 12+" in text
    _assert_moved(seeded, rid, TODAY)


def test_audit_at_transfer_is_claimed_and_completed_like_closure_items(t: Transfers, seeded: partial[UnitOfWork]) -> None:
    rid = t.approved(planned_date="2026-11-26")
    t.do(transfer.accept, rid, "nadia", "lena")
    audit_id = int(t.get(rid).details["audit_id"])
    with pytest.raises(NotAllowed):  # Under 12s' business support are not 12+'s
        t.do(wf.claim, audit_id, "sam")
    t.do(wf.claim, audit_id, "ivy")
    with pytest.raises(FieldErrors) as e:
        t.do(transfer.complete_audit, audit_id, "ivy", ["involvement"])
    assert "Record up to date" in e.value.errors["checklist"]
    t.do(wf.unclaim, audit_id, "ivy")
    t.do(wf.reassign, audit_id, "nadia", "ivy")
    text = t.do(transfer.complete_audit, audit_id, "ivy", list(transfer.AUDIT_CHECKS))
    assert "C13" in text and t.get(audit_id).state == "closed"


def test_hold_on_duty_needs_a_reason_then_accept(t: Transfers) -> None:
    rid = t.approved()
    with pytest.raises(FieldErrors):
        t.do(transfer.hold_on_duty, rid, "nadia", "")
    t.do(transfer.hold_on_duty, rid, "nadia", "No worker with capacity until January.")
    r = t.get(rid)
    assert r.state == ON_DUTY and r.details["duty"]["reason"].startswith("No worker")
    with pytest.raises(IllegalTransition):
        t.do(transfer.dispute, rid, "nadia", "Not ours after all.")
    t.do(transfer.accept, rid, "nadia", "femi")
    assert t.get(rid).state == ACCEPTED


# -- T5: the dispute ladder ---------------------------------------------------------------------


def test_dispute_goes_to_both_group_managers_and_nothing_moves(t: Transfers, seeded: partial[UnitOfWork]) -> None:
    rid = t.approved(planned_date="2026-11-20")
    with pytest.raises(FieldErrors):
        t.do(transfer.dispute, rid, "nadia", " ")
    t.do(transfer.dispute, rid, "nadia", "Not at the point of transfer yet.")
    assert t.get(rid).state == DISPUTED
    with seeded() as uow:
        dms = {m.channel for m in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dm"))}
        assert {"U0GITA", "U0RAFE"} <= dms
        assert uow.cases.open_case(CHILD).team == "u12"  # type: ignore[union-attr]  # T5: stays with the sender
        assert transfer.apply_due_transfers(uow, t.ctx) == []


def test_group_managers_resolve_the_transfer_goes_ahead(t: Transfers) -> None:
    rid = t.approved()
    t.do(transfer.dispute, rid, "nadia", "Not yet.")
    with pytest.raises(NotAllowed):  # managers and workers do not resolve; group managers of either team do
        t.do(transfer.resolve, rid, "maria", "transfer", "Agreed.")
    with pytest.raises(FieldErrors):
        t.do(transfer.resolve, rid, "rafe", "transfer", "")
    t.do(transfer.resolve, rid, "rafe", "transfer", "Agreed at the Transfer Meeting.")
    r = t.get(rid)
    assert r.state == "approved" and r.details["dispute"]["outcome"] == "transfer"
    with pytest.raises(IllegalTransition):  # decided: not disputed again
        t.do(transfer.dispute, rid, "nadia", "Still not ours.")
    t.do(transfer.accept, rid, "nadia", "femi")


def test_group_managers_resolve_the_case_stays(t: Transfers) -> None:
    rid = t.approved()
    t.do(transfer.dispute, rid, "nadia", "Not yet.")
    t.do(transfer.resolve, rid, "gita", "stay", "Stays with Under 12s until the CIN review.")
    assert t.get(rid).state == "declined"
    t.raise_(readiness="potential")  # a new transfer may be raised later


def test_escalate_to_the_service_manager_whose_decision_is_final(t: Transfers, seeded: partial[UnitOfWork]) -> None:
    rid = t.approved(planned_date="2026-11-20")
    t.do(transfer.dispute, rid, "nadia", "Not yet.")
    with pytest.raises(NotAllowed):
        t.do(transfer.escalate, rid, "nadia", "Cannot agree.")
    t.do(transfer.escalate, rid, "gita", "Cannot agree.")
    assert t.get(rid).state == ESCALATED
    with pytest.raises(NotAllowed):  # group managers no longer decide
        t.do(transfer.decide, rid, "rafe", "stay", "No.")
    with pytest.raises(IllegalTransition):
        t.do(transfer.resolve, rid, "rafe", "stay", "No.")
    with pytest.raises(FieldErrors):
        t.do(transfer.decide, rid, "olu", "maybe", "Hmm.")
    t.do(transfer.decide, rid, "olu", "transfer", "The point of transfer has been reached.")
    r = t.get(rid)
    assert r.state == "approved" and r.details["dispute"]["final"] is True
    with pytest.raises(IllegalTransition):
        t.do(transfer.decide, rid, "olu", "stay", "Changed my mind.")
    t.do(transfer.accept, rid, "nadia", "femi")
    _assert_moved(seeded, rid, TODAY)
    assert t.events(rid) == ["request", "approve", "dispute", "escalate", "decide_transfer", "accept", "complete_transfer"]


def test_withdraw_while_to_come_never_after(t: Transfers) -> None:
    rid = t.approved()
    t.do(transfer.dispute, rid, "nadia", "Not yet.")
    with pytest.raises(NotAllowed):  # the receiving team does not withdraw the sender's transfer
        t.do(wf.withdraw, rid, "nadia")
    t.do(wf.withdraw, rid, "ben")
    assert t.get(rid).state == "withdrawn"
    rid2 = t.approved(planned_date="2026-11-26")
    t.do(transfer.accept, rid2, "nadia", "femi")
    with pytest.raises(IllegalTransition):
        t.do(wf.withdraw, rid2, "maria")


def test_every_transfer_transition_is_in_its_own_table_not_the_shared_one() -> None:
    assert (ACCEPTED, "complete_transfer") in transfer.TRANSFER_TRANSITIONS
    assert not any(a in ("hold_on_duty", "dispute", "escalate", "mark_ready") for _, a in wf.TRANSITIONS)
    assert not any(s == TRANSFERRED for s, _ in transfer.TRANSFER_TRANSITIONS), "transferred is final"


def test_a_sending_case_closed_before_the_date_is_never_rewritten(t: Transfers, seeded: partial[UnitOfWork], ctx: Context) -> None:
    rid = t.approved()
    t.do(transfer.accept, rid, "nadia", "femi")
    with seeded() as uow:  # closed meanwhile (fictitious: as a closure's audit would)
        case = uow.cases.open_case(CHILD)
        assert case is not None
        case.closed_on, case.closure_reason = dt.date(2026, 11, 30), "RC7"
        uow.commit()
    ctx.clock.now = lambda: dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)  # type: ignore[method-assign]
    with seeded() as uow:
        assert transfer.apply_due_transfers(uow, ctx) == []
    with seeded() as uow:
        [only] = uow.cases.cases_of(CHILD)
        assert (only.closed_on, only.closure_reason) == (dt.date(2026, 11, 30), "RC7")
    assert t.get(rid).state == ACCEPTED


def _drive(t: Transfers, state: str) -> int:
    """Ben's transfer driven into ``state`` through the handlers (every state of the table)."""
    rid = t.raise_(readiness="potential" if state == POTENTIAL else "ready", planned_date="2026-11-20" if state == TRANSFERRED else "2026-12-03")
    steps: dict[str, Callable[[], object]] = {
        "returned": lambda: t.do(wf.return_request, rid, "maria", "Add the chronology."),
        "withdrawn": lambda: t.do(wf.withdraw, rid, "ben"),
    }
    if state in (POTENTIAL, "requested") or state in steps:
        if state in steps:
            steps[state]()
        return rid
    t.do(wf.approve, rid, "maria")
    if state == ON_DUTY:
        t.do(transfer.hold_on_duty, rid, "nadia", "No capacity.")
    elif state in (ACCEPTED, TRANSFERRED):
        t.do(transfer.accept, rid, "nadia", "femi")
    elif state in (DISPUTED, ESCALATED, "declined"):
        t.do(transfer.dispute, rid, "nadia", "Not yet.")
        if state == ESCALATED:
            t.do(transfer.escalate, rid, "gita", "Cannot agree.")
        if state == "declined":
            t.do(transfer.resolve, rid, "gita", "stay", "Stays.")
    return rid


ALL_STATES = (POTENTIAL, "requested", "returned", "approved", ON_DUTY, DISPUTED, ESCALATED, ACCEPTED, TRANSFERRED, "declined", "withdrawn")


@pytest.mark.parametrize("state", ALL_STATES)
def test_every_action_not_in_the_table_is_refused_in_every_state(t: Transfers, db_fingerprint: Callable[[], object], state: str) -> None:
    """The transfer's table is the whole truth: in each state, exactly its actions are legal;
    any other is refused as "nothing changed" and writes nothing (whoever tries)."""
    rid = _drive(t, state)
    assert t.get(rid).state == state
    before = db_fingerprint()
    legal = {a for (s, a) in transfer.TRANSFER_TRANSITIONS if s == state}
    for action in sorted(transfer.TRANSFER.actions - legal):
        with t.uow() as uow, pytest.raises(IllegalTransition):
            wf.transition(uow, t.ctx, wf.load(uow, rid), action, "olu")
    with t.uow() as uow, pytest.raises(IllegalTransition):  # a closure's action is no transfer's
        wf.transition(uow, t.ctx, wf.load(uow, rid), "claim", "sam")
    assert db_fingerprint() == before
    assert state not in (TRANSFERRED, "declined", "withdrawn") or not legal, "final states take no action"


def test_the_scheduler_moves_due_transfers_every_morning_and_at_start(t: Transfers, seeded: partial[UnitOfWork], ctx: Context) -> None:
    """T7 wiring: a daily cron job (07:00 London) and a run at start-up call the move; each transfer moves once."""
    from apscheduler.triggers.cron import CronTrigger

    from worktray.bootstrap import App
    from worktray.scheduler import build_scheduler, move_due_transfers

    class Deliverer:
        kicks = 0

        def kick(self) -> None:
            self.kicks += 1

    app = App(ctx=ctx, uow=seeded, interactions=None, deliverer=Deliverer())  # type: ignore[arg-type]
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    daily = jobs["transfers-due"].trigger
    assert isinstance(daily, CronTrigger) and str(daily.timezone) == "Europe/London"
    assert daily.get_next_fire_time(None, dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)).isoformat() == "2026-12-03T07:00:00+00:00"
    assert "transfers-due-at-start" in jobs

    rid = t.approved()
    t.do(transfer.accept, rid, "nadia", "femi")
    assert move_due_transfers(app) == 0  # 26 Nov: not yet
    ctx.clock.now = lambda: dt.datetime(2026, 12, 3, 7, 0, tzinfo=dt.UTC)  # type: ignore[method-assign]
    assert move_due_transfers(app) == 1 and app.deliverer.kicks == 1
    assert move_due_transfers(app) == 0  # a second instance, or a re-run: nothing moves twice
    _assert_moved(seeded, rid, dt.date(2026, 12, 3))


@pytest.mark.parametrize("state", [POTENTIAL, "requested", ON_DUTY, DISPUTED, ESCALATED, ACCEPTED])
def test_the_database_allows_one_transfer_to_come_per_person(t: Transfers, seeded: partial[UnitOfWork], state: str) -> None:
    """Two people raising a transfer at the same moment cannot both succeed, in any state in which
    a transfer is still to come (migration 0008); a finished one does not count."""
    from store.uow import DuplicateOpenRequest

    def insert(row_state: str) -> None:
        with seeded() as uow:
            case = uow.cases.open_case(CHILD)
            assert case is not None
            uow.requests.add(
                Request(kind="transfer", state=row_state, case_id=case.id, person_id=CHILD, team="u12", receiving_team="12plus",
                        requested_by="ben", requested_at=t.ctx.clock.now(), details={})
            )
            uow.commit()

    insert(TRANSFERRED)  # finished: does not stand in the way
    insert(state)
    with pytest.raises(DuplicateOpenRequest):
        insert(POTENTIAL)


def test_settling_a_dispute_keeps_who_disputed_it(t: Transfers) -> None:
    """T5: the record says who disputed and who settled, and the DMs name each rightly."""
    rid = t.approved()
    t.do(transfer.dispute, rid, "nadia", "Not yet.")
    t.do(transfer.resolve, rid, "rafe", "transfer", "Agreed.")
    dispute = t.get(rid).details["dispute"]
    assert (dispute["by"], dispute["settled_by"], dispute["reason"]) == ("nadia", "rafe", "Not yet.")
