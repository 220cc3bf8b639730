"""Smaller defects a new user met (issue 5), each pinned by a test that failed before its fix."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import views
from bot.actions import Interactions
from bot.blockkit import ZWJ, card_blocks, escape
from store.models import Case, Event, OutboxMessage, Person, Request, WorkStep
from store.uow import UnitOfWork
from workflows import closure
from workflows.errors import IllegalTransition
from workflows.requests import APPROVED, BLOCKED, CLAIMED, CLOSED, REQUESTED, RETURNED, WITHDRAWN, Context
from worktray import cli, demo

Fingerprint = Callable[[], dict[str, list[tuple[object, ...]]]]


def home_visit(uow_factory: partial[UnitOfWork], person_id: str = "3549728") -> int:
    """The id of an open future step on the person (3549728 has one; others get a fictitious one)."""
    with uow_factory() as uow:
        step = next((s for s in uow.cases.open_work_steps([person_id]) if s.kind == "future"), None)
        if step is None:
            step = WorkStep(person_id=person_id, title="CS Home Visit", assignee="amy", kind="future", scheduled_on=dt.date(2026, 12, 10))
            uow.cases.add(step)
            uow.commit()
        return step.id


# -- C7: a work step is cancelled only through an open request ------------------------------


@pytest.mark.parametrize("state", [WITHDRAWN, RETURNED, CLOSED])
def test_a_step_cannot_be_cancelled_through_a_request_that_is_not_open_for_it(
    journey: Any, seeded: partial[UnitOfWork], db_fingerprint: Fingerprint, state: str
) -> None:
    person = "3549723" if state == CLOSED else "3549728"  # closing needs a person without open steps
    rid = journey.to_state(state, person, "amy" if person == "3549723" else "ben")
    step_id = home_visit(seeded, person)  # for the closed case: a step added after the closure
    before = db_fingerprint()
    with seeded() as uow, pytest.raises(IllegalTransition) as refused:
        closure.cancel_step(uow, journey.ctx, rid, step_id, "maria", "Not needed.")
    assert str(refused.value).startswith("Nothing changed: work steps can be cancelled only through an open request (C7).")
    assert f"it is now {state}" in str(refused.value)
    # The button refuses the same way, before any form is shown.
    pressed = Interactions(seeded, journey.ctx).press("U0MARIA", "cancel_step", f"{rid}:{step_id}")
    assert pressed.form is None and pressed.text == str(refused.value)
    assert db_fingerprint() == before


@pytest.mark.parametrize("state", [REQUESTED, APPROVED, CLAIMED, BLOCKED])
def test_a_step_can_be_cancelled_through_an_open_request(journey: Any, seeded: partial[UnitOfWork], state: str) -> None:
    rid = journey.to_state(state, "3549728", "ben")
    step_id = home_visit(seeded)
    with seeded() as uow:
        assert closure.cancel_step(uow, journey.ctx, rid, step_id, "maria", "Not needed.") == "Cancelled work step 'CS Home Visit'."


# -- C6.1: opening the audit again on a blocked item tells nobody, and says so ------------------


def dms(uow_factory: partial[UnitOfWork]) -> int:
    with uow_factory() as uow:
        return len(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dm")).all())


def test_opening_the_audit_again_on_a_blocked_item_does_not_claim_anyone_was_told(
    journey: Any, seeded: partial[UnitOfWork], ctx: Context, db_fingerprint: Fingerprint
) -> None:
    rid = journey.to_state(CLAIMED, "3549728", "ben")
    interactions = Interactions(seeded, ctx)
    before = dms(seeded)
    first = interactions.press("U0SAM", "audit", str(rid))
    assert first.text == (
        "Blocked: work steps are still open: CS Case Supervision (Ben Okafor); CS Home Visit (Amy Brooke). "
        "Told by direct message: Ben Okafor, Amy Brooke, Maria Lopez."
    )
    assert dms(seeded) == before + 3
    unchanged = db_fingerprint()
    again = interactions.press("U0SAM", "audit", str(rid))
    assert again.text is not None
    assert again.text.startswith("Still blocked: work steps are still open: CS Case Supervision (Ben Okafor); CS Home Visit (Amy Brooke).")
    assert "nobody was told again" in again.text and "have been told" not in again.text
    assert db_fingerprint() == unchanged  # no event, no DM


def test_the_plan_says_who_was_told(journey: Any) -> None:
    rid = journey.to_state(CLAIMED, "3549728", "ben")
    first = journey.open_audit(rid)
    again = journey.open_audit(rid)
    assert (first.newly_blocked, first.told) == (True, ["ben", "amy", "maria"])
    assert (again.newly_blocked, again.told) == (False, [])


# -- typed text shows literally on Slack cards: it never formats, links or mentions --------------

TYPED = "*bold* _italic_ ~strike~ `code` ```pre``` http://evil.example/x www.evil.example mailto:a@evil.example evil.example :x: @channel\n> quoted"
MARKUP = re.compile(r"[*_~`]")


def assert_inert(rendered: str, typed: str) -> None:
    """What Slack's mrkdwn would act on is broken up by zero-width joiners, and the text reads as typed."""
    assert rendered.replace(ZWJ, "") == typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for m in MARKUP.finditer(rendered):  # no *, _, ~ or ` can open or close anything
        assert rendered[m.start() - 1] == ZWJ and rendered[m.end()] == ZWJ, rendered[max(0, m.start() - 5) : m.end() + 5]
    for live in ("http:", "www.evil", "mailto:", ".example", "@channel", "@evil", ":x:", "\n&gt;"):
        assert live not in rendered, live


