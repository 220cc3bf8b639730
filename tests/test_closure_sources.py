"""Closure rules as the sources say them, each at its edge (DOMAIN.md C2, C3, C4, C6.3, C6.4, C8).

Retention per person from the council's own schedule; only the closing service's
service user groups end; the request goes to the worker's supervising manager; the
manager approves with a case note and, for adults, the 18-item checklist; nobody
approves their own request; C4 is the adults' rule. Every refusal writes nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import Journey
from sqlalchemy import select

from bot import views
from store.models import FileRetention, OutboxMessage, Person, ServiceUserGroup
from workflows import closure
from workflows.errors import FieldErrors, NotAllowed
from workflows.org import ConfigError, Organisation, Role, parse_organisation
from workflows.requests import APPROVED, REQUESTED, RETURNED, Approval, Context, may
from workflows.retention import NoRetentionRule

D = dt.date
TODAY = D(2026, 11, 26)  # the clock fixture's date in Europe/London
THORNE = {"3549740": "CIN", "3549741": "CP", "3549742": "CLA"}  # one family group, all open to Under 12s


def rows(uow_factory, model, **where):
    with uow_factory() as uow:
        found = list(uow.session.scalars(select(model).filter_by(**where).order_by(model.id)).all())
        uow.session.expunge_all()
        return found


def variant(org: Organisation, change) -> Organisation:
    """A copy of the demo organisation with one thing changed (the demo file stays as it is)."""
    copy = org.model_copy(deep=True)
    change(copy)
    return copy


def journey_with(journey: Journey, org: Organisation) -> Journey:
    return Journey(journey.uow, Context(org=org, clock=journey.ctx.clock))


def close_family(journey: Journey, requester_person: str) -> int:
    others = [p for p in THORNE if p != requester_person]
    rid = journey.request(requester_person, "amy", applies_to=others)
    journey.approve(rid)
    journey.claim(rid)
    return rid


# -- C6.4, C8: each person's own case type, from the council's schedule --------------------------------


@pytest.mark.parametrize("requester_person", sorted(THORNE), ids=[f"asked-for-{t}" for t in THORNE.values()])
def test_a_family_closure_retains_each_member_under_their_own_case_type(journey, seeded, requester_person):
    """CIN, CP and CLA siblings closed together: each gets their own criteria and date,
    whichever of them the request was made for (never the requester's case type)."""
    rid = close_family(journey, requester_person)
    plan = journey.open_audit(rid)
    assert {p: d.criteria.name for p, d in plan.retention.items()} == {
        "3549740": "CS Child in Need",
        "3549741": "CS Child Protection",
        "3549742": "CS Looked After Child",  # a sibling in care is retained as a looked-after child
    }
    journey.complete(rid)
    kept_until = {p: [(r.criteria, r.start_date, r.retain_until) for r in rows(seeded, FileRetention, person_id=p)] for p in THORNE}
    assert kept_until == {
        "3549740": [("CS Child in Need", TODAY, D(2039, 8, 3))],  # born 3 Aug 2014: 25 years from birth
        "3549741": [("CS Child Protection", TODAY, D(2061, 11, 26))],  # 35 years from closure
        "3549742": [("CS Looked After Child", TODAY, D(2094, 1, 30))],  # born 30 Jan 2019: 75 years from birth
    }


def test_the_schedule_is_the_councils_a_changed_rule_changes_the_date(journey, org, seeded):
    """The rule comes from the organisation config, not from code."""
    def longer_cin(o: Organisation) -> None:
        rule = next(r for r in o.retention if r.case_type == "CIN")
        rule.years, rule.start, rule.criteria = 30, "closure", "CS Child in Need (local)"

    council = journey_with(journey, variant(org, longer_cin))
    rid = council.to_state("claimed", "3549723", "amy")
    council.complete(rid)
    [added] = rows(seeded, FileRetention, person_id="3549723")
    assert (added.criteria, added.retain_until) == ("CS Child in Need (local)", D(2056, 11, 26))


def no_rule_for(case_type: str):
    def change(o: Organisation) -> None:
        o.retention = [r for r in o.retention if r.case_type != case_type]

    return change


def test_a_member_whose_case_type_has_no_rule_refuses_the_request_and_writes_nothing(journey, org, db_fingerprint):
    council = journey_with(journey, variant(org, no_rule_for("CLA")))
    before = db_fingerprint()
    with pytest.raises(NoRetentionRule) as refused:
        council.request("3549740", "amy", applies_to=["3549741", "3549742"])
    message = str(refused.value)
    assert "no rule for case type CLA (3549742's case)" in message and "Nothing changed" in message
    assert "administrator" in message
    assert db_fingerprint() == before
    council.request("3549740", "amy", applies_to=["3549741"])  # without the sibling in care: nothing missing


def test_start_up_warns_of_open_case_types_without_a_rule(org, seeded, ctx, caplog):
    """A config whose schedule misses a case type still starts, but the operator is told (C6.4)."""
    from worktray.bootstrap import App, warn_about_config

    council = variant(variant(org, no_rule_for("CLA")), no_rule_for("CP"))
    app = App(ctx=Context(org=council, clock=ctx.clock), uow=seeded, interactions=None, deliverer=None)  # type: ignore[arg-type]
    with caplog.at_level("WARNING"):
        assert warn_about_config(app) == ["CLA", "CP"]
    assert "no retention rule for case types CLA, CP of open cases" in caplog.text
    caplog.clear()
    assert warn_about_config(App(ctx=ctx, uow=seeded, interactions=None, deliverer=None)) == []  # type: ignore[arg-type]
    assert caplog.text == ""


def test_a_rule_removed_after_the_request_refuses_the_audit_and_writes_nothing(journey, org, db_fingerprint):
    """At the audit too: no silent fall-back to another criteria (C6.4)."""
    rid = close_family(journey, "3549740")
    council = journey_with(journey, variant(org, no_rule_for("CP")))
    before = db_fingerprint()
    with pytest.raises(NoRetentionRule, match="case type CP"):
        council.open_audit(rid)
    with pytest.raises(NoRetentionRule, match="case type CP"):
        council.complete(rid)
    assert db_fingerprint() == before


def test_the_schedule_config_is_checked_line_by_line():
    text = GOOD_CONFIG + (
        "retention:\n"
        "  - {case_type: CIN, criteria: CS Child in Need, rule: 25 years from birth, years: 25, from: birth}\n"
        "  - {case_type: CIN, criteria: Again, rule: again, years: 5, from: closure}\n"
    )
    with pytest.raises(ConfigError, match=r"line 20: retention\.1\.case_type.*duplicate retention case_type 'CIN'"):
        parse_organisation(text, "org.yml")
    with pytest.raises(ConfigError, match=r"line 19: retention\.0\.from"):
        parse_organisation(GOOD_CONFIG + "retention:\n  - {case_type: CIN, criteria: C, rule: r, years: 25, from: birthday}\n", "org.yml")
    parsed = parse_organisation(GOOD_CONFIG + "retention:\n  - {case_type: CP, criteria: C, rule: r, years: 35, from: closure}\n")
    assert parsed.retention_criteria("CP") is not None and parsed.retention_criteria("CIN") is None


GOOD_CONFIG = """\
name: Test Council
teams:
  - key: u12
    name: Under 12s
    manager_channel: C0U12MGR
    business_support_channel: C0U12BS
people:
  - key: amy
    name: Amy Brooke
    chat_user_id: U0AMY
    supervisor: maria
    roles:
      - {team: u12, role: worker}
  - key: maria
    name: Maria Lopez
    chat_user_id: U0MARIA
    roles: [{team: u12, role: manager}]
"""


# -- C6.3: only the closing service's service user groups end ----------------------------------------


def test_only_the_closing_teams_groups_end_another_services_are_kept(journey, seeded):
    """3549740 has a CIN group (Under 12s' service) and a Children with Disabilities one (not Under 12s')."""
    rid = journey.to_state("claimed", "3549740", "amy")
    plan = journey.open_audit(rid)
    assert [g.group for g in plan.service_user_groups] == ["CS Child in Need"]
    assert "3549740: service user group CWD Physical Disability (another service's, C6.3)" in plan.kept
    with journey.uow() as uow:
        form = views.audit_form(journey.ctx, uow.requests.get(rid), plan)
    assert any("Left open" in line and "CWD Physical Disability" in line for line in form.intro)
    journey.complete(rid)
    groups = {g.group: g.end_date for g in rows(seeded, ServiceUserGroup, person_id="3549740")}
    assert groups == {"CS Child in Need": TODAY, "CWD Physical Disability": None}
    [event] = [e for e in journey.events(rid) if e.action == "complete"]
    assert len(event.detail["ended_service_user_groups"]) == 1


def test_a_group_still_needed_by_another_open_case_is_kept(journey, org, seeded):
    """A group the closing service owns stays while another service that owns it too still has the person open."""
    from store.models import Case

    with seeded() as uow:
        uow.cases.add(Case(person_id="3549740", team="adults-south", worker="dan", case_type="ADULT", opened_on=D(2020, 1, 1)))
        uow.commit()
    shared = variant(org, lambda o: o.team("adults-south").service_user_groups.append("CS Child in Need"))
    council = journey_with(journey, shared)
    rid = council.to_state("claimed", "3549740", "amy")
    plan = council.open_audit(rid)
    assert plan.service_user_groups == []
    assert "3549740: service user group CS Child in Need (still relevant to another open case, C6.3)" in plan.kept


def test_a_team_owning_no_groups_ends_none(journey, org, seeded):
    """Nothing is ended unasked: without the config saying so, every group stays."""
    council = journey_with(journey, variant(org, lambda o: o.team("u12").service_user_groups.clear()))
    rid = council.to_state("claimed", "3549723", "amy")
    council.complete(rid)
    assert [g.end_date for g in rows(seeded, ServiceUserGroup, person_id="3549723")] == [None]


# -- C2: routing to the supervising manager ------------------------------------------------------------


def dms(seeded, view: str) -> list[tuple[str, dict]]:
    return [(m.channel, m.body) for m in rows(seeded, OutboxMessage, kind="dm") if m.body.get("view") == view]


def for_fact(journey: Journey, rid: int) -> str:
    with journey.uow() as uow:
        card = views.request_card(uow, journey.ctx, uow.requests.get(rid), "manager", 1)
        return next(f.value for f in card.facts if f.label == "For")


def test_a_request_goes_to_the_workers_supervisor_by_dm_and_the_card_says_so(journey, seeded):
    rid = journey.request("3549728", "ben")  # ben's supervisor is maria
    assert dms(seeded, "to_approve") == [("U0MARIA", {"view": "to_approve", "request_id": rid, "revision": 1})]
    assert for_fact(journey, rid).startswith("Maria Lopez (supervising manager")
    with journey.uow() as uow:
        card = views.message_card(uow, journey.ctx, {"view": "to_approve", "request_id": rid, "revision": 1})
    assert card.title == f"For you to audit: Closure request {rid} · 3549728 (KE)"
    assert [b.label for b in card.buttons] == ["Approve", "Return"]


def test_without_a_supervisor_the_teams_managers_are_the_fallback(journey, seeded, org):
    rid = journey.request("3549723", "amy")  # amy has no supervisor configured
    assert dms(seeded, "to_approve") == []
    assert for_fact(journey, rid) == "the managers of Under 12s"
    assert [p.key for p in org.supervisors_for("amy", "u12")] == ["maria"]


def with_second_manager(o: Organisation) -> None:
    """kofi joins Under 12s as a manager and supervises amy."""
    from workflows.org import Membership
    from workflows.org import Person as ConfigPerson

    o.people.append(ConfigPerson(key="kofi", name="Kofi Mensah", chat_user_id="U0KOFI", roles=[Membership(team="u12", role=Role.MANAGER)]))
    next(p for p in o.people if p.key == "amy").supervisor = "kofi"


def test_the_supervisor_among_several_managers_gets_it_and_another_manager_may_cover(journey, org, seeded):
    council = journey_with(journey, variant(org, with_second_manager))
    rid = council.request("3549723", "amy")
    assert [channel for channel, _ in dms(seeded, "to_approve")] == ["U0KOFI"]  # not maria
    assert council.ctx.org.supervisors_for("amy", "u12")[0].key == "kofi"
    assert [p.key for p in council.ctx.org.supervisors_for("ben", "u12")] == ["maria"]
    assert [p.key for p in council.ctx.org.supervisors_for("tess", "u12")] == ["maria", "kofi"]  # no supervisor: every manager
    council.approve(rid, "maria")  # cover: any manager of the team may act
    assert council.get(rid).state == APPROVED


def test_a_resubmit_goes_to_the_supervisor_again(journey, seeded):
    rid = journey.request("3549728", "ben")
    journey.return_(rid, "maria", "Record the closure letter.")
    journey.resubmit(rid, "ben")
    assert [body["revision"] for _, body in dms(seeded, "to_approve")] == [1, 2]


@pytest.mark.parametrize(
    ("supervisor", "says"),
    [("nobody", "unknown supervisor 'nobody'"), ("amy", "cannot supervise themself"), ("sam", "is not a manager in any of 'amy'")],
)
def test_a_bad_supervisor_in_the_config_names_its_line(supervisor, says):
    text = GOOD_CONFIG.replace("supervisor: maria", f"supervisor: {supervisor}") + (
        "  - key: sam\n    name: Sam Patel\n    chat_user_id: U0SAM\n    roles: [{team: u12, role: business_support}]\n"
    )
    with pytest.raises(ConfigError) as refused:
        parse_organisation(text, "org.yml")
    assert "org.yml, line 11: people.0.supervisor" in str(refused.value) and says in str(refused.value)


# -- C3: approve with a case note (optional), return with one (required) -------------------------------


def test_approve_with_a_case_note_records_it_on_the_request_and_in_the_event_log(journey):
    rid = journey.request("3549723", "amy")
    journey.approve(rid, "maria", Approval(note="  Closure discussed in supervision; agreed.  "))
    request = journey.get(rid)
    assert request.note == "Closure discussed in supervision; agreed."
    assert request.details["approval"] == {"by": "maria", "note": "Closure discussed in supervision; agreed."}
    [event] = [e for e in journey.events(rid) if e.action == "approve"]
    assert event.detail == {"note": "Closure discussed in supervision; agreed."}


def test_approve_without_a_note_is_fine(journey):
    rid = journey.request("3549723", "amy")
    journey.approve(rid, "maria", Approval(note="   "))
    request = journey.get(rid)
    assert request.state == APPROVED and request.details["approval"] == {"by": "maria", "note": ""}
    [event] = [e for e in journey.events(rid) if e.action == "approve"]
    assert event.detail == {}


@pytest.mark.parametrize("note", ["", "   "])
def test_return_without_a_note_is_refused_and_writes_nothing(journey, db_fingerprint, note):
    rid = journey.request("3549723", "amy")
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        journey.return_(rid, "maria", note)
    assert list(refused.value.errors) == ["note"]
    assert db_fingerprint() == before


def test_a_childs_approve_form_is_the_note_alone(journey):
    rid = journey.request("3549723", "amy")
    with journey.uow() as uow:
        request = uow.requests.get(rid)
        form = views.approve_form(request, closure.CLOSURE.approval_checklist(request))  # type: ignore[misc]
    assert [(f.key, f.optional) for f in form.fields] == [("note", True)]


# -- C3: the adults' 18-item checklist ----------------------------------------------------------------------


def all_yes(**changes: str) -> dict[str, str]:
    return {str(n): "yes" for n in range(1, 19)} | changes


def adult_request(journey: Journey) -> int:
    return journey.request("4100001", "dan")


def test_the_adults_checklist_has_the_18_items_of_seed_002(journey):
    rid = adult_request(journey)
    with journey.uow() as uow:
        form = views.approve_form(uow.requests.get(rid), list(closure.ADULT_CHECKLIST))
    assert any("the worker's note, C4): Client declined visits" in line for line in form.intro)  # for the approver
    assert [i.key for i in closure.ADULT_CHECKLIST] == [str(n) for n in range(1, 19)]
    answers = [f for f in form.fields if f.key.startswith("answer_")]
    assert len(answers) == 18 and all(not f.optional and [o.value for o in f.options] == ["yes", "no", "na"] for f in answers)
    assert "ethnicity" in answers[0].label and "Supervision" in answers[17].label
    assert "Service Manager or Head of Service" in answers[15].label  # item 16, C4


def test_a_no_without_a_note_is_refused_on_its_field_and_writes_nothing(journey, db_fingerprint):
    rid = adult_request(journey)
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        journey.approve(rid, "olu", Approval(answers=all_yes(**{"9": "no", "12": "na"}), item_notes={"9": "  "}))
    assert refused.value.errors == {"note_9": "Item 9 is answered no: note what is missing or why (C3)."}
    with pytest.raises(FieldErrors) as unanswered:
        journey.approve(rid, "olu", Approval(answers={k: v for k, v in all_yes().items() if k != "18"} | {"3": "maybe"}))
    assert set(unanswered.value.errors) == {"answer_3", "answer_18"}
    assert db_fingerprint() == before
    assert journey.get(rid).state == REQUESTED


def test_a_complete_checklist_approves_and_is_recorded(journey):
    rid = adult_request(journey)
    journey.approve(rid, "olu", Approval(note="Agreed.", answers=all_yes(**{"13": "no", "14": "na"}), item_notes={"13": "Self-funding."}))
    request = journey.get(rid)
    assert request.state == APPROVED
    checklist = request.details["approval"]["checklist"]
    assert len(checklist) == 18
    assert {"item": "13", "answer": "no", "note": "Self-funding."} in checklist and {"item": "14", "answer": "na", "note": ""} in checklist
    [event] = [e for e in journey.events(rid) if e.action == "approve"]
    assert event.detail["note"] == "Agreed." and event.detail["checklist"] == checklist


# -- C3: four eyes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["approve", "return"])
def test_nobody_approves_or_returns_their_own_request(journey, db_fingerprint, ctx, action):
    rid = journey.request("3549723", "maria")  # the manager asks herself
    before = db_fingerprint()
    with pytest.raises(NotAllowed) as refused:
        if action == "approve":
            journey.approve(rid, "maria")
        else:
            journey.return_(rid, "maria", "Add the letter.")
    assert "you made request" in str(refused.value) and "four eyes" in str(refused.value)
    assert db_fingerprint() == before
    with journey.uow() as uow:
        assert not may(ctx.org, "maria", action, uow.requests.get(rid))
    if action == "approve":
        journey.approve(rid, "olu")  # another approver may
        assert journey.get(rid).state == APPROVED
    else:
        journey.return_(rid, "olu", "Add the letter.")
        assert journey.get(rid).state == RETURNED


def test_the_approve_button_is_refused_before_the_form_opens(seeded, ctx):
    """Four eyes and C4 refuse at the press: nobody fills in a form in vain, nothing is written."""
    from bot.actions import Interactions

    interactions = Interactions(seeded, ctx)
    journey = Journey(seeded, ctx)
    rid = journey.request("3549723", "maria")
    reply = interactions.press("U0MARIA", "approve", str(rid))
    assert reply.form is None and reply.text and "four eyes" in reply.text
    assert interactions.press("U0OLU", "approve", str(rid)).form is not None


def test_the_fallback_never_routes_a_managers_request_to_herself(journey, org):
    assert [p.key for p in org.supervisors_for("maria", "u12")] == []
    rid = journey.request("3549723", "maria")
    assert for_fact(journey, rid) == "a manager or service manager of Under 12s other than Maria Lopez (four eyes, C3)"


# -- C4: the adults' rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("approver", "allowed"), [("ruth", False), ("olu", True), ("hana", True)],
                         ids=["manager-refused", "service-manager", "head-of-service"])
