"""C13 end to end over Slack's HTTP path: signed requests against the mock Slack Web API
(tests/slack_mock.py), as tests/test_transfer_http.py. The morning job raises the demo's two
due audits (Eve Sutton 3501779, overdue; Mia Thorne 3549735, due 7 December): a card each in
Under 12s' business-support channel; business support claim one (chat.update), open Record
audit (views.open), a bad submission stays open with field errors and changes nothing, then
"actions needed" with a note: the card is updated without the note, and the allocated worker
(amy) and her manager (maria) get it by DM. Then ``/audits`` (ephemeral) and the console."""

from __future__ import annotations

import json
from functools import partial
from urllib.parse import urlencode

from test_slack_http import SlackDriver, Store, all_sent_text, labels, slack, slack_api, store  # noqa: F401 (fixtures)

from store.uow import UnitOfWork
from workflows.clock import FixedClock
from workflows.org import Organisation
from worktray.scheduler import raise_due_audits

BS, MGR = "C0U12BS", "C0U12MGR"
EVE, MIA = "3501779", "3549735"
NOTE = "Close the finished home visit step and record the last visit."
ALL_YES = {"check_record_up_to_date": "yes", "check_work_steps_current": "yes", "check_worker_and_team_correct": "yes", "check_retention_present": "yes"}


def audits_command(driver: SlackDriver, user: str, text: str) -> dict[str, object]:
    body = urlencode({
        "token": "legacy-verification-token", "team_id": "T0FEN", "team_domain": "fenshire",
        "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user, "user_name": user.lower(),
        "command": "/audits", "text": text, "api_app_id": "A0WORKTRAY", "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0FEN/1/x", "trigger_id": driver.trigger(),
    })
    response = driver.post(body, "application/x-www-form-urlencoded")
    assert response.status == 200
    answer: dict[str, object] = response.json()
    return answer


