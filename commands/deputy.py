"""``/worktray deputy ...``: parse the text of act-for deputies (issue 8). Thin on purpose.

/worktray deputy                         who acts for you, and for whom you act
/worktray deputy @person until <date>    name a deputy from now until the end of <date>
/worktray deputy end                     end your deputy's period now (you are back early)

<date> is YYYY-MM-DD, or a day and month ("12 Dec", "12 December", "12 Dec 2026"); without
a year it is the next such day (today or later). Days end at midnight, Europe/London.
@person is a Slack mention (``<@U0123ABCD>``, as Slack escapes it) or, on the console, a
person key (``@ben`` or ``ben``). Like ``commands.case``, it knows no chat platform and no cards:
``parse_deputy`` is what the ``/worktray`` dispatcher calls for the words after "deputy".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from commands.case import CommandError

USAGE = (
    "Usage: `/worktray deputy @person until <date>` (YYYY-MM-DD or e.g. 12 Dec), "
    "`/worktray deputy` (who acts for you) or `/worktray deputy end`."
)

MENTION = re.compile(r"^<@([A-Z0-9]{2,32})(?:\|[^>]{0,80})?>$")  # Slack's escaped user mention
PERSON_KEY = re.compile(r"^@?([a-z0-9_.-]{1,64})$")  # workflows.org.Person.key
ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}


@dataclass(frozen=True)
class Until:
    """The last day of a period as typed: a full date, or a day and month (year to be found)."""

    day: int
    month: int
    year: int | None = None

    def resolve(self, today: dt.date) -> dt.date:
        """The date meant, given today (Europe/London): a yearless day is the next such day."""
        if self.year is not None:
            return dt.date(self.year, self.month, self.day)
        for year in range(today.year, today.year + 9):  # a 29 Feb may be years away
            try:
                day = dt.date(year, self.month, self.day)
            except ValueError:
                continue
            if day >= today:
                return day
        raise CommandError(f"There is no such day. {USAGE}")


@dataclass(frozen=True)
class DeputyCommand:
    verb: Literal["show", "set", "end"]
    chat_user_id: str | None = None  # the deputy as Slack names them
    person_key: str | None = None  # ... or as the console does
    until: Until | None = None


def parse_deputy(args: str) -> DeputyCommand:
    """The words after ``deputy``; CommandError (with the usage) for anything else."""
    words = args.split()
    if not words:
        return DeputyCommand("show")
    if [w.lower() for w in words] == ["end"]:
        return DeputyCommand("end")
    if len(words) < 3 or words[1].lower() != "until":
        raise CommandError(f"Name the deputy and their last day. {USAGE}")
    mention, key = MENTION.match(words[0]), PERSON_KEY.match(words[0].lower())
    if mention is None and key is None:
        raise CommandError(f"Name the deputy with @, e.g. @ben. {USAGE}")
    until = parse_until(" ".join(words[2:]))
    if mention is not None:
        return DeputyCommand("set", chat_user_id=mention.group(1), until=until)
    assert key is not None
    return DeputyCommand("set", person_key=key.group(1), until=until)


def parse_until(text: str) -> Until:
    """YYYY-MM-DD, or "12 Dec" / "12 December" / "12 Dec 2026" (a real day of the calendar)."""
    iso = ISO_DAY.match(text)
    if iso:
        until = Until(int(iso.group(3)), int(iso.group(2)), int(iso.group(1)))
    else:
        words = text.lower().split()
        if len(words) not in (2, 3) or not words[0].isdigit() or words[1][:3] not in MONTHS or len(words[0]) > 2:
            raise CommandError(f"That is not a date. {USAGE}")
        if not MONTHS_FULL.match(words[1]):
            raise CommandError(f"That is not a date. {USAGE}")
        year = None
        if len(words) == 3:
            if not re.fullmatch(r"\d{4}", words[2]):
                raise CommandError(f"That is not a date. {USAGE}")
            year = int(words[2])
        until = Until(int(words[0]), MONTHS[words[1][:3]], year)
    try:
        dt.date(until.year or 2028, until.month, until.day)  # 2028: a leap year, so 29 Feb passes here
    except ValueError:
        raise CommandError(f"There is no such day. {USAGE}") from None
    return until


MONTHS_FULL = re.compile(
    r"^(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sept?(ember)?|oct(ober)?|nov(ember)?|dec(ember)?)$"
)
