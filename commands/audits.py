"""``/audits [team]``: parse the text and say what was asked (C13). Thin on purpose.

/audits            due and overdue three-month audits of your team (if you have one team)
/audits <team>     those of a team you have a role in, e.g. /audits u12

Like ``commands.radar``, it knows no chat platform and no cards.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.case import CommandError
from commands.radar import TEAM_KEY

USAGE = "Usage: `/audits` (your team) or `/audits <team>` (a team key, e.g. u12)."


@dataclass(frozen=True)
class AuditsCommand:
    team: str | None  # None: the asker's only team


def parse(text: str) -> AuditsCommand:
    words = text.split()
    if not words:
        return AuditsCommand(None)
    if len(words) != 1:
        raise CommandError(f"Give one team at most. {USAGE}")
    if not TEAM_KEY.match(words[0].lower()):
        raise CommandError(f"'{words[0][:20]}' is not a team key. {USAGE}")
    return AuditsCommand(words[0].lower())
