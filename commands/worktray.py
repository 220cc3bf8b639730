"""``/worktray``: parse the text and say what was asked (issue 8). Thin on purpose.

/worktray                       what is waiting for you, in all your teams
/worktray <team>                only what is in one team of yours, e.g. /worktray u12
/worktray deputy ...            act-for delegation: commands.deputy parses the rest (bot.actions dispatches it)

Like ``commands.radar``, it knows no chat platform and no cards: it returns a ``WorkTray``
command (or raises a ``CommandError`` carrying the usage). ``bot.actions.Interactions.worktray``
sends "deputy ..." to ``commands.deputy.parse_deputy`` before this parser is asked; here
"deputy" is a reserved word, so it is never read as a team key (and the org config refuses a
team keyed "deputy": ``workflows.org.WORKTRAY_SUBCOMMANDS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from commands.case import CommandError
from commands.radar import TEAM_KEY
from workflows.org import WORKTRAY_SUBCOMMANDS

USAGE = (
    "Usage: `/worktray` (all your teams), `/worktray <team>` (one team of yours, a team key, e.g. u12) "
    "or `/worktray deputy @person until <date>` (who acts for you while you are away)."
)


@dataclass(frozen=True)
class WorkTray:
    team: str | None  # None: all the asker's teams


WorktrayCommand = WorkTray

# First word -> the parser of the rest (none yet: "deputy" is dispatched by the adapter, above).
# Reserved words are refused with the usage, so "/worktray deputy" is never read as a team.
SUBCOMMANDS: dict[str, Callable[[list[str]], WorktrayCommand]] = {}
RESERVED = WORKTRAY_SUBCOMMANDS  # the org config refuses them as team keys (workflows.org)


def parse(text: str) -> WorktrayCommand:
    words = text.split()
    if not words:
        return WorkTray(None)
    first = words[0].lower()
    if first in SUBCOMMANDS:
        return SUBCOMMANDS[first](words[1:])
    if first in RESERVED:
        raise CommandError(f"Unknown subcommand '{first}'. {USAGE}")
    if len(words) != 1:
        raise CommandError(f"Give one team at most. {USAGE}")
    if not TEAM_KEY.match(first):
        raise CommandError(f"'{words[0][:20]}' is not a team key. {USAGE}")
    return WorkTray(first)
