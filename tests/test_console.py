"""The console adapter: the whole closure journey replayed from a script, on
SQLite and PostgreSQL, through the real Interactions, outbox and deliverer.

The journey script (worktray/demo/journey.txt) is the one the README points a
new user to, so these tests also keep it working.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cards import Button, Card, Fact, Form, FormField, Option, Section
from bot.console import Console, ConsoleSender, form_values, render_text, resolve_date
from store.models import Case, Event, OutboxMessage, Request, WorkStep
from store.uow import UnitOfWork
from workflows.clock import FixedClock
from workflows.org import Organisation
from worktray import demo
from worktray.bootstrap import build
from worktray.console_main import serve_console
from worktray.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
JOURNEY = ROOT / "worktray" / "demo" / "journey.txt"
SERVICE_USER_NAMES = ["Lily", "Noah", "Kai", "Eve", "Pat", "Marsh", "Ellison", "Sutton", "Greene", "Mia", "Leo", "Ava", "Thorne"]
TODAY = dt.date(2026, 11, 26)  # the conftest clock's date in London

REOPENED_AND_REREFERRED = re.compile(r"- Re-referral \d+: Accepted: reopened to the team\n\s+\[\d+\] Request closure  \[\d+\] Request transfer$")


def replay(db_url: str, org: Organisation, clock: FixedClock, lines: list[str]) -> tuple[int, str]:
    """Run console lines on the seeded demo store; return (exit status, transcript)."""
    out = io.StringIO()
    code = serve_console(Settings(database_url=db_url), org, clock=clock, stdin=io.StringIO("\n".join(lines) + "\n"), out=out)
    return code, out.getvalue()


def outputs(transcript: str, echo: str) -> list[str]:
    """The output of each run of an echoed command: from its echo line to the next echo or comment."""
    found = []
    for match in re.finditer(rf"^{re.escape(echo)}\n", transcript, re.MULTILINE):
        rest = transcript[match.end():]
        end = re.search(r"^(\w+> |#)", rest, re.MULTILINE)
        found.append(rest[: end.start()] if end else rest)
    return found


def after(transcript: str, echo: str) -> str:
    """The output of the last run of an echoed command."""
    return outputs(transcript, echo)[-1]


# -- the whole journey -------------------------------------------------------------------


@pytest.fixture
def journey(db_url: str, org: Organisation, clock: FixedClock) -> str:
    out = io.StringIO()
    code = serve_console(Settings(database_url=db_url), org, script=JOURNEY, clock=clock, out=out)
    transcript = out.getvalue()
    assert code == 0, transcript  # every line ran and every `press N Label` matched its label
    return transcript


def test_journey_closes_both_cases_in_the_store(journey: str, uow_factory: partial[UnitOfWork]) -> None:
    with uow_factory() as uow:
        cases = {c.person_id: c for c in uow.session.scalars(select(Case).order_by(Case.id.desc()))}  # the first case of each
        # C6.6 and "applies to": Lily's closure closed her brother's case too, as of today-5.
        for pid in ("3549723", "3549724"):
            assert (cases[pid].closed_on, cases[pid].closure_reason) == (TODAY - dt.timedelta(days=5), "RC8")
        assert (cases["3549728"].closed_on, cases["3549728"].closure_reason) == (TODAY, "RC7")
        assert cases["3501779"].closed_on is None and cases["4100001"].closed_on is None
        requests = uow.session.scalars(select(Request).order_by(Request.id)).all()
        assert [(r.person_id, r.state, r.revision) for r in requests] == [
            ("3549723", "closed", 2), ("3549728", "closed", 1), ("3549723", "accepted", 1),  # C12: the re-referral
        ]
        reopened = uow.session.scalars(select(Case).where(Case.closed_on.is_(None), Case.person_id.in_(["3549723", "3549728"]))).all()
        assert sorted((c.person_id, c.worker, c.opened_on) for c in reopened) == [("3549723", "amy", TODAY), ("3549728", "ben", TODAY)]
        steps = {s.id: s for s in uow.session.scalars(select(WorkStep))}
        assert steps[1].status == "done"
        assert (steps[2].status, steps[2].cancel_reason) == ("cancelled", "Home visit no longer needed: the case is closing.")
        unsent = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))).all()
        assert unsent == []  # the console drained the outbox after every command


def test_journey_writes_the_event_log(journey: str, uow_factory: partial[UnitOfWork]) -> None:
    with uow_factory() as uow:
        events = [(e.actor, e.action, e.request_id, e.person_id, e.source) for e in uow.session.scalars(select(Event).order_by(Event.id))]
    by_request = {rid: [(actor, action) for actor, action, request_id, _, _ in events if request_id == rid] for rid in (1, 2, 3)}
    assert by_request[1] == [
        ("amy", "request"), ("maria", "return"), ("amy", "resubmit"), ("maria", "approve"), ("sam", "claim"), ("sam", "complete"),
    ]  # tess's refused claim wrote nothing
    assert by_request[2] == [
        ("ben", "request"), ("maria", "approve"), ("sam", "claim"), ("sam", "block"), ("maria", "cancel_step"), ("sam", "recheck"),
        ("sam", "complete"), ("maria", "reopen"),  # C11: its own event; the closed request is not changed
    ]
    assert by_request[3] == [("amy", "request"), ("maria", "reopen"), ("maria", "accept")]  # C12
    # Every /case status is a look at a case, in the event log too (workflows.access).
    assert [(actor, action, pid) for actor, action, rid, pid, _ in events if rid is None] == [
        ("amy", "view_case", "3549723"), ("ben", "step_done", "3549728"), ("amy", "view_case", "3549723"), ("ben", "view_case", "3549728"),
        ("amy", "view_case", "3549723"),  # after the re-referral was accepted (C12)
    ]
    assert all(source and source.startswith("console:") for *_, source in events)


def test_journey_transcript_blocked_dms_go_to_the_three_people(journey: str) -> None:
    first, blocked, last = outputs(journey, "sam> press Open closure audit")
    assert ">> form for sam" in first and ">> form for sam" in last
    output = blocked
    assert "[only sam sees] Blocked: work steps are still open" in output
    dms = re.findall(r"^  >> (DM to [^(\n]+)\n    (.+)$", output, re.MULTILINE)  # new DMs; earlier ones are redrawn
    assert "DM to Ben Okafor (message updated)" in output  # the approved DM now shows the request blocked
    assert dms == [
        ("DM to Ben Okafor", "Closure of 3549728 (KE) cannot progress"),
        ("DM to Amy Brooke", "Closure of 3549728 (KE) cannot progress"),
        ("DM to Maria Lopez", "Closure of 3549728 (KE) cannot progress"),
    ]


def test_journey_transcript_refuses_the_second_claim(journey: str) -> None:
    output = after(journey, "tess> press Claim")
    assert re.search(r"button \[\d+\] is on an earlier version of that card", output), output
    assert "[only tess sees] Nothing changed. Request 1 was claimed by Sam Patel" in output
    assert ">>" not in output  # no card changed


def test_journey_transcript_reads_like_a_conversation(journey: str) -> None:
    assert "amy> /case close 3549723" in journey
    assert "maria> submit note=\"Please record the closure visit before closing.\"" in journey  # `as maria ...` echoes as maria
    assert "  >> #u12 managers (new message)" in journey and "  >> #u12 business support (message updated)" in journey
    assert "Closure request 1 · 3549723 (LM) · superseded" in journey  # the old card after the resubmit
    assert "# Sam opens the closure audit (C6)" in journey  # comments are kept in the transcript
    assert "Reopened as a new involvement: 3549728 in Under 12s, allocated to Ben Okafor (C11)." in journey
    assert REOPENED_AND_REREFERRED.search(journey.rstrip()), journey[-600:]  # C12: accepted back to the team
    assert "closed 21/11/2026 (RC8)" in after(journey, "amy> /case status 3549723")


def outside_ephemeral(transcript: str) -> str:
    """The transcript less what only the asker sees (``>> only amy sees`` and the card under it):
    issue 8 lets ephemeral replies show a full name and date of birth to people allowed them."""
    kept: list[str] = []
    skipping = False
    for line in transcript.splitlines():
        if line.startswith("  >> only ") and line.endswith(" sees"):
            skipping = True
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept)


def test_journey_shows_no_service_user_names(journey: str) -> None:
    """Channels and DMs: ID and initials only. /case status answers Amy (Lily's worker) with the name."""
    for name in SERVICE_USER_NAMES:
        assert not re.search(rf"\b{name}\b", outside_ephemeral(journey)), name
    assert "Name: Lily Marsh" in journey


# -- bad input: a clear message and nothing changes -------------------------------------------


def count_rows(uow_factory: partial[UnitOfWork]) -> tuple[int, int, int]:
    with uow_factory() as uow:
        return tuple(len(uow.session.scalars(select(m)).all()) for m in (Request, Event, OutboxMessage))  # type: ignore[return-value]


def test_unknown_commands_get_a_clear_message(db_url: str, org: Organisation, clock: FixedClock, uow_factory: partial[UnitOfWork]) -> None:
    code, out = replay(db_url, org, clock, ["frobnicate 3549723", "/cases close 3549723", "press", "as"])
    assert "Unknown command 'frobnicate'. Type help for the commands." in out
    assert "Unknown command /cases. The slash commands are /case, /worktray" in out
    assert "Say which button: press <N>" in out
    assert "Say who: as <person>" in out
    assert "4 line(s) could not be run." in out
    assert code == 1  # a replayed script with broken lines fails
    assert count_rows(uow_factory) == (0, 0, 0)


def test_help_with_more_words_is_refused_like_case_help(db_url: str, org: Organisation, clock: FixedClock) -> None:
    """`help extra`, like `/case help extra`, is a line that could not be run: the usage, not the help."""
    code, out = replay(db_url, org, clock, ["/case help extra", "help extra", "help"])
    assert after(out, "amy> /case help extra") == "  [only amy sees] Too many words after /case help. Usage: `/case help`.\n"
    assert after(out, "amy> help extra") == (
        "  Too many words after help. Usage: `help` (the console's commands); `/case help` explains the /case commands.\n"
    )
    assert after(out, "amy> help").startswith("  Commands (typed as the current person;")
    assert "1 line(s) could not be run." in out  # the console's own line; /case's refusal comes from the core
    assert code == 1



@pytest.mark.parametrize("command", ["who", "channels", "form", "cancel", "dms", "help", "quit", "exit"])
def test_a_command_that_takes_nothing_more_refuses_more_words(command: str, db_url: str, org: Organisation, clock: FixedClock) -> None:
    """`who extra` (and form, cancel, channels, quit...) is refused with the usage, as `help extra`
    and `/case help extra` are: a line that could not be run, and nothing else done (quit does not quit)."""
    code, out = replay(db_url, org, clock, ["/case close 3549723", f"{command} extra words", "who"])
    refused = after(out, f"amy> {command} extra words")
    assert refused.startswith(f"  Too many words after {command}. Usage: `{command}`")
    assert refused.count("\n") == 1  # the usage only: no people, channels or form shown, the form not closed
    assert "Closed the form" not in out  # `cancel extra words` left the form open
    assert "amy      Amy Brooke" in after(out, "amy> who")  # still running after `quit extra words`
    assert "1 line(s) could not be run." in out
    assert code == 1


def test_unknown_person_gets_a_clear_message(db_url: str, org: Organisation, clock: FixedClock, uow_factory: partial[UnitOfWork]) -> None:
    code, out = replay(db_url, org, clock, ["as nobody /case close 3549723", "who"])
    assert "amy> as nobody /case close 3549723\n  There is no person 'nobody' in the organisation config. People: amy, ben, maria" in out
    assert ">> form" not in out
    assert "amy      Amy Brooke       worker in u12   <- you" in out
    assert code == 1
    assert count_rows(uow_factory) == (0, 0, 0)


def test_press_999_gets_a_clear_message(db_url: str, org: Organisation, clock: FixedClock, uow_factory: partial[UnitOfWork]) -> None:
    code, out = replay(db_url, org, clock, ["press 999", "/case status 3549723", "press 1 Approve", "press 999"])
    assert "There is no button [999]: no buttons have been shown yet." in out
    assert "Button [1] is \"Request closure\", not \"Approve\"; nothing was sent." in out
    assert "There is no button [999]: buttons so far are [1] to [2]." in out
    assert ">> form" not in out
    assert code == 1
    assert count_rows(uow_factory) == (0, 1, 0)  # only the look at the case (an event); no press was sent


def test_press_by_label_finds_the_button_the_person_can_see(
    db_url: str, org: Organisation, clock: FixedClock, uow_factory: partial[UnitOfWork]
) -> None:
    lines = [
        "/case close 3549723", 'submit reason=RC8 closure_date=today summary="Done"',
        "as ben /case close 3549728", 'as ben submit reason=RC7 closure_date=today summary="Done"',
        "as maria press Approve", "as maria press Resubmit", "as ben press 1 Request closure",
    ]
    code, out = replay(db_url, org, clock, lines)
    assert ('Several "Approve" buttons: [1] on "Closure request 1 · 3549723 (LM)" (#u12 managers), '
            '[8] on "For you to audit: Closure request 2 · 3549728 (KE)" (DM to Maria Lopez)' in out)  # C2: ben's supervisor
    assert 'No "Resubmit" button has been shown to maria.' in out
    assert 'There is no button [1]' not in out and 'Button [1] is "Approve", not "Request closure"; nothing was sent.' in out
    assert code == 1
    with uow_factory() as uow:
        assert [r.state for r in uow.session.scalars(select(Request))] == ["requested", "requested"]  # nothing approved


def test_a_dm_button_is_found_only_by_its_recipient(db_url: str, org: Organisation, clock: FixedClock) -> None:
    lines = [
        "/case close 3549723", 'submit reason=RC8 closure_date=today summary="Done"',
        "as maria press Return", 'as maria submit note="Add the letter."', "as ben press Resubmit", "press Resubmit",
    ]
    code, out = replay(db_url, org, clock, lines)
    assert 'No "Resubmit" button has been shown to ben.' in out
    assert "  >> form for amy\n    Resubmit closure" in after(out, "amy> press Resubmit")
    assert code == 1


def test_core_field_error_keeps_the_form_open_and_writes_nothing(
    db_url: str, org: Organisation, clock: FixedClock, uow_factory: partial[UnitOfWork]
) -> None:
    lines = ["/case close 3549723", 'submit reason=RC8 closure_date=today+31 summary="All goals met"']
    code, out = replay(db_url, org, clock, lines)
    assert "! closure_date: The closure date cannot be more than 30 days ahead." in out
    assert "The form stays open" in out
    assert code == 0  # a refused value is part of a conversation, not a broken script
    assert count_rows(uow_factory) == (0, 0, 0)
    # The form is still open with what was typed: only the date needs correcting.
    code, out = replay(db_url, org, clock, [*lines, "submit closure_date=today+30"])
    assert "[only amy sees] Closure request 1 for 3549723 sent to the manager." in out
    with uow_factory() as uow:
        request = uow.session.scalars(select(Request)).one()
        assert (request.details["reason"], request.details["summary"]) == ("RC8", "All goals met")
        assert request.details["closure_date"] == (TODAY + dt.timedelta(days=30)).isoformat()


def test_console_field_errors_are_shown_before_anything_is_sent(
    db_url: str, org: Organisation, clock: FixedClock, uow_factory: partial[UnitOfWork]
) -> None:
    lines = ["/case close 3549723", "submit reason=RC99 closure_date=yesterday done=visit_done,dancing", "submit nonsense=1", "submit summary=\"open quote"]
    code, out = replay(db_url, org, clock, lines)
    assert "! reason: Choose one of: RC1, RC2" in out
    assert "! closure_date: Give a date as DD/MM/YYYY (20/11/2026), YYYY-MM-DD (2026-11-20), or today, today-5, today+3." in out
    assert "! done: Not an option: dancing." in out
    assert "! summary: This field is required." in out  # required and empty: refused as Slack's modal would
    assert "This form has no field nonsense. Its fields: reason, closure_date, summary, done, applies_to." in out
    assert "Cannot read that: No closing quotation" in out
    assert code == 1
    assert count_rows(uow_factory) == (0, 0, 0)


def test_submit_without_a_form_and_cancel(db_url: str, org: Organisation, clock: FixedClock) -> None:
    code, out = replay(db_url, org, clock, ["as maria /case close 3549723", "submit reason=RC8", "as maria cancel", "as maria form"])
    assert "[only maria sees]" not in out  # a manager may open the form
    assert "amy has no form open: /case close <id> or a button opens one. maria has \"Request closure\" open (as maria submit ...)." in out
    assert "Closed the form \"Request closure\" without sending it." in out
    assert "maria has no form open" in out
    assert code == 1


def test_as_switches_the_person_and_one_off_as_does_not(db_url: str, org: Organisation, clock: FixedClock) -> None:
    _, out = replay(db_url, org, clock, ["as sam", "/case status 3549728", "as ben /case status 3549728", "/case status 3549728"])
    assert "You are now sam (Sam Patel: business support in u12, business support in adults-south)." in out
    assert [line for line in out.splitlines() if "/case status" in line] == [
        "sam> /case status 3549728", "ben> /case status 3549728", "sam> /case status 3549728",
    ]


def test_a_refused_action_is_shown_only_to_the_actor(db_url: str, org: Organisation, clock: FixedClock) -> None:
    _, out = replay(db_url, org, clock, ["as tess /case close 3549723"])
    assert "[only tess sees] You cannot request closure of 3549723: you are not a worker or manager in Under 12s." in out


def test_missing_script_file(db_url: str, org: Organisation, clock: FixedClock, tmp_path: Path) -> None:
    out = io.StringIO()
    assert serve_console(Settings(database_url=db_url), org, script=tmp_path / "nope.txt", clock=clock, out=out) == 2
    assert "there is no script file" in out.getvalue()


def test_interactive_submit_asks_field_by_field(db_url: str, org: Organisation, clock: FixedClock, uow_factory: partial[UnitOfWork]) -> None:
    with uow_factory() as uow:
        demo.seed(uow)
    out = io.StringIO()
    app = build(db_url, org, ConsoleSender(org, out), clock)
    answers = iter(["RC7", "today-1", "Needs met", "visit_done", ""])
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    console = Console(app, out, echo=False, ask=ask)
    assert console.run(["/case close 3549723", "submit"]) == 0
    assert asked[1] == "  closure_date [2026-11-26]: "
    assert "Closure request 1 for 3549723 sent to the manager." in out.getvalue()


# -- rendering ---------------------------------------------------------------------------------


def test_render_text_is_the_picture_of_a_card() -> None:
    card = Card(
        title="Closure request 7 · 3549723 (LM)",
        facts=[Fact("Person", "3549723 (LM)"), Fact("State", "Claimed")],
        sections=[Section("Open work steps", ["#1 CS Case Supervision · Ben Okafor"]), Section("Empty", [])],
        buttons=[Button("Approve", "approve", "7", "primary"), Button("Return", "return", "7")],
        footer="Request 7 was requested by Amy Brooke.",
    )
    assert render_text(card, [4, 5]) == (
        "Closure request 7 · 3549723 (LM)\n"
        "  Person: 3549723 (LM)\n"
        "  State: Claimed\n"
        "  Open work steps:\n"
        "    - #1 CS Case Supervision · Ben Okafor\n"
        "  Empty:\n"
        "    -\n"
        "  [4] Approve  [5] Return\n"
        "  (Request 7 was requested by Amy Brooke.)"
    )
    assert "[1] Approve  [2] Return" in render_text(card)


def test_typed_text_cannot_forge_lines_or_terminal_escapes() -> None:
    note = "fine\n  >> #u12 managers (new message)\x1b[31m red\x07"
    text = render_text(Card(title="t", sections=[Section("Manager's note", [note])]))
    assert "\x1b" not in text and "\x07" not in text
    assert all(line.startswith("  ") for line in text.splitlines()[1:])
    assert "    >> #u12 managers" in text  # indented under the note, not a message of its own


def test_resolve_date() -> None:
    assert resolve_date("today", TODAY) == "2026-11-26"
    assert resolve_date("Today-5", TODAY) == "2026-11-21"
    assert resolve_date("today+30", TODAY) == "2026-12-26"
    assert resolve_date("2026-11-20", TODAY) == "2026-11-20"
    assert resolve_date("20/11/2026", TODAY) == "2026-11-20"  # as dates are written in the UK
    assert resolve_date(" 5/1/2027 ", TODAY) == "2027-01-05"
    for bad in ("tomorrow", "20-11-2026", "2026/11/20", "20/11/26", "today-", ""):
        with pytest.raises(ValueError, match=r"^Give a date as DD/MM/YYYY \(20/11/2026\), YYYY-MM-DD"):
            resolve_date(bad, TODAY)
    for impossible in ("31/02/2026", "11/20/2026", "2026-02-30"):  # 11/20/2026: month 20, a US-style date
        with pytest.raises(ValueError, match=rf"^{impossible} is not a day in the calendar \(dates are day/month/year"):
            resolve_date(impossible, TODAY)


def test_a_closure_form_takes_a_uk_date(db_url: str, org: Organisation, clock: FixedClock, uow_factory: partial[UnitOfWork]) -> None:
    code, out = replay(db_url, org, clock, ["/case close 3549723", 'submit reason=RC8 closure_date=20/11/2026 summary="All goals met"'])
    assert code == 0 and "Closure request 1 for 3549723 sent to the manager." in out
    with uow_factory() as uow:
        assert uow.session.scalars(select(Request)).one().details["closure_date"] == "2026-11-20"


def test_form_values_keep_defaults_and_tick_all() -> None:
    form = Form("audit", "Closure audit", "Close case", "1", [
        FormField("checklist", "Closure audit", "checkboxes", [Option("a", "A"), Option("b c", "B C")]),
        FormField("end_reason_1", "End reason", "text", initial="Case closed"),
        FormField("note", "Note", "textarea", optional=True),
    ])
    values, errors = form_values(form, {"checklist": "all"}, TODAY)
    assert errors == {}
    assert values == {"checklist": ["a", "b c"], "end_reason_1": "Case closed", "note": None}


# -- the real CLI --------------------------------------------------------------------------------


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WORKTRAY_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(tmp_path: Path, args: list[str], stdin: Callable[[], object] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m worktray.cli ...` in an empty directory: no worktray.yml, no .env, no Slack tokens."""
    return subprocess.run(
        [sys.executable, "-m", "worktray.cli", *args],
        cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True, encoding="utf-8", timeout=120,
        stdin=stdin() if stdin else subprocess.DEVNULL,  # type: ignore[arg-type]
    )


def test_cli_run_replays_the_journey_script(tmp_path: Path) -> None:
    result = run_cli(tmp_path, ["run", "--script", str(JOURNEY)])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.startswith("worktray console · Fenshire County Council (fictitious)")
    tail = result.stdout.rstrip().splitlines()[-5:]
    assert re.match(r"^        - CIN · Amy Brooke · opened \d\d/\d\d/\d{4} · open$", tail[0]), tail
    assert REOPENED_AND_REREFERRED.search("\n".join(tail)), tail


def test_cli_run_reads_a_script_from_stdin(tmp_path: Path) -> None:
    with JOURNEY.open(encoding="utf-8") as script:
        result = run_cli(tmp_path, ["run"], stdin=lambda: script)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "sam> press Open closure audit" in result.stdout
    assert REOPENED_AND_REREFERRED.search(result.stdout.rstrip())


def test_show_brings_back_a_requests_cards_after_a_restart(db_url: str, org: Organisation, clock: FixedClock) -> None:
    first = ["/case close 3549723", 'submit reason=RC8 closure_date=today summary="Done"', "as maria press 1 Approve", "as maria submit"]
    replay(db_url, org, clock, first)
    code, out = replay(db_url, org, clock, ["show 1", "as sam press 3 Claim", "as tess press Claim", "show 42", "show x"])
    assert "  >> #u12 managers (as it is now)" in out and "  >> #u12 business support (as it is now)" in out
    assert "[only sam sees] You hold closure request 1." in out
    # The re-shown card is tied to the real message: its update makes the old Claim stale.
    assert "button [3] is on an earlier version of that card" in after(out, "tess> press Claim")
    assert "There is no request 42." in out and "Say which request: show <request-id>" in out
    assert code == 1


def test_the_console_adapter_does_not_wire_itself() -> None:
    """Layering: worktray/ wires the adapters (worktray.console_main); bot/console.py imports nothing from worktray."""
    import ast

    tree = ast.parse((ROOT / "bot" / "console.py").read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert imported and not [m for m in imported if m == "worktray" or m.startswith("worktray.")]


def readme_walkthrough() -> list[tuple[str, str]]:
    """(command, comment) for each line of the README's console walk-through."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Try a closure in the console", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip() and line.strip() != "..."]
    return [(command.strip(), comment.strip()) for command, _, comment in (line.partition("  #") for line in lines)]


def test_the_readme_walkthrough_is_true(db_url: str, org: Organisation, clock: FixedClock) -> None:
    """What the README tells a new user happens, happens: every line runs, and `(or: press N)`
    names the button the line presses by label, on a fresh console."""
    steps = readme_walkthrough()
    assert len(steps) >= 5
    code, out = replay(db_url, org, clock, [command for command, _ in steps])
    assert code == 0, out
    numbered = [(command, re.search(r"\bpress (\d+)\b", comment)) for command, comment in steps]
    assert any(match for _, match in numbered)
    for command, match in numbered:
        if match:
            person, _, label = command.removeprefix("as ").partition(" press ")
            assert f"({person} presses [{match.group(1)}] \"{label}\"" in out, (command, match.group(0))
    told = after(out, "sam> press Open closure audit")
    assert all(f"  >> DM to {name}" in told for name in ("Ben Okafor", "Amy Brooke", "Maria Lopez"))  # "Ben, Amy and Maria are told"
