"""``/case``: parse the text and say what was asked. Thin on purpose.

/case close <person-id>    open the closure form (C2)
/case status <person-id>   the case and its requests, shown to you only

This module knows no chat platform and no cards: it turns the typed text into
a ``CaseCommand`` (or a ``CommandError`` carrying the usage), and the adapter
(``bot.actions``) decides how to show the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflows.errors import WorkflowError

USAGE = "Usage: `/case close <person-id>` or `/case status <person-id>` (the person ID is digits, e.g. 3549723)."
PERSON_ID = re.compile(r"^\d{1,12}$")
VERBS = ("close", "status")


@dataclass(frozen=True)
class CaseCommand:
    verb: str  # one of VERBS
    person_id: str


class CommandError(WorkflowError):
    """The text is not a /case command we know; the message carries the usage."""


def parse(text: str) -> CaseCommand:
    words = text.split()
    if len(words) != 2 or words[0].lower() not in VERBS:
        raise CommandError(USAGE)
    if not PERSON_ID.match(words[1]):
        raise CommandError(f"'{words[1][:20]}' is not a person ID. {USAGE}")
    return CaseCommand(words[0].lower(), words[1])
