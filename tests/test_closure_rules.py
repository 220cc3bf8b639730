"""The closure rules of DOMAIN.md (C2, C4, C6, C7, C9, C10, C11) on the demo case store.

Every step goes through the real handlers on SQLite and PostgreSQL; every refusal is
checked to leave the database exactly as it was.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import ALL_TICKS
from sqlalchemy import select

from store.models import (
    Case,
    FileRetention,
    OrganisationRelationship,
    OutboxMessage,
    RecordItem,
    ServiceUserGroup,
    WorkerRelationship,
    WorkStep,
)
from workflows import closure
from workflows.errors import FieldErrors, IllegalTransition, NotAllowed, NotFound
from workflows.record_items import RecordChoices
from workflows.requests import APPROVED, BLOCKED, CLAIMED, REQUESTED, WITHDRAWN

TODAY = dt.date(2026, 11, 26)  # the clock fixture's date in Europe/London
OPENED_3549723 = dt.date(2022, 10, 4)


def rows(uow_factory, model, **where):
    with uow_factory() as uow:
        found = list(uow.session.scalars(select(model).filter_by(**where).order_by(model.id)).all())
        uow.session.expunge_all()
        return found


# -- C2: the worker's closure form ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("person_id", "changes", "field"),
    [
        ("3549723", {"closure_date": OPENED_3549723 - dt.timedelta(days=1)}, "closure_date"),
        ("3549723", {"closure_date": TODAY + dt.timedelta(days=31)}, "closure_date"),
        ("3549723", {"reason": "A1"}, "reason"),  # an adult's reason (C1) on a child's case
        ("3549723", {"reason": "RC10"}, "reason"),
        ("4100001", {"reason": "RC7"}, "reason"),  # a CIN census reason (S1) on an adult's case
        ("3549723", {"applies_to": ["3549728"]}, "applies_to"),  # not in the Marsh family group
        ("3549728", {"applies_to": ["3549723"]}, "applies_to"),  # 3549728 is in no family group
        ("3549723", {"summary": "   "}, "summary"),
    ],
    ids=["before-opened", "31-days-ahead", "adult-reason-on-child", "unknown-reason", "child-reason-on-adult",
         "stranger-in-family", "no-family", "blank-summary"],
)
def test_a_bad_closure_form_is_refused_on_the_field_and_writes_nothing(journey, db_fingerprint, person_id, changes, field):
    requester = "dan" if person_id == "4100001" else "amy"
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        journey.request(person_id, requester, **changes)
    assert list(refused.value.errors) == [field]
    assert refused.value.errors[field]
    assert db_fingerprint() == before


def test_the_form_errors_say_what_is_allowed(journey):
    with pytest.raises(FieldErrors) as refused:
        journey.request("3549723", "amy", closure_date=dt.date(2022, 1, 1), reason="A1", applies_to=["9999999"])
    errors = refused.value.errors
    assert errors["closure_date"] == "The closure date cannot be before the case opened (04/10/2022)."
    assert "CIN census RC1-RC9" in errors["reason"]
    assert "9999999" in errors["applies_to"]


@pytest.mark.parametrize("closure_date", [OPENED_3549723, TODAY, TODAY + dt.timedelta(days=30)], ids=["opened-day", "today", "30-days-ahead"])
def test_closure_dates_from_the_opening_day_to_30_days_ahead_are_accepted(journey, closure_date):
    rid = journey.request("3549723", "amy", closure_date=closure_date)
    assert journey.get(rid).details["closure_date"] == closure_date.isoformat()


def test_an_adult_case_takes_the_c1_reasons(journey):
    rid = journey.request("4100001", "dan", reason="A3")
    assert journey.get(rid).details["reason"] == "A3"


def test_a_resubmitted_form_is_checked_the_same_way(journey, db_fingerprint):
    rid = journey.to_state("returned")
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        journey.resubmit(rid, "amy", closure_date=TODAY + dt.timedelta(days=45))
    assert list(refused.value.errors) == ["closure_date"]
    assert db_fingerprint() == before


def test_the_form_records_every_c2_field(journey):
    rid = journey.request("3549723", "amy", reason="RC8", summary="Assessment complete.", letter_done=False, applies_to=["3549724"])
    details = journey.get(rid).details
    assert details["reason"] == "RC8"
    assert details["closure_date"] == TODAY.isoformat()
    assert details["summary"] == "Assessment complete."
    assert (details["visit_done"], details["letter_done"], details["evaluation_done"]) == (True, False, True)
    assert details["applies_to"] == ["3549723", "3549724"]


# -- C3, C4: the manager's audit and the service manager's sign-off --------------------------------


def test_a_client_never_seen_needs_the_service_manager(journey, db_fingerprint, seeded):
    """C4: 4100001 was never seen face to face: ruth (manager) cannot approve, olu (service manager) can."""
    rid = journey.request("4100001", "dan")
    with seeded() as uow:
        audit = closure.manager_audit(uow, journey.ctx, uow.requests.get(rid))
        assert audit.never_seen and audit.last_seen is None
    before = db_fingerprint()
    with pytest.raises(NotAllowed, match=r"never seen face to face.*service manager.*C4"):
        journey.approve(rid, "ruth")
    assert db_fingerprint() == before
    journey.approve(rid, "olu")
    request = journey.get(rid)
    assert (request.state, request.last_actor) == (APPROVED, "olu")


def test_a_client_seen_face_to_face_is_approved_by_the_manager(journey, seeded):
    rid = journey.request("3549728", "ben")
    with seeded() as uow:
        audit = closure.manager_audit(uow, journey.ctx, uow.requests.get(rid))
        assert not audit.never_seen
        assert [(s.title, s.assignee) for s in audit.open_steps] == [("CS Case Supervision", "ben"), ("CS Home Visit", "amy")]
        assert audit.unauthorised_assessments == ["CIN Review (3549728)"]  # C3: completed, never authorised
    journey.approve(rid, "maria")
    assert journey.get(rid).state == APPROVED


# -- C6.1: open work steps block the audit; three kinds of people are told -------------------------


def test_blocked_tells_each_assignee_the_allocated_worker_and_the_manager(journey, seeded):
    rid = journey.to_state(CLAIMED, "3549728", "ben")
    supervision, visit = (s.id for s in rows(seeded, WorkStep, person_id="3549728"))
    journey.open_audit(rid, "sam")
    assert journey.get(rid).state == BLOCKED
    dms = {m.channel: m.body for m in rows(seeded, OutboxMessage, kind="dm")}
    # ben: assignee of the supervision and the allocated worker; amy: assignee of the visit; maria: the manager
    assert set(dms) == {"U0BEN", "U0AMY", "U0MARIA"}
    assert dms["U0AMY"] == {"view": "blocked", "request_id": rid, "steps": [visit], "recipient": "amy"}
    assert dms["U0BEN"]["steps"] == [supervision, visit], "the allocated worker hears of every step"
    assert dms["U0MARIA"]["steps"] == [supervision, visit]
    [event] = [e for e in journey.events(rid) if e.action == "block"]
    assert event.detail == {"steps": [supervision, visit]}


def test_recheck_stays_blocked_until_every_step_is_done(journey, db_fingerprint):
    rid = journey.to_state(BLOCKED, "3549728", "ben")
    before = db_fingerprint()
    message = journey.recheck(rid, "sam")
    assert message.startswith("Still blocked: 2 work step(s) remain open")
    assert db_fingerprint() == before
    journey.finish_steps("3549728")
    journey.recheck(rid, "sam")
    assert journey.get(rid).state == CLAIMED


def test_complete_is_refused_while_steps_are_open(journey, db_fingerprint):
    rid = journey.to_state(CLAIMED, "3549728", "ben")  # claimed; the audit not yet opened
    before = db_fingerprint()
    with pytest.raises(IllegalTransition, match="Work steps are still open"):
        journey.complete(rid, "sam")
    assert db_fingerprint() == before
    journey.open_audit(rid, "sam")
    before = db_fingerprint()
    with pytest.raises(IllegalTransition, match="Re-check once its work steps are done"):
        journey.complete(rid, "sam")
    assert db_fingerprint() == before


# -- C7: a manager cancels incoming or future steps, with a reason ----------------------------------


@pytest.fixture
def steps(journey, seeded) -> dict[str, int]:
    """3549728's steps by kind, plus an incoming one added to the case store."""
    with seeded() as uow:
        uow.cases.add(WorkStep(person_id="3549728", title="CS Contact", assignee="ben", kind="incoming", scheduled_on=TODAY))
        uow.commit()
    return {s.kind: s.id for s in rows(seeded, WorkStep, person_id="3549728")}