def test_audit_claim_and_outcome_over_signed_http(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    # 1. The morning job raises both due audits: a card each in the business-support channel, none for the managers.
    assert raise_due_audits(slack.app) == 2
    slack.app.deliverer.drain()
    posted = slack.api.calls_to("chat.postMessage")
    assert [c["channel"] for c in posted] == [BS, BS]
    assert [c["text"] for c in posted] == [f"Three-month audit 1 · {EVE} (ES) · Under 12s (C13)", f"Three-month audit 2 · {MIA} (MT) · Under 12s (C13)"]
    assert slack.api.messages(MGR) == []
    card = slack.card(BS, "Three-month audit 1")
    assert labels(card) == ["Claim", "Reassign"] and "overdue by 7 working days" in json.dumps(card.blocks)
    assert raise_due_audits(slack.app) == 0  # a re-run (or another instance) posts nothing more
    slack.app.deliverer.drain()
    assert len(slack.api.calls_to("chat.postMessage")) == 2

    # 2. A worker cannot claim: told so, nothing written. Business support claims: the card is edited in place.
    writes = store.writes()
    assert slack.click("U0AMY", card, "Claim").status == 200
    assert "cannot claim" in slack.ephemerals("U0AMY")[-1]
    assert store.writes() == writes
    updates = len(slack.api.calls_to("chat.update"))
    assert slack.click("U0SAM", card, "Claim").status == 200
    assert store.request(1).state == "claimed" and store.request(1).holder == "sam"
    claimed_update = slack.api.calls_to("chat.update")[updates:]
    assert [(u["channel"], u["ts"]) for u in claimed_update] == [(BS, card.ts)]
    card = slack.card(BS, "Three-month audit 1")
    assert labels(card) == ["Record audit", "Unclaim", "Reassign"] and card.edits == 1

    # 3. Only the holder opens Record audit: tess (business support, not holding it) is refused, no modal.
    opened = len(slack.api.calls_to("views.open"))
    assert slack.click("U0TESS", card, "Record audit").status == 200
    assert "cannot complete request 1" in slack.ephemerals("U0TESS")[-1]
    assert len(slack.api.calls_to("views.open")) == opened
    assert slack.click("U0SAM", card, "Record audit").status == 200
    form = slack.last_view("record_audit")
    assert form["private_metadata"] == "1"
    inputs = {b["block_id"] for b in form["blocks"] if b["type"] == "input"}
    assert inputs == {*ALL_YES, "outcome", "note"}

    # 4. Actions needed without a note: the modal stays open with a field error; nothing changes.
    writes = store.writes()
    bad = slack.submit("U0SAM", form, {**ALL_YES, "check_work_steps_current": "no", "outcome": "actions_needed"})
    assert bad.json()["response_action"] == "errors" and "note" in bad.json()["errors"]
    assert store.writes() == writes and store.request(1).state == "claimed"

    # 5. Actions needed with a note: recorded; the card loses its buttons and never shows the note; amy and maria get DMs with it.
    updates = len(slack.api.calls_to("chat.update"))
    done = slack.submit("U0SAM", form, {**ALL_YES, "check_work_steps_current": "no", "outcome": "actions_needed", "note": NOTE})
    assert done.body == ""
    assert store.request(1).state == "closed"
    assert store.events(1) == ["request", "claim", "complete"]
    recorded_update = [u for u in slack.api.calls_to("chat.update")[updates:] if u["channel"] == BS]
    assert [u["ts"] for u in recorded_update] == [card.ts]
    card = slack.card(BS, "Three-month audit 1")
    shown = json.dumps(card.blocks)
    assert labels(card) == [] and "Audit recorded" in shown and "Actions needed" in shown and NOTE not in shown
    for user in ("U0AMY", "U0MARIA"):
        dm = [m for m in slack.dms(user) if "actions needed" in m.text]
        assert len(dm) == 1 and NOTE in json.dumps(dm[0].blocks) and "Work steps current" in json.dumps(dm[0].blocks)
    assert not [m for m in slack.dms("U0BEN") if "Three-month audit" in m.text]
    with store.new() as uow:
        case = uow.cases.open_case(EVE)
        assert case is not None and case.last_audited_on.isoformat() == "2026-11-26" and case.audit_due_on.isoformat() == "2027-02-26"  # type: ignore[union-attr]

    # 6. Sam claims the second audit too.
    assert slack.click("U0SAM", slack.card(BS, "Three-month audit 2"), "Claim").status == 200
    assert store.request(2).state == "claimed"

    # 7. /audits is ephemeral: IDs and initials, what is held by whom; an unknown team is one line with the usage.
    answer = audits_command(slack, "U0MARIA", "u12")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "Three-month audits for Under 12s: 0 overdue, 1 due up to 10/12/2026"
    assert f"{MIA} (MT) · 07/12/2026, due in 7 working days · audit 2 held by Sam Patel" in str(answer["blocks"])
    unknown = audits_command(slack, "U0MARIA", "nowhere")
    assert unknown["response_type"] == "ephemeral" and "There is no team 'nowhere'" in str(unknown["text"])
    assert "Usage:" in str(unknown["text"]) and "/audits" in str(unknown["text"]) and "\n" not in str(unknown["text"])
    assert audits_command(slack, "U0DAN", "u12")["text"].startswith("Only people with a role in Under 12s may see its audits. Usage:")

    # Channels carry the person ID and initials only: never the names or the note.
    text = json.dumps([m.blocks for m in slack.api.messages(BS)])
    assert "Sutton" not in text and "Thorne" not in text and NOTE not in text
    assert "Sutton" not in all_sent_text(slack.api) and "Thorne" not in all_sent_text(slack.api)


def test_the_audit_journey_script_replays_in_the_console(db_url: str, org: Organisation, clock: FixedClock, seeded: partial[UnitOfWork]) -> None:
    """worktray/demo/audit_journey.txt: the demo shows due audits, raises them, records both outcomes."""
    from test_console import ROOT, replay

    lines = (ROOT / "worktray" / "demo" / "audit_journey.txt").read_text().splitlines()
    code, transcript = replay(db_url, org, clock, lines)
    assert code == 0, transcript
    assert "3501779 (ES) · 17/11/2026, overdue by 7 working days · not raised yet" in transcript
    assert "(the audits job raised 2 three-month audits" in transcript and "(the audits job raised 0 three-month audits" in transcript
    assert "You cannot claim request 1" in transcript
    assert "! outcome: A check is answered no" in transcript
    assert "recorded: actions needed. Told by direct message: Amy Brooke, Maria Lopez. Next audit due 26/02/2027 (C13)." in transcript
    assert "recorded: compliant. Next audit due 26/02/2027 (C13)." in transcript
    assert "Three-month audits for Under 12s: none due up to 10/12/2026" in transcript
    channel_cards = [block for block in transcript.split(">> ") if block.startswith("#u12 business support")]
    assert channel_cards and not any("Close the finished home visit" in block for block in channel_cards)
