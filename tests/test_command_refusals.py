"""Every slash command refuses bad input the same way (issue 8, "Slash commands").

"Unknown IDs, wrong arguments or a team the user may not see get a one-line reason and the
usage, never a stack trace." One table walks each command (``/case status|history|close|
transfer|rereferral|reopen|help``, ``/worktray``, ``/worktray deputy``, ``/radar``,
``/audits``) times each kind of bad input, through the Interactions layer (what Slack and the
console call) and through the console itself, on SQLite and PostgreSQL.

Each refusal is one line, holds the command's usage, shows no card, form or traceback, and
changes nothing in the store. The one write allowed is the refused look of ``/case status``
and ``/case history``: a look at a record is an event whether or not it was allowed
(``workflows.access``), so someone trying records they have no part in shows in the log.

The asker is Maria Lopez, manager of Under 12s; 4100001 is a case of Adults South, a team she
has no role in; 9999999 is nobody.
"""

from __future__ import annotations

import html
import io
from functools import partial
from urllib.parse import urlencode

import pytest
from conftest import fingerprint
from test_slack_http import SlackDriver, slack, slack_api  # noqa: F401 (fixtures)

from bot.actions import Interactions, Reply
from bot.console import Console, ConsoleSender
from commands import audits as audits_command
from commands import case as case_command
from commands import deputy as deputy_command
from commands import radar as radar_command
from commands import worktray as worktray_command
from store.uow import UnitOfWork
from workflows.requests import Context
from worktray.bootstrap import build

UNKNOWN, WRONG, NOT_VISIBLE = "unknown id", "wrong arguments", "team not visible"
OTHER_TEAMS = "4100001"  # Adults South's (Dan Reid's), fictitious
NOBODY = "9999999"
LOOKS = {"status": "view_case_refused", "history": "view_history_refused"}  # the refused looks kept in the log

# (slash command, its text, the kind of bad input, the usage the reply must hold)
CASES: list[tuple[str, str, str, str]] = []
for verb in ("status", "history", "close", "transfer", "reopen"):
    usage = case_command.VERB_USAGE[verb]
    CASES += [
        ("/case", f"{verb} {NOBODY}", UNKNOWN, usage),
        ("/case", verb, WRONG, usage),
        ("/case", f"{verb} Lily", WRONG, usage),
        ("/case", f"{verb} {OTHER_TEAMS}", NOT_VISIBLE, usage),
    ]
CASES += [
    ("/case", "history 3549723 99", WRONG, case_command.VERB_USAGE["history"]),  # past the last page
    ("/case", "history 3549723 0", WRONG, case_command.VERB_USAGE["history"]),
    ("/case", f"rereferral {NOBODY} N1", UNKNOWN, case_command.VERB_USAGE["rereferral"]),
    ("/case", "rereferral 3549723", WRONG, case_command.VERB_USAGE["rereferral"]),
    ("/case", "rereferral 3549723 ZZ", WRONG, case_command.VERB_USAGE["rereferral"]),  # not an S2 code
    # No "team not visible" for rereferral: whoever takes a contact records it, whatever their team (C12);
    # a person with an open case elsewhere is an answer ("the contact goes to that team"), not a refusal.
    ("/case", "", WRONG, case_command.USAGE),  # no verb: every verb's usage, /case help among them
    ("/case", "hepl", WRONG, case_command.USAGE),
    ("/case", "helpme 3549723", WRONG, case_command.USAGE),
    ("/case", "help close", WRONG, case_command.VERB_USAGE["help"]),  # extra words, refused as after any verb
    ("/case", "help me please", WRONG, case_command.VERB_USAGE["help"]),
]
for slash, usage in (("/worktray", worktray_command.USAGE), ("/radar", radar_command.USAGE), ("/audits", audits_command.USAGE)):
    CASES += [
        (slash, "nosuch", UNKNOWN, usage),
        (slash, "u12 extra", WRONG, usage),
        (slash, "no/such", WRONG, usage),
        (slash, "adults-south", NOT_VISIBLE, usage),
    ]
