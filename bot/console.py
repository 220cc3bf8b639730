"""The console adapter: worktray in a terminal, like Hubot's shell.

With no Slack tokens ``worktray run`` starts this on SQLite with the demo
organisation. You type slash commands as any configured person, see every
channel's messages and DMs printed as they are delivered, press numbered
buttons and fill in forms with ``submit key=value ...``. It also replays a
script (``--script FILE`` or stdin), echoing each command with the person who
typed it, so a replay reads like a transcript.

It is a real adapter, not a simulation: every command, press and submission
goes through ``bot.actions.Interactions`` with the person's chat user ID,
exactly as Slack's would, and every message comes out of the outbox through
``ConsoleSender``. The outbox is drained after each command (no background
thread), so the output order is deterministic.

Commands are listed in ``HELP``. Date fields accept ``today``, ``today-5`` or
``today+3`` (so a script keeps working on any day) as well as DD/MM/YYYY and YYYY-MM-DD.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import shlex
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol, TextIO

from bot import views
from bot.actions import Interactions, Reply
from bot.cards import Button, Card, Form, FormField, FormValues
from bot.deliver import Deliverer
from bot.safe_log import log_failure
from store.uow import UnitOfWork
from workflows import audits
from workflows.clock import local_today
from workflows.org import Organisation
from workflows.requests import Context, also_card_key, kind_of, manager_card_key, queue_card_key


class ConsoleApp(Protocol):
    """What the console needs from the wired application: ``worktray`` wires it
    (worktray.console_main builds a ``worktray.bootstrap.App`` with a ConsoleSender)
    and hands it in; an adapter does not wire itself."""

    @property
    def ctx(self) -> Context: ...

    @property
    def uow(self) -> Callable[[], UnitOfWork]: ...

    @property
    def interactions(self) -> Interactions: ...

    @property
    def deliverer(self) -> Deliverer: ...


HELP = """\
Commands (typed as the current person; prefix any of them with `as <person>` to act once as someone else):
  /case close <person-id>    open the closure form for a person's case
  /case status <person-id>   the case and its requests (only you see it; needs a role in its team)
  /case reopen <person-id>   reopen a finished closure as a new involvement (C11)
  /case rereferral <person-id> <N-code>   a contact within 3 months of closure (C12)
  /case transfer <person-id> open the transfer form (T1, T4)
  /case history <person-id> [page]   who did what on the case, newest first (only you see it)
  /case help                 what each /case command does
  /worktray [team]           what is waiting for you (all your teams, or one); only you see it
  /radar [team]              the two-week radar of transfers coming to a team (T2; only you see it)
  /audits [team]             due and overdue three-month audits of a team (C13; only you see it)
  /worktray deputy @<person> until <date>   name who acts for you until the end of <date> (YYYY-MM-DD or 12 Dec)
  /worktray deputy [end]     who acts for you (and for whom you act); end: your deputy stops now
  press <N> [label]          press button [N] on any card shown so far; with its label (press 3 Return)
                             nothing is sent unless button [N] has that label
  press <label>              press the button with that label on a card you can see (press Approve)
  submit key=value ...       send your open form. Quote values with spaces (summary="All goals met");
                             lists are comma-separated (done=visit_done,letter_done), `all` ticks every box;
                             dates are DD/MM/YYYY, YYYY-MM-DD or today, today-5, today+3; fields left out keep their default.
                             On a terminal, `submit` alone asks field by field.
  show <request-id>          show a request's cards as they are now (after restarting the console)
  job audits                 run the morning audits job now: raise the three-month audits falling due (C13)
  dms                        show your direct messages as they are now (after restarting the console)
  form                       show your open form again
  cancel                     close your open form without sending it
  as <person>                become that person from now on (see `who`)
  who                        the people in the organisation config and their roles
  channels                   the channels and what is posted there
  help                       this text
  quit                       leave (Ctrl-D too)
Lines starting with # are comments."""

# The commands that take nothing after them, with their usage: `who extra` is refused with it
# (a line that could not be run), as `/case help extra` is, in one check for all (Console.dispatch).
BARE_USAGE = {
    "dms": "`dms` (your direct messages as they are now); `as <person> dms` shows someone else's",
    "form": "`form` (your open form again)",
    "cancel": "`cancel` (close your open form without sending it)",
    "who": "`who` (the people in the organisation config and their roles)",
    "channels": "`channels` (the channels and what is posted there)",
    "help": "`help` (the console's commands); `/case help` explains the /case commands",
    "quit": "`quit` (leave; Ctrl-D too)",
    "exit": "`exit` (leave, as `quit` does)",
}

