"""C10 is chosen, not blanket: business support choose, item by item, what a closure ends.

The placement address ends only when the young person leaves care, after the home address
is made primary; a looked-after period ends with a local and a DoH end reason (the SSDA903
REC code, S3); a care package becomes an End Purchased Service request that the team
manager authorises and that then goes to the purchasing channel. Nothing is ended unasked,
and every refusal writes nothing. Through the real handlers on SQLite and PostgreSQL, and
the care-package path once more over signed HTTP against the Slack mock.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ALL_TICKS, Journey
from sqlalchemy import select
from test_console import outside_ephemeral
from test_slack_http import (  # noqa: F401  (the Slack HTTP fixtures: slack, slack_api, store)
    NAMES_OF_CLIENTS,
    Store,
    labels,
    options_of,
    slack,
    slack_api,
    store,
)

from bot import views
from store.models import Event, OutboxMessage, RecordItem, Request
from workflows import purchasing, record_items
from workflows.errors import FieldErrors, NotAllowed
from workflows.org import parse_organisation
from workflows.record_items import REC_CODES, RecordChoices
from workflows.requests import CLAIMED, CLOSED, REQUESTED, RETURNED, Context
from worktray.console_main import serve_console
from worktray.settings import Settings

TODAY = dt.date(2026, 11, 26)
CLA_CHILD = "3549735"  # demo: in care, a looked-after period, a placement address (primary) and a home address
ADULT = "4100001"  # demo: an adult never seen face to face (C4), with a care package
PURCHASING = "C0PURCH"


def items_of(uow_factory, person_id: str) -> dict[str, RecordItem]:
    with uow_factory() as uow:
        found = {i.kind: i for i in uow.session.scalars(select(RecordItem).where(RecordItem.person_id == person_id))}
        uow.session.expunge_all()
        return found


def outbox(uow_factory) -> list[OutboxMessage]:
    with uow_factory() as uow:
        found = list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        uow.session.expunge_all()
        return found


def end_purchase_requests(uow_factory) -> list[Request]:
    with uow_factory() as uow:
        found = list(uow.session.scalars(select(Request).where(Request.kind == purchasing.KIND).order_by(Request.id)))
        uow.session.expunge_all()
        return found


def looked_after_choices(period: int, *, leaving: bool | None, rec: str | None = "E4A", local: str = "Returned home") -> RecordChoices:
    return RecordChoices(
        end=frozenset({period}),
        local_end_reasons={period: local},
        rec_codes={period: rec} if rec is not None else {},
        leaving_care={CLA_CHILD: leaving} if leaving is not None else {},
    )


# -- the placement address: only when leaving care, the home address primary first -----------------


def test_a_leaving_care_closure_makes_the_home_address_primary_and_ends_the_placement(journey: Journey, seeded):
    before = items_of(seeded, CLA_CHILD)
    assert (before["placement_address"].is_primary, before["home_address"].is_primary) == (True, False)
    rid = journey.to_state(CLAIMED, CLA_CHILD, "amy")
    period = before["looked_after"].id
    journey.complete(rid, choices=looked_after_choices(period, leaving=True))

    after = items_of(seeded, CLA_CHILD)
    home, placement, episode = after["home_address"], after["placement_address"], after["looked_after"]
    assert (home.is_primary, home.to_date) == (True, None), "the home address is primary and stays open"
    assert (placement.is_primary, placement.to_date, placement.end_reason) == (False, TODAY, "Left care")
    assert (episode.to_date, episode.end_reason, episode.doh_end_reason) == (TODAY, "Returned home", "E4A")
    request = journey.get(rid)
    assert sorted(request.details["ended"]["record_items"]) == sorted([period, placement.id])
    assert request.details["made_primary"] == [home.id]
    [event] = [e for e in journey.events(rid) if e.action == "complete"]
    assert event.detail["made_primary"] == [home.id] and event.detail["doh_end_reasons"] == {str(period): "E4A"}
    assert [k["kind"] for k in event.detail["kept_record_items"]] == ["home_address"]
    assert "Sedge Close" not in json.dumps(event.detail) and "Wharf Row" not in json.dumps(event.detail)


def test_a_not_leaving_care_closure_leaves_the_placement_address_untouched(journey: Journey, seeded):
    before = items_of(seeded, CLA_CHILD)
    rid = journey.to_state(CLAIMED, CLA_CHILD, "amy")
    journey.complete(rid, choices=RecordChoices(leaving_care={CLA_CHILD: False}))  # nothing ticked

    after = items_of(seeded, CLA_CHILD)
    for kind in ("placement_address", "home_address", "looked_after"):
        was, now = before[kind], after[kind]
        assert (now.to_date, now.end_reason, now.is_primary, now.doh_end_reason) == (
            was.to_date, was.end_reason, was.is_primary, was.doh_end_reason,
        ), kind
    assert journey.get(rid).state == CLOSED
    assert journey.get(rid).details["ended"]["record_items"] == []
    [event] = [e for e in journey.events(rid) if e.action == "complete"]
    assert sorted(k["kind"] for k in event.detail["kept_record_items"]) == ["home_address", "looked_after", "placement_address"]


def test_the_audit_must_say_whether_the_young_person_is_leaving_care(journey: Journey, db_fingerprint):
    rid = journey.to_state(CLAIMED, CLA_CHILD, "amy")
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        journey.complete(rid, choices=RecordChoices())
    assert set(refused.value.errors) == {f"leaving_care_{CLA_CHILD}"}
    assert db_fingerprint() == before


def test_leaving_care_without_a_home_address_is_refused(journey: Journey, seeded, db_fingerprint):
    with seeded() as uow:
        home = uow.session.scalars(select(RecordItem).where(RecordItem.kind == "home_address")).one()
        uow.session.delete(home)
        uow.commit()
    rid = journey.to_state(CLAIMED, CLA_CHILD, "amy")
    before = db_fingerprint()
    with pytest.raises(FieldErrors, match="no open home address"):
        journey.complete(rid, choices=RecordChoices(leaving_care={CLA_CHILD: True}))
    assert db_fingerprint() == before


# -- nothing ended unasked --------------------------------------------------------------------------


def test_nothing_is_ended_that_was_not_chosen(journey: Journey, seeded):
    """3549723 has a legal status and a registration open: ticking none ends none."""
    before = items_of(seeded, "3549723")
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    journey.complete(rid)  # the checklist ticked, no record item chosen
    after = items_of(seeded, "3549723")
    assert {k: (i.to_date, i.end_reason) for k, i in after.items()} == dict.fromkeys(before, (None, None))
    request = journey.get(rid)
    assert request.details["ended"]["record_items"] == []
    assert sorted(request.details["kept_record_items"]) == sorted(i.id for i in before.values())


def test_only_the_chosen_item_ends(journey: Journey, seeded):
    items = items_of(seeded, "3549723")
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    journey.complete(rid, choices=RecordChoices(end=frozenset({items["legal_status"].id})))
    after = items_of(seeded, "3549723")
    assert (after["legal_status"].to_date, after["legal_status"].end_reason) == (TODAY, "Case closed")
    assert after["registration"].to_date is None
    assert journey.get(rid).details["ended"]["record_items"] == [items["legal_status"].id]


def test_a_registration_needs_an_end_reason(journey: Journey, seeded, db_fingerprint):
    registration = items_of(seeded, "3549723")["registration"].id
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        journey.complete(rid, choices=RecordChoices(end=frozenset({registration}), end_reasons={registration: "  "}))
    assert set(refused.value.errors) == {f"end_reason_{registration}"}
    assert db_fingerprint() == before


def test_an_item_not_on_the_record_cannot_be_chosen(journey: Journey, seeded, db_fingerprint):
    """Another person's item, or an address (ended only through the leaving-care question)."""
    placement = items_of(seeded, CLA_CHILD)["placement_address"].id
    rid = journey.to_state(CLAIMED, "3549723", "amy")
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        journey.complete(rid, choices=RecordChoices(end=frozenset({placement})))
    assert f"#{placement}" in refused.value.errors["end_items"]
    assert db_fingerprint() == before