CASES += [
    ("/worktray", "deputy @nobody until 2026-12-20", UNKNOWN, deputy_command.USAGE),
    ("/worktray", "deputy @ben", WRONG, deputy_command.USAGE),
    ("/worktray", "deputy @ben until 31 Feb", WRONG, deputy_command.USAGE),
    ("/worktray", "deputy @ben until 2020-01-01", WRONG, deputy_command.USAGE),  # a past period (issue 8)
    ("/worktray", "deputy @dan until 2026-12-20", NOT_VISIBLE, deputy_command.USAGE),  # no role in Maria's team
]

METHODS = {"/case": "command", "/worktray": "worktray", "/radar": "radar", "/audits": "audits"}


def _ask(interactions: Interactions, slash: str, text: str, chat_user_id: str = "U0MARIA") -> Reply:
    return getattr(interactions, METHODS[slash])(chat_user_id, text)  # type: ignore[no-any-return]


def assert_refused(said: str, usage: str) -> None:
    assert "\n" not in said, said  # one line
    assert usage in said, said  # ... holding the usage
    assert len(said) > len(usage), said  # ... and a reason (or the usage is the reason: nothing to say but how)
    for leak in ("Traceback", "Error:", 'File "', "sqlalchemy", "psycopg"):
        assert leak not in said, said


def _only_the_refused_look(before: dict[str, list[tuple[object, ...]]], after: dict[str, list[tuple[object, ...]]], text: str) -> None:
    """Nothing written, but the refused look of /case status|history (one event)."""
    changed = {table for table in before if before[table] != after[table]}
    verb = (text.split() or [""])[0]
    if changed and verb in LOOKS:
        new = [row for row in after["events"] if row not in before["events"]]
        assert changed == {"events"} and len(new) == 1 and LOOKS[verb] in new[0], new
        return
    assert changed == set(), changed


@pytest.mark.parametrize(("slash", "text", "kind", "usage"), CASES, ids=[f"{s} {t or '(empty)'} [{k}]" for s, t, k, _ in CASES])
def test_each_command_refuses_bad_input_in_one_line_with_its_usage(
    seeded: partial[UnitOfWork], ctx: Context, slash: str, text: str, kind: str, usage: str
) -> None:
    interactions = Interactions(seeded, ctx)
    before = fingerprint(seeded)
    reply = _ask(interactions, slash, text)
    assert reply.text is not None and reply.card is None and reply.cards == [] and reply.form is None, reply
    assert_refused(reply.text, usage)
    _only_the_refused_look(before, fingerprint(seeded), text)


@pytest.mark.parametrize("verb", ["status", "history", "close", "transfer", "reopen"])
def test_an_unknown_id_and_another_teams_case_get_the_same_words(seeded: partial[UnitOfWork], ctx: Context, verb: str) -> None:
    """Data minimisation: the refusal never tells an outsider whether a person is known, or which team holds them."""
    interactions = Interactions(seeded, ctx)
    unknown = _ask(interactions, "/case", f"{verb} {NOBODY}").text or ""
    elsewhere = _ask(interactions, "/case", f"{verb} {OTHER_TEAMS}").text or ""
    assert unknown.replace(NOBODY, "ID") == elsewhere.replace(OTHER_TEAMS, "ID")
    assert "Adults South" not in elsewhere


def test_a_rereferral_names_the_team_holding_the_case_only_to_its_members(seeded: partial[UnitOfWork], ctx: Context) -> None:
    """C12: a person with an open case is not a re-referral; the answer names the team only to someone in it."""
    interactions = Interactions(seeded, ctx)
    outsider = _ask(interactions, "/case", f"rereferral {OTHER_TEAMS} N1").text or ""
    member = _ask(interactions, "/case", f"rereferral {OTHER_TEAMS} N1", chat_user_id="U0RUTH").text or ""
    assert outsider.startswith(f"{OTHER_TEAMS} has an open case:") and "Adults South" not in outsider
    assert member.startswith(f"{OTHER_TEAMS} has an open case in Adults South:")