INDENT = "    "
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_TODAY = re.compile(r"^today(?:([+-])(\d{1,4}))?$", re.IGNORECASE)
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


log = logging.getLogger(__name__)


class UsageError(Exception):
    """The console line itself is wrong (unknown command, person, button, field).

    Nothing is sent to the core. In a replayed script these make the exit
    status 1, so a broken script is noticed; refusals by the core are not
    usage errors (a refused claim is part of a journey).
    """


# -- rendering ------------------------------------------------------------------


def clean(text: str) -> str:
    """Drop control characters (terminal escapes) from text a user may have typed.

    Newlines stay; ``_indent`` pushes them under the card so a note cannot
    forge a line that looks like a message from another channel.
    """
    return _CONTROL.sub("", text)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in clean(text).split("\n"))


def button_row(buttons: list[Button], numbers: list[int]) -> str:
    return "  ".join(f"[{n}] {clean(b.label)}" for n, b in zip(numbers, buttons, strict=False))


def render_text(card: Card, numbers: list[int] | None = None) -> str:
    """A card as plain text: the title, `label: value` facts, bulleted sections,
    numbered buttons and the footer. This is also the README's picture of the cards.

    ``numbers`` are the console's global button numbers; by default 1, 2, 3 ...
    """
    numbers = numbers or list(range(1, len(card.buttons) + 1))
    lines = [clean(card.title)]
    lines += [_indent(f"{f.label}: {f.value or '-'}", "  ") for f in card.facts]
    for section in card.sections:
        lines.append(_indent(f"{section.heading}:", "  "))
        lines += [_indent(f"- {line}", "    ") for line in section.lines] or ["    -"]
    if card.buttons:
        lines.append("  " + button_row(card.buttons, numbers))
    if card.footer:
        lines.append(_indent(f"({card.footer})", "  "))
    return "\n".join(lines)


def _initial_text(f: FormField) -> str:
    if isinstance(f.initial, list):
        return ",".join(f.initial)
    return f.initial or ""


def _option_lines(f: FormField) -> list[str]:
    """Options as `value: label`, or just the label when it already starts with the value."""
    return [f"{INDENT}{o.label}" if o.label.startswith(o.value) else f"{INDENT}{o.value}: {o.label}" for o in f.options]


def _field_text(f: FormField) -> list[str]:
    how = {"select": "choose one", "checkboxes": "tick any, comma-separated", "multiselect": "choose any, comma-separated",
           "date": "a date", "text": "text", "textarea": "text"}[f.kind]
    notes = [how] + (["optional"] if f.optional else []) + ([f"now: {_initial_text(f)}"] if _initial_text(f) else [])
    lines = [_indent(f"{f.key}: {f.label} ({'; '.join(notes)})", "  ")]
    if f.hint:
        lines.append(_indent(f.hint, INDENT))
    return lines + _option_lines(f)


def render_form(form: Form) -> str:
    """A modal as text: its intro, each field with its key, kind, default and options."""
    lines = [f"{clean(form.title)}"]
    lines += [_indent(line, "  ") for line in form.intro]
    for f in form.fields:
        lines += _field_text(f)
    needed = [f"{f.key}=..." for f in form.fields if not f.optional and not _initial_text(f)]
    lines.append(f"  Send it ({clean(form.submit)}) with: " + " ".join(["submit", *needed]) + "; or close it with: cancel")
    return "\n".join(lines)


# -- the buttons on screen ----------------------------------------------------------


@dataclass
class ShownButton:
    """A button as printed: where, on which card, and whether that card has changed since."""

    number: int
    button: Button
    where: str
    card_title: str
    message_id: str | None  # None: a card shown only to one person, never updated
    audience: str | None = None  # the person key of a DM or a reply only they see; None: a channel
    stale: bool = False


