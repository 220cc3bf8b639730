"""C11 Reopen (a new involvement; the closed record never rewritten) and C12, the three-month
closing principle (a re-referral to the previous team's manager; accept or decline)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.actions import Interactions
from bot.views import request_card
from commands.case import CommandError, parse
from store.models import (
    Case,
    FileRetention,
    OrganisationRelationship,
    OutboxMessage,
    RecordItem,
    Request,
    ServiceUserGroup,
    WorkerRelationship,
)
from workflows import reopen
from workflows.errors import FieldErrors, IllegalTransition, NotAllowed, WorkflowError
from workflows.importing import config_key_check
from workflows.requests import ACCEPTED, CLOSED, DECLINED, REQUESTED

FAMILY = ["3549723", "3549724"]


def _close(journey, person_id: str = "3549723", closure_date: dt.date | None = None, requester: str = "amy", **changes: object) -> int:
    """A finished closure, through the real handlers (3549723's applies to 3549724 too)."""
    if person_id == "3549723" and "applies_to" not in changes:
        changes["applies_to"] = ["3549724"]
    if closure_date is not None:
        changes["closure_date"] = closure_date
    rid = journey.request(person_id, requester, **changes)
    journey.approve(rid)
    journey.claim(rid)
    journey.complete(rid)
    assert journey.get(rid).state == CLOSED
    return rid


def _closed_record(seeded, person_ids: list[str], request_id: int) -> dict[str, list[tuple[object, ...]]]:
    """Every row the closure closed or ended, and the closure request itself: its fingerprint."""
    tables = (Case, WorkerRelationship, OrganisationRelationship, ServiceUserGroup, RecordItem, FileRetention)
    with seeded() as uow:
        s = uow.session
        rows = {
            model.__tablename__: [
                tuple(getattr(r, c.key) for c in model.__table__.columns)
                for r in s.scalars(select(model).where(model.person_id.in_(person_ids)).order_by(model.id))
            ]
            for model in tables
        }
        request = s.get(Request, request_id)
        rows["request"] = [tuple(getattr(request, c.key) for c in Request.__table__.columns)]
        return rows


def _reopen(journey, rid: int, actor: str = "maria", people: list[str] | None = None, worker: str = "amy", reason: str = "New information.") -> str:
    with journey.uow() as uow:
        return reopen.reopen(uow, journey.ctx, rid, actor, people=people or ["3549723"], worker=worker, reason=reason)


def _cases(seeded, person_id: str) -> list[Case]:
    with seeded() as uow:
        cases = list(uow.cases.cases_of(person_id))
        uow.session.expunge_all()
        return sorted(cases, key=lambda c: c.id)


# -- C11: Reopen ------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["maria", "pia"], ids=["manager", "practice-supervisor"])
def test_reopen_after_finish_is_a_new_involvement_and_rewrites_nothing(seeded, journey, clock, actor):
    rid = _close(journey)
    clock.advance(days=20)  # long after the sources' 2 weeks: reopening is never a reversal
    before = _closed_record(seeded, FAMILY, rid)
    old_case_ids = {c.id for c in _cases(seeded, "3549723")}

    message = _reopen(journey, rid, actor, people=["3549723"], worker="ben", reason="School raised new concerns.")

    assert "new involvement" in message
    after = _closed_record(seeded, FAMILY, rid)
    new_cases = [c for c in _cases(seeded, "3549723") if c.id not in old_case_ids]
    assert len(new_cases) == 1
    [new] = new_cases
    assert (new.team, new.worker, new.case_type, new.opened_on, new.closed_on, new.primary_need) == (
        "u12", "ben", "CIN", dt.date(2026, 12, 16), None, "N1"
    )
    after["cases"] = [row for row in after["cases"] if row[0] != new.id]
    assert after == before, "the closed cases, what the audit ended, retention and the closure request are as they were"
    [event] = [e for e in journey.events(rid) if e.action == "reopen"]
    assert (event.actor, event.from_state, event.to_state) == (actor, None, None)
    assert event.detail["cases"] == [new.id] and event.detail["people"] == ["3549723"] and event.detail["worker"] == "ben"
    assert event.detail["reason"] == "School raised new concerns."
    with seeded() as uow:  # the new worker is told; the old card is re-shown
        rows = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.created_at == clock.now())).all()
        assert {(r.kind, r.channel) for r in rows} == {("dm", "U0BEN"), ("card", "C0U12MGR")}


