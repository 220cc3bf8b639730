"""/case status: who may look at a case (workflows.access), every look an event,
and the "Request closure" button only for those who may use it (C2).

Decided: a refused look is recorded too (action ``view_case_refused``), so that
someone trying records they have no part in shows up in the event log; the
reply to them carries the person ID they typed and nothing else about anyone.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from bot.actions import Interactions
from bot.views import case_card
from commands.case import VERB_USAGE
from store.models import Case, Event
from store.uow import UnitOfWork
from workflows import access
from workflows.requests import Context

NAMES = ["Lily", "Noah", "Marsh", "Kai", "Ellison", "Amy", "Brooke", "Ben", "Okafor", "2015", "14/06"]


def events(uow_factory: partial[UnitOfWork]) -> list[tuple[str, str, str | None, str | None, dict[str, object]]]:
    with uow_factory() as uow:
        return [(e.actor, e.action, e.person_id, e.source, e.detail) for e in uow.session.scalars(select(Event).order_by(Event.id))]


def status(uow_factory: partial[UnitOfWork], ctx: Context, chat_user: str, person_id: str):  # type: ignore[no-untyped-def]
    return Interactions(uow_factory, ctx).command(chat_user, f"status {person_id}", source="test:/case")


@pytest.mark.parametrize(
    ("chat_user", "who"),
    [("U0AMY", "worker"), ("U0MARIA", "manager"), ("U0SAM", "business support"), ("U0GITA", "group manager"), ("U0OLU", "service manager")],
)
def test_anyone_with_a_role_in_the_team_sees_the_case_and_the_look_is_an_event(
    seeded: partial[UnitOfWork], ctx: Context, chat_user: str, who: str
) -> None:
    reply = status(seeded, ctx, chat_user, "3549723")
    assert reply.card is not None, who
    assert reply.card.title == "Case 3549723 (LM)"
    assert any(line.startswith("CIN · Amy Brooke") for line in reply.card.sections[0].lines)
    actor = ctx.org.person_by_chat_id(chat_user).key  # type: ignore[union-attr]
    assert events(seeded) == [(actor, "view_case", "3549723", "test:/case", {"teams": ["u12"]})]  # committed


def test_someone_with_no_role_in_the_team_is_refused_and_told_nothing_about_the_person(
    seeded: partial[UnitOfWork], ctx: Context
) -> None:
    reply = status(seeded, ctx, "U0DAN", "3549723")  # Dan works in Adults South only
    assert reply.card is None and reply.form is None
    assert reply.text == f"{access.refusal('3549723')} {VERB_USAGE['status']}"  # issue 8: the reason, then the usage
    assert reply.text.startswith("You may not see case 3549723: only people with a role in the team that holds it can.")
    for word in ["LM", *NAMES, "Under 12s"]:
        assert word not in reply.text, word
    assert events(seeded) == [("dan", "view_case_refused", "3549723", "test:/case", {})]  # recorded, committed


def test_an_unknown_person_gets_the_same_refusal(seeded: partial[UnitOfWork], ctx: Context) -> None:
    """The reply never tells anyone whether a person ID is known to the service."""
    unknown = status(seeded, ctx, "U0AMY", "9999999")
    assert unknown.card is None and unknown.text == f"{access.refusal('9999999')} {VERB_USAGE['status']}"
    assert events(seeded) == [("amy", "view_case_refused", "9999999", "test:/case", {})]


def test_a_person_known_to_two_teams_shows_each_asker_their_teams_cases_only(seeded: partial[UnitOfWork], ctx: Context) -> None:
    with seeded() as uow:  # fictitious: an earlier adults' involvement, closed
        uow.session.add(Case(person_id="3549728", team="adults-south", worker="dan", case_type="ADULT",
                             opened_on=dt.date(2020, 1, 6), closed_on=dt.date(2021, 3, 1), closure_reason="A1"))
        uow.commit()
    ben = status(seeded, ctx, "U0BEN", "3549728").card
    dan = status(seeded, ctx, "U0DAN", "3549728").card
    olu = status(seeded, ctx, "U0OLU", "3549728").card  # service manager in both teams
    assert ben is not None and dan is not None and olu is not None
    assert [line.split(" · ")[0] for line in ben.sections[0].lines] == ["CIN"]
    assert [line.split(" · ")[0] for line in dan.sections[0].lines] == ["ADULT"]
    assert sorted(line.split(" · ")[0] for line in olu.sections[0].lines) == ["ADULT", "CIN"]
    # The open case is Under 12s': Dan sees his team's closed case but cannot request closure of theirs.
    assert [b.label for b in ben.buttons] == ["Request closure", "Request transfer"]  # a worker of the team (C2, T1)
    assert dan.buttons == []
    assert [(a, action, detail) for a, action, _, _, detail in events(seeded)] == [
        ("ben", "view_case", {"teams": ["u12"]}),
        ("dan", "view_case", {"teams": ["adults-south"]}),
        ("olu", "view_case", {"teams": ["adults-south", "u12"]}),
    ]


@pytest.mark.parametrize(
    ("chat_user", "offered"),
    [("U0AMY", True), ("U0MARIA", True), ("U0BEN", True), ("U0SAM", False), ("U0TESS", False), ("U0GITA", False), ("U0OLU", False)],
)
def test_request_closure_is_offered_only_to_a_worker_or_manager_of_the_team(
    seeded: partial[UnitOfWork], ctx: Context, chat_user: str, offered: bool
) -> None:
    card = status(seeded, ctx, chat_user, "3549723").card
    assert card is not None
    assert (any(b.action == "request_closure" for b in card.buttons)) is offered
    # The button and the core agree: whoever is not offered it is refused when they try.
    pressed = Interactions(seeded, ctx).press(chat_user, "request_closure", "3549723")
    assert (pressed.form is not None) is offered


def test_request_closure_is_not_offered_while_a_request_is_open(journey: Any, ctx: Context) -> None:
    journey.request("3549723", "amy")
    card = status(journey.uow, ctx, "U0AMY", "3549723").card
    assert card is not None
    assert [b.label for b in card.buttons] == ["Withdraw", "Request transfer"]  # a transfer may still be raised (T1)


def test_case_card_is_drawn_from_the_look_only(seeded: partial[UnitOfWork], ctx: Context) -> None:
    """The view draws what the core decided the asker may see: no store reads of its own."""
    with seeded() as uow:
        look = access.look_at_case(uow, ctx, "3549723", "sam")
        card = case_card(ctx, look, "sam")
    assert card.title == "Case 3549723 (LM)" and card.buttons == []
    with seeded() as uow, pytest.raises(access.NotAllowedToView):
        access.look_at_case(uow, ctx, "3549723", "ruth")


# -- issue 8: name and date of birth in the ephemeral reply, only where role and team allow ---------


@pytest.mark.parametrize(
    ("actor", "restricted", "shown"),
    [
        ("amy", False, True),  # her worker
        ("maria", False, True),  # the team's manager
        ("gita", False, True),  # the team's group manager
        ("sam", False, False),  # business support: the ID and initials only
        ("amy", True, True),  # restricted: its allocated worker still
        ("maria", True, True),  # ... and the team's manager
        ("gita", True, False),  # ... but not the group manager
        ("sam", True, False),
    ],
)
def test_case_status_shows_name_and_date_of_birth_only_where_allowed(
    seeded: partial[UnitOfWork], ctx: Context, actor: str, restricted: bool, shown: bool
) -> None:
    if restricted:
        with seeded() as uow:
            person = uow.cases.person("3549723")
            assert person is not None
            person.restricted = True
            uow.commit()
    with seeded() as uow:
        look = access.look_at_case(uow, ctx, "3549723", actor)
        case = uow.cases.open_case("3549723")
        assert case is not None
        assert access.may_see_details(ctx.org, actor, case) == shown == look.details  # one rule, Home's too
        card = case_card(ctx, look, actor)
    facts = {f.label: f.value for f in card.facts}
    assert (facts.get("Name"), facts.get("Date of birth")) == (("Lily Marsh", "14/06/2015") if shown else (None, None))
    assert "Lily" not in card.title and "Lily" not in card.fallback_text  # the preview: ID and initials only