def test_an_adult_never_seen_needs_a_service_manager_or_head_of_service(journey, db_fingerprint, approver, allowed):
    rid = adult_request(journey)
    assert journey.get(rid).details["no_visit_reason"]  # the worker's note (C4)
    if allowed:
        journey.approve(rid, approver)
        assert (journey.get(rid).state, journey.get(rid).last_actor) == (APPROVED, approver)
        return
    before = db_fingerprint()
    with pytest.raises(NotAllowed, match=r"4100001 never seen face to face: a service manager or head of service must agree.*C4"):
        journey.approve(rid, approver)
    assert db_fingerprint() == before


def test_an_adult_seen_face_to_face_is_approved_by_the_manager(journey, seeded):
    with seeded() as uow:
        uow.session.get(Person, "4100001").last_seen_face_to_face = D(2026, 11, 2)
        uow.commit()
    rid = journey.request("4100001", "dan", no_visit_reason="")
    journey.approve(rid, "ruth")
    assert journey.get(rid).state == APPROVED


def test_an_adult_never_seen_needs_the_workers_note_why_no_final_visit(journey, db_fingerprint):
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        journey.request("4100001", "dan", no_visit_reason="  ")
    assert list(refused.value.errors) == ["no_visit_reason"] and "(C4)" in refused.value.errors["no_visit_reason"]
    assert db_fingerprint() == before


def test_c4_does_not_apply_to_children(journey, seeded):
    """A child never seen face to face: the team manager approves; no note is asked of the worker."""
    with seeded() as uow:
        uow.session.get(Person, "3549723").last_seen_face_to_face = None
        uow.commit()
        case = uow.cases.open_case("3549723")
        assert not closure.needs_no_visit_reason(case)
        form = views.closure_form(uow, journey.ctx, case)
        assert "no_visit_reason" not in [f.key for f in form.fields]
    rid = journey.request("3549723", "amy")
    with seeded() as uow:
        assert not closure.manager_audit(uow, journey.ctx, uow.requests.get(rid)).never_seen
    journey.approve(rid, "maria")
    assert journey.get(rid).state == APPROVED


def test_the_adults_closure_form_asks_why_no_final_visit(journey, seeded):
    with seeded() as uow:
        form = views.closure_form(uow, journey.ctx, uow.cases.open_case("4100001"))
    [field] = [f for f in form.fields if f.key == "no_visit_reason"]
    assert not field.optional and field.hint and "never been seen" in field.hint