def test_a_worker_cannot_reopen(journey, db_fingerprint):
    rid = _close(journey)
    before = db_fingerprint()
    for actor in ("amy", "sam", "gita", "ruth"):
        with pytest.raises(NotAllowed):
            _reopen(journey, rid, actor)
    assert db_fingerprint() == before


def test_reopen_for_the_members_it_names(seeded, journey):
    rid = _close(journey)
    _reopen(journey, rid, people=["3549724"])
    assert [c.is_open for c in _cases(seeded, "3549724")] == [False, True]
    assert [c.is_open for c in _cases(seeded, "3549723")] == [False]
    _reopen(journey, rid, people=["3549723"])  # the other member later
    assert [c.is_open for c in _cases(seeded, "3549723")] == [False, True]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"reason": "  "}, "reason"),
        ({"worker": "sam"}, "worker"),  # business support, not a worker of the team
        ({"worker": "dan"}, "worker"),  # a worker of another team
        ({"people": ["3549728"]}, "people"),  # not closed by this closure
    ],
    ids=["no-reason", "not-a-worker", "other-team", "not-closed-by-it"],
)
def test_bad_reopen_form_writes_nothing(journey, db_fingerprint, kwargs, field):
    rid = _close(journey)
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        _reopen(journey, rid, **kwargs)
    assert field in refused.value.errors
    assert db_fingerprint() == before


def test_reopen_twice_or_on_an_open_request_is_refused(journey, db_fingerprint):
    rid = _close(journey)
    _reopen(journey, rid, people=FAMILY)
    open_rid = journey.request("3501779", "amy")
    before = db_fingerprint()
    with pytest.raises(IllegalTransition, match="nothing to reopen"):
        _reopen(journey, rid)
    with pytest.raises(IllegalTransition, match="withdrawn instead"):
        _reopen(journey, open_rid)
    assert db_fingerprint() == before


def test_reopen_button_and_case_reopen_command(seeded, journey, ctx):
    rid = _close(journey)
    bot = Interactions(seeded, ctx)
    with seeded() as uow:
        request = uow.requests.get(rid)
        assert "Reopen" in [b.label for b in request_card(uow, ctx, request, "manager", request.revision).buttons]
    status = bot.command("U0AMY", "status 3549723").card
    assert status is not None and "Reopen" not in [b.label for b in status.buttons]  # the worker may not
    status = bot.command("U0PIA", "status 3549723").card
    assert status is not None and "Reopen" in [b.label for b in status.buttons]

    reply = bot.command("U0MARIA", "reopen 3549724")  # a member the closure named
    assert reply.form is not None and reply.form.metadata == str(rid)
    fields = {f.key: f for f in reply.form.fields}
    assert fields["people"].initial == FAMILY and fields["worker"].initial == "amy"  # previous worker proposed
    assert bot.command("U0AMY", "reopen 3549723").text.startswith("You cannot reopen")

    done = bot.submit("U0MARIA", "reopen", str(rid), {"people": FAMILY, "worker": "amy", "reason": "New information."})
    assert "3549723, 3549724" in (done.text or "")
    with seeded() as uow:
        request = uow.requests.get(rid)
        assert "Reopen" not in [b.label for b in request_card(uow, ctx, request, "manager", request.revision).buttons]
    assert "no closure finished" in (bot.command("U0MARIA", "reopen 3549728").text or "")


# -- C12: the three-month closing principle ----------------------------------------------------