# -- the looked-after period: a local and a DoH end reason (S3) ----------------------------------------


def test_the_rec_codes_are_those_of_s3():
    assert set(REC_CODES) == {
        "X1", "E11", "E12", "E2", "E3", "E4A", "E4B", "E13", "E41", "E45", "E46", "E47", "E48",
        "E5", "E6", "E7", "E9", "E14", "E15", "E16", "E17", "E8",
    }


@pytest.mark.parametrize(
    ("rec", "local", "bad_fields"),
    [
        (None, "Returned home", {"rec"}),  # missing REC code
        ("E99", "Returned home", {"rec"}),  # not an SSDA903 REC code
        ("E4", "Returned home", {"rec"}),  # E4 was split into E4A and E4B
        ("E4A", "  ", {"local"}),  # no local end reason
        (None, "", {"rec", "local"}),
    ],
)
def test_a_looked_after_period_without_valid_end_reasons_is_refused_and_nothing_written(
    journey: Journey, seeded, db_fingerprint, rec, local, bad_fields
):
    period = items_of(seeded, CLA_CHILD)["looked_after"].id
    rid = journey.to_state(CLAIMED, CLA_CHILD, "amy")
    before = db_fingerprint()
    with pytest.raises(FieldErrors) as refused:
        journey.complete(rid, choices=looked_after_choices(period, leaving=True, rec=rec, local=local))
    keys = {"rec": f"rec_{period}", "local": f"local_end_reason_{period}"}
    assert set(refused.value.errors) == {keys[b] for b in bad_fields}
    if "rec" in bad_fields:
        assert "REC" in refused.value.errors[f"rec_{period}"]
    assert db_fingerprint() == before
    assert journey.get(rid).state == CLAIMED


