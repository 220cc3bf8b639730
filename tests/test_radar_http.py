"""``/radar`` over signed HTTP against the mock Slack Web API, and in the console adapter (T2)."""

from __future__ import annotations

import datetime as dt
from functools import partial
from urllib.parse import urlencode

from test_radar import RADAR_DAY, add_child, add_transfer
from test_slack_http import SlackDriver, button, slack, slack_api  # noqa: F401 (fixtures)

from store.uow import UnitOfWork
from workflows.clock import LONDON, FixedClock
from workflows.org import Organisation


def radar_command(driver: SlackDriver, user: str, text: str) -> dict[str, object]:
    body = urlencode({
        "token": "legacy-verification-token", "team_id": "T0FEN", "team_domain": "fenshire",
        "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user, "user_name": user.lower(),
        "command": "/radar", "text": text, "api_app_id": "A0WORKTRAY", "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0FEN/1/x", "trigger_id": driver.trigger(),
    })
    response = driver.post(body, "application/x-www-form-urlencoded")
    assert response.status == 200
    answer: dict[str, object] = response.json()
    return answer


def a_transfer_to_12plus(seeded: partial[UnitOfWork]) -> int:
    with seeded() as uow:
        add_child(uow, "3700010", dt.date(2012, 1, 1))
        uow.commit()
    return add_transfer(seeded, "3700010", outstanding=2)


def at_radar_day(clock: FixedClock) -> None:
    clock.at = dt.datetime(2026, 12, 18, 12, 0, tzinfo=LONDON).astimezone(dt.UTC)


def test_radar_over_signed_http_is_ephemeral_ids_and_initials(slack: SlackDriver, seeded: partial[UnitOfWork], clock: FixedClock) -> None:  # noqa: F811
    at_radar_day(clock)
    request_id = a_transfer_to_12plus(seeded)
    answer = radar_command(slack, "U0NADIA", "12plus")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == f"Two-week radar for 12+: {RADAR_DAY:%d/%m/%Y} to 01/01/2027"
    blocks = str(answer["blocks"])
    assert "3700010 (TQ) from Under 12s" in blocks and f"transfer {request_id}" in blocks
    assert "Quill" not in blocks and "Typed reason" not in blocks
    assert not slack.api.calls_to("chat.postMessage")  # shown to Nadia only: nothing posted to a channel


def test_radar_over_signed_http_refuses_someone_outside_the_team(slack: SlackDriver, seeded: partial[UnitOfWork]) -> None:  # noqa: F811
    a_transfer_to_12plus(seeded)
    answer = radar_command(slack, "U0DAN", "12plus")
    assert answer["response_type"] == "ephemeral" and answer["text"].startswith("Only people with a role in 12+ may see its radar. Usage:")


def test_radar_in_the_console(db_url: str, org: Organisation, clock: FixedClock, seeded: partial[UnitOfWork]) -> None:
    from test_console import replay

    at_radar_day(clock)
    a_transfer_to_12plus(seeded)
    code, transcript = replay(db_url, org, clock, ["as nadia /radar", "as maria /radar adults-south", "as amy /radar 12plus"])
    assert code == 0
    assert "Two-week radar for 12+: 18/12/2026 to 01/01/2027" in transcript
    assert "3700010 (TQ) from Under 12s" in transcript
    assert "Only people with a role in Adults South may see its radar." in transcript
    assert "Only people with a role in 12+ may see its radar." in transcript
    assert "Quill" not in transcript



def test_agenda_outcome_over_signed_http_edits_the_agenda_in_place(slack: SlackDriver, seeded: partial[UnitOfWork], clock: FixedClock) -> None:  # noqa: F811
    """T3 end to end: the Monday agenda is posted to 12+'s manager channel; Nadia presses Agreed on a line;
    the transfer records it (no state change) and the same message is edited to show it."""
    from worktray.scheduler import run_digest

    clock.at = dt.datetime(2026, 12, 21, 9, 0, tzinfo=LONDON).astimezone(dt.UTC)
    a_transfer_to_12plus(seeded)
    with seeded() as uow:
        add_child(uow, "3700011", dt.date(2012, 3, 3))
        uow.commit()
    request_id = add_transfer(seeded, "3700011", point="icpc", planned=dt.date(2026, 12, 30))  # the second line
    assert run_digest(slack.app.uow, slack.app.ctx, "agenda", "12plus") == "posted"
    slack.app.deliverer.drain()
    agenda = slack.card("C0P12MGR", "Transfer Meeting 21/12/2026 for 12+")
    assert agenda.text == "Transfer Meeting 21/12/2026 for 12+: 2 transfers"
    assert button(agenda, f"{request_id} Agreed")["action_id"] == "wt:meeting_agreed#2"  # unique in its block
    assert slack.click("U0NADIA", agenda, f"{request_id} Agreed").status == 200
    redrawn = slack.card("C0P12MGR", "Transfer Meeting 21/12/2026 for 12+")
    assert redrawn.ts == agenda.ts and redrawn.edits == 1
    assert "meeting: agreed" in str(redrawn.blocks)
    assert len(slack.api.messages("C0P12MGR")) == 1
    with seeded() as uow:
        request = uow.requests.get(request_id)
        assert request is not None and request.state == "potential" and request.details["meeting"]["outcome"] == "agreed"