@dataclass
class ButtonBoard:
    """Every button printed so far, numbered globally and increasingly.

    Numbers are never reused, so a script that says `press 7` means the same
    button on every replay. When a message is updated its old buttons become
    stale but stay pressable, as an old Slack screen would be. ``find`` looks a
    button up by its label instead, which keeps a script working when a card
    gains or loses a button elsewhere.
    """

    shown: dict[int, ShownButton] = field(default_factory=dict)
    last: int = 0

    def add(self, card: Card, where: str, message_id: str | None, audience: str | None = None) -> list[int]:
        numbers = []
        for button in card.buttons:
            self.last += 1
            self.shown[self.last] = ShownButton(self.last, button, where, card.title, message_id, audience)
            numbers.append(self.last)
        return numbers

    def retire(self, message_id: str) -> None:
        for shown in self.shown.values():
            if shown.message_id == message_id:
                shown.stale = True

    def get(self, number: int) -> ShownButton:
        if number not in self.shown:
            highest = f"buttons so far are [1] to [{self.last}]" if self.last else "no buttons have been shown yet"
            raise UsageError(f"There is no button [{number}]: {highest}.")
        return self.shown[number]

    def find(self, label: str, person: str) -> ShownButton:
        """The button with this label that ``person`` can see: on a channel card, their
        DM or a reply to them. Current cards first; failing that an out-of-date one,
        as someone who has not refreshed would press. Two different buttons with the
        same label are refused, not guessed: press one by its number."""
        seen = [s for s in self.shown.values() if s.button.label.casefold() == label.casefold() and s.audience in (None, person)]
        for pool in ([s for s in seen if not s.stale], seen):
            newest: dict[tuple[str, str], ShownButton] = {}
            for s in pool:  # the same action on the same thing, shown several times, is one button
                newest[(s.button.action, s.button.value)] = s
            if len(newest) > 1:
                choices = ", ".join(f"[{s.number}] on \"{s.card_title}\" ({s.where})" for s in newest.values())
                raise UsageError(f"Several \"{label}\" buttons: {choices}. Press one by its number.")
            if newest:
                return next(iter(newest.values()))
        raise UsageError(f"No \"{label}\" button has been shown to {person}.")


# -- the chat sender ------------------------------------------------------------------


class ConsoleSender:
    """The ChatSender for the console: every post, update and DM is printed.

    Channel IDs are named from the organisation config ("#u12 managers"), DMs
    as "DM to <name>", so the console user sees what each audience sees.
    """

    delivery_threads = 1  # one transcript: messages printed in the order they were queued (bot.deliver)

    def __init__(self, org: Organisation, out: TextIO, board: ButtonBoard | None = None) -> None:
        self.org = org
        self.out = out
        self.board = board or ButtonBoard()
        self._prefix = uuid.uuid4().hex[:8]  # message IDs never clash with an earlier session's
        self._count = 0

    def channel_name(self, channel: str) -> str:
        for team in self.org.teams:
            if channel == team.manager_channel:
                return f"#{team.key} managers"
            if channel == team.business_support_channel:
                return f"#{team.key} business support"
        if channel == self.org.purchasing_channel or any(t.purchasing_channel == channel for t in self.org.teams):
            return "#purchasing"
        person = self.org.person_by_chat_id(channel)
        if person is not None:
            return f"DM to {person.name}"
        return f"#{channel}"

    def post(self, channel: str, card: Card) -> str:
        message_id = self._new_id()
        self.show(card, self.channel_name(channel), "new message", message_id)
        return message_id

    def update(self, channel: str, message_id: str, card: Card) -> None:
        self.board.retire(message_id)
        person = self.org.person_by_chat_id(channel)  # a DM redrawn: its buttons stay its recipient's
        self.show(card, self.channel_name(channel), "message updated", message_id, person.key if person else None)

    def direct(self, user: str, card: Card) -> str:
        message_id = self._new_id()
        person = self.org.person_by_chat_id(user)
        self.show(card, self.channel_name(user), "", message_id, person.key if person else user)
        return message_id

    def show(self, card: Card, where: str, what: str, message_id: str | None, audience: str | None = None) -> None:
        """Print a card under a `>> where (what)` line, numbering its buttons."""
        numbers = self.board.add(card, where, message_id, audience)
        self.out.write(f"  >> {where}{f' ({what})' if what else ''}\n")
        self.out.write(_indent(render_text(card, numbers), INDENT) + "\n")

    def _new_id(self) -> str:
        self._count += 1
        return f"console-{self._prefix}-{self._count}"


# -- form values ---------------------------------------------------------------------


DATE_FORMATS = "Give a date as DD/MM/YYYY (20/11/2026), YYYY-MM-DD (2026-11-20), or today, today-5, today+3."


