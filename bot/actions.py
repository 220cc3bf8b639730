"""What happens when someone presses a button, submits a form or types a command.

Platform-neutral: the Slack and console adapters call these with the chat
user ID, the action and its value, and show the ``Reply``. Each call is one
unit of work; a WorkflowError becomes a plain message and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import ValidationError

from bot import audit_views, transfer_views, tray_views, views
from bot.cards import Card, Form, FormValues
from bot.deliver import Posted
from bot.safe_log import log_failure
from commands import audits as audits_command
from commands import case as case_command
from commands import deputy as deputy_command
from commands import radar as radar_command
from commands import worktray as worktray_command
from store.uow import UnitOfWork, UowFactory
from workflows import access, audits, closure, deputies, purchasing, radar, record_items, reopen, requests, transfer, tray
from workflows.clock import local_today
from workflows.errors import FieldErrors, NotAllowed, WorkflowError
from workflows.org import WORKTRAY_SUBCOMMANDS
from workflows.requests import Context

log = logging.getLogger(__name__)


@dataclass
class Reply:
    """What the adapter shows the person who acted (nobody else)."""

    text: str | None = None
    form: Form | None = None
    card: Card | None = None
    cards: list[Card] = field(default_factory=list)  # the work tray: one card a line (bot.tray_views)
    errors: dict[str, str] = field(default_factory=dict)  # form field errors: the modal stays open
    # The text says what the request's redrawn cards show too (its state, who holds it, its
    # buttons): an adapter that redraws the card in place may leave the text out.
    shown_on_card: bool = False


class Interactions:
    def __init__(
        self, uow_factory: UowFactory, ctx: Context, on_commit: Callable[[Posted | None], None] = lambda awaited: None
    ) -> None:
        """``on_commit``: told after each committed change (the deliverer's ``kick``), with the
        message the person clicked on when there is one, so that its card is redrawn first."""
        self.new_uow = uow_factory
        self.ctx = ctx
        self.on_commit = on_commit

    def actor(self, chat_user_id: str) -> str:
        person = self.ctx.org.person_by_chat_id(chat_user_id)
        if person is None:
            raise NotAllowed("You are not in worktray's organisation config; ask your administrator to add you.")
        return person.key

    def _run(
        self,
        work: Callable[[UnitOfWork, str], Reply],
        chat_user_id: str,
        usage: str | None = None,
        clicked: Posted | None = None,
        *,
        readonly: bool = False,
    ) -> Reply:
        """One unit of work. ``usage``: a slash command's, added to any refusal (``refusal_line``);
        ``clicked``: the message whose button was pressed; ``readonly``: ``work`` only reads (a
        look at a tray, the radar, the audits), so on SQLite it neither waits for the write
        lock nor holds up the clicks behind it while it draws."""
        try:
            actor = self.actor(chat_user_id)
            with self.new_uow(readonly=readonly) as uow:
                reply = work(uow, actor)
        except FieldErrors as e:
            return Reply(text=str(e), errors=e.errors)
        except WorkflowError as e:
            return Reply(text=str(e) if usage is None else refusal_line(str(e), usage))
        if not readonly:
            self.on_commit(clicked if reply.form is None else None)  # a form opened: nothing to redraw yet
        return reply

    # -- buttons ---------------------------------------------------------------

    def press(self, chat_user_id: str, action: str, value: str, source: str | None = None, clicked: Posted | None = None) -> Reply:
        """``clicked``: the message the button is on (a channel card), when the platform says."""
        handler = BUTTONS.get(action)
        if handler is None:
            return Reply(text="That button is not recognised; nothing changed.")
        return self._run(lambda uow, actor: handler(self, uow, actor, value, source), chat_user_id, clicked=clicked)

    def _request_id(self, value: str) -> int:
        number = id_number(value.split(":")[0])
        if number is None:
            raise WorkflowError("That button carries no valid request; nothing changed.")
        return number

    def _approve(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        """C3: the approve form (case note; the adults' checklist), after the checks that
        would refuse it anyway (legal now, role, four eyes, C4), so nobody fills it in vain."""
        request = requests.load(uow, self._request_id(value))
        requests.check_approve(uow, self.ctx, request, actor)
        return Reply(form=views.approve_form(request, requests.checklist_for(request)))

    def _on_card(self, uow: UnitOfWork, value: str, act: Callable[[int], str]) -> Reply:
        """``act(request_id)``'s reply, marked as shown on the request's redrawn cards, except
        for a restricted record: its channel cards keep the neutral line (issue 8), so the
        reply is the only place the clicker sees what happened."""
        request = requests.load(uow, self._request_id(value))  # held: ``act`` finds it loaded
        restricted = access.is_restricted(uow, request)
        return Reply(text=act(request.id), shown_on_card=not restricted)

    def _claim(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        return self._on_card(uow, value, lambda rid: requests.claim(uow, self.ctx, rid, actor, source=source))

    def _unclaim(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        return self._on_card(uow, value, lambda rid: requests.unclaim(uow, self.ctx, rid, actor, source=source))

    def _withdraw(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        return self._on_card(uow, value, lambda rid: requests.withdraw(uow, self.ctx, rid, actor, source=source))

    def _recheck(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        return Reply(text=closure.recheck(uow, self.ctx, self._request_id(value), actor, source=source))

    def _step_done(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        return Reply(text=closure.mark_step_done(uow, self.ctx, self._request_id(value), actor, source=source))

    def _return(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        request = requests.load(uow, self._request_id(value))
        requests.precheck(self.ctx, request, "return", actor, uow)
        return Reply(form=views.return_form(request))

    def _resubmit(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        request = requests.load(uow, self._request_id(value))
        requests.precheck(self.ctx, request, "resubmit", actor, uow)
        return Reply(form=views.closure_form(uow, self.ctx, request.case, request.details, request.id))

    def _reassign(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        request = requests.load(uow, self._request_id(value))
        requests.precheck(self.ctx, request, "reassign", actor, uow)
        return Reply(form=views.reassign_form(self.ctx, request))

    def _cancel_step(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        request_id, step_id = _id_pair(value)
        if request_id is None or step_id is None:
            raise WorkflowError("That button carries no valid work step; nothing changed.")
        request = requests.load(uow, request_id)
        closure.refuse_unless_steps_cancellable(self.ctx, request)
        requests.check_allowed(self.ctx.org, actor, "cancel_step", request, requests.covering(uow, self.ctx, actor))
        step = uow.cases.work_step(step_id)
        if step is None or step.status != "open":
            raise WorkflowError(f"Work step {step_id} is no longer open; nothing to cancel.")
        return Reply(form=views.cancel_step_form(request, step_id, step.title))

    def _audit(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        """C6.1 first: open steps block the item (and DM three people); else the checklist."""
        request_id = self._request_id(value)
        plan = closure.open_audit(uow, self.ctx, request_id, actor, source=source)
        if plan.blocking_steps:
            return Reply(text=self._blocked_text(plan))
        request = requests.load(uow, request_id)
        return Reply(form=views.audit_form(self.ctx, request, plan))

    def _blocked_text(self, plan: closure.ClosurePlan) -> str:
        """Say what is true: who was told now, or (opened again while blocked) that nobody was told again."""
        name = self.ctx.org.name_of
        titles = "; ".join(f"{s.title} ({name(s.assignee)})" for s in plan.blocking_steps)
        if not plan.newly_blocked:
            return (
                f"Still blocked: work steps are still open: {titles}. The steps' assignees, the worker and the manager "
                "were told when the item was first blocked; nobody was told again. Re-check once the steps are done."
            )
        told = ", ".join(name(key) for key in plan.told) or "nobody (no one to tell is in the organisation config)"
        return f"Blocked: work steps are still open: {titles}. Told by direct message: {told}."

    def _request_closure(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        return self._closure_form_reply(uow, actor, value)

    def _closure_form_reply(self, uow: UnitOfWork, actor: str, person_id: str) -> Reply:
        """C2: the closure form, for a worker or manager of the case's team."""
        case = closure.open_case_or_refuse(uow, person_id)
        if not access.may_request_closure(self.ctx.org, actor, case):
            team = self.ctx.org.team(case.team).name
            raise NotAllowed(f"You cannot request closure of {person_id}: you are not a worker or manager in {team}.")
        return Reply(form=views.closure_form(uow, self.ctx, case))

    # -- C11 Reopen, C12 re-referral ------------------------------------------------

    def _reopen(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        request = requests.load(uow, self._request_id(value))
        people = reopen.check_reopen(uow, self.ctx, request, actor)
        return Reply(form=views.reopen_form(uow, self.ctx, request, people))

    def _accept(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        request = requests.load(uow, self._request_id(value))
        requests.precheck(self.ctx, request, "accept", actor, uow)
        return Reply(form=views.accept_form(self.ctx, request))

    def _decline(self, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        request = requests.load(uow, self._request_id(value))
        requests.precheck(self.ctx, request, "decline", actor, uow)
        return Reply(form=views.decline_form(request))

    def _submit_reopen(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        people = values.get("people") or []
        worker, reason = values.get("worker"), values.get("reason")
        return Reply(
            text=reopen.reopen(
                uow,
                self.ctx,
                self._request_id(metadata),
                actor,
                people=[people] if isinstance(people, str) else list(people),
                worker=worker if isinstance(worker, str) else "",
                reason=reason if isinstance(reason, str) else "",
                source=source,
            )
        )

    def _submit_accept(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        worker = values.get("worker")
        return Reply(text=reopen.accept(uow, self.ctx, self._request_id(metadata), actor, worker if isinstance(worker, str) and worker else None, source=source))

    def _submit_decline(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        reason = values.get("reason")
        return Reply(text=reopen.decline(uow, self.ctx, self._request_id(metadata), actor, reason if isinstance(reason, str) else "", source=source))

    # -- forms -----------------------------------------------------------------

    def submit(self, chat_user_id: str, callback: str, metadata: str, values: FormValues, source: str | None = None) -> Reply:
        handler = FORMS.get(callback)
        if handler is None:
            return Reply(text="That form is not recognised; nothing changed.")
        return self._run(lambda uow, actor: handler(self, uow, actor, metadata, values, source), chat_user_id)

    def _closure_form(self, values: FormValues) -> closure.ClosureForm:
        done = values.get("done") or []
        data = {
            "reason": values.get("reason") or "",
            "closure_date": values.get("closure_date"),
            "summary": (values.get("summary") or "") if isinstance(values.get("summary"), str) else "",
            "visit_done": "visit_done" in done,
            "letter_done": "letter_done" in done,
            "evaluation_done": "evaluation_done" in done,
            "applies_to": values.get("applies_to") or [],
            "no_visit_reason": (values.get("no_visit_reason") or "") if isinstance(values.get("no_visit_reason"), str) else "",
        }
        try:
            return closure.ClosureForm.model_validate(data)
        except ValidationError as e:
            raise FieldErrors({str(err["loc"][0]): _field_message(str(err["loc"][0])) for err in e.errors()}) from None

    def _submit_request_closure(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        form = self._closure_form(values)
        request = closure.request_closure(uow, self.ctx, actor, metadata, form, source=source)
        return Reply(text=f"Closure request {request.id} for {request.person_id} sent to the manager.")

    def _submit_resubmit(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        form = self._closure_form(values)
        return Reply(text=closure.resubmit(uow, self.ctx, self._request_id(metadata), actor, form, source=source))

    def _submit_approve(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        def text(key: str) -> str:
            value = values.get(key)
            return value if isinstance(value, str) else ""

        answers = {k.removeprefix("answer_"): text(k) for k in values if k.startswith("answer_")}
        notes = {k.removeprefix("note_"): text(k) for k in values if k.startswith("note_")}
        approval = requests.Approval(note=text("note"), answers=answers, item_notes=notes)
        return Reply(text=requests.approve(uow, self.ctx, self._request_id(metadata), actor, approval, source=source))

    def _submit_return(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        note = values.get("note")
        return Reply(text=requests.return_request(uow, self.ctx, self._request_id(metadata), actor, note if isinstance(note, str) else "", source=source))

    def _submit_reassign(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        to = values.get("to")
        if not isinstance(to, str) or not to:
            raise FieldErrors({"to": "Choose who should hold the item."})
        return Reply(text=requests.reassign(uow, self.ctx, self._request_id(metadata), actor, to, source=source))

    def _submit_cancel_step(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        request_id, step_id = _id_pair(metadata)
        if request_id is None or step_id is None:
            raise WorkflowError("That form carries no valid work step; nothing changed.")
        reason = values.get("reason")
        return Reply(text=closure.cancel_step(uow, self.ctx, request_id, step_id, actor, reason if isinstance(reason, str) else "", source=source))

    def _submit_audit(self, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
        ticked = values.get("checklist") or []
        text = closure.complete(
            uow, self.ctx, self._request_id(metadata), actor, confirmed=list(ticked), choices=record_choices(values), source=source
        )
        return Reply(text=text)

    # -- slash commands -----------------------------------------------------------

    def command(self, chat_user_id: str, text: str, source: str | None = None) -> Reply:
        return self._run(lambda uow, actor: self._case_command(uow, actor, text, source), chat_user_id, case_command.usage_for(text))

    def _case_command(self, uow: UnitOfWork, actor: str, text: str, source: str | None = None) -> Reply:
        command = case_command.parse(text)
        if command.verb == "status":  # who may look: workflows.access; every look is an event
            look = access.look_at_case(uow, self.ctx, command.person_id, actor, source=source)
            return Reply(card=views.case_card(self.ctx, look, actor))
        if command.verb == "history":  # who may look: as status; every look is an event
            page = access.case_history(uow, self.ctx, command.person_id, actor, command.page, source=source)
            return Reply(card=views.history_card(self.ctx, page))
        if command.verb == "help":
            return Reply(text=case_command.HELP)
        if command.verb in ("close", "transfer", "reopen"):  # nothing about a person outside the asker's teams
            access.require_visible(uow, self.ctx, command.person_id, actor)
        if command.verb == "reopen":  # C11
            request = reopen.last_closure_of(uow, command.person_id)
            return self._reopen(uow, actor, str(request.id), None)
        if command.verb == "rereferral":  # C12
            return Reply(text=reopen.rereferral(uow, self.ctx, actor, command.person_id, command.reason or "", source=source))
        if command.verb == "transfer":  # T1
            return _request_transfer(self, uow, actor, command.person_id, source)
        return self._closure_form_reply(uow, actor, command.person_id)

    def radar(self, chat_user_id: str, text: str, source: str | None = None) -> Reply:
        """``/radar [team]`` (T2): the two-week radar as of today, shown to the asker only."""

        def work(uow: UnitOfWork, actor: str) -> Reply:
            command = radar_command.parse(text)
            return Reply(card=views.radar_card(self.ctx, radar.radar_on_demand(uow, self.ctx, actor, command.team)))

        return self._run(work, chat_user_id, radar_command.USAGE, readonly=True)

    def audits(self, chat_user_id: str, text: str, source: str | None = None) -> Reply:
        """``/audits [team]`` (C13): due and overdue three-month audits, shown to the asker only."""

        def work(uow: UnitOfWork, actor: str) -> Reply:
            command = audits_command.parse(text)
            look = audits.audits_on_demand(uow, self.ctx, actor, command.team, audits_command.USAGE)
            return Reply(card=audit_views.audits_card(self.ctx, look))

        return self._run(work, chat_user_id, audits_command.USAGE, readonly=True)

    def worktray(self, chat_user_id: str, text: str, source: str | None = None) -> Reply:
        """``/worktray [team]`` (issue 8): the work tray, shown to the asker only. Read-only.
        ``/worktray deputy ...`` is the act-for command (``deputy``): a word of the shared list
        ``workflows.org.WORKTRAY_SUBCOMMANDS`` goes to its handler in ``WORKTRAY_SUBCOMMAND_HANDLERS``."""
        words = text.split(maxsplit=1)
        first = words[0].lower() if words else ""
        if first in WORKTRAY_SUBCOMMANDS and first in self.WORKTRAY_SUBCOMMAND_HANDLERS:  # else parse refuses it with the usage
            return self.WORKTRAY_SUBCOMMAND_HANDLERS[first](self, chat_user_id, words[1] if len(words) > 1 else "", source)

        def work(uow: UnitOfWork, actor: str) -> Reply:
            command = worktray_command.parse(text)
            look = tray.tray_on_demand(uow, self.ctx, actor, command.team, worktray_command.USAGE, page=1, page_size=tray_views.MESSAGE_LINES)
            cards = tray_views.tray_cards(uow, self.ctx, look, home=False)
            return Reply(cards=cards)

        return self._run(work, chat_user_id, worktray_command.USAGE, readonly=True)

    def home(self, chat_user_id: str, page: int = 1) -> list[Card]:
        """The App Home of a chat user (their work tray, page ``page``), drawn from the store now. Writes nothing."""
        with self.new_uow(readonly=True) as uow:
            return tray_views.home_cards(uow, self.ctx, chat_user_id, page)

    def home_opened(self, chat_user_id: str) -> list[Card]:
        """Someone opened the App Home: note them as a Home viewer (so the deliverer republishes
        their Home when it changes), then draw it. A failed note is logged, and Home is still drawn."""
        try:
            with self.new_uow() as uow:
                tray.note_home_opened(uow, self.ctx, chat_user_id)
        except Exception as e:  # best effort: without the note, Home is still right when opened
            log_failure(log, "home viewer not noted", e)
        return self.home(chat_user_id)

    def deputy(self, chat_user_id: str, args: str, source: str | None = None) -> Reply:
        """``/worktray deputy ...`` (issue 8, act-for): the words after "deputy"; shown to the asker only."""

        def work(uow: UnitOfWork, actor: str) -> Reply:
            command = deputy_command.parse_deputy(args)
            if command.verb == "show":
                return Reply(text=deputies.show(uow, self.ctx, actor))
            if command.verb == "end":
                return Reply(text=deputies.end(uow, self.ctx, actor, source=source))
            assert command.until is not None
            found = (
                self.ctx.org.person_by_chat_id(command.chat_user_id)
                if command.chat_user_id
                else self.ctx.org.person(command.person_key or "")
            )
            until = command.until.resolve(local_today(self.ctx.clock))
            return Reply(text=deputies.appoint(uow, self.ctx, actor, found.key if found else None, until, source=source))

        return self._run(work, chat_user_id, deputy_command.USAGE)

    # `/worktray <word> ...`: the handler of each sub-command word, the rest of the text as its argument.
    # Its keys are the shared reserved list (tests/test_org_config.py checks), which the org config
    # refuses as team keys and commands.worktray never reads as a team.
    WORKTRAY_SUBCOMMAND_HANDLERS: ClassVar[dict[str, Callable[[Interactions, str, str, str | None], Reply]]] = {"deputy": deputy}


def refusal_line(reason: str, usage: str) -> str:
    """Issue 8: a slash command's refusal (an unknown ID, wrong arguments, a team the asker may
    not see ...) is one line: the reason, then the command's usage (unless the reason gives it)."""
    line = " ".join(reason.split())
    return line if usage in line else f"{line} {usage}"


ID_DIGITS = re.compile(r"[0-9]{1,9}")  # a database ID: ASCII digits, within a 32-bit integer column


def id_number(text: str) -> int | None:
    """A request, work step or record item ID as worktray's buttons and forms carry it; None for anything else.

    Stricter than ``int``, which reads "١" (an Arabic-Indic one) as 1, " 1" and "1_0" as numbers, and any
    length (past the database's integer column: an overflow, not a refusal)."""
    return int(text) if ID_DIGITS.fullmatch(text) else None


def _id_pair(text: str) -> tuple[int | None, int | None]:
    """``<request>:<step>`` -> both IDs; (None, None) when the text is not two IDs."""
    parts = text.split(":")
    return (id_number(parts[0]), id_number(parts[1])) if len(parts) == 2 else (None, None)


def _field_message(key: str) -> str:
    return {
        "reason": "Choose a reason for closure.",
        "closure_date": "Give the closure date.",
        "summary": "Write a closing summary (up to 3000 characters).",
        "no_visit_reason": "Note why a final face-to-face visit was not needed (up to 3000 characters).",
    }.get(key, "This value is not valid.")


BUTTONS: dict[str, Callable[[Interactions, UnitOfWork, str, str, str | None], Reply]] = {
    "approve": Interactions._approve,
    "return": Interactions._return,
    "resubmit": Interactions._resubmit,
    "claim": Interactions._claim,
    "unclaim": Interactions._unclaim,
    "reassign": Interactions._reassign,
    "audit": Interactions._audit,
    "recheck": Interactions._recheck,
    "withdraw": Interactions._withdraw,
    "cancel_step": Interactions._cancel_step,
    "step_done": Interactions._step_done,
    "request_closure": Interactions._request_closure,
    "reopen": Interactions._reopen,
    "accept": Interactions._accept,
    "decline": Interactions._decline,
}

FORMS: dict[str, Callable[[Interactions, UnitOfWork, str, str, FormValues, str | None], Reply]] = {
    "request_closure": Interactions._submit_request_closure,
    "resubmit": Interactions._submit_resubmit,
    "approve": Interactions._submit_approve,
    "return": Interactions._submit_return,
    "reassign": Interactions._submit_reassign,
    "cancel_step": Interactions._submit_cancel_step,
    "audit": Interactions._submit_audit,
    "reopen": Interactions._submit_reopen,
    "accept": Interactions._submit_accept,
    "decline": Interactions._submit_decline,
}


# -- C10: the audit's record-item choices and the End Purchased Service request ------------------


def _by_item(values: FormValues, prefix: str) -> dict[int, str]:
    """``<prefix><item id>`` fields -> {item id: the text or option given}."""
    found: dict[int, str] = {}
    for key, value in values.items():
        number = id_number(key.removeprefix(prefix)) if key.startswith(prefix) else None
        if number is not None and isinstance(value, str) and value.strip():
            found[number] = value.strip()
    return found


def record_choices(values: FormValues) -> record_items.RecordChoices:
    """The audit form's C10 fields -> what business support chose (nothing ticked: nothing ends)."""
    ticked = values.get(record_items.end_items_key()) or []
    leaving = {
        key.removeprefix("leaving_care_"): value == "yes"
        for key, value in values.items()
        if key.startswith("leaving_care_") and value in ("yes", "no")
    }
    return record_items.RecordChoices(
        end=frozenset(n for n in (id_number(v) for v in ticked if isinstance(v, str)) if n is not None),
        end_reasons=_by_item(values, "end_reason_"),
        local_end_reasons=_by_item(values, "local_end_reason_"),
        rec_codes=_by_item(values, "rec_"),
        leaving_care=leaving,
    )


def _resubmit_purchase(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    request = requests.load(uow, self._request_id(value))
    requests.precheck(self.ctx, request, "resubmit", actor, uow)
    return Reply(form=views.resubmit_purchase_form(request))


def _submit_resubmit_purchase(
    self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None
) -> Reply:
    raw = values.get("end_date")
    try:
        end_date = dt.date.fromisoformat(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        raise FieldErrors({"end_date": "Give the date as YYYY-MM-DD."}) from None
    return Reply(text=purchasing.resubmit(uow, self.ctx, self._request_id(metadata), actor, end_date, source=source))


BUTTONS["resubmit_purchase"] = _resubmit_purchase
FORMS["resubmit_purchase"] = _submit_resubmit_purchase


# -- T2, T3: /radar and the Transfer Meeting's outcome buttons (workflows.radar) ------------------




def _meeting_outcome(outcome: str) -> Callable[[Interactions, UnitOfWork, str, str, str | None], Reply]:
    def press(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
        request_id, _, period = value.partition(":")
        number = id_number(request_id)
        if number is None or not period:
            raise WorkflowError("That button carries no valid transfer; nothing changed.")
        return Reply(text=radar.record_outcome(uow, self.ctx, number, outcome, period, actor, source=source))

    return press


BUTTONS["meeting_agreed"] = _meeting_outcome("agreed")
BUTTONS["meeting_deferred"] = _meeting_outcome("deferred")


# -- T1-T7, C13: the transfer journey -------------------------------------------------------


def _text(values: FormValues, key: str) -> str:
    value = values.get(key)
    return value if isinstance(value, str) else ""


def _request_transfer(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    """T1: the transfer form, for a worker or manager of the team holding the case."""
    case = transfer.case_to_transfer(uow, self.ctx, value, actor)
    return Reply(form=transfer_views.transfer_form(self.ctx, case))


def _transfer_request(self: Interactions, uow: UnitOfWork, actor: str, value: str, action: str) -> requests.Request:
    """The transfer a button is about, once the action is legal now and the person may do it."""
    request = requests.load(uow, self._request_id(value))
    requests.precheck(self.ctx, request, action, actor, uow)
    return request


def _mark_ready(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    return self._on_card(uow, value, lambda rid: transfer.mark_ready(uow, self.ctx, rid, actor, source=source))


def _transfer_resubmit(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    request = _transfer_request(self, uow, actor, value, "resubmit")
    return Reply(form=transfer_views.transfer_form(self.ctx, request.case, request.details, request.id))


def _transfer_accept(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    return Reply(form=transfer_views.accept_form(self.ctx, _transfer_request(self, uow, actor, value, "accept")))


def _transfer_hold(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    return Reply(form=transfer_views.hold_form(_transfer_request(self, uow, actor, value, "hold_on_duty")))


def _transfer_dispute(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    return Reply(form=transfer_views.dispute_form(_transfer_request(self, uow, actor, value, "dispute")))


def _transfer_resolve(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    return Reply(form=transfer_views.settle_form(_transfer_request(self, uow, actor, value, "resolve_transfer"), "transfer_resolve"))


def _transfer_escalate(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    return Reply(form=transfer_views.escalate_form(_transfer_request(self, uow, actor, value, "escalate")))


def _transfer_decide(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    return Reply(form=transfer_views.settle_form(_transfer_request(self, uow, actor, value, "decide_transfer"), "transfer_decide"))


def _transfer_audit(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    return Reply(form=transfer_views.audit_form(_transfer_request(self, uow, actor, value, "complete")))


def _submit_transfer(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    request = transfer.raise_transfer(uow, self.ctx, actor, metadata, values, source=source)
    return Reply(text=transfer.raised_text(self.ctx, request))


def _submit_transfer_resubmit(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    return Reply(text=transfer.resubmit(uow, self.ctx, self._request_id(metadata), actor, values, source=source))


def _submit_transfer_accept(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    return Reply(text=transfer.accept(uow, self.ctx, self._request_id(metadata), actor, _text(values, "worker"), source=source))


def _submit_transfer_hold(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    return Reply(text=transfer.hold_on_duty(uow, self.ctx, self._request_id(metadata), actor, _text(values, "reason"), source=source))


def _submit_transfer_dispute(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    return Reply(text=transfer.dispute(uow, self.ctx, self._request_id(metadata), actor, _text(values, "reason"), source=source))


def _submit_transfer_resolve(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    rid = self._request_id(metadata)
    return Reply(text=transfer.resolve(uow, self.ctx, rid, actor, _text(values, "outcome"), _text(values, "note"), source=source))


def _submit_transfer_escalate(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    return Reply(text=transfer.escalate(uow, self.ctx, self._request_id(metadata), actor, _text(values, "note"), source=source))


def _submit_transfer_decide(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    rid = self._request_id(metadata)
    return Reply(text=transfer.decide(uow, self.ctx, rid, actor, _text(values, "outcome"), _text(values, "note"), source=source))


def _submit_transfer_audit(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    ticked = values.get("checklist") or []
    checked = [ticked] if isinstance(ticked, str) else list(ticked)
    return Reply(text=transfer.complete_audit(uow, self.ctx, self._request_id(metadata), actor, checked, source=source))


BUTTONS.update(
    {
        "request_transfer": _request_transfer,
        "mark_ready": _mark_ready,
        "transfer_resubmit": _transfer_resubmit,
        "transfer_accept": _transfer_accept,
        "transfer_hold": _transfer_hold,
        "transfer_dispute": _transfer_dispute,
        "transfer_resolve": _transfer_resolve,
        "transfer_escalate": _transfer_escalate,
        "transfer_decide": _transfer_decide,
        "transfer_audit": _transfer_audit,
    }
)
FORMS.update(
    {
        "transfer": _submit_transfer,
        "transfer_resubmit": _submit_transfer_resubmit,
        "transfer_accept": _submit_transfer_accept,
        "transfer_hold": _submit_transfer_hold,
        "transfer_dispute": _submit_transfer_dispute,
        "transfer_resolve": _submit_transfer_resolve,
        "transfer_escalate": _submit_transfer_escalate,
        "transfer_decide": _submit_transfer_decide,
        "transfer_audit": _submit_transfer_audit,
    }
)


# -- C13: the three-month audit -------------------------------------------------------------


def _record_audit(self: Interactions, uow: UnitOfWork, actor: str, value: str, source: str | None) -> Reply:
    """The form opens for the holder only (business support), after the checks that would refuse it anyway."""
    return Reply(form=audit_views.record_form(audits.check_record(uow, self.ctx, self._request_id(value), actor)))


def _submit_record_audit(self: Interactions, uow: UnitOfWork, actor: str, metadata: str, values: FormValues, source: str | None) -> Reply:
    return Reply(text=audits.record_audit(uow, self.ctx, self._request_id(metadata), actor, values, source=source))


BUTTONS["record_audit"] = _record_audit
FORMS["record_audit"] = _submit_record_audit