@pytest.mark.parametrize(
    ("closed_on", "contact", "within"),
    [
        (dt.date(2026, 8, 1), dt.date(2026, 10, 31), True),  # 2 months 30 days
        (dt.date(2026, 8, 1), dt.date(2026, 11, 1), True),  # exactly 3 months
        (dt.date(2026, 8, 1), dt.date(2026, 11, 2), False),  # 3 months 1 day
        (dt.date(2026, 8, 31), dt.date(2026, 11, 30), True),  # 30 November is 3 months after 31 August
        (dt.date(2026, 8, 31), dt.date(2026, 12, 1), False),
        (dt.date(2026, 11, 30), dt.date(2027, 2, 28), True),  # across the year end
        (dt.date(2026, 8, 1), dt.date(2026, 7, 31), False),  # before the closure
    ],
)
def test_within_three_months_is_calendar_months(closed_on, contact, within):
    assert reopen.within_three_months(closed_on, contact) is within


def test_rereferral_at_2_months_30_days_goes_to_the_previous_team(seeded, journey, ctx):
    """Closed 27/08/2026; contact 26/11/2026 (2 months 30 days): a card to Under 12s' managers."""
    _close(journey, closure_date=dt.date(2026, 8, 27))
    bot = Interactions(seeded, ctx)
    reply = bot.command("U0GITA", "rereferral 3549723 N1", source="test")
    assert "sent to the managers of Under 12s" in (reply.text or "")
    with seeded() as uow:
        [rr] = [r for r in uow.requests.for_person("3549723") if r.kind == "rereferral"]
        assert (rr.state, rr.team, rr.details["proposed_worker"], rr.details["same_reason"]) == (REQUESTED, "u12", "amy", True)
        card = request_card(uow, ctx, rr, "manager", rr.revision)
        card_row = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.card_key == f"request:{rr.id}:r1:manager")).one()
        rr_id, channel = rr.id, card_row.channel
    events = journey.events(rr_id)
    assert channel == "C0U12MGR"
    facts = {f.label: f.value for f in card.facts}
    assert facts["Previous worker (proposed)"] == "Amy Brooke"
    assert facts["Same reason as at closure"] == "yes (N1)"
    assert facts["Closed on"].startswith("27/08/2026") and facts["Contact date"] == "26/11/2026"
    assert [b.label for b in card.buttons] == ["Accept", "Decline"]
    assert [(e.action, e.actor, e.source, e.detail["same_reason"]) for e in events] == [("request", "gita", "test", True)]


def test_rereferral_for_another_reason_shows_no_match(seeded, journey, ctx):
    _close(journey, closure_date=dt.date(2026, 8, 27))
    with seeded() as uow:
        outcome = reopen.consider(uow, ctx, "amy", "3549723", "n4")
        assert outcome.request is not None
        card = request_card(uow, ctx, outcome.request, "manager", 1)
    assert {f.label: f.value for f in card.facts}["Same reason as at closure"] == "no: closed with N1 Abuse or neglect"


def test_rereferral_at_3_months_1_day_is_a_new_referral_and_writes_nothing(seeded, journey, ctx, db_fingerprint):
    """Closed 25/08/2026; contact 26/11/2026 (3 months 1 day): told so, nothing written."""
    _close(journey, closure_date=dt.date(2026, 8, 25))
    before = db_fingerprint()
    reply = Interactions(seeded, ctx).command("U0AMY", "rereferral 3549723 N1")
    assert "Not within the 3-month closing principle" in (reply.text or "") and "new referral" in (reply.text or "")
    assert db_fingerprint() == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rereferral 3549723 X9", "not a reason"),
        ("rereferral 3501779 N1", "has an open case"),  # never closed: the contact goes to the open team
        ("rereferral 9999999 N1", "no person 9999999"),
    ],
)
def test_rereferral_refusals_write_nothing(seeded, journey, ctx, db_fingerprint, text, expected):
    _close(journey, closure_date=dt.date(2026, 11, 1))
    before = db_fingerprint()
    assert expected in (Interactions(seeded, ctx).command("U0AMY", text).text or "")
    assert db_fingerprint() == before


