"""The personal-data scans (issue 8, data minimisation): a whole closure and a whole transfer
journey over signed HTTP, every logger at DEBUG, then two scans.

- Logs carry IDs and event names only: no record's message or exception text holds any demo
  person's first or last name, date of birth (ISO, dd/mm/yyyy, "14 June 2015"), any record item's
  text (addresses, registrations, packages), or anything typed into a form on the way.
- Channel posts (chat.postMessage / chat.update to a C... channel, text and blocks) carry the
  person ID and initials only: none of the above either. DMs go to the people the journey names
  and may carry the typed notes, but never a date of birth or an address.

The forbidden words come from the demo store itself (persons, family groups, record items), so a
person added to the demo is scanned for without editing this file. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import re

import pytest
from slack_mock import SlackApiMock
from sqlalchemy import select
from test_slack_http import BS, MGR, SlackDriver, Store, labels, options_of, slack, slack_api, store  # noqa: F401 (fixtures)

from store.models import FamilyGroup, Person, RecordItem

P12_MGR, P12_BS = "C0P12MGR", "C0P12BS"

# Free text typed into the journeys' forms: distinctive, so a hit can only be a leak.
SUMMARY = "Lily Marsh settled with Quillwort aunt at 12 Fen Road"  # names the child: DMs may carry it
RETURN_NOTE = "Add the Wendlebury contact letter"
APPROVE_NOTE = "Agreed in supervision, Brackenfold plan holds"
END_REASON = "Hearing aids fitted Tamsworth clinic"
TRANSFER_REASON = "Jay Corrin reaches 11y6m, Marrowgate school move"
TRANSFER_NOTE = "Sending manager agrees, Pellinore review"
DISPUTE_REASON = "No CIN plan yet, Ormskellow review pending"
ESCALATION_NOTE = "Cannot agree, Vantremont meeting"
DECISION_NOTE = "Transfer stands, Galloway House notes"
TYPED = (SUMMARY, RETURN_NOTE, APPROVE_NOTE, END_REASON, TRANSFER_REASON, TRANSFER_NOTE, DISPUTE_REASON, ESCALATION_NOTE, DECISION_NOTE)
TYPED_MARKERS = ("Quillwort", "Wendlebury", "Brackenfold", "Tamsworth", "Marrowgate", "Pellinore", "Ormskellow", "Vantremont",
                 "Galloway")


# -- what must never be said ----------------------------------------------------------------


def personal_words(db: Store) -> tuple[set[str], set[str]]:
    """(names, details) from the demo store: names and family names; DoBs in three spellings and record items' text."""
    names: set[str] = set()
    details: set[str] = set()
    with db.new() as uow:
        for person in uow.session.scalars(select(Person)):
            names |= {person.first_name, person.last_name}
            if person.date_of_birth is not None:
                born = person.date_of_birth
                details |= {born.isoformat(), born.strftime("%d/%m/%Y"), f"{born.day} {born.strftime('%B %Y')}"}
        names |= {f.name for f in uow.session.scalars(select(FamilyGroup))}
        details |= {item.description for item in uow.session.scalars(select(RecordItem))}
    assert {"Lily", "Marsh", "Jay", "Corrin", "2015-06-14", "14/06/2015", "17 Sedge Close, Fenbridge FB2 2AH"} <= names | details
    return names, details


def found(words: set[str] | tuple[str, ...], text: str) -> list[str]:
    """The words that occur in ``text`` as whole words ("Eve" is not in "Event", "Pat" not in "Patel")."""
    return sorted(w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text))


# -- capturing every logger at DEBUG ----------------------------------------------------------------


def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    """The root logger and every logger that holds its own level (sqlalchemy.engine is held at
    WARNING by store.db, slack_bolt, slack_sdk, waitress, worktray's own) at DEBUG."""
    caplog.set_level(logging.DEBUG)
    named = [n for n, lg in logging.root.manager.loggerDict.items() if isinstance(lg, logging.Logger)]
    for name in {*named, "sqlalchemy.engine", "sqlalchemy.engine.Engine", "sqlalchemy.pool", "slack_bolt",
                 "slack_sdk", "waitress", "worktray", "bot", "workflows", "store", "commands"}:
        caplog.set_level(logging.DEBUG, logger=name)


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter()
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        if record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(record.stack_info)
    return "\n".join(parts)