def resolve_date(text: str, today: dt.date) -> str:
    """`today`, `today-5`, `today+3`, DD/MM/YYYY (as dates are written in the UK) or
    YYYY-MM-DD -> an ISO date (what Slack's date picker sends)."""
    text = text.strip()
    match = _TODAY.match(text)
    if match:
        sign, days = match.groups()
        delta = int(days or 0) * (-1 if sign == "-" else 1)
        return (today + dt.timedelta(days=delta)).isoformat()
    uk = _UK_DATE.match(text)
    try:
        if uk:
            day, month, year = (int(part) for part in uk.groups())
            return dt.date(year, month, day).isoformat()
        if _ISO_DATE.match(text):
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{text} is not a day in the calendar (dates are day/month/year: 20/11/2026). {DATE_FORMATS}") from None
    raise ValueError(DATE_FORMATS)


def _field_value(f: FormField, text: str, today: dt.date) -> str | list[str] | None:
    """One typed value -> what Slack would send for that field; ValueError names what is wrong."""
    if f.kind == "date":
        return resolve_date(text, today)
    values = [o.value for o in f.options]
    if f.kind == "select":
        if text not in values:
            raise ValueError(f"Choose one of: {', '.join(values)}.")
        return text
    if f.kind in ("checkboxes", "multiselect"):
        chosen = values if text.strip().lower() == "all" else [v.strip() for v in text.split(",") if v.strip()]
        unknown = [v for v in chosen if v not in values]
        if unknown:
            raise ValueError(f"Not an option: {', '.join(unknown)}. Options: {', '.join(values)}.")
        return chosen
    return text


def form_values(form: Form, given: dict[str, str], today: dt.date) -> tuple[FormValues, dict[str, str]]:
    """Typed key=value pairs -> FormValues, plus the errors a Slack modal shows before sending.

    Fields left out keep their default; a required field left empty is refused
    here, as Slack's modal would refuse it, and nothing is sent.
    """
    fields = {f.key: f for f in form.fields}
    unknown = [k for k in given if k not in fields]
    if unknown:
        raise UsageError(f"This form has no field {', '.join(unknown)}. Its fields: {', '.join(fields)}.")
    values: FormValues = {}
    errors: dict[str, str] = {}
    for key, f in fields.items():
        if key not in given:
            values[key] = f.initial if f.initial is not None else ([] if f.kind in ("checkboxes", "multiselect") else None)
        else:
            try:
                values[key] = _field_value(f, given[key], today)
            except ValueError as e:
                errors[key] = str(e)
                continue
        if not f.optional and not values[key]:
            errors.setdefault(key, "This field is required.")
    return values, errors


def remember(form: Form, values: FormValues, errors: dict[str, str]) -> Form:
    """The form as the person left it: like a Slack modal after a refused submit,
    what they typed stays filled in, so they correct only the wrong fields."""
    fields = [f if f.key in errors else replace(f, initial=values.get(f.key)) for f in form.fields]
    return replace(form, fields=fields)


def parse_pairs(text: str) -> dict[str, str]:
    """`a=1 b="two words"` -> {"a": "1", "b": "two words"} (shell-style quoting)."""
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise UsageError(f"Cannot read that: {e}. Quote values with spaces: summary=\"All goals met\".") from None
    pairs: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise UsageError(f"'{word}' is not key=value. Example: submit reason=RC8 closure_date=today summary=\"All goals met\"")
        pairs[key] = value
    return pairs


# -- the console ---------------------------------------------------------------------


