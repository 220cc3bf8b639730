"""``/case``: parse the text and say what was asked. Thin on purpose.

/case close <person-id>    open the closure form (C2)
/case status <person-id>   the case and its requests, shown to you only
/case reopen <person-id>   reopen a finished closure as a new involvement (C11)
/case rereferral <person-id> <reason>   a contact within 3 months of closure (C12)
/case transfer <person-id> open the transfer form (T1, T4)

This module knows no chat platform and no cards: it turns the typed text into
a ``CaseCommand`` (or a ``CommandError`` carrying the usage), and the adapter
(``bot.actions``) decides how to show the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflows.errors import WorkflowError

USAGE = (
    "Usage: `/case close <person-id>`, `/case status <person-id>`, `/case reopen <person-id>`, "
    "`/case rereferral <person-id> <reason>` or `/case transfer <person-id>` (the person ID is digits, e.g. 3549723; the reason an S2 code, e.g. N1)."
)
PERSON_ID = re.compile(r"^\d{1,12}$")
VERBS = ("close", "status", "reopen", "rereferral", "transfer")
WITH_REASON = ("rereferral",)  # verbs that take a reason after the person ID


@dataclass(frozen=True)
class CaseCommand:
    verb: str  # one of VERBS
    person_id: str
    reason: str | None = None  # rereferral: what the contact is about (one word: an S2 code)


class CommandError(WorkflowError):
    """The text is not a /case command we know; the message carries the usage."""


def parse(text: str) -> CaseCommand:
    words = text.split()
    verb = words[0].lower() if words else ""
    wanted = 3 if verb in WITH_REASON else 2
    if verb not in VERBS or len(words) != wanted:
        raise CommandError(USAGE)
    if not PERSON_ID.match(words[1]):
        raise CommandError(f"'{words[1][:20]}' is not a person ID. {USAGE}")
    if verb in WITH_REASON:
        return CaseCommand(verb, words[1], words[2])
    return CaseCommand(verb, words[1])