def test_a_looked_after_period_can_end_while_the_child_stays_at_the_placement(journey: Journey, seeded):
    """E17: 18 or over and staying with the carers; the placement address is not ended."""
    items = items_of(seeded, CLA_CHILD)
    rid = journey.to_state(CLAIMED, CLA_CHILD, "amy")
    journey.complete(rid, choices=looked_after_choices(items["looked_after"].id, leaving=False, rec="e17", local="Staying put"))
    after = items_of(seeded, CLA_CHILD)
    assert (after["looked_after"].to_date, after["looked_after"].doh_end_reason) == (TODAY, "E17")
    assert (after["placement_address"].to_date, after["placement_address"].is_primary) == (None, True)


# -- the audit form: what it asks, and that it never shows an address ---------------------------------


def test_the_audit_form_asks_item_by_item_and_shows_no_address(journey: Journey, ctx, seeded):
    items = items_of(seeded, CLA_CHILD)
    rid = journey.to_state(CLAIMED, CLA_CHILD, "amy")
    with seeded() as uow:
        request = uow.requests.get(rid)
        from workflows import closure

        form = views.audit_form(ctx, request, closure.closure_plan(uow, ctx, request))
    fields = {f.key: f for f in form.fields}
    period = items["looked_after"].id
    assert [o.value for o in fields["end_items"].options] == [str(period)]  # addresses are not ticked to end
    assert fields["end_items"].optional and fields["end_items"].initial is None  # nothing pre-ticked
    assert [o.value for o in fields[f"rec_{period}"].options] == list(REC_CODES)
    assert f"local_end_reason_{period}" in fields
    assert not fields[f"leaving_care_{CLA_CHILD}"].optional
    shown = json.dumps([form.intro, [(f.label, [o.label for o in f.options], f.initial) for f in form.fields]])
    assert "Sedge Close" not in shown and "Wharf Row" not in shown and "FB2" not in shown
    assert "Placement address (primary)" in shown and "Home address" in shown


# -- care packages: an End Purchased Service request, authorised by the manager -----------------------


def close_adult_choosing_the_care_package(journey: Journey, seeded) -> tuple[int, int]:
    """dan asks, olu (service manager, C4) approves, sam claims and ends the care package."""
    package = items_of(seeded, ADULT)["care_package"].id
    rid = journey.to_state(CLAIMED, ADULT, "dan")
    journey.complete(rid, choices=RecordChoices(end=frozenset({package})))
    return rid, package


def test_a_chosen_care_package_raises_an_end_purchased_service_request(journey: Journey, seeded):
    rid, package = close_adult_choosing_the_care_package(journey, seeded)
    closure_request = journey.get(rid)
    assert closure_request.state == CLOSED
    [eps] = end_purchase_requests(seeded)
    assert (eps.state, eps.person_id, eps.team, eps.requested_by) == (REQUESTED, ADULT, "adults-south", "dan")
    assert eps.details["closure_request"] == rid and eps.details["end_date"] == TODAY.isoformat()
    assert [i["id"] for i in eps.details["items"]] == [package]
    assert closure_request.details["end_purchase_requests"] == [eps.id]
    assert closure_request.details["ended"]["record_items"] == [], "the closure itself did not end the package"
    assert items_of(seeded, ADULT)["care_package"].to_date is None, "not ended until the manager authorises"
    [event] = journey.events(eps.id)
    assert (event.action, event.actor, event.detail["closure_request"]) == ("request", "sam", rid)
    cards = [m for m in outbox(seeded) if m.card_key == f"request:{eps.id}:r1:manager"]
    assert [m.channel for m in cards] == ["C0ADSMGR"]
    assert not [m for m in outbox(seeded) if m.channel == PURCHASING], "nothing goes to purchasing before authorisation"