def cancel(journey, rid: int, step_id: int, actor: str, reason: str) -> str:
    with journey.uow() as uow:
        return closure.cancel_step(uow, journey.ctx, rid, step_id, actor, reason)


@pytest.mark.parametrize("kind", ["incoming", "future"])
def test_a_manager_cancels_an_incoming_or_future_step_with_a_reason(journey, seeded, steps, kind):
    rid = journey.request("3549728", "ben")
    cancel(journey, rid, steps[kind], "maria", "  Superseded by the closure.  ")
    [step] = rows(seeded, WorkStep, id=steps[kind])
    assert (step.status, step.cancel_reason) == ("cancelled", "Superseded by the closure.")
    [event] = [e for e in journey.events(rid) if e.action == "cancel_step"]
    assert (event.actor, event.detail) == ("maria", {"step": steps[kind], "reason": "Superseded by the closure."})


def test_an_incomplete_step_cannot_be_cancelled(journey, db_fingerprint, steps):
    rid = journey.request("3549728", "ben")
    before = db_fingerprint()
    with pytest.raises(IllegalTransition, match="cannot be cancelled, only finished by Ben Okafor"):
        cancel(journey, rid, steps["incomplete"], "maria", "Not needed.")
    assert db_fingerprint() == before


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancelling_needs_a_reason(journey, db_fingerprint, steps, reason):
    rid = journey.request("3549728", "ben")
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        cancel(journey, rid, steps["future"], "maria", reason)
    assert list(refused.value.errors) == ["reason"]
    assert db_fingerprint() == before


