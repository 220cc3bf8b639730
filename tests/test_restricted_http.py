"""Restricted records (issue 8, data minimisation) over Slack's HTTP path: signed requests
against the mock Slack Web API (tests/slack_mock.py).

A restricted person's request shows in channels only as "a restricted record needs your
action", its number and the buttons the people there need, so the work still flows (C2, C5,
C6 for a closure; T3, T4 for a transfer). The worker's DMs and /case status for a permitted
person keep the details.
"""

from __future__ import annotations

import json

from test_slack_http import (  # noqa: F401 (fixtures)
    BS,
    MGR,
    NAMES_OF_CLIENTS,
    SlackDriver,
    Store,
    labels,
    options_of,
    slack,
    slack_api,
    store,
)

from bot.views import RESTRICTED_LINE

P12_MGR = "C0P12MGR"
LILY, SIBLING = "3549723", "3549724"  # Lily Marsh (LM), fictitious; her sibling
JAY = "3549750"  # Jay Corrin (JC), fictitious, Under 12s, worker ben


def restrict(store: Store, person_id: str) -> None:  # noqa: F811
    with store.new() as uow:
        person = uow.cases.person(person_id)
        assert person is not None
        person.restricted = True
        uow.commit()


def assert_nothing_about(slack: SlackDriver, channel: str, *person_ids: str, initials: str) -> None:  # noqa: F811
    """Every message in the channel, as posted and as edited: no person ID, initials or names."""
    calls = [c.args for c in slack.api.calls if c.args.get("channel") == channel]
    assert calls, f"nothing was posted to {channel}"
    sent = json.dumps(calls)
    for forbidden in (*person_ids, f"({initials})", *NAMES_OF_CLIENTS, "Jay", "Corrin"):
        assert forbidden not in sent, f"{forbidden!r} appeared in {channel}"
    for message in slack.api.messages(channel):
        assert RESTRICTED_LINE in message.text


def test_a_restricted_closure_flows_with_neutral_channel_cards(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    restrict(store, LILY)
    slack.command("U0AMY", f"close {LILY}")
    form = slack.last_view("request_closure")
    assert slack.submit("U0AMY", form, {"reason": "RC7", "summary": "Needs met.", "applies_to": [SIBLING]}).body == ""

    # C2: the manager's channel card says only that a restricted record needs action; the buttons stay.
    card = slack.card(MGR, "Request 1 · ")
    assert card.text == f"Request 1 · {RESTRICTED_LINE}"
    assert labels(card) == ["Approve", "Return", "Withdraw"]
    # The worker's DM (a person the journey names) keeps the details.
    assert LILY in json.dumps([vars(m) for m in slack.dms("U0AMY")])

    # C3/C5: approving from the redacted card works; business support gets a neutral card too.
    assert slack.click("U0MARIA", card, "Approve").status == 200
    assert slack.submit("U0MARIA", slack.last_view("approve"), {"note": "Agreed."}).body == ""
    assert store.request(1).state == "approved"
    queue = slack.card(BS, "Request 1 · ")
    assert labels(queue) == ["Claim", "Reassign"]
    assert slack.click("U0SAM", queue, "Claim").status == 200
    queue = slack.card(BS, "Request 1 · ")
    assert labels(queue) == ["Open closure audit", "Unclaim", "Reassign"]
    # The neutral card does not say who holds it: the clicker is told, only them.
    assert slack.ephemerals("U0SAM")[-1].startswith("You hold closure request 1")

    # C6: the audit modal is for the claimer, who is allowed the details; then closed.
    assert slack.click("U0SAM", queue, "Open closure audit").status == 200
    audit = slack.last_view("audit")
    items = options_of(audit, "end_items")
    reasons = {b["block_id"]: "No longer meets the criteria" for b in audit["blocks"] if b.get("block_id", "").startswith("end_reason_")}
    assert slack.submit("U0SAM", audit, {"checklist": options_of(audit, "checklist"), "end_items": items, **reasons}).body == ""
    assert store.request(1).state == "closed"

    for channel in (MGR, BS):
        assert_nothing_about(slack, channel, LILY, SIBLING, initials="LM")


def test_a_restricted_siblings_family_closure_is_neutral_too(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    """A family closure (C6.4) that applies to a restricted person is itself restricted in channels."""
    restrict(store, SIBLING)
    slack.command("U0AMY", f"close {LILY}")
    assert slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done.", "applies_to": [SIBLING]}).body == ""
    assert labels(slack.card(MGR, "Request 1 · ")) == ["Approve", "Return", "Withdraw"]
    assert_nothing_about(slack, MGR, LILY, SIBLING, initials="LM")


def test_case_status_keeps_the_details_for_a_permitted_person_only(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    restrict(store, LILY)
    status = slack.command("U0AMY", f"status {LILY}")
    assert status.json()["response_type"] == "ephemeral"
    assert status.json()["text"].startswith(f"Case {LILY} (LM)")  # the worker's team may see it
    refused = slack.command("U0DAN", f"status {LILY}")  # Dan works in Adults South
    assert refused.json()["text"].startswith(f"You may not see case {LILY}")
    assert "LM" not in refused.body and "blocks" not in refused.json()


def test_a_restricted_transfer_flows_with_neutral_channel_cards(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    restrict(store, JAY)
    slack.command("U0BEN", f"transfer {JAY}")
    base = {"receiving_team": "12plus", "point_of_transfer": "age_11y6m", "planned_date": "2026-11-26", "reason": "Reaches 11y6m."}
    assert slack.submit("U0BEN", slack.last_view("transfer"), {**base, "readiness": "ready", "std_chronology": "done"}).body == ""
    card = slack.card(MGR, "Request 1 · ")
    assert labels(card) == ["Approve", "Return", "Withdraw"]
    assert slack.click("U0MARIA", card, "Approve").status == 200
    assert slack.submit("U0MARIA", slack.last_view("approve"), {}).body == ""
    assert store.request(1).state == "approved"
    # T3: the receiving team's managers can still accept, hold or dispute from the neutral card.
    receiving = slack.card(P12_MGR, "Request 1 · ")
    assert labels(receiving) == ["Accept", "Hold on duty", "Dispute"]
    assert JAY in json.dumps([vars(m) for m in slack.dms("U0BEN")])  # the worker's DM keeps the details
    for channel in (MGR, P12_MGR):
        assert_nothing_about(slack, channel, JAY, initials="JC")
