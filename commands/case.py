"""``/case``: parse the text, call the core, reply. Thin on purpose.

/case close <person-id>    open the closure form (C2)
/case status <person-id>   the case and its requests, shown to you only
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store.uow import UnitOfWork
from workflows import closure
from workflows.errors import NotAllowed, WorkflowError
from workflows.org import Role
from workflows.requests import Context

if TYPE_CHECKING:
    from bot.actions import Reply

USAGE = "Usage: `/case close <person-id>` or `/case status <person-id>` (the person ID is digits, e.g. 3549723)."
PERSON_ID = re.compile(r"^\d{1,12}$")


@dataclass(frozen=True)
class CaseCommand:
    verb: str  # "close" | "status"
    person_id: str


class CommandError(WorkflowError):
    pass


def parse(text: str) -> CaseCommand:
    words = text.split()
    if len(words) != 2 or words[0].lower() not in ("close", "status"):
        raise CommandError(USAGE)
    if not PERSON_ID.match(words[1]):
        raise CommandError(f"'{words[1][:20]}' is not a person ID. {USAGE}")
    return CaseCommand(words[0].lower(), words[1])


def handle(uow: UnitOfWork, ctx: Context, actor: str, text: str) -> Reply:
    from bot import views
    from bot.actions import Reply

    command = parse(text)
    if command.verb == "status":
        return Reply(card=views.case_card(uow, ctx, command.person_id, actor))
    return closure_form_reply(uow, ctx, actor, command.person_id)


def closure_form_reply(uow: UnitOfWork, ctx: Context, actor: str, person_id: str) -> Reply:
    from bot import views
    from bot.actions import Reply

    case = closure.open_case_or_refuse(uow, person_id)
    if not ctx.org.has_role(actor, case.team, Role.WORKER, Role.MANAGER):
        raise NotAllowed(f"You cannot request closure of {person_id}: you are not a worker or manager in {ctx.org.team(case.team).name}.")
    return Reply(form=views.closure_form(uow, ctx, case))