def test_the_manager_authorises_and_the_card_goes_to_the_purchasing_channel(journey: Journey, seeded):
    _, package = close_adult_choosing_the_care_package(journey, seeded)
    [eps] = end_purchase_requests(seeded)
    message = journey.approve(eps.id, "ruth")
    assert "purchasing team" in message
    eps = journey.get(eps.id)
    assert eps.state == CLOSED and eps.details["ended"] == {"record_items": [package]}
    assert [e.action for e in journey.events(eps.id)] == ["request", "approve", "send_on"]
    care_package = items_of(seeded, ADULT)["care_package"]
    assert (care_package.to_date, care_package.end_reason) == (TODAY, f"End Purchased Service request {eps.id}")
    [onward] = [m for m in outbox(seeded) if m.channel == PURCHASING]
    assert onward.card_key == f"request:{eps.id}:onward" and onward.body["audience"] == "onward"
    with seeded() as uow:
        card = views.request_card(uow, journey.ctx, uow.requests.get(eps.id), "onward", 1)
    facts = {f.label: f.value for f in card.facts}
    assert facts["Person"] == "4100001 (PG)" and facts["End from"] == TODAY.strftime("%d/%m/%Y")
    assert card.sections[0].lines == ["Home care, 7 hours a week (from 01/07/2025)"]
    assert "Pat" not in json.dumps(card, default=vars) and "Greene" not in json.dumps(card, default=vars)


def test_returned_then_resubmitted_with_another_end_date(journey: Journey, seeded, ctx):
    close_adult_choosing_the_care_package(journey, seeded)
    [eps] = end_purchase_requests(seeded)
    journey.return_(eps.id, "ruth", "End it from the 1st of December.")
    assert journey.get(eps.id).state == RETURNED
    [dm] = [m for m in outbox(seeded) if m.kind == "dm" and m.body.get("view") == "returned"]
    assert dm.channel == "U0DAN"
    with seeded() as uow:
        card = views.message_card(uow, ctx, dm.body)
    assert [b.action for b in card.buttons] == ["resubmit_purchase", "withdraw"]
    with pytest.raises(FieldErrors), seeded() as uow:  # before the service started: refused
        purchasing.resubmit(uow, ctx, eps.id, "dan", dt.date(2025, 1, 1))
    with seeded() as uow:
        purchasing.resubmit(uow, ctx, eps.id, "dan", dt.date(2026, 12, 1))
    assert journey.get(eps.id).state == REQUESTED
    journey.approve(eps.id, "ruth")
    assert items_of(seeded, ADULT)["care_package"].to_date == dt.date(2026, 12, 1)


@pytest.mark.parametrize("person", ["dan", "sam", "amy", "maria", "ben", "tess", "gita"])
def test_only_a_manager_authorises(journey: Journey, seeded, db_fingerprint, person):
    close_adult_choosing_the_care_package(journey, seeded)
    [eps] = end_purchase_requests(seeded)
    before = db_fingerprint()
    with pytest.raises(NotAllowed):
        journey.approve(eps.id, person)
    assert db_fingerprint() == before
    assert journey.get(eps.id).state == REQUESTED


def test_a_second_open_end_purchased_service_request_is_refused(journey: Journey, seeded, db_fingerprint):
    _, package = close_adult_choosing_the_care_package(journey, seeded)  # request open, not yet authorised
    with seeded() as uow:  # the case is reopened by hand and closed again with a new care package
        case = uow.cases.cases_of(ADULT)[-1]
        case.closed_on = None
        uow.cases.add(RecordItem(person_id=ADULT, kind="care_package", description="Day centre, 2 days a week", from_date=TODAY))
        uow.commit()
    rid = journey.to_state(CLAIMED, ADULT, "dan")
    open_items = [i.id for i in journey.open_audit(rid).record_items if i.kind == "care_package"]
    assert package in open_items
    before = db_fingerprint()
    with pytest.raises(FieldErrors, match="already has an open End Purchased Service request"):
        journey.complete(rid, choices=RecordChoices(end=frozenset(open_items)))
    assert db_fingerprint() == before


