"""The transfer journey over Slack's HTTP path, with signed requests against the mock Slack Web
API (tests/slack_mock.py): raise potential, mark ready, approve, dispute, escalate, the service
manager's final decision, accept (a worker outside 12+ refused on the field), the move (T7)
and the audit at transfer claimed and completed (C13)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from test_slack_http import MGR, TODAY, SlackDriver, Store, all_sent_text, labels, slack, slack_api, store  # noqa: F401 (fixtures)

from store.models import OrganisationRelationship, WorkerRelationship

P12_MGR, P12_BS = "C0P12MGR", "C0P12BS"
CHILD = "3549750"  # Jay Corrin (fictitious), Under 12s, worker ben


def test_the_transfer_journey_over_http(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    # 1. The worker types /case transfer: the form opens; nothing is written yet.
    assert slack.command("U0BEN", f"transfer {CHILD}").status == 200
    form = slack.last_view("transfer")
    assert form["private_metadata"] == CHILD
    inputs = {b["block_id"] for b in form["blocks"] if b["type"] == "input"}
    assert {"receiving_team", "point_of_transfer", "planned_date", "reason", "readiness", "std_chronology", "why_chronology"} <= inputs
    assert store.writes() == (0, 0, 0)

    # 2. T1: a pre-birth transfer before 20 weeks' gestation is refused on the field; nothing written.
    base = {"receiving_team": "12plus", "point_of_transfer": "age_11y6m", "planned_date": "2026-11-26", "reason": "Reaches 11y6m."}
    early = slack.submit("U0BEN", form, {**base, "point_of_transfer": "pre_birth", "gestation_weeks": "16"})
    assert early.json()["response_action"] == "errors" and "20 weeks" in early.json()["errors"]["gestation_weeks"]
    assert store.writes() == (0, 0, 0)

    # 3. Raised early as potential (on the radar); then marked ready.
    assert slack.submit("U0BEN", form, {**base, "readiness": "potential", "std_chronology": "done"}).body == ""
    assert store.requests() == [(1, CHILD, "potential")]
    card = slack.card(MGR, "Transfer 1")
    assert labels(card) == ["Mark ready", "Withdraw"]
    assert slack.click("U0BEN", card, "Mark ready").status == 200
    assert store.request(1).state == "requested"
    card = slack.card(MGR, "Transfer 1")
    assert labels(card) == ["Approve", "Return", "Withdraw"]

    # 4. The sending manager approves, exactly as closures; the receiving managers get a card.
    assert slack.click("U0MARIA", card, "Approve").status == 200
    assert slack.submit("U0MARIA", slack.last_view("approve"), {}).body == ""
    assert store.request(1).state == "approved"
    receiving = slack.card(P12_MGR, "Transfer 1 to 12+")
    assert labels(receiving) == ["Accept", "Hold on duty", "Dispute"]
    shown = json.dumps(receiving.blocks)
    assert f"{CHILD} (JC)" in shown and "Ben Okafor" in shown

    # 5. A worker of the sending team cannot dispute for 12+: told so, nothing written.
    writes = store.writes()
    assert slack.click("U0AMY", receiving, "Dispute").status == 200
    assert "cannot dispute" in slack.ephemerals("U0AMY")[-1]
    assert store.writes() == writes

    # 6. T5: 12+ disputes; the group managers of both teams get it; the case stays with Under 12s.
    assert slack.click("U0NADIA", receiving, "Dispute").status == 200
    dispute_form = slack.last_view("transfer_dispute")
    assert slack.submit("U0NADIA", dispute_form, {"reason": " "}).json()["response_action"] == "errors"
    assert slack.submit("U0NADIA", dispute_form, {"reason": "No CIN plan yet."}).body == ""
    assert store.request(1).state == "disputed"
    gita_dm = [m for m in slack.dms("U0GITA") if "disputed" in m.text][-1]
    rafe_dm = [m for m in slack.dms("U0RAFE") if "disputed" in m.text][-1]
    assert labels(gita_dm) == labels(rafe_dm) == ["Resolve", "Escalate"]
    assert labels(slack.card(P12_MGR, "Transfer 1 to 12+")) == []

    # 7. Unresolved: a group manager escalates to the service manager, whose decision is final.
    assert slack.click("U0RAFE", rafe_dm, "Escalate").status == 200
    assert slack.submit("U0RAFE", slack.last_view("transfer_escalate"), {"note": "We cannot agree."}).body == ""
    assert store.request(1).state == "escalated"
    assert labels([m for m in slack.dms("U0GITA") if "disputed" in m.text][-1]) == []  # redrawn: nothing left to press
    olu_dm = [m for m in slack.dms("U0OLU") if "escalated" in m.text][-1]
    assert slack.click("U0OLU", olu_dm, "Decide (final)").status == 200
    assert slack.submit("U0OLU", slack.last_view("transfer_decide"), {"outcome": "transfer", "note": "Point of transfer reached."}).body == ""
    assert store.request(1).state == "approved"
    receiving = slack.card(P12_MGR, "Transfer 1 to 12+")
    assert labels(receiving) == ["Accept", "Hold on duty"]  # decided: not disputed again

    # 8. Accept: a worker outside 12+ is refused on the field; femi is allocated and the case moves today (T7).
    assert slack.click("U0NADIA", receiving, "Accept").status == 200
    accept_form = slack.last_view("transfer_accept")
    wrong = slack.submit("U0NADIA", accept_form, {"worker": "amy"})
    assert wrong.json()["response_action"] == "errors" and "worker" in wrong.json()["errors"]
    assert store.request(1).state == "approved"
    assert slack.submit("U0NADIA", accept_form, {"worker": "femi"}).body == ""
    assert store.request(1).state == "transferred"
    assert store.events(1) == ["request", "mark_ready", "approve", "dispute", "escalate", "decide_transfer", "accept", "complete_transfer"]
    with store.new() as uow:
        workers = {w.worker: (w.from_date, w.to_date) for w in uow.session.scalars(select(WorkerRelationship).where(WorkerRelationship.person_id == CHILD))}
        teams = {o.organisation: (o.from_date, o.to_date) for o in uow.session.scalars(
            select(OrganisationRelationship).where(OrganisationRelationship.person_id == CHILD, OrganisationRelationship.organisation_kind == "team"))}
        open_case = uow.cases.open_case(CHILD)
        assert open_case is not None and (open_case.team, open_case.worker) == ("12plus", "femi")
    assert workers["Ben Okafor"][1] == TODAY and workers["Femi Adebayo"] == (TODAY, None)
    assert teams == {"Under 12s": (dt.date(2024, 9, 2), TODAY), "12+": (TODAY, None)}
    assert any("transfers to you" in m.text for m in slack.dms("U0FEMI"))

    # 9. C13: the audit at transfer in 12+'s virtual worker, claimed and completed.
    item = slack.card(P12_BS, "Audit at transfer 2")
    assert labels(item) == ["Claim", "Reassign"]
    assert slack.click("U0SAM", item, "Claim").status == 200  # Under 12s' business support: not theirs
    assert store.request(2).state == "approved"
    assert slack.click("U0IVY", item, "Claim").status == 200
    item = slack.card(P12_BS, "Audit at transfer 2")
    assert labels(item) == ["Open audit at transfer", "Unclaim", "Reassign"]
    assert slack.click("U0IVY", item, "Open audit at transfer").status == 200
    audit_form = slack.last_view("transfer_audit")
    partial = slack.submit("U0IVY", audit_form, {"checklist": ["involvement"]})
    assert partial.json()["response_action"] == "errors"
    assert slack.submit("U0IVY", audit_form, {"checklist": ["involvement", "record_up_to_date", "documents"]}).body == ""
    assert store.request(2).state == "closed"
    assert labels(slack.card(P12_BS, "Audit at transfer 2")) == []

    # Channels carry the person ID and initials only: never the name or the typed reasons.
    for channel in (MGR, P12_MGR, P12_BS):
        text = json.dumps([m.blocks for m in slack.api.messages(channel)])
        assert "Corrin" not in text and "No CIN plan" not in text and "Reaches 11y6m" not in text
    assert "Corrin" not in all_sent_text(slack.api)