# -- the scans ------------------------------------------------------------------------------------


def posts(api: SlackApiMock, channel_prefix: str) -> list[tuple[str, str]]:
    """(where, what) of each chat.postMessage / chat.update whose channel starts with the prefix."""
    sent = []
    for call in api.calls:
        if call.method in ("chat.postMessage", "chat.update"):
            where = str(call.result.get("channel") or call.args.get("channel") or "")
            if where.startswith(channel_prefix):
                sent.append((where, json.dumps({"text": call.args.get("text"), "blocks": call.args.get("blocks")})))
    return sent


def scan_logs(db: Store, caplog: pytest.LogCaptureFixture) -> None:
    names, details = personal_words(db)
    logged = everything_logged(caplog)
    assert found(names | details, logged) == []
    assert found(TYPED_MARKERS + TYPED, logged) == []


def scan(driver: SlackDriver, db: Store, caplog: pytest.LogCaptureFixture) -> None:
    assert len(caplog.records) > 20  # the journey was logged (DEBUG from the libraries, INFO from worktray)
    scan_logs(db, caplog)
    names, details = personal_words(db)
    channel_posts = posts(driver.api, "C")
    assert len(channel_posts) >= 4
    for where, what in channel_posts:
        assert found(names | details, what) == [], where
        assert found(TYPED_MARKERS, what) == [], where
    direct = posts(driver.api, "D")
    assert direct  # the journey told people in DMs
    for where, what in direct:
        assert found(details, what) == [], where  # notes may go to the people named; DoB and addresses never


# -- the journeys ----------------------------------------------------------------------------------


def test_a_whole_closure_journey_logs_and_posts_nothing_personal(slack: SlackDriver, store: Store, caplog) -> None:  # noqa: F811
    capture_everything(caplog)
    slack.home_opened("U0AMY")
    assert slack.command("U0AMY", "status 3549723").status == 200
    assert slack.command("U0AMY", "close 3549723").status == 200
    assert slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": SUMMARY}).body == ""
    # the manager returns it with a note: the note goes to the worker's DM only (never a channel)
    assert slack.click("U0MARIA", slack.card(MGR, "Closure request 1"), "Return").status == 200
    assert slack.submit("U0MARIA", slack.last_view("return"), {"note": RETURN_NOTE}).body == ""
    returned = [m for m in slack.dms("U0AMY") if "returned" in m.text][-1]
    assert "Wendlebury" in json.dumps(returned.blocks)  # a DM may carry the note: the channel scan below can fail
    assert slack.click("U0AMY", returned, "Resubmit").status == 200
    assert slack.submit("U0AMY", slack.last_view("resubmit"), {}).body == ""
    card = slack.card(MGR, "Closure request 1")
    assert slack.click("U0MARIA", card, "Approve").status == 200
    assert slack.submit("U0MARIA", slack.last_view("approve"), {"note": APPROVE_NOTE}).body == ""
    assert store.request(1).state == "approved"
    assert slack.click("U0SAM", slack.card(BS, "Closure request 1"), "Claim").status == 200
    assert slack.click("U0SAM", slack.card(BS, "Closure request 1"), "Open closure audit").status == 200
    audit = slack.last_view("audit")
    [reason_field] = [b["block_id"] for b in audit["blocks"] if b.get("block_id", "").startswith("end_reason_")]
    chosen = {"checklist": options_of(audit, "checklist"), "end_items": options_of(audit, "end_items"), reason_field: END_REASON}
    assert slack.submit("U0SAM", audit, chosen).body == ""
    assert store.request(1).state == "closed"
    assert slack.command("U0AMY", "history 3549723").status == 200
    assert labels(slack.card(BS, "Closure request 1")) == []
    # the typed text did reach the store (so the scans below have something to find)
    assert store.request(1).details["approval"]["note"] == APPROVE_NOTE
    scan(slack, store, caplog)


