"""Who may look at a case, and every look recorded.

Children's and adults' personal data are special (DOMAIN.md, "What the product
adds"): full detail goes only to those whose role allows it. A case is shown to
the people with a role in its team: its workers, managers and business support,
and the group and service managers above it, who are configured as roles in
that team. Anyone else is told plainly that they may not see it.

Every look is an event in the event log, committed whether or not it was
allowed: a refused look (``view_case_refused``) is kept too, so that someone
trying records they have no part in shows up in the log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from store.models import Case, Event, Person, Request
from store.uow import UnitOfWork
from workflows import permissions, reopen, transfer
from workflows.errors import NotAllowed, NotFound, WorkflowError
from workflows.org import Organisation
from workflows.requests import CLOSED, OPEN_STATES, Context, announce

VIEW_ROLES = tuple(permissions.rule(permissions.VIEW, "view_case").roles)  # any role in the case's team


class NotAllowedToView(NotAllowed):
    """The person has no role in the team holding the case. Unlike other
    refusals, the refused look has been recorded (and committed) first."""


# -- issue 8, data minimisation: restricted records -------------------------------------------

RESTRICTED_LINE = "A restricted record needs your action"


def is_restricted(uow: UnitOfWork, request: Request) -> bool:
    """A request is restricted when its person, or anyone else it applies to (a family
    closure, C6.4), has a restricted record: channels then show only RESTRICTED_LINE, the
    request number and the buttons (bot.views.channel_card, the reminders' channel nudge)."""
    if request.person.restricted:
        return True
    others = (uow.cases.person(p) for p in request.applies_to if p != request.person_id)
    return any(p is not None and p.restricted for p in others)


def set_restricted(uow: UnitOfWork, ctx: Context, person_id: str, restricted: bool, actor: str = "worktray", *, source: str | None = None) -> str:
    """Issue 8: mark a person's record restricted (or not) outside a CSV import (``worktray person
    restrict``). One transaction: the flag, its event (``restricted_set``/``restricted_cleared``)
    and a redraw of the person's open requests' cards, so channels turn neutral (or back) in place."""
    person = uow.cases.person(person_id)
    if person is None:
        raise NotFound(f"There is no person {person_id} in the case store.")
    word = "restricted" if restricted else "not restricted"
    if person.restricted == restricted:
        return f"{person_id} is already {word}; nothing changed."
    person.restricted = restricted
    action = "restricted_set" if restricted else "restricted_cleared"
    uow.record(at=ctx.clock.now(), actor=actor, action=action, person_id=person_id, source=source)
    open_requests = [r for r in uow.requests.for_person(person_id) if r.state in OPEN_STATES]
    for request in open_requests:
        announce(uow, ctx, request)
    uow.commit()
    return f"{person_id} is now {word}; {len(open_requests)} open request(s) redrawn."


@dataclass
class CaseLook:
    """What one person may see of a person's record: only the cases of the teams
    they have a role in, and only those teams' requests."""

    person: Person
    cases: list[Case]
    requests: list[Request]
    can_request_closure: bool = False  # the "Request closure" button: only for who may use it (C2)
    can_reopen: list[int] = field(default_factory=list)  # finished closures this person may reopen (C11)
    # The "Request transfer" button (T1): for the workers and managers of the team holding the case,
    # who may raise a transfer (as with /case transfer).
    can_request_transfer: bool = False
    details: bool = False  # full name and date of birth: only where ``may_see_details`` allows (issue 8)


def may_see_details(org: Organisation, actor: str, case: Case) -> bool:
    """Issue 8: may ``actor`` see the person's full name and date of birth (ephemeral replies and
    Home only, never channels)? The one rule for /case status, /worktray and the Home tab: a role
    of the table's ``view_details`` in the case's team; for a restricted record, its allocated
    worker or a role of ``view_restricted`` (the team's managers and practice supervisors)."""
    if case.person.restricted:
        return actor == case.worker or permissions.may_view(org, actor, "view_restricted", case.team)
    return permissions.may_view(org, actor, "view_details", case.team)


def may_view_case(org: Organisation, actor: str, case: Case, action: str = "view_case") -> bool:
    """A role in the case's team, whatever the role (the permission table's ``view_case``,
    ``view_history``)."""
    return permissions.may_view(org, actor, action, case.team)


def may_request_closure(org: Organisation, actor: str, case: Case) -> bool:
    """C2: a worker or manager of the case's team (the permission table's "request")."""
    return permissions.has(org, actor, "closure", "request", case.team)


def may_request_transfer(org: Organisation, actor: str, case: Case) -> bool:
    """T1: a worker or manager of the case's team (the table's "request" of a transfer)."""
    return permissions.has(org, actor, "transfer", "request", case.team)


def refusal(person_id: str) -> str:
    """The same words whether the person is unknown or held by another team, and
    nothing about them: the reply never tells an outsider who is known to the service."""
    return (
        f"You may not see case {person_id}: only people with a role in the team that holds it can. "
        "If you typed the ID, check it; if you need the case, ask that team's manager."
    )


def require_visible(uow: UnitOfWork, ctx: Context, person_id: str, actor: str) -> None:
    """Before /case close|transfer|reopen: a person unknown, or held only by teams the actor has no
    role in, gets ``refusal``'s words (the same for both), so these commands tell an outsider no
    more than /case status does: not whether the person is known, nor which team holds them."""
    person = uow.cases.person(person_id)
    if person is None or not any(may_view_case(ctx.org, actor, c) for c in uow.cases.cases_of(person_id)):
        raise NotAllowed(refusal(person_id))


HISTORY_PAGE = 15  # events per page of /case history: a phone screen's worth


@dataclass(frozen=True)
class HistoryEntry:
    """What /case history shows of an event: when, who, what, which request, which states
    (never its detail, which may hold a note)."""

    at: dt.datetime
    actor: str
    action: str
    request_id: int | None
    from_state: str | None
    to_state: str | None

    @classmethod
    def of(cls, event: Event) -> HistoryEntry:
        return cls(event.at, event.actor, event.action, event.request_id, event.from_state, event.to_state)


@dataclass
class HistoryPage:
    """One page of a case's event log as ``actor`` may see it: newest first."""

    person: Person
    events: list[HistoryEntry]
    page: int
    pages: int


def case_history(uow: UnitOfWork, ctx: Context, person_id: str, actor: str, page: int, *, source: str | None = None) -> HistoryPage:
    """/case history: the person's events (theirs, and their requests' in the teams the actor
    has a role in), newest first, ``HISTORY_PAGE`` a page. Whoever may see the case (as
    ``look_at_case``) may see its history; the look is an event too, refused or not."""
    now = ctx.clock.now()
    person = uow.cases.person(person_id)
    cases = [c for c in uow.cases.cases_of(person_id) if may_view_case(ctx.org, actor, c, "view_history")] if person else []
    if person is None or not cases:
        uow.record(at=now, actor=actor, action="view_history_refused", person_id=person_id, source=source)
        uow.commit()
        raise NotAllowedToView(refusal(person_id))
    teams = {c.team for c in cases}
    visible = [r.id for r in uow.requests.for_person(person_id) if r.team in teams or r.receiving_team in teams]
    events = uow.history(person_id, visible)
    pages = max(1, -(-len(events) // HISTORY_PAGE))
    if page > pages:
        raise WorkflowError(f"Case {person_id} has {pages} page(s) of history; ask for 1 to {pages}.")
    shown = [HistoryEntry.of(e) for e in events[(page - 1) * HISTORY_PAGE : page * HISTORY_PAGE]]
    uow.record(at=now, actor=actor, action="view_history", person_id=person_id, source=source, detail={"page": page})
    uow.commit()
    return HistoryPage(person=person, events=shown, page=page, pages=pages)


def look_at_case(uow: UnitOfWork, ctx: Context, person_id: str, actor: str, *, source: str | None = None) -> CaseLook:
    """/case status: what ``actor`` may see of ``person_id``'s record.

    Records the look as an event and commits it. Raises ``NotAllowedToView``
    (after recording the refused look) when no case of the person is held by
    a team the actor has a role in, or there is no such person.
    """
    now = ctx.clock.now()
    person = uow.cases.person(person_id)
    cases = [c for c in uow.cases.cases_of(person_id) if may_view_case(ctx.org, actor, c)] if person else []
    if person is None or not cases:
        uow.record(at=now, actor=actor, action="view_case_refused", person_id=person_id, source=source)
        uow.commit()
        raise NotAllowedToView(refusal(person_id))
    teams = sorted({c.team for c in cases})
    requests = [r for r in uow.requests.for_person(person_id) if r.team in teams]
    uow.record(at=now, actor=actor, action="view_case", person_id=person_id, source=source, detail={"teams": teams})
    open_case = uow.cases.open_case(person_id)
    can_request = (
        open_case is not None
        and may_request_closure(ctx.org, actor, open_case)
        and not any(r.state in OPEN_STATES for r in uow.requests.for_person(person_id))
    )
    can_reopen = [r.id for r in requests if r.state == CLOSED and reopen.may_reopen(uow, ctx, actor, r)]
    can_transfer = (
        open_case is not None
        and may_request_transfer(ctx.org, actor, open_case)
        and transfer.pending_transfer(uow, person_id) is None
    )
    uow.commit()
    return CaseLook(
        person=person,
        cases=cases,
        requests=requests,
        can_request_closure=can_request,
        can_reopen=can_reopen,
        can_request_transfer=can_transfer,
        details=any(may_see_details(ctx.org, actor, c) for c in cases),
    )
