"""/case history and /case help (issue 8): the case's event log a page at a time, to the
people who may see the case (as /case status), each look an event; bad input is one line
with the usage and changes nothing but the record of a refused look."""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy import func, select

from bot.actions import Interactions
from commands import case as case_command
from store.models import Event
from store.uow import UnitOfWork
from workflows import access
from workflows.requests import Context

LILY = "3549723"
NAMES = ["Lily", "Marsh", "Goals met", "summary"]  # the fixture's child, and what notes would say


def history(uow_factory: partial[UnitOfWork], ctx: Context, chat_user: str, text: str):  # type: ignore[no-untyped-def]
    return Interactions(uow_factory, ctx).command(chat_user, f"history {text}", source="test:/case")


def event_count(uow_factory: partial[UnitOfWork]) -> int:
    with uow_factory() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Event)) or 0)


def test_the_history_shows_who_did_what_newest_first_without_notes(seeded, ctx, journey) -> None:
    rid = journey.request(LILY, "amy")
    journey.return_(rid, "maria", "Goals met is not enough: add the summary of the last visit")
    reply = history(seeded, ctx, "U0MARIA", LILY)
    assert reply.card is not None and reply.card.title == "History of case 3549723 (LM)"
    lines = reply.card.sections[0].lines
    assert f"Maria Lopez · returned request {rid} (requested → returned)" in lines[0]
    assert f"Amy Brooke · requested request {rid}" in lines[-1]
    assert reply.card.sections[1].lines == ["That is the oldest."]
    for word in NAMES:
        assert all(word not in line for line in lines), word


def test_history_pages_hold_fifteen_events_and_point_to_older(seeded, ctx) -> None:
    for _ in range(20):  # each /case status look is an event of the person
        Interactions(seeded, ctx).command("U0AMY", f"status {LILY}")
    first = history(seeded, ctx, "U0AMY", LILY)
    assert first.card is not None
    assert len(first.card.sections[0].lines) == access.HISTORY_PAGE
    assert first.card.facts[0].value.startswith("1 of 2")
    assert first.card.sections[1].lines == [f"Older: /case history {LILY} 2"]
    second = history(seeded, ctx, "U0AMY", f"{LILY} 2")
    assert second.card is not None and second.card.facts[0].value.startswith("2 of 2")
    assert len(second.card.sections[0].lines) == 20 + 1 - access.HISTORY_PAGE  # 20 looks and the first history look


def test_each_look_at_the_history_is_an_event(seeded, ctx) -> None:
    history(seeded, ctx, "U0SAM", LILY)
    with seeded() as uow:
        rows = [(e.actor, e.action, e.person_id, e.detail) for e in uow.session.scalars(select(Event))]
    assert rows == [("sam", "view_history", LILY, {"page": 1})]


def test_someone_without_a_role_in_the_team_is_refused_and_the_refusal_recorded(seeded, ctx) -> None:
    reply = history(seeded, ctx, "U0DAN", LILY)  # Dan works in Adults South only
    assert reply.card is None and reply.text == f"{access.refusal(LILY)} {case_command.VERB_USAGE['history']}"  # issue 8: the reason, then the usage
    with seeded() as uow:
        assert [e.action for e in uow.session.scalars(select(Event))] == ["view_history_refused"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Usage:"),
        ("abc", "'abc' is not a person ID."),
        (f"{LILY} 0", "'0' is not a page number"),
        (f"{LILY} two", "'two' is not a page number"),
        (f"{LILY} ١", "'١' is not a page number"),  # another script's digit is not a page
        (f"{LILY} 1 2", "Usage:"),
        (f"{LILY} 9", "Case 3549723 has 1 page(s) of history; ask for 1 to 1."),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(seeded, ctx, text: str, says: str) -> None:
    before = event_count(seeded)
    reply = history(seeded, ctx, "U0MARIA", text)
    assert reply.card is None and reply.text is not None and says in reply.text
    assert "\n" not in reply.text
    assert event_count(seeded) == before


def test_help_lists_every_command(seeded, ctx) -> None:
    reply = Interactions(seeded, ctx).command("U0AMY", "help")
    assert reply.text == case_command.HELP
    for verb in case_command.VERBS:
        assert f"/case {verb}" in reply.text, verb
    assert "/radar" in reply.text and "/audits" in reply.text


def test_parse_history() -> None:
    assert case_command.parse("history 3549723") == case_command.CaseCommand("history", "3549723", page=1)
    assert case_command.parse("HISTORY 3549723 3") == case_command.CaseCommand("history", "3549723", page=3)
    assert case_command.parse("help") == case_command.CaseCommand("help", "")