def test_without_a_purchasing_channel_a_care_package_cannot_be_chosen(seeded, clock, org, db_fingerprint):
    no_purchasing = Journey(seeded, Context(org=org.model_copy(update={"purchasing_channel": None}), clock=clock))
    package = items_of(seeded, ADULT)["care_package"].id
    rid = no_purchasing.to_state(CLAIMED, ADULT, "dan")
    before = db_fingerprint()
    with pytest.raises(FieldErrors, match="purchasing_channel"):
        no_purchasing.complete(rid, choices=RecordChoices(end=frozenset({package})))
    assert db_fingerprint() == before


def test_the_purchasing_channel_is_the_teams_own_or_the_organisations():
    text = """
name: Test council
purchasing_channel: C0ALL
teams:
  - {key: a, name: A, manager_channel: C1, business_support_channel: C2, purchasing_channel: C0A}
  - {key: b, name: B, manager_channel: C3, business_support_channel: C4}
people:
  - {key: p, name: P, chat_user_id: U1, roles: [{team: a, role: worker}]}
"""
    org = parse_organisation(text)
    assert (org.purchasing_channel_of("a"), org.purchasing_channel_of("b")) == ("C0A", "C0ALL")
    assert parse_organisation(text.replace("purchasing_channel: C0ALL\n", "")).purchasing_channel_of("b") is None


def test_the_audit_checklist_still_needs_the_items_reviewed(journey: Journey, db_fingerprint):
    rid = journey.to_state(CLAIMED, CLA_CHILD, "amy")
    before = db_fingerprint()
    with pytest.raises(FieldErrors, match="items"):
        journey.complete(rid, confirmed=[t for t in ALL_TICKS if t != "items"], choices=RecordChoices(leaving_care={CLA_CHILD: False}))
    assert db_fingerprint() == before


def test_record_choices_are_read_from_the_form():
    from bot.actions import record_choices

    choices = record_choices({"end_items": ["7", "9"], "end_reason_9": " Moved away ", "local_end_reason_7": "Home",
                              "rec_7": "E4A", "leaving_care_3549735": "yes", "leaving_care_1": "no", "checklist": ["x"]})
    assert choices == RecordChoices(end=frozenset({7, 9}), end_reasons={9: "Moved away"}, local_end_reasons={7: "Home"},
                                    rec_codes={7: "E4A"}, leaving_care={"3549735": True, "1": False})
    assert record_choices({}) == RecordChoices()
    assert record_items.decide([], RecordChoices(), purchasing_channel=None).endings == []


# -- over signed HTTP: audit -> End Purchased Service request -> authorise -> purchasing channel ----------


def test_care_package_to_the_purchasing_channel_over_http(slack: Any, store: Store) -> None:  # noqa: F811
    api = slack.api
    slack.command("U0DAN", f"close {ADULT}")
    closure_form = {"reason": "A1", "summary": "Objectives achieved.", "no_visit_reason": "Declined visits; reviewed by phone."}  # C4
    assert slack.submit("U0DAN", slack.last_view("request_closure"), closure_form).body == ""
    slack.click("U0OLU", slack.card("C0ADSMGR", "Closure request 1"), "Approve")
    adults_checklist = {f"answer_{n}": "yes" for n in range(1, 19)}  # C3: the adults' 18 items
    assert slack.submit("U0OLU", slack.last_view("approve"), adults_checklist).body == ""
    slack.click("U0SAM", slack.card("C0ADSBS", "Closure request 1"), "Claim")
    slack.click("U0SAM", slack.card("C0ADSBS", "Closure request 1"), "Open closure audit")
    audit = slack.last_view("audit")
    [package] = options_of(audit, "end_items")
    assert slack.submit("U0SAM", audit, {"checklist": options_of(audit, "checklist"), "end_items": [package]}).body == ""
    assert store.request(1).state == "closed"
    assert store.request(2).kind == purchasing.KIND and store.request(2).state == REQUESTED

    card = slack.card("C0ADSMGR", "End Purchased Service request 2")
    assert labels(card) == ["Authorise", "Return", "Withdraw"]
    assert "Home care, 7 hours a week" in json.dumps(card.blocks)

    # The worker cannot authorise: nothing changes, he is told why.
    slack.click("U0DAN", card, "Authorise")
    assert "Nothing changed" in slack.ephemerals("U0DAN")[-1]  # his own request, and not his role: refused
    assert store.request(2).state == REQUESTED and api.messages(PURCHASING) == []

    # Returned with a note; the worker resubmits from the DM; the manager authorises.
    slack.click("U0RUTH", card, "Return")
    assert slack.submit("U0RUTH", slack.last_view("return"), {"note": "End it from the 1st of December."}).body == ""
    dm = next(m for m in slack.dms("U0DAN") if "returned" in m.text)
    assert labels(dm) == ["Resubmit", "Withdraw"]
    dm.channel = "D0DAN"
    slack.click("U0DAN", dm, "Resubmit")
    assert slack.submit("U0DAN", slack.last_view("resubmit_purchase"), {"end_date": "2026-12-01"}).body == ""
    assert store.request(2).state == REQUESTED
    slack.click("U0RUTH", slack.card("C0ADSMGR", "End Purchased Service request 2"), "Authorise")
    assert slack.submit("U0RUTH", slack.last_view("approve"), {}).body == ""
    assert store.request(2).state == CLOSED
    [onward] = api.messages(PURCHASING)
    shown = json.dumps(onward.blocks)
    assert "4100001 (PG)" in shown and "Home care, 7 hours a week" in shown and "01/12/2026" in shown
    assert labels(onward) == []
    for name in NAMES_OF_CLIENTS:
        assert name not in json.dumps([vars(m) for m in api.messages(PURCHASING) + api.messages("C0ADSMGR")]), name
    with store.new() as uow:
        actions = list(uow.session.scalars(select(Event.action).where(Event.request_id == 2).order_by(Event.id)))
    assert actions == ["request", "return", "resubmit", "approve", "send_on"]