@pytest.mark.parametrize("slash", sorted(METHODS))
def test_someone_not_in_the_organisation_is_told_so_with_the_usage(seeded: partial[UnitOfWork], ctx: Context, slash: str) -> None:
    before = fingerprint(seeded)
    said = _ask(Interactions(seeded, ctx), slash, "", chat_user_id="U0NOBODY").text or ""
    assert "not in worktray's organisation config" in said
    assert_refused(said, {"/case": case_command.USAGE, "/worktray": worktray_command.USAGE, "/radar": radar_command.USAGE, "/audits": audits_command.USAGE}[slash])
    assert fingerprint(seeded) == before


def test_the_console_refuses_the_same_way(seeded: partial[UnitOfWork], db_url: str, ctx: Context) -> None:
    """The console adapter accepts the same commands (issue 8) and shows the same one line."""
    out = io.StringIO()
    app = build(db_url, ctx.org, ConsoleSender(ctx.org, out), ctx.clock, migrate=False)
    before = fingerprint(seeded)
    console = Console(app, out, echo=True)
    console.run(["as maria"])
    for slash, text, _kind, usage in CASES:
        start = len(out.getvalue())
        console.run([f"{slash} {text}".strip()])
        shown = out.getvalue()[start:].splitlines()
        assert shown[0] == f"maria> {slash} {text}".strip(), shown
        [said] = shown[1:]  # one line after the echo
        assert said.startswith("  [only maria sees] "), said
        assert_refused(said, usage)
    after = fingerprint(seeded)
    new = [row for row in after["events"] if row not in before["events"]]
    looks = [t for s, t, _k, _u in CASES if s == "/case" and t.split()[:1] in ([v] for v in LOOKS) and t.split()[1:] in ([NOBODY], [OTHER_TEAMS])]
    assert len(new) == len(looks) and all(any(a in row for a in LOOKS.values()) for row in new)
    assert {t: b for t, b in before.items() if t != "events"} == {t: a for t, a in after.items() if t != "events"}


# -- over signed HTTP: every slash command answers ephemerally, refusals as one line ----------------

HTTP_CASES = [
    ("/case", "status 3549723", None),
    ("/case", "history 3549723", None),
    ("/case", "help", None),
    ("/case", f"status {OTHER_TEAMS}", case_command.VERB_USAGE["status"]),
    ("/case", f"close {NOBODY}", case_command.VERB_USAGE["close"]),
    ("/case", "transfer", case_command.VERB_USAGE["transfer"]),
    ("/case", "rereferral 3549723 ZZ", case_command.VERB_USAGE["rereferral"]),
    ("/case", f"reopen {NOBODY}", case_command.VERB_USAGE["reopen"]),
    ("/worktray", "", None),
    ("/worktray", "adults-south", worktray_command.USAGE),
    ("/worktray", "deputy", None),
    ("/worktray", "deputy @ben", deputy_command.USAGE),
    ("/radar", "u12", None),
    ("/radar", "nosuch", radar_command.USAGE),
    ("/audits", "u12", None),
    ("/audits", "adults-south", audits_command.USAGE),
]


def test_every_command_answers_ephemerally_over_signed_http(slack: SlackDriver) -> None:  # noqa: F811
    """Issue 8, "All replies are ephemeral": nothing a command says is posted where others see it.
    (The forms of close, transfer and reopen open as modals, also seen by the asker only.)"""
    posted_before = len(slack.api.calls_to("chat.postMessage"))
    for slash, text, usage in HTTP_CASES:
        body = urlencode({
            "token": "legacy-verification-token", "team_id": "T0FEN", "team_domain": "fenshire",
            "channel_id": "C0GENERAL", "channel_name": "general", "user_id": "U0MARIA", "user_name": "maria",
            "command": slash, "text": text, "api_app_id": "A0WORKTRAY", "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T0FEN/1/x", "trigger_id": slack.trigger(),
        })
        response = slack.post(body, "application/x-www-form-urlencoded")
        assert response.status == 200, (slash, text, response.body)
        answer = response.json()
        assert answer["response_type"] == "ephemeral", (slash, text, answer)
        if usage is not None:  # a refusal: one line, the reason then the usage (as Slack escapes it)
            said = html.unescape(str(answer["text"])).replace("\u200d", "")
            assert_refused(said, usage)
            assert "blocks" not in answer
    assert len(slack.api.calls_to("chat.postMessage")) == posted_before  # nothing in any channel
