"""Reminders delivered through the Slack Web API (the mock): a batched DM to the manager and
a nudge in the business-support channel, IDs and initials only (issue 7, C5, D4)."""

from __future__ import annotations

import datetime as dt

import pytest
from test_slack_http import BS, NAMES_OF_CLIENTS, SlackDriver, slack, slack_api  # noqa: F401 (fixtures)

from workflows import reminders
from workflows import requests as wf
from workflows.clock import LONDON, FixedClock
from worktray import scheduler


@pytest.fixture(autouse=True)
def _other_ladders_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo has an overdue three-month audit (C13); its ladder has tests of its own
    (tests/test_audit_escalation.py), so these tests of the other ladders leave it out."""
    monkeypatch.delitem(reminders.SOURCES, "overdue_audits")



def test_reminders_reach_slack_as_one_dm_per_person_and_one_channel_nudge(slack: SlackDriver, journey, clock: FixedClock) -> None:  # noqa: F811
    clock.at = dt.datetime(2026, 11, 26, 10, 0, tzinfo=LONDON)
    first = journey.request("3549723", "amy")
    second = journey.request("3501779", "amy")
    queued = journey.to_state(wf.APPROVED, "3549728", "ben")
    slack.app.deliverer.drain()  # the requests' own cards
    mark = slack.api.count()
    clock.at = dt.datetime(2026, 11, 30, 8, 30, tzinfo=LONDON)  # before the working day: quiet
    assert scheduler.send_reminders(slack.app) == 0
    slack.app.deliverer.drain()
    assert slack.api.since(mark) == []
    clock.at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=LONDON)
    assert scheduler.send_reminders(slack.app) == 2  # maria's DM and the BS channel's nudge
    slack.app.deliverer.drain()
    [dm] = [m for m in slack.api.messages("U0MARIA") if m.text.startswith("Reminder")]
    assert dm.text == "Reminder: 2 things waiting for you"
    assert f"Closure request {first} · 3549723 LM" in str(dm.blocks) and f"Closure request {second} · 3501779 ES" in str(dm.blocks)
    [nudge] = [m for m in slack.api.messages(BS) if m.text.startswith("Reminder")]
    assert nudge.text == "Reminder: 1 thing waiting in the team's queue"
    assert f"Closure request {queued} · 3549728 KE · unclaimed in the virtual worker for 2 working days" in str(nudge.blocks)
    for message in (dm, nudge):
        assert not [n for n in NAMES_OF_CLIENTS if n in str(message.blocks) + message.text]
    assert scheduler.send_reminders(slack.app) == 0  # the next run: nothing again
