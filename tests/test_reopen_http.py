"""C11 Reopen and C12 re-referral over Slack's HTTP path, with signed requests (tests/slack_mock.py)."""

from __future__ import annotations

import json
from typing import Any

from conftest import Journey
from test_slack_http import MGR, SlackDriver, Store, labels, slack, slack_api, store  # noqa: F401 (fixtures)


def test_reopen_then_a_rereferral_accepted_over_http(slack: SlackDriver, store: Store, seeded: Any) -> None:  # noqa: F811
    journey = Journey(seeded, slack.app.ctx)
    rid = journey.to_state("closed", "3549723")
    slack.app.deliverer.drain()
    card = slack.card(MGR, f"Closure request {rid}")
    assert labels(card) == ["Reopen"]  # C11: no Withdraw or Reverse on a finished closure

    # The worker may not reopen: told so, nothing written.
    writes = store.writes()
    assert slack.click("U0AMY", card, "Reopen").status == 200
    assert "cannot reopen" in slack.ephemerals("U0AMY")[-1]
    assert store.writes() == writes

    # The practice supervisor reopens: a short form with the previous worker proposed.
    assert slack.click("U0PIA", card, "Reopen").status == 200
    form = slack.last_view("reopen")
    assert form["private_metadata"] == str(rid)
    missing = slack.submit("U0PIA", form, {"reason": "  "})
    assert missing.json()["response_action"] == "errors" and "reason" in missing.json()["errors"]
    assert slack.submit("U0PIA", form, {"reason": "New concerns from school."}).body == ""
    assert store.request(rid).state == "closed"  # the closed request is not rewritten
    assert store.events(rid)[-1] == "reopen"
    assert any("reopens to you" in m.text for m in slack.dms("U0AMY"))
    assert labels(slack.card(MGR, f"Closure request {rid}")) == []  # nothing left to reopen

    # A second person's closure, then a re-referral within 3 months: a card to the managers.
    rid2 = journey.to_state("closed", "3501779")
    answer = slack.command("U0GITA", "rereferral 3501779 N1")
    assert answer.status == 200 and "sent to the managers of Under 12s" in answer.json()["text"]  # only Gita sees it
    rr = slack.card(MGR, "Re-referral")
    assert labels(rr) == ["Accept", "Decline"]
    shown = json.dumps(rr.blocks)
    assert "Amy Brooke" in shown and "3501779 (ES)" in shown and "Sutton" not in shown
    assert slack.click("U0MARIA", rr, "Accept").status == 200
    assert slack.submit("U0MARIA", slack.last_view("accept"), {"worker": "ben"}).body == ""
    [rereferral] = [r for r in store.requests() if r[0] not in (rid, rid2)]
    assert rereferral[2] == "accepted"
    assert labels(slack.card(MGR, "Re-referral")) == []