def test_a_whole_transfer_journey_logs_and_posts_nothing_personal(slack: SlackDriver, store: Store, caplog) -> None:  # noqa: F811
    capture_everything(caplog)
    child = "3549750"  # Jay Corrin (fictitious)
    assert slack.command("U0BEN", f"transfer {child}").status == 200
    form = {"receiving_team": "12plus", "point_of_transfer": "age_11y6m", "planned_date": "2026-11-26",
            "reason": TRANSFER_REASON, "readiness": "ready", "std_chronology": "done"}
    assert slack.submit("U0BEN", slack.last_view("transfer"), form).body == ""
    assert store.request(1).state == "requested"
    assert slack.click("U0MARIA", slack.card(MGR, "Transfer 1"), "Approve").status == 200
    assert slack.submit("U0MARIA", slack.last_view("approve"), {"note": TRANSFER_NOTE}).body == ""
    assert store.request(1).state == "approved"
    # T5: disputed, escalated, decided: the reasons and notes go to the deciders' DMs only
    assert slack.click("U0NADIA", slack.card(P12_MGR, "Transfer 1 to 12+"), "Dispute").status == 200
    assert slack.submit("U0NADIA", slack.last_view("transfer_dispute"), {"reason": DISPUTE_REASON}).body == ""
    rafe_dm = [m for m in slack.dms("U0RAFE") if "disputed" in m.text][-1]
    assert "Ormskellow" in json.dumps(rafe_dm.blocks)  # a DM may carry it: the channel scan below can fail
    assert slack.click("U0RAFE", rafe_dm, "Escalate").status == 200
    assert slack.submit("U0RAFE", slack.last_view("transfer_escalate"), {"note": ESCALATION_NOTE}).body == ""
    olu_dm = [m for m in slack.dms("U0OLU") if "escalated" in m.text][-1]
    assert slack.click("U0OLU", olu_dm, "Decide (final)").status == 200
    decision = {"outcome": "transfer", "note": DECISION_NOTE}
    assert slack.submit("U0OLU", slack.last_view("transfer_decide"), decision).body == ""
    assert store.request(1).state == "approved"
    assert slack.click("U0NADIA", slack.card(P12_MGR, "Transfer 1 to 12+"), "Accept").status == 200
    assert slack.submit("U0NADIA", slack.last_view("transfer_accept"), {"worker": "femi"}).body == ""
    assert store.request(1).state == "transferred"  # the point of transfer: the case moves today (T7)
    assert slack.click("U0IVY", slack.card(P12_BS, "Audit at transfer 2"), "Claim").status == 200
    assert slack.click("U0IVY", slack.card(P12_BS, "Audit at transfer 2"), "Open audit at transfer").status == 200
    ticks = {"checklist": options_of(slack.last_view("transfer_audit"), "checklist")}
    assert slack.submit("U0IVY", slack.last_view("transfer_audit"), ticks).body == ""
    assert store.request(2).state == "closed"
    assert slack.command("U0FEMI", f"status {child}").status == 200
    assert slack.command("U0BEN", f"history {child}").status == 200
    scan(slack, store, caplog)


# -- the scans themselves can fail ---------------------------------------------------------------------


def test_the_word_match_finds_names_and_ignores_longer_words() -> None:
    assert found({"Eve", "Pat"}, "Event 3 by Sam Patel") == []
    assert found({"Eve", "Pat"}, "closure of Eve (3501779); Pat.") == ["Eve", "Pat"]
    assert found({"14/06/2015"}, "born 14/06/2015") == ["14/06/2015"]


def test_the_log_scan_sees_a_leak(slack: SlackDriver, store: Store, caplog) -> None:  # noqa: F811
    capture_everything(caplog)
    logging.getLogger("worktray.test").debug("row %s", ("3549735", "17 Sedge Close, Fenbridge FB2 2AH"))
    with pytest.raises(AssertionError, match="Sedge Close"):
        scan_logs(store, caplog)