def test_case_command_parses_the_new_verbs():
    assert parse("reopen 3549723").verb == "reopen"
    assert (parse("rereferral 3549723 N1").person_id, parse("rereferral 3549723 N1").reason) == ("3549723", "N1")
    for bad in ("rereferral 3549723", "reopen", "reopen 3549723 now", "rereferral x N1"):
        with pytest.raises(CommandError):
            parse(bad)


def _rereferral(journey, ctx, seeded) -> int:
    _close(journey, closure_date=dt.date(2026, 10, 1))
    with seeded() as uow:
        outcome = reopen.consider(uow, ctx, "gita", "3549723", "N1")
        assert outcome.request is not None
        uow.commit()
        return outcome.request.id


@pytest.mark.parametrize(("chosen", "worker"), [(None, "amy"), ("ben", "ben")], ids=["proposed", "chosen"])
def test_accept_reopens_to_the_team(seeded, journey, ctx, chosen, worker):
    rid = _rereferral(journey, ctx, seeded)
    with seeded() as uow:
        assert "allocated to" in reopen.accept(uow, ctx, rid, "pia", chosen)
    request = journey.get(rid)
    assert (request.state, request.details["accepted_worker"]) == (ACCEPTED, worker)
    [old, new] = _cases(seeded, "3549723")
    assert old.closed_on == dt.date(2026, 10, 1) and (new.team, new.worker, new.is_open) == ("u12", worker, True)
    assert [e.action for e in journey.events(rid)] == ["request", "reopen", "accept"]


def test_accept_form_proposes_the_previous_worker(seeded, journey, ctx):
    rid = _rereferral(journey, ctx, seeded)
    bot = Interactions(seeded, ctx)
    form = bot.press("U0MARIA", "accept", str(rid)).form
    assert form is not None and form.fields[0].initial == "amy"
    assert "cannot accept" in (bot.press("U0AMY", "accept", str(rid)).text or "")
    assert "Accepted" in (bot.submit("U0MARIA", "accept", str(rid), {"worker": "ben"}).text or "")


def test_decline_needs_a_reason_and_tells_the_group_managers(seeded, journey, ctx, db_fingerprint):
    rid = _rereferral(journey, ctx, seeded)
    before = db_fingerprint()
    with seeded() as uow, pytest.raises(FieldErrors) as refused:
        reopen.decline(uow, ctx, rid, "maria", "  ")
    assert "reason" in refused.value.errors
    assert db_fingerprint() == before

    reply = Interactions(seeded, ctx).submit("U0MARIA", "decline", str(rid), {"reason": "Different concern; new assessment."})
    assert "told the group managers: Gita Shah" in (reply.text or "")
    request = journey.get(rid)
    assert (request.state, request.note) == (DECLINED, "Different concern; new assessment.")
    with seeded() as uow:
        dms = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dm", OutboxMessage.channel == "U0GITA")).all()
        assert [m.body for m in dms] == [{"view": "rereferral_declined", "request_id": rid}]
        assert not any(c.is_open for c in uow.cases.cases_of("3549723")), "a decline reopens nothing"
    [event] = [e for e in journey.events(rid) if e.action == "decline"]
    assert event.detail == {"reason": "Different concern; new assessment.", "escalated_to": ["gita"]}


def test_a_rereferral_is_not_approved_and_a_closure_is_not_accepted(seeded, journey, ctx, db_fingerprint):
    rid = _rereferral(journey, ctx, seeded)
    open_closure = journey.request("3501779", "amy")
    before = db_fingerprint()
    with pytest.raises(IllegalTransition):
        journey.approve(rid, "maria")
    with seeded() as uow, pytest.raises(IllegalTransition):
        reopen.accept(uow, ctx, open_closure, "maria")
    assert db_fingerprint() == before


# -- C12 for imported contacts: the importer stores, the workflow decides ----------------------


