"""C11: a finished closure can be reversed within 2 weeks of the request; after that,
reopening means a new social care request. Retention is never shortened (C8)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from store.models import (
    Case,
    FileRetention,
    OrganisationRelationship,
    RecordItem,
    ServiceUserGroup,
    WorkerRelationship,
)
from workflows import closure
from workflows.errors import IllegalTransition, NotAllowed
from workflows.requests import CLOSED, WITHDRAW_WINDOW, WITHDRAWN


def _snapshot(seeded, person_id: str) -> dict[str, object]:
    with seeded() as uow:
        s = uow.session
        return {
            "case_closed_on": s.scalars(select(Case.closed_on).where(Case.person_id == person_id)).one(),
            "workers": sorted((w.relationship_type, w.to_date, w.end_reason) for w in s.scalars(select(WorkerRelationship).where(WorkerRelationship.person_id == person_id))),
            "organisations": sorted((o.relationship_type, o.to_date) for o in s.scalars(select(OrganisationRelationship).where(OrganisationRelationship.person_id == person_id))),
            "groups": [g.end_date for g in s.scalars(select(ServiceUserGroup).where(ServiceUserGroup.person_id == person_id))],
            "items": sorted((i.kind, i.to_date, i.end_reason) for i in s.scalars(select(RecordItem).where(RecordItem.person_id == person_id))),
            "retentions": sorted(r.retain_until for r in s.scalars(select(FileRetention).where(FileRetention.person_id == person_id))),
        }


def test_reversing_a_closure_reopens_what_it_ended_and_keeps_retention(seeded, journey):
    before = _snapshot(seeded, "3549723")
    rid = journey.to_state(CLOSED, "3549723")
    closed = _snapshot(seeded, "3549723")
    assert closed["case_closed_on"] is not None and len(closed["retentions"]) == len(before["retentions"]) + 1

    message = journey.withdraw(rid, "amy")
    assert "reversed" in message
    after = _snapshot(seeded, "3549723")
    assert journey.get(rid).state == WITHDRAWN
    assert after["case_closed_on"] is None
    for key in ("workers", "organisations", "groups", "items"):
        assert after[key] == before[key], key  # exactly as before the closure: GP and school were never touched
    assert after["retentions"] == closed["retentions"], "C8: the retention added at closure is not shortened"
    [event] = [e for e in journey.events(rid) if e.action == "withdraw"]
    assert event.from_state == CLOSED and event.detail["reopened"]["cases"]


def test_reversal_leaves_alone_what_changed_since(seeded, journey):
    rid = journey.to_state(CLOSED, "3549723")
    later = dt.date(2026, 11, 25)
    with seeded() as uow:  # someone re-dated the key worker's end after the closure
        key_worker = uow.session.scalars(
            select(WorkerRelationship).where(WorkerRelationship.person_id == "3549723", WorkerRelationship.relationship_type.like("Key Worker%"))
        ).one()
        key_worker.to_date = later
        uow.commit()
    journey.withdraw(rid, "amy")
    with seeded() as uow:
        assert uow.session.get(WorkerRelationship, key_worker.id).to_date == later


def test_no_reversal_after_two_weeks(seeded, journey, clock, db_fingerprint):
    rid = journey.to_state(CLOSED, "3549723")
    clock.advance(seconds=WITHDRAW_WINDOW.total_seconds() + 60)
    before = db_fingerprint()
    with pytest.raises(IllegalTransition, match="new social care request"):
        journey.withdraw(rid, "amy")
    assert db_fingerprint() == before


def test_business_support_cannot_reverse(seeded, journey, db_fingerprint):
    rid = journey.to_state(CLOSED, "3549723")
    before = db_fingerprint()
    with pytest.raises(NotAllowed):
        journey.withdraw(rid, "sam")
    assert db_fingerprint() == before


def test_after_reversal_a_new_closure_can_be_requested(seeded, journey, ctx):
    rid = journey.to_state(CLOSED, "3549723")
    journey.withdraw(rid, "maria")
    form = closure.ClosureForm(reason="RC8", closure_date=dt.date(2026, 11, 26), summary="Closing again")
    with seeded() as uow:
        assert closure.request_closure(uow, ctx, "amy", "3549723", form).state == "requested"