def test_only_a_manager_of_the_team_cancels(journey, db_fingerprint, steps):
    rid = journey.request("3549728", "ben")
    before = db_fingerprint()
    for person in ("ben", "amy", "sam", "gita", "olu", "ruth"):
        with pytest.raises(NotAllowed):
            cancel(journey, rid, steps["future"], person, "Not needed.")
    assert db_fingerprint() == before


def test_a_step_not_on_the_request_cannot_be_cancelled(journey, db_fingerprint, steps):
    rid = journey.request("3549723", "amy")  # 3549728's steps are not on this record
    before = db_fingerprint()
    with pytest.raises(NotFound):
        cancel(journey, rid, steps["future"], "maria", "Not needed.")
    assert db_fingerprint() == before


def test_the_issue_journey_finish_one_step_cancel_the_other_then_recheck(journey, seeded, steps):
    rid = journey.to_state(BLOCKED, "3549728", "ben")
    with journey.uow() as uow:
        closure.mark_step_done(uow, journey.ctx, steps["incomplete"], "ben")
    cancel(journey, rid, steps["future"], "maria", "Visit not needed after closure.")
    cancel(journey, rid, steps["incoming"], "maria", "Contact not needed after closure.")
    journey.recheck(rid, "sam")
    journey.complete(rid, "sam")
    assert journey.get(rid).state == "closed"


# -- C6.2-C6.6, C8-C10: what completing the audit does to the record ----------------------------------


def test_c9_gp_school_and_surgery_stay_open_the_case_relationships_end(journey, seeded):
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    journey.complete(rid)  # the request's closure date is today
    workers = {w.relationship_type: w for w in rows(seeded, WorkerRelationship, person_id="3549723")}
    assert workers["GP"].to_date is None and workers["GP"].end_reason is None
    key_worker = workers["Key Worker (Childrens Social Care)"]
    assert (key_worker.to_date, key_worker.end_reason) == (TODAY, "Case closed")
    orgs = {o.organisation_kind: o for o in rows(seeded, OrganisationRelationship, person_id="3549723")}
    assert orgs["school"].to_date is None and orgs["gp_surgery"].to_date is None
    assert (orgs["team"].to_date, orgs["team"].end_reason) == (TODAY, "Case closed")
    [group] = rows(seeded, ServiceUserGroup, person_id="3549723")
    assert group.end_date == TODAY


def test_relationships_end_as_of_a_future_closure_date(journey, seeded):
    """C6.3: as of the closure date, not the day the audit ran."""
    closure_date = TODAY + dt.timedelta(days=20)
    rid = journey.request("3549723", "amy", closure_date=closure_date)
    journey.approve(rid)
    journey.claim(rid)
    journey.complete(rid)
    [key_worker] = [w for w in rows(seeded, WorkerRelationship, person_id="3549723") if w.relationship_type != "GP"]
    assert key_worker.to_date == closure_date
    [case] = rows(seeded, Case, person_id="3549723")
    assert case.closed_on == closure_date


def test_c9_other_workers_and_places_of_education_are_kept(journey, seeded):
    """End only what belongs to the case closing: another worker's relationship and a college stay."""
    with seeded() as uow:
        uow.cases.add(WorkerRelationship(person_id="3549723", worker="Jo Hart", relationship_type="Key Worker (Early Help)",
                                         from_date=dt.date(2021, 1, 1)))
        uow.cases.add(OrganisationRelationship(person_id="3549723", organisation="Fenbridge College",
                                               organisation_kind="place_of_education", relationship_type="Place of education",
                                               from_date=dt.date(2024, 9, 1)))
        uow.commit()
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    plan = journey.open_audit(rid)
    assert any("Jo Hart" in k for k in plan.kept) and any("Fenbridge College" in k for k in plan.kept)
    journey.complete(rid)
    kept = [w for w in rows(seeded, WorkerRelationship, person_id="3549723") if w.worker in ("Jo Hart", "Dr Iris Vale")]
    assert [w.to_date for w in kept] == [None, None]
    [college] = rows(seeded, OrganisationRelationship, organisation="Fenbridge College")
    assert college.to_date is None