def _write(directory, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def test_imported_contacts_within_3_months_become_rereferrals_once(seeded, journey, ctx, tmp_path):
    from store.importer import import_directory
    from store.models import Contact

    _close(journey, closure_date=dt.date(2026, 8, 27))
    _write(tmp_path, "persons.csv", "id,first_name,last_name\n3549723,Lily,Marsh\n")
    _write(
        tmp_path,
        "contacts.csv",
        "person_id,contact_date,reason\n"
        "3549723,26/11/2026,n4\n"  # 2 months 30 days after closure: a re-referral (another reason)
        "3549724,2026-11-28,N1\n"  # 3 months 1 day after its closure: a new referral
        "3501779,2026-11-20,N1\n",  # an open case: not a re-referral
    )
    assert import_directory(seeded, tmp_path, check=config_key_check(ctx.org))["contacts.csv"] == 3
    with seeded() as uow:
        assert sorted((c.person_id, c.reason) for c in uow.session.scalars(select(Contact))) == [
            ("3501779", "N1"), ("3549723", "N4"), ("3549724", "N1"),
        ]
        assert not [r for r in uow.session.scalars(select(Request)) if r.kind == "rereferral"], "the importer decides nothing"
        made = reopen.consider_contacts(uow, ctx)
    assert len(made) == 1 and "3549723" in made[0]
    with seeded() as uow:
        [rr] = [r for r in uow.session.scalars(select(Request)) if r.kind == "rereferral"]
        assert (rr.person_id, rr.requested_by, rr.details["same_reason"], rr.details["contact_date"]) == ("3549723", "import", False, "2026-11-26")
        assert reopen.consider_contacts(uow, ctx) == []  # once


def test_cli_import_sends_rereferrals_for_contacts(db_url, tmp_path):
    from test_cli import run_cli

    from worktray.demo import DEMO_ORG

    data = tmp_path / "export"
    data.mkdir()
    _write(data, "persons.csv", "id,first_name,last_name\n3700001,Ada,Quill\n")
    _write(data, "cases.csv", "person_id,team,worker,case_type,opened_on,closed_on,closure_reason,primary_need\n"
           "3700001,u12,ben,CIN,2025-01-06,2026-08-27,RC8,N5\n")
    _write(data, "contacts.csv", "person_id,contact_date,reason\n3700001,2026-11-26,N5\n")
    result = run_cli(db_url, "import", str(data), cwd=tmp_path, config=DEMO_ORG)
    assert result.returncode == 0, result.stderr
    assert "contacts.csv: 1 rows" in result.stdout
    assert "Re-referral 1 for 3700001 sent to the managers of Under 12s" in result.stdout
    again = run_cli(db_url, "import", str(data), cwd=tmp_path, config=DEMO_ORG)
    assert "Re-referral" not in again.stdout


def test_reopen_finds_the_closed_cases_without_the_audit_record(seeded, journey):
    """Robust to how details["ended"] is shaped: the closure date and team name the cases too."""
    rid = _close(journey)
    with seeded() as uow:
        request = uow.requests.get(rid)
        ended = {k: v for k, v in request.details["ended"].items() if k != "cases"}
        request.details = {**request.details, "ended": ended}
        uow.commit()
    with seeded() as uow:
        assert sorted(c.person_id for c in reopen.closed_cases(uow, uow.requests.get(rid))) == FAMILY


def test_decline_without_a_group_manager_is_refused_and_writes_nothing(seeded, journey, ctx, db_fingerprint):
    """Adults South has no group manager in the demo config: the decision would be lost, so it is refused."""
    _close(journey, "4100001", closure_date=dt.date(2026, 11, 1), requester="dan")
    with seeded() as uow:
        outcome = reopen.consider(uow, ctx, "dan", "4100001", "N0")
        assert outcome.request is not None
        uow.commit()
        rid = outcome.request.id
    before = db_fingerprint()
    with seeded() as uow, pytest.raises(WorkflowError, match="no group manager"):
        reopen.decline(uow, ctx, rid, "ruth", "Not the same concern.")
    assert db_fingerprint() == before