class Console:
    """Reads lines, acts as the chosen person through Interactions, prints what happens."""

    def __init__(self, app: ConsoleApp, out: TextIO, *, echo: bool = True, ask: Callable[[str], str] | None = None) -> None:
        sender = app.deliverer.sender
        if not isinstance(sender, ConsoleSender):
            raise TypeError("the console needs the app to be built with a ConsoleSender")
        self.app = app
        self.org = app.ctx.org
        self.sender = sender
        self.out = out
        self.echo = echo  # replaying: print each line so the output reads like a transcript
        self.ask = ask  # interactive: prompt field by field on a bare `submit`
        self.current = self.org.people[0].key
        self.forms: dict[str, Form] = {}
        self.usage_errors = 0
        self._in_comment = False

    # -- the loop ---

    def run(self, lines: Iterable[str]) -> int:
        self.deliver()
        for line in lines:
            if not self.handle(line):
                break
        if self.echo and self.usage_errors:
            self.say(f"{self.usage_errors} line(s) could not be run.")
            return 1
        return 0

    def handle(self, raw: str) -> bool:
        """Run one line; False means quit."""
        line = raw.strip()
        if not line:
            self._in_comment = False
            return True
        if line.startswith("#"):
            if self.echo:  # a blank line before a block of comments, like paragraphs
                self.out.write(f"{'' if self._in_comment else chr(10)}{line}\n")
            self._in_comment = True
            return True
        self._in_comment = False
        try:
            person, command = self.split_as(line)
        except UsageError as e:
            self.transcribe(self.current, line)
            return self.refuse(str(e))
        self.transcribe(person if command else self.current, command or line)
        try:
            if not command:
                self.become(person)
                return True
            keep_going = self.dispatch(person, command)
            self.deliver()
            return keep_going
        except UsageError as e:
            return self.refuse(str(e))
        except Exception as e:  # a bug or a lost database must not end a session silently
            log_failure(log, "console command failed", e)
            return self.refuse("Something went wrong (the log has the detail); nothing more was done.")

    def transcribe(self, person: str, command: str) -> None:
        """Replaying, echo each command as its person: `as maria press 3` reads "maria> press 3"."""
        if self.echo:
            self.out.write(f"{person}> {command}\n")

    def refuse(self, message: str) -> bool:
        self.usage_errors += 1
        self.say(message)
        return True

    def split_as(self, line: str) -> tuple[str, str]:
        """`as maria press 3` -> ("maria", "press 3"); `as maria` -> ("maria", ""); else the current person."""
        words = line.split(maxsplit=2)
        if words[0].lower() != "as":
            return self.current, line
        if len(words) < 2:
            raise UsageError("Say who: as <person>, e.g. as maria. `who` lists the people.")
        return self.person_key(words[1]), words[2] if len(words) > 2 else ""

    def person_key(self, name: str) -> str:
        if self.org.person(name.lower()) is None:
            known = ", ".join(p.key for p in self.org.people)
            raise UsageError(f"There is no person '{name}' in the organisation config. People: {known}.")
        return name.lower()

    def dispatch(self, person: str, command: str) -> bool:
        verb, _, rest = command.partition(" ")
        if verb.startswith("/"):
            self.slash(person, verb, rest)
            return True
        if rest.strip() and (usage := BARE_USAGE.get(verb.lower())) is not None:  # as `/case help extra` is refused
            raise UsageError(f"Too many words after {verb.lower()}. Usage: {usage}.")
        if verb.lower() in ("quit", "exit"):
            return False
        handler = self.COMMANDS.get(verb.lower())
        if handler is None:
            raise UsageError(f"Unknown command '{verb[:30]}'. Type help for the commands.")
        handler(self, person, rest.strip())
        return True

    def deliver(self) -> None:
        """Print everything the core queued for chat, now, in order."""
        self.app.deliverer.drain()

    def say(self, text: str) -> None:
        self.out.write(_indent(text, "  ") + "\n")

    # -- commands ---

    def become(self, person: str) -> None:
        self.current = person
        self.say(f"You are now {person} ({self.org.name_of(person)}: {self.roles_of(person)}).")

    def slash(self, person: str, verb: str, text: str) -> None:
        if verb.lower() == "/radar":  # T2: the two-week radar, shown to you only
            self.show_reply(person, self.app.interactions.radar(self.chat_id(person), text, source="console:/radar"))
            return
        if verb.lower() == "/audits":  # C13: due and overdue three-month audits, shown to you only
            self.show_reply(person, self.app.interactions.audits(self.chat_id(person), text, source="console:/audits"))
            return
        if verb.lower() == "/worktray":  # issue 8: your work tray, or /worktray deputy ... (act-for); shown to you only
            self.show_reply(person, self.app.interactions.worktray(self.chat_id(person), text, source="console:/worktray"))
            return
        if verb.lower() != "/case":
            raise UsageError(f"Unknown command {verb[:30]}. The slash commands are /case, /worktray, /radar and /audits.")
        self.show_reply(person, self.app.interactions.command(self.chat_id(person), text, source="console:/case"))

    def press(self, person: str, rest: str) -> None:
        """`press N`; `press N Label` (refused unless button N has that label); `press Label`."""
        shown = self.button(person, rest)
        self.say(f"({person} presses [{shown.number}] \"{shown.button.label}\" on \"{shown.card_title}\" in {shown.where})")
        if shown.stale:
            self.say(f"(button [{shown.number}] is on an earlier version of that card, since updated; sent anyway, as an old screen would)")
        if shown.button.confirm:
            self.say(f"(asked \"{shown.button.confirm}\": yes)")
        b = shown.button
        self.show_reply(person, self.app.interactions.press(self.chat_id(person), b.action, b.value, source=f"console:press:{shown.number}"))

    def button(self, person: str, rest: str) -> ShownButton:
        number, _, label = rest.partition(" ")
        if not rest:
            raise UsageError("Say which button: press <N> (press 2), with its label (press 2 Return) or by label alone (press Return).")
        if not number.isdigit():
            return self.sender.board.find(rest, person)
        shown = self.sender.board.get(int(number))
        if label.strip() and label.strip().casefold() != shown.button.label.casefold():
            raise UsageError(f"Button [{number}] is \"{shown.button.label}\", not \"{label.strip()}\"; nothing was sent.")
        return shown

    def submit(self, person: str, rest: str) -> None:
        form = self.open_form(person)
        given = parse_pairs(rest) if rest or self.ask is None else self.prompt_fields(form)
        values, errors = form_values(form, given, local_today(self.app.ctx.clock))
        if not errors:
            reply = self.app.interactions.submit(self.chat_id(person), form.callback, form.metadata, values, source="console:submit")
            errors = reply.errors
        if errors:
            self.forms[person] = remember(form, values, errors)
            self.show_errors(errors)
            return
        del self.forms[person]
        self.show_reply(person, reply)

    def show_request(self, person: str, rest: str) -> None:
        """Re-show a request's cards as they are now: after a restart the console
        has forgotten earlier sessions' buttons, and this brings them back."""
        if not rest.isdigit():
            raise UsageError("Say which request: show <request-id>, e.g. show 1 (/case status lists them).")
        with self.app.uow() as uow:
            request = uow.requests.get(int(rest))
            if request is None:
                raise UsageError(f"There is no request {rest}.")
            team = self.org.team(request.team)
            places = [("manager", team.manager_channel, manager_card_key(request))] if kind_of(request).manager_card else []
            if request.details.get("queued"):
                places.append(("queue", team.business_support_channel, queue_card_key(request)))
            also = kind_of(request).also_announce  # e.g. a transfer's card for the receiving team's managers
            places += [(audience, channel, also_card_key(request, audience)) for channel, audience in (also(self.org, request) if also else ())]
            for audience, channel, key in places:
                card = views.channel_card(uow, self.app.ctx, request, audience, request.revision)  # issue 8: redacted if restricted
                posted = uow.posted_message(key)  # so the next update of that message makes these buttons stale
                self.sender.show(card, self.sender.channel_name(channel), "as it is now", posted.ts if posted else None)

    def show_dms(self, person: str, rest: str) -> None:
        """Re-show the person's DMs from the store, each drawn as its request now is:
        a restarted console has forgotten them, and their buttons come back with them."""
        with self.app.uow() as uow:
            sent = uow.posted_cards("dm:", channel=self.chat_id(person))
            if not sent:
                self.say(f"{person} has no direct messages.")
            for row, posted in sent:
                card = views.message_card(uow, self.app.ctx, row.body)
                self.sender.show(card, self.sender.channel_name(row.channel), "as it is now", posted.ts, person)

    def show_form(self, person: str, rest: str) -> None:
        self.print_form(person, self.open_form(person))

    def cancel(self, person: str, rest: str) -> None:
        form = self.open_form(person)
        del self.forms[person]
        self.say(f"Closed the form \"{form.title}\" without sending it.")

    def who(self, person: str, rest: str) -> None:
        for p in self.org.people:
            mark = "   <- you" if p.key == self.current else ""
            self.say(f"{p.key:<8} {p.name:<16} {self.roles_of(p.key)}{mark}")

    def channels(self, person: str, rest: str) -> None:
        for team in self.org.teams:
            self.say(f"#{team.key} managers ({team.manager_channel}): {team.name}, requests waiting for the manager")
            self.say(f"#{team.key} business support ({team.business_support_channel}): {team.name}, the virtual-worker queue")
        self.say("Direct messages are shown as \"DM to <name>\"; replies only you see as \"only <person> sees\".")

    def help(self, person: str, rest: str) -> None:
        self.say(HELP)

    def run_job(self, person: str, rest: str) -> None:
        """`job audits`: what the scheduler does at 07:15 (C13), now, so the demo can show it."""
        if rest.strip().lower() != "audits":
            raise UsageError("Say which job: job audits (raise the three-month audits falling due, as the 07:15 job does).")
        with self.app.uow() as uow:
            raised = audits.raise_due_audits(uow, self.app.ctx)
        self.say(f"(the audits job raised {raised} three-month audits: each in its team's business-support channel)")

    COMMANDS: dict[str, Callable[[Console, str, str], None]] = {
        "press": press,
        "submit": submit,
        "show": show_request,
        "dms": show_dms,
        "form": show_form,
        "cancel": cancel,
        "who": who,
        "channels": channels,
        "help": help,
        "job": run_job,
    }

    # -- helpers ---

    def chat_id(self, person: str) -> str:
        chat_id = self.org.chat_id_of(person)
        assert chat_id is not None  # person keys come from the config
        return chat_id

    def roles_of(self, person: str) -> str:
        found = self.org.person(person)
        roles = found.roles if found else []
        return ", ".join(f"{m.role.value.replace('_', ' ')} in {m.team}" for m in roles)

    def open_form(self, person: str) -> Form:
        form = self.forms.get(person)
        if form is not None:
            return form
        others = "; ".join(f"{k} has \"{f.title}\" open (as {k} submit ...)" for k, f in self.forms.items())
        raise UsageError(f"{person} has no form open: /case close <id> or a button opens one." + (f" {others}." if others else ""))

    def show_reply(self, person: str, reply: Reply) -> None:
        """What Slack shows only the actor: a message, a card, or a form (modal)."""
        if reply.text:
            self.say(f"[only {person} sees] {reply.text}")
        if reply.card is not None:
            self.sender.show(reply.card, f"only {person} sees", "", None, person)
        for card in reply.cards:  # the work tray: one card a line, each with its buttons
            self.sender.show(card, f"only {person} sees", "", None, person)
        if reply.form is not None:
            self.forms[person] = reply.form
            self.print_form(person, reply.form)

    def print_form(self, person: str, form: Form) -> None:
        self.out.write(f"  >> form for {person}\n")
        self.out.write(_indent(render_form(form), INDENT) + "\n")

    def show_errors(self, errors: dict[str, str]) -> None:
        for key, message in errors.items():
            self.say(f"! {key}: {message}")
        self.say("The form stays open: correct it and submit again (or cancel). Nothing was saved.")

    def prompt_fields(self, form: Form) -> dict[str, str]:
        """Interactive `submit` with no values: ask for each field; Enter keeps the default."""
        assert self.ask is not None
        given: dict[str, str] = {}
        for f in form.fields:
            default = _initial_text(f)
            answer = self.ask(f"  {f.key} [{default}]: ").strip()
            if answer:
                given[f.key] = answer
        return given