def test_c10_record_items_end_with_the_given_reasons(journey, seeded):
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    plan = journey.open_audit(rid)
    items = {i.kind: i.id for i in plan.record_items}
    assert set(items) == {"legal_status", "registration"}  # the checklist shows only what is open
    choices = RecordChoices(end=frozenset({items["registration"]}), end_reasons={items["registration"]: "No longer meets the criteria"})
    journey.complete(rid, choices=choices)
    ended = {i.kind: i for i in rows(seeded, RecordItem, person_id="3549723")}
    assert (ended["registration"].to_date, ended["registration"].end_reason) == (TODAY, "No longer meets the criteria")
    assert (ended["legal_status"].to_date, ended["legal_status"].end_reason) == (None, None), "C10: not chosen, so kept"
    [event] = [e for e in journey.events(rid) if e.action == "complete"]
    assert event.detail["ended_record_items"] == [items["registration"]]
    assert [k["id"] for k in event.detail["kept_record_items"]] == [items["legal_status"]]


def test_c6_outcomes_and_the_case_closed(journey, seeded):
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    journey.complete(rid)
    request = journey.get(rid)
    assert request.state == "closed"
    assert request.details["outcomes"] == ["form completed", "section completed", "NFA case closed"]
    [case] = rows(seeded, Case, person_id="3549723")
    assert (case.closed_on, case.closure_reason) == (TODAY, "RC7")
    [sibling] = rows(seeded, Case, person_id="3549724")
    assert sibling.closed_on is None, "the closure did not apply to the sibling"
    dms = [m for m in rows(seeded, OutboxMessage, kind="dm") if m.body.get("view") == "closed"]
    assert [m.channel for m in dms] == ["U0AMY"]


def test_a_family_closure_closes_each_member_it_applies_to(journey, seeded):
    rid = journey.request("3549723", "amy", applies_to=["3549724"])
    journey.approve(rid)
    journey.claim(rid)
    journey.complete(rid)
    cases = {c.person_id: c for c in rows(seeded, Case) if c.person_id in ("3549723", "3549724")}
    assert {p: (c.closed_on, c.closure_reason) for p, c in cases.items()} == {
        "3549723": (TODAY, "RC7"),
        "3549724": (TODAY, "RC7"),
    }
    for person_id in ("3549723", "3549724"):
        by_type = {w.relationship_type: w.to_date for w in rows(seeded, WorkerRelationship, person_id=person_id)}
        assert by_type == {"Key Worker (Childrens Social Care)": TODAY, "GP": None}
        assert [r.criteria for r in rows(seeded, FileRetention, person_id=person_id)] == ["CS Child in Need"]


def test_a_missing_checklist_tick_is_refused_and_writes_nothing(journey, db_fingerprint):
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    before = db_fingerprint()
    for missing in ALL_TICKS:
        ticks = [t for t in ALL_TICKS if t != missing]
        with pytest.raises(FieldErrors) as refused:
            journey.complete(rid, "sam", confirmed=ticks)
        assert missing in refused.value.errors["checklist"]
    assert db_fingerprint() == before
    assert journey.get(rid).state == CLAIMED


def test_the_items_tick_is_needed_only_when_items_are_open(journey):
    """C10: 3501779 has no open record items, so there is nothing to tick for them."""
    rid = journey.to_state(CLAIMED, "3501779", "amy")
    journey.complete(rid, "sam", confirmed=[t for t in ALL_TICKS if t != "items"])
    assert journey.get(rid).state == "closed"


# -- C11: withdrawal at any time, late after two weeks of the request --------------------------------------------------


@pytest.mark.parametrize("state", [REQUESTED, "returned", APPROVED, CLAIMED])
def test_withdraw_within_two_weeks_works(journey, clock, state):
    rid = journey.to_state(state, "3549723", "amy")
    clock.advance(days=14)  # the last moment of the window
    journey.withdraw(rid, "maria")
    assert journey.get(rid).state == WITHDRAWN


def test_withdraw_after_two_weeks_works_and_is_marked_late(journey, clock):
    """C11: an open request is never stuck: withdrawn at any time, marked late after 2 weeks."""
    rid = journey.to_state(APPROVED, "3549723", "amy")
    clock.advance(days=14, minutes=1)
    journey.withdraw(rid, "amy")
    assert journey.get(rid).state == WITHDRAWN
    [event] = [e for e in journey.events(rid) if e.action == "withdraw"]
    assert event.detail["late"] is True


def test_the_window_runs_from_the_first_request_not_a_resubmit(journey, clock):
    rid = journey.to_state("returned", "3549723", "amy")
    clock.advance(days=10)
    journey.resubmit(rid, "amy")
    clock.advance(days=5)
    assert "marked as late" in journey.withdraw(rid, "amy")
    assert journey.get(rid).details["withdrawn_late"] is True
