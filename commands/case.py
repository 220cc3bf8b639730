"""``/case``: parse the text and say what was asked. Thin on purpose.

/case close <person-id>    open the closure form (C2)
/case status <person-id>   the case and its requests, shown to you only
/case reopen <person-id>   reopen a finished closure as a new involvement (C11)
/case rereferral <person-id> <reason>   a contact within 3 months of closure (C12)
/case transfer <person-id> open the transfer form (T1, T4)
/case history <person-id> [page]   the case's event log, newest first, a page at a time
/case help                 what each command does

This module knows no chat platform and no cards: it turns the typed text into
a ``CaseCommand`` (or a ``CommandError`` carrying the usage), and the adapter
(``bot.actions``) decides how to show the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflows.errors import WorkflowError

USAGE = (
    "Usage: `/case close <person-id>`, `/case status <person-id>`, `/case history <person-id> [page]`, `/case reopen <person-id>`, "
    "`/case rereferral <person-id> <reason>`, `/case transfer <person-id>` or `/case help` "
    "(the person ID is digits, e.g. 3549723; the reason an S2 code, e.g. N1)."
)
HELP = "\n".join(
    [
        "/case close <person-id>: ask for the case to be closed (C2)",
        "/case status <person-id>: the case and its requests, shown to you only",
        "/case history <person-id> [page]: who did what on the case, newest first, a page at a time",
        "/case reopen <person-id>: reopen a finished closure as a new involvement (managers, practice supervisors, C11)",
        "/case rereferral <person-id> <N-code>: a contact within 3 months of closure goes back to the previous team (C12)",
        "/case transfer <person-id>: ask for the case to move to another team (T1, T4)",
        "/case help: this list",
        "/worktray [team]: what is waiting for you (your work tray, as on the Home tab), in all your teams or one",
        "/radar [team]: the two-week radar of transfers coming to a team (T2)",
        "/audits [team]: due and overdue three-month audits of a team (C13)",
        "/worktray deputy @person until <date>: who acts for you while you are away (/worktray deputy: who; /worktray deputy end: stop now)",
        "Every reply is shown to you only.",
    ]
)
_ID = " (the person ID is digits, e.g. 3549723)"
VERB_USAGE = {
    "close": f"Usage: `/case close <person-id>`{_ID}.",
    "status": f"Usage: `/case status <person-id>`{_ID}.",
    "history": f"Usage: `/case history <person-id> [page]`{_ID}; the page a number from 1.",
    "reopen": f"Usage: `/case reopen <person-id>`{_ID}.",
    "rereferral": f"Usage: `/case rereferral <person-id> <reason>`{_ID}; the reason an S2 code, e.g. N1.",
    "transfer": f"Usage: `/case transfer <person-id>`{_ID}.",
    "help": "Usage: `/case help`.",
}
PERSON_ID = re.compile(r"^\d{1,12}$")
PAGE = re.compile(r"^[0-9]{1,4}$")  # ASCII digits only (int() would read other scripts' digits)
VERBS = ("close", "status", "reopen", "rereferral", "transfer", "history", "help")
WITH_REASON = ("rereferral",)  # verbs that take a reason after the person ID


@dataclass(frozen=True)
class CaseCommand:
    verb: str  # one of VERBS
    person_id: str
    reason: str | None = None  # rereferral: what the contact is about (one word: an S2 code)
    page: int = 1  # history: which page, 1 the newest


class CommandError(WorkflowError):
    """The text is not a /case command we know; the message carries the usage."""


def usage_for(text: str) -> str:
    """The usage to show with a refusal of ``text``: its verb's own line, or every verb's when
    the verb is not one we know (issue 8: a refusal says why, then how to use the command)."""
    words = text.split()
    return VERB_USAGE.get(words[0].lower(), USAGE) if words else USAGE


def parse(text: str) -> CaseCommand:
    words = text.split()
    verb = words[0].lower() if words else ""
    if verb == "help":  # nothing after it, as after every verb's last word: HELP already has each command's line
        if len(words) > 1:
            raise CommandError(f"Too many words after /case help. {VERB_USAGE['help']}")
        return CaseCommand("help", "")
    if verb == "history":
        return _history(words)
    wanted = 3 if verb in WITH_REASON else 2
    if verb not in VERBS:
        said = f"There is no /case {words[0][:20]!r}." if words else "Say what to do."
        raise CommandError(f"{said} {USAGE}")
    if len(words) != wanted:
        missing = ("the person ID", "the reason")[len(words) - 1] if len(words) < wanted else None
        said = f"Missing {missing}." if missing else f"Too many words after /case {verb}."
        raise CommandError(f"{said} {VERB_USAGE[verb]}")
    if not PERSON_ID.match(words[1]):
        raise CommandError(f"'{words[1][:20]}' is not a person ID. {VERB_USAGE[verb]}")
    if verb in WITH_REASON:
        return CaseCommand(verb, words[1], words[2])
    return CaseCommand(verb, words[1])


def _history(words: list[str]) -> CaseCommand:
    """``history <person-id> [page]``: the page is a whole number from 1."""
    usage = VERB_USAGE["history"]
    if len(words) not in (2, 3):
        raise CommandError(f"{'Missing the person ID' if len(words) < 2 else 'Too many words after /case history'}. {usage}")
    if not PERSON_ID.match(words[1]):
        raise CommandError(f"'{words[1][:20]}' is not a person ID. {usage}")
    page = words[2] if len(words) == 3 else "1"
    if not PAGE.match(page) or int(page) < 1:
        raise CommandError(f"'{page[:20]}' is not a page number (1, 2, ...). {usage}")
    return CaseCommand("history", words[1], page=int(page))
