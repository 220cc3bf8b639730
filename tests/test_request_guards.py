"""Guards added after review: one open closure request per person (database-enforced),
family members' own cases (C2), and refusals told before form errors."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from store.models import OPEN_REQUEST_STATES_SQL, Case, Request
from store.uow import DuplicateOpenRequest
from workflows import closure, requests
from workflows.errors import FieldErrors, IllegalTransition, NotAllowed, WorkflowError
from workflows.requests import OPEN_STATES


def _form(**changes):
    data = {"reason": "RC8", "closure_date": dt.date(2026, 11, 20), "summary": "Goals met"}
    data.update(changes)
    return closure.ClosureForm(**data)


def _count(seeded) -> int:
    with seeded() as uow:
        return uow.session.scalar(select(func.count()).select_from(Request))


def test_index_states_match_the_open_states():
    """The shared open states, and a transfer's states to come (T, migration 0008), and nothing else."""
    from workflows.transfer_terms import KIND, RADAR_STATES

    shared, transfers = OPEN_REQUEST_STATES_SQL.split(" OR ")
    assert sorted(shared.split("(")[1].split(")")[0].replace("'", "").split(", ")) == sorted(OPEN_STATES)
    assert f"kind = '{KIND}'" in transfers
    to_come = transfers.split("state IN (")[1].split(")")[0].replace("'", "").split(", ")
    assert sorted(set(to_come) | set(OPEN_STATES)) == sorted(set(RADAR_STATES) | set(OPEN_STATES))


def test_database_refuses_a_second_open_request_even_past_the_check(seeded, ctx):
    first = None
    with seeded() as uow:
        first = closure.request_closure(uow, ctx, "amy", "3549723", _form())
    with seeded() as uow:
        twin = Request(
            kind="closure", state="requested", case_id=first.case_id, person_id="3549723", team="u12",
            requested_by="amy", requested_at=ctx.clock.now(), details={},
        )
        with pytest.raises(DuplicateOpenRequest):
            uow.requests.add(twin)
    assert _count(seeded) == 1


def test_a_closed_request_does_not_stop_a_new_one(seeded, ctx):
    with seeded() as uow:
        rid = closure.request_closure(uow, ctx, "amy", "3549723", _form()).id
    with seeded() as uow:
        requests.withdraw(uow, ctx, rid, "amy")
    with seeded() as uow:
        closure.request_closure(uow, ctx, "amy", "3549723", _form())
    assert _count(seeded) == 2


def test_two_workers_asking_at_once_make_one_request(seeded, ctx):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def ask(actor: str) -> None:
        barrier.wait()
        try:
            with seeded() as uow:
                closure.request_closure(uow, ctx, actor, "3549723", _form())
            outcomes.append("made")
        except WorkflowError as e:  # refused before the insert, or by the database's unique index (a Conflict)
            outcomes.append(str(e))

    threads = [threading.Thread(target=ask, args=(a,)) for a in ("amy", "maria")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("made") == 1
    assert any("already has an open closure request" in o for o in outcomes)
    assert _count(seeded) == 1


def test_family_member_case_must_have_opened_before_the_closure_date(seeded, ctx):
    with seeded() as uow:
        uow.session.scalars(select(Case).where(Case.person_id == "3549724")).one().opened_on = dt.date(2026, 11, 22)
        uow.commit()
    with seeded() as uow, pytest.raises(FieldErrors) as err:
        closure.request_closure(uow, ctx, "amy", "3549723", _form(applies_to=["3549724"]))
    assert "3549724" in err.value.errors["applies_to"]
    assert _count(seeded) == 0


def test_family_member_without_an_open_case_is_refused(seeded, ctx):
    with seeded() as uow:
        uow.session.scalars(select(Case).where(Case.person_id == "3549724")).one().closed_on = dt.date(2026, 1, 1)
        uow.commit()
    with seeded() as uow, pytest.raises(FieldErrors) as err:
        closure.request_closure(uow, ctx, "amy", "3549723", _form(applies_to=["3549724"]))
    assert "no open case" in err.value.errors["applies_to"]


def test_refusal_is_told_before_form_errors(seeded, ctx):
    with seeded() as uow:
        rid = closure.request_closure(uow, ctx, "amy", "3549723", _form()).id
    with seeded() as uow, pytest.raises(NotAllowed):
        requests.return_request(uow, ctx, rid, "sam", "")  # business support may not return; empty note too
    with seeded() as uow:
        requests.approve(uow, ctx, rid, "maria")
    with seeded() as uow, pytest.raises(IllegalTransition, match="Nothing changed"):
        requests.return_request(uow, ctx, rid, "maria", "")  # already approved: say so, not "write a note"
    with seeded() as uow, pytest.raises(IllegalTransition, match="Nothing changed"):
        closure.resubmit(uow, ctx, rid, "amy", _form(closure_date=dt.date(2000, 1, 1)))
    with seeded() as uow:
        requests.claim(uow, ctx, rid, "sam")
    with seeded() as uow, pytest.raises(NotAllowed):
        closure.complete(uow, ctx, rid, "tess", confirmed=[])  # not the holder: refused, not "tick everything"
    with seeded() as uow:
        assert uow.requests.get(rid).state == "claimed"


def test_holder_can_let_go_of_a_blocked_item(seeded, ctx):
    with seeded() as uow:
        rid = closure.request_closure(uow, ctx, "ben", "3549728", _form()).id
    with seeded() as uow:
        requests.approve(uow, ctx, rid, "maria")
    with seeded() as uow:
        requests.claim(uow, ctx, rid, "sam")
    with seeded() as uow:
        assert closure.open_audit(uow, ctx, rid, "sam").blocking_steps
    with seeded() as uow, pytest.raises(WorkflowError):
        requests.unclaim(uow, ctx, rid, "tess")  # not hers
    with seeded() as uow:
        requests.unclaim(uow, ctx, rid, "sam")
    with seeded() as uow:
        request = uow.requests.get(rid)
        assert (request.state, request.holder) == ("approved", None)


def test_c4_is_the_adults_rule_a_child_never_seen_needs_no_service_manager(seeded, ctx):
    """C4 applies to adults' cases only: a sibling never seen face to face does not stop the team manager."""
    from store.models import Person

    with seeded() as uow:
        uow.session.get(Person, "3549724").last_seen_face_to_face = None
        uow.commit()
    with seeded() as uow:
        both = closure.request_closure(uow, ctx, "amy", "3549723", _form(applies_to=["3549724"])).id
    with seeded() as uow:
        assert not closure.manager_audit(uow, ctx, uow.requests.get(both)).never_seen
        requests.approve(uow, ctx, both, "maria")
        assert uow.requests.get(both).state == "approved"


def test_the_worker_hears_of_the_approval(seeded, ctx):
    from bot.views import message_card
    from store.models import OutboxMessage

    with seeded() as uow:
        rid = closure.request_closure(uow, ctx, "amy", "3549723", _form()).id
    with seeded() as uow:
        requests.approve(uow, ctx, rid, "maria")
    with seeded() as uow:
        [dm] = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dm")).all()
        assert (dm.channel, dm.body) == ("U0AMY", {"view": "approved", "request_id": rid, "by": "maria"})
        card = message_card(uow, ctx, dm.body)
        assert card.title.endswith("approved") and ("Approved by", "Maria Lopez") in [(f.label, f.value) for f in card.facts]
        assert [b.label for b in card.buttons] == ["Withdraw"]  # C11: open, so it can be withdrawn