# -- the console: the C10 demo script ------------------------------------------------------------------

CARE_JOURNEY = Path(__file__).resolve().parents[1] / "worktray" / "demo" / "care_journey.txt"


def test_the_care_journey_script_replays_in_the_console(db_url: str, org, clock, uow_factory) -> None:
    out = io.StringIO()
    code = serve_console(Settings(database_url=db_url), org, script=CARE_JOURNEY, clock=clock, out=out)
    transcript = out.getvalue()
    assert code == 0, transcript
    assert "  >> #purchasing (new message)\n    End purchased services · 4100001 (PG)" in transcript
    assert "End from: 01/12/2026" in transcript  # resubmitted as today+5
    for private in ("Mia", "Thorne", "Pat", "Greene", "Sedge", "Wharf", "FB2", "FB5"):  # /case status may name (issue 8)
        assert not re.search(rf"\b{private}\b", outside_ephemeral(transcript)), private
    assert not re.search(r"\b(Sedge|Wharf|FB2|FB5)\b", transcript)  # addresses: nowhere, not even to the asker
    with uow_factory() as uow:
        items = {(i.person_id, i.kind): i for i in uow.session.scalars(select(RecordItem))}
        requests = [(r.kind, r.state) for r in uow.session.scalars(select(Request).order_by(Request.id))]
        uow.session.expunge_all()
    assert requests == [("closure", CLOSED), ("closure", CLOSED), (purchasing.KIND, CLOSED)]
    assert items[(CLA_CHILD, "home_address")].is_primary and items[(CLA_CHILD, "home_address")].to_date is None
    assert items[(CLA_CHILD, "placement_address")].to_date == TODAY
    assert items[(CLA_CHILD, "looked_after")].doh_end_reason == "E4A"
    assert items[(ADULT, "care_package")].to_date == dt.date(2026, 12, 1)
    assert items[("3549723", "legal_status")].to_date is None, "another person's items are untouched"


def test_addresses_and_rec_codes_can_be_imported(seeded, tmp_path: Path) -> None:
    from store.importer import import_directory

    (tmp_path / "persons.csv").write_text("id,first_name,last_name\n3600900,Ada,Vell\n")
    (tmp_path / "record_items.csv").write_text(
        "person_id,kind,description,from_date,to_date,end_reason,is_primary,doh_end_reason\n"
        "3600900,placement_address,1 Test Row,2025-01-01,,,true,\n"
        "3600900,home_address,2 Test Row,2020-01-01,,,false,\n"
        "3600900,looked_after,V2 Section 20,2025-01-01,2025-06-01,Returned home,,E4A\n"
    )
    import_directory(seeded, tmp_path)
    items = items_of(seeded, "3600900")
    assert (items["placement_address"].is_primary, items["home_address"].is_primary) == (True, False)
    assert items["looked_after"].doh_end_reason == "E4A"