# -- entry points ----------------------------------------------------------------------


def run_console(app: ConsoleApp, lines: Iterable[str], out: TextIO, *, echo: bool = True) -> int:
    """Replay ``lines`` through a console on an app built with a ConsoleSender writing to ``out``."""
    return Console(app, out, echo=echo).run(lines)


def _interactive_lines(console: Console) -> Iterable[str]:
    """Lines typed at a terminal, with the current person as the prompt."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (arrow keys and history, where available)
    while True:
        try:
            yield input(f"{console.current}> ")
        except (EOFError, KeyboardInterrupt):
            console.out.write("\n")
            return


def safe_output(out: TextIO) -> TextIO:
    """Cards contain '·'; on a terminal that cannot show it, print '?' rather than crash."""
    try:
        "·".encode(getattr(out, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        if hasattr(out, "reconfigure"):
            out.reconfigure(errors="replace")
    return out


def converse(app: ConsoleApp, out: TextIO, stdin: TextIO, script: list[str] | None = None) -> int:
    """Greet, then replay a script's lines, read piped stdin, or talk at a terminal
    (prompting field by field on a bare `submit`). Returns the exit status."""
    interactive = script is None and stdin.isatty()
    console = Console(app, out, echo=not interactive, ask=input if interactive else None)
    out.write(f"worktray console · {app.ctx.org.name} · you are {console.current}. Type help for the commands.\n")
    if script is not None:
        return console.run(script)
    return console.run(_interactive_lines(console) if interactive else stdin)
