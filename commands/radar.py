"""``/radar [team]``: parse the text and say what was asked (T2). Thin on purpose.

/radar            the two-week radar of your team (if you have one team)
/radar <team>     the radar of a team you have a role in, e.g. /radar 12plus

Like ``commands.case``, it knows no chat platform and no cards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands.case import CommandError

USAGE = "Usage: `/radar` (your team) or `/radar <team>` (a team key, e.g. 12plus)."
TEAM_KEY = re.compile(r"^[a-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class RadarCommand:
    team: str | None  # None: the asker's only team


def parse(text: str) -> RadarCommand:
    words = text.split()
    if not words:
        return RadarCommand(None)
    if len(words) != 1:
        raise CommandError(f"Give one team at most. {USAGE}")
    if not TEAM_KEY.match(words[0].lower()):
        raise CommandError(f"'{words[0][:20]}' is not a team key. {USAGE}")
    return RadarCommand(words[0].lower())
