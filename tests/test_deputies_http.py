"""Act-for deputies end to end (issue 8): ``/worktray deputy`` over signed HTTP against the local
Slack mock (tests/slack_mock.py), and in the console. Maria names Pia; Ben's closure request, for
his supervisor Maria, reaches Pia's DMs too; Pia approves from the manager channel and the card
says "on behalf of Maria Lopez"; after the period, Pia is refused and gets nothing of Maria's.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import partial
from typing import Any

from conftest import Journey
from sqlalchemy import func, select
from test_slack_http import BS, MGR, SlackDriver, button, slack, slack_api  # noqa: F401 (fixtures)
from test_worktray_http import worktray

from store.models import Deputy
from store.uow import UnitOfWork
from workflows.clock import LONDON, FixedClock
from workflows.org import Organisation

BEN_CHILD = "3549728"  # Ben's case; Ben's supervisor is Maria (C2: his requests reach her by DM)


def worktray_command(driver: SlackDriver, user: str, text: str) -> dict[str, Any]:
    answer = worktray(driver, user, text)
    assert answer["response_type"] == "ephemeral"  # shown to the asker only
    answer["text"] = answer["text"].replace("\u200d", "")  # less the zero-width joiners that stop markup
    return answer


def deputies(seeded: partial[UnitOfWork]) -> int:
    with seeded() as uow:
        return uow.session.scalar(select(func.count()).select_from(Deputy)) or 0


def test_deputy_over_signed_http_routes_and_acts_on_behalf(
    slack: SlackDriver, seeded: partial[UnitOfWork], clock: FixedClock, journey: Journey  # noqa: F811
) -> None:
    # Bad input: one line and the usage, nothing written.
    for text, words in [
        ("deputy <@U0PIA>", "Usage: `/worktray deputy"),
        ("deputy <@U0PIA> until 2026-11-25", "25 Nov 2026 is past"),
        ("deputy <@U0NOBODY> until 2026-11-27", "not in worktray's organisation config"),
        ("deputy <@U0AMY> until 2026-11-27", "Amy Brooke has no role in your team"),
        ("deputy <@U0MARIA> until 2026-11-27", "You cannot be your own deputy"),
        ("tray", "There is no team 'tray'"),
    ]:
        answer = worktray_command(slack, "U0MARIA", text)
        assert words in answer["text"] and "\n" not in answer["text"], text
    assert deputies(seeded) == 0

    # Maria names Pia (as Slack escapes a mention) until tomorrow.
    answer = worktray_command(slack, "U0MARIA", "deputy <@U0PIA|pia> until 27 Nov")
    assert answer["text"].startswith("Pia Novak is your deputy from now until the end of Fri 27 Nov 2026")
    assert worktray_command(slack, "U0PIA", "deputy")["text"] == "You act for Maria Lopez, until the end of Fri 27 Nov 2026."
    overlap = worktray_command(slack, "U0MARIA", "deputy <@U0GITA> until 2026-12-04")
    assert "You already have a deputy, Pia Novak" in overlap["text"]

    # Ben's request goes to Maria by DM (C2) and, while she is away, to Pia, marked as for Maria.
    request_id = journey.request(BEN_CHILD, actor="ben")
    slack.app.deliverer.drain()
    [to_pia] = slack.dms("U0PIA")
    assert f"Closure request {request_id}" in to_pia.text
    assert "You are deputy for" in json.dumps(to_pia.blocks) and "Maria Lopez" in json.dumps(to_pia.blocks)
    assert len(slack.dms("U0MARIA")) == 1

    # Pia approves from the manager channel card; the card names her on behalf of Maria.
    card = slack.card(MGR, f"Closure request {request_id}")
    assert slack.interactive(slack.click_payload("U0PIA", card, button(card, "Approve"))).status == 200
    assert slack.submit("U0PIA", slack.last_view("approve"), {"note": "Agreed in Maria's absence."}).body == ""
    card = slack.card(MGR, f"Closure request {request_id}")
    assert "approved by Pia Novak on behalf of Maria Lopez" in json.dumps(card.blocks)

    # After the period nothing of it applies: a new DM to Maria is hers alone, and Pia is refused.
    clock.at = dt.datetime(2026, 11, 28, 9, 0, tzinfo=LONDON)
    second = journey.request("3549723", actor="amy")
    slack.app.deliverer.drain()
    card = slack.card(MGR, f"Closure request {second}")
    assert slack.interactive(slack.click_payload("U0PIA", card, button(card, "Approve"))).status == 200
    assert "does not allow it" in slack.ephemerals("U0PIA")[-1]
    assert worktray_command(slack, "U0PIA", "deputy")["text"] == "You have no deputy, and act for nobody."


def test_deputy_in_the_console(db_url: str, org: Organisation, clock: FixedClock, seeded: partial[UnitOfWork]) -> None:
    from test_console import replay

    code, transcript = replay(db_url, org, clock, [
        "as maria /worktray deputy @pia until 2026-11-25",
        "as maria /worktray deputy @pia until 27 Nov",
        "as maria /worktray deputy",
        "as amy /case close 3549723",
        'as amy submit reason=RC7 closure_date=today summary="Needs met." done=visit_done,letter_done',
        "as pia press Approve",
        'as pia submit note="Agreed for Maria."',
        "as maria /worktray deputy end",
        "as pia /worktray deputy",
    ])
    assert code == 0, transcript
    assert "25 Nov 2026 is past" in transcript
    assert "Pia Novak is your deputy from now until the end of Fri 27 Nov 2026" in transcript
    assert "Your deputy: Pia Novak, until the end of Fri 27 Nov 2026." in transcript
    assert "approved by Pia Novak on behalf of Maria Lopez" in transcript
    assert "Pia Novak no longer acts for you." in transcript
    assert transcript.rstrip().endswith("You have no deputy, and act for nobody.")


def test_the_cards_of_what_the_absent_person_holds_are_redrawn_over_signed_http(
    slack: SlackDriver, seeded: partial[UnitOfWork], clock: FixedClock, journey: Journey  # noqa: F811
) -> None:
    """Sam holds a closure; ``/worktray deputy`` names Tess: the virtual-worker card (and the
    manager card) say who acts for him at once, not when the item next moves; ``deputy end``
    takes it off again (workflows.deputies.card_change)."""
    from test_worktray_http import shown

    request_id = journey.request()
    journey.approve(request_id)
    journey.claim(request_id, "sam")
    slack.app.deliverer.drain()
    title = f"Closure request {request_id}"
    assert "acts for them" not in shown(slack.card(BS, title).blocks)

    answer = worktray_command(slack, "U0SAM", "deputy <@U0TESS> until 27 Nov")
    assert answer["text"].startswith("Tess Wong is your deputy")
    slack.app.deliverer.drain()
    for channel in (BS, MGR):
        assert "Sam Patel (away until Fri 27 Nov 2026: Tess Wong acts for them)" in shown(slack.card(channel, title).blocks), channel

    assert worktray_command(slack, "U0SAM", "deputy end")["text"] == "Tess Wong no longer acts for you."
    slack.app.deliverer.drain()
    for channel in (BS, MGR):
        blocks = shown(slack.card(channel, title).blocks)
        assert "Sam Patel" in blocks and "acts for them" not in blocks, channel