def test_escape_neutralises_mrkdwn_markup_and_bare_links() -> None:
    assert_inert(escape(TYPED), TYPED)
    assert escape("plain words, 26/11/2026 (C7)") == "plain words, 26/11/2026 (C7)"  # nothing to neutralise: unchanged


def test_a_managers_note_shows_literally_in_block_kit_and_never_on_the_channel_card(journey: Any, ctx: Context) -> None:
    rid = journey.request("3549723", "amy")
    journey.return_(rid, "maria", note=TYPED)
    journey.resubmit(rid, "amy")
    with journey.uow() as uow:
        request = uow.requests.get(rid)
        channel_card = views.request_card(uow, ctx, request, "manager", request.revision)
        card = views._to_approve_card(uow, ctx, request, request.revision)  # the supervising manager's DM copy
    assert "Manager's note" not in json.dumps(card_blocks(channel_card))  # issue 8: typed notes never go to a channel
    blocks = card_blocks(card)
    [note] = [b["text"]["text"] for b in blocks if b.get("text", {}).get("text", "").startswith("*Manager's note*")]
    assert_inert(note.removeprefix("*Manager's note*\n• "), TYPED)
    assert all(t.get("verbatim") is True for b in blocks for t in [b.get("text", {}), *b.get("fields", [])] if t.get("type") == "mrkdwn")


# -- the demo can be started again, and only a demo database is ever reset -----------------------


def run_demo_reset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, config: Path | None = None) -> int:
    monkeypatch.chdir(tmp_path)  # no .env, no worktray.yml
    monkeypatch.setenv("DATABASE_URL", db_url)
    if config is None:
        monkeypatch.delenv("WORKTRAY_CONFIG", raising=False)  # none set: the demo organisation
    else:
        monkeypatch.setenv("WORKTRAY_CONFIG", str(config))
    return cli.main(["demo", "reset"])


def test_demo_reset_starts_the_demo_again(
    journey: Any, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journey.to_state(CLOSED, "3549723", "amy")
    journey.to_state(BLOCKED, "3549728", "ben")
    assert run_demo_reset(monkeypatch, tmp_path, db_url) == 0
    assert "the demo is reset" in capsys.readouterr().out
    with journey.uow() as uow:
        assert {p.id for p in uow.session.scalars(select(Person))} == demo.seed_person_ids()
        assert all(c.closed_on is None for c in uow.session.scalars(select(Case)))
        assert [uow.session.scalars(select(m)).all() for m in (Request, Event, OutboxMessage)] == [[], [], []]
        assert {s.status for s in uow.session.scalars(select(WorkStep))} == {"open"}
    journey.to_state(CLOSED, "3549723", "amy")  # the walk-through works again


def test_demo_reset_refuses_a_database_holding_anyone_not_in_the_demo(
    seeded: partial[UnitOfWork], db_url: str, db_fingerprint: Fingerprint, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with seeded() as uow:
        uow.session.add(Person(id="9990001", first_name="Test", last_name="Person"))  # fictitious, as a council's would be
        uow.commit()
    before = db_fingerprint()
    assert run_demo_reset(monkeypatch, tmp_path, db_url) == 1
    assert "1 people who are not in the demo: it is not a demo database, so nothing was reset" in capsys.readouterr().err
    assert db_fingerprint() == before


def test_demo_reset_refuses_with_a_councils_organisation_config(
    seeded: partial[UnitOfWork], db_url: str, db_fingerprint: Fingerprint, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    council = tmp_path / "council.yml"
    council.write_text(demo.DEMO_ORG.read_text(encoding="utf-8").replace("Fenshire County Council", "Another Council"), encoding="utf-8")
    before = db_fingerprint()
    assert run_demo_reset(monkeypatch, tmp_path, db_url, config=council) == 1
    assert "is not the demo organisation; nothing was reset" in capsys.readouterr().err
    assert db_fingerprint() == before
