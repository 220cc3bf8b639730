"""The work tray (issue 8, "App Home — My work tray"): what is waiting for one person.

A neutral, read-only query: given a unit of work it lists, for the actor's roles and
teams, the requests awaiting their decision, the disputes awaiting them (T5), the items
they hold, the items blocked on work steps assigned to them (C6.1), their own requests
that were returned, and, for business support, the team's unclaimed virtual-worker queue
(C5); for managers, the team's radar summary (T2) and overdue three-month audits (C13).

Each line's age is in working days since the request entered its state (D4, as the
chasing engine counts it: ``workflows.reminders.waited``) and it is overdue once it has
waited as long as the team's reminder threshold for that wait (``teams[].reminders``):
the tray and the reminders agree on what is late. Overdue lines come first, the most
overdue at the top, then the oldest first.

Who may act is decided by ``workflows.requests.may`` (the one permission rule); which
buttons a line carries is the presentation's business (``bot.tray_views``), drawn from the
request's own card so Home and the channel card stay identical. Nothing here writes.

Home and ``/worktray`` draw a page (``work_tray(page=...)``): the same lines in the same order
as the whole tray, but business support's thousands of queued and held items are counted and
ordered in the database and only the page's requests are loaded (issue 9; ``_lines``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from store.models import Request, applies_to
from store.uow import UnitOfWork
from workflows import access, audits, permissions, radar, reminders, work_steps
from workflows import transfer_terms as terms
from workflows.clock import LONDON, local_today
from workflows.errors import NotAllowed
from workflows.org import APPROVING_ROLES, Organisation, Role
from workflows.requests import (
    APPROVED,
    BLOCKED,
    CLAIMED,
    KINDS,
    OPEN_STATES,
    REQUESTED,
    RETURNED,
    Context,
    covering,
    kind_of,
    may,
)

# Why a line is in the tray, in the order the sections read (the key is also the presentation's).
DECIDE = "decide"  # awaiting your decision (approve/return, accept/decline, accept/hold/dispute)
DISPUTE = "dispute"  # T5: a disputed or escalated transfer awaiting your decision
HELD = "held"  # claimed or blocked, held by you
STEPS = "steps"  # C6.1: blocked on a work step assigned to you
RETURNED_TO_YOU = "returned"  # your request, returned to you
QUEUE = "queue"  # C5: unclaimed in your team's virtual worker (business support)
REASONS = {
    DECIDE: "Awaiting your decision",
    DISPUTE: "Dispute awaiting you",
    HELD: "Held by you",
    STEPS: "Blocked on your work step",
    RETURNED_TO_YOU: "Returned to you",
    QUEUE: "Unclaimed in the virtual worker",
}
# Roles that see the team's radar summary and overdue audits (the managers of T3, C13).
MANAGER_ROLES = radar.MEETING_ROLES
# Every state in which a request may be in someone's tray (closures, transfers, audits, ...).
TRAY_STATES = tuple(dict.fromkeys((*OPEN_STATES, *terms.RADAR_STATES)))


@dataclass(frozen=True)
class TrayItem:
    """One line: a request, why it is here, how long it has waited and whether that is late.

    ``person_id``/``initials`` are empty and ``hidden`` true when the record is restricted
    and the actor is not permitted its details (only the request number and the neutral line).
    ``audience`` names the card (or direct message) whose buttons the line carries."""

    reason: str  # a key of REASONS
    request_id: int
    kind: str
    label: str  # the kind's label, e.g. "Closure request"
    state: str
    person_id: str
    initials: str
    name: str | None  # full name, only when the actor may see it (``access.may_see_details``)
    hidden: bool  # restricted, and the actor may not see its details
    age: int  # working days in its present state (D4)
    threshold: int  # working days after which it is overdue (the team's reminders)
    audience: str  # "manager" | "queue" | "receiving" | "returned" | "transfer_dispute" | "transfer_escalated" | "blocked"
    team: str
    on_behalf_of: str | None = None  # act-for: the absent person whose item this is, when the viewer is their deputy
    born: dt.date | None = None  # date of birth: only with the name (``access.may_see_details``)

    @property
    def overdue(self) -> bool:
        return self.age >= self.threshold

    @property
    def overdue_by(self) -> int:
        return self.age - self.threshold


@dataclass(frozen=True)
class RadarSummary:
    """T2, for a team's managers: counts only (the lines are in /radar)."""

    team: str
    transfers: int
    overdue: int  # planned date passed, not moved yet
    turning: int  # T1: reaching 11y6m in the window


@dataclass
class WorkTray:
    """``items``: every line, in order; or, drawn a page at a time (``work_tray(page=...)``), the
    lines of ``page`` only, with how many there are in all (``count``) and how many are overdue."""

    actor: str
    team: str | None  # None: all the actor's teams
    as_of: dt.date
    items: list[TrayItem] = field(default_factory=list)
    radar: list[RadarSummary] = field(default_factory=list)
    overdue_audits: list[audits.DueAudit] = field(default_factory=list)
    page: int | None = None  # the page ``items`` are (1 is the first), of ``page_size`` lines; None: all the lines
    page_size: int = 0
    count: int | None = None  # every line, on every page (None: ``items`` are all of them)
    overdue_count: int | None = None
    # A page's requests, loaded with their people and cases: held here, the session finds them
    # again when the page is drawn (it holds what it loaded only as long as something else does).
    requests: dict[int, Request] = field(default_factory=dict, repr=False, compare=False)

    @property
    def waiting(self) -> int:
        """How many lines the tray holds (on every page)."""
        return len(self.items) if self.count is None else self.count

    @property
    def overdue(self) -> int:
        """How many of them are overdue (on every page)."""
        return sum(1 for i in self.items if i.overdue) if self.overdue_count is None else self.overdue_count

    @property
    def empty(self) -> bool:
        return not self.waiting and not self.radar and not self.overdue_audits


def may_see_restricted(org: Organisation, actor: str, request: Request) -> bool:
    """Issue 8: a restricted record's details (ID, initials, name) on Home: its allocated worker
    and the roles of the table's ``view_restricted`` (managers, practice supervisors) in the
    sending or receiving team; anyone else who has it in their tray sees the request number and
    "a restricted record needs your action"."""
    teams = [t for t in (request.case.team, request.team, request.receiving_team) if t]
    return actor == request.case.worker or any(permissions.may_view(org, actor, "view_restricted", t) for t in teams)


def _may(org: Organisation, actor: str, action: str, request: Request) -> bool:
    """``requests.may``, false for an action the request's kind has no roles for."""
    try:
        return may(org, actor, action, request)
    except KeyError:
        return False


def _reasons(uow: UnitOfWork, ctx: Context, actor: str, request: Request) -> list[tuple[str, str, str]]:
    """Why ``request`` is in the actor's tray: (reason, audience, the team whose thresholds apply)."""
    org, state, kind = ctx.org, request.state, kind_of(request)
    found: list[tuple[str, str, str]] = []
    receiving = request.receiving_team or request.team
    if state == REQUESTED and kind.manager_card and _deciding(org, actor, request) and _decider(org, actor, request):
        found.append((DECIDE, "manager", request.team))
    if request.kind == terms.KIND and state in (APPROVED, terms.ON_DUTY) and _may(org, actor, "accept", request):
        found.append((DECIDE, "receiving", receiving))
    if request.kind == terms.KIND and state == terms.DISPUTED and _may(org, actor, "resolve_transfer", request):
        found.append((DISPUTE, "transfer_dispute", receiving))
    if request.kind == terms.KIND and state == terms.ESCALATED and _may(org, actor, "decide_transfer", request):
        found.append((DISPUTE, "transfer_escalated", receiving))
    if state in (CLAIMED, BLOCKED) and request.holder == actor:
        found.append((HELD, "queue", request.team))
    if state == BLOCKED and any(s.assignee == actor for s in work_steps.blocking_steps(uow, ctx, request.applies_to)):
        found.append((STEPS, "blocked", request.team))
    if state == RETURNED and actor in (request.requested_by, request.case.worker):
        found.append((RETURNED_TO_YOU, "returned", request.team))
    if state == APPROVED and kind.queued and org.has_role(actor, request.team, Role.BUSINESS_SUPPORT):
        found.append((QUEUE, "queue", request.team))
    return found


def _deciding(org: Organisation, actor: str, request: Request) -> bool:
    """May the actor decide it (approve, or accept a re-referral)? Asked only of a request awaiting a decision."""
    return _may(org, actor, "approve", request) or _may(org, actor, "accept", request)


def _decider(org: Organisation, actor: str, request: Request) -> bool:
    """C2: a request waits for the requester's supervising manager(s) (else the team's
    managers); a re-referral (C12) for the team's managers and practice supervisors.
    Others who merely may (a head of service) are not chased with it, so not listed."""
    if request.kind == "rereferral":
        return org.has_role(actor, request.team, Role.MANAGER, Role.PRACTICE_SUPERVISOR)
    return actor in {p.key for p in org.supervisors_for(request.requested_by, request.team)} or org.has_role(actor, request.team, Role.MANAGER)


def _threshold(ctx: Context, reason: str, state: str, team: str) -> int:
    """The reminders' threshold for this wait (``teams[].reminders``), in working days, for a
    request in ``state``."""
    limits = reminders.settings(ctx, team)
    if reason == QUEUE:
        return limits.unclaimed_after
    if reason == HELD:
        return limits.blocked_every if state == BLOCKED else limits.untouched_holder_after
    if reason == STEPS:
        return limits.blocked_every
    if state == terms.ON_DUTY:
        return limits.duty_review_every
    return limits.manager_after  # decisions, disputes, and a returned request (as long as a manager may take)


def _item(uow: UnitOfWork, ctx: Context, actor: str, request: Request, reason: str, audience: str, team: str, viewer: str) -> TrayItem:
    """``actor``: whose item it is (the viewer, or the absent person the viewer is deputy for);
    what may be shown is what ``actor`` may see, as the deputy acts with their roles."""
    now = ctx.clock.now()
    case = request.case
    hidden = access.is_restricted(uow, request) and not may_see_restricted(ctx.org, actor, request)
    person = request.person
    details = not hidden and access.may_see_details(ctx.org, actor, case)  # the one rule, as /case status
    name = f"{person.first_name} {person.last_name}" if details else None
    return TrayItem(
        reason=reason,
        request_id=request.id,
        kind=request.kind,
        label=kind_of(request).label,
        state=request.state,
        person_id="" if hidden else request.person_id,
        initials="" if hidden else person.initials,
        name=name,
        born=person.date_of_birth if details else None,
        hidden=hidden,
        age=reminders.waited(ctx, request, now),
        threshold=_threshold(ctx, reason, request.state, team),
        audience=audience,
        team=team,
        on_behalf_of=actor if actor != viewer else None,
    )


REASON_ORDER = {reason: n for n, reason in enumerate(REASONS)}


def _order_key(age: int, threshold: int, request_id: int, reason: str) -> tuple[bool, int, int, int]:
    overdue = age >= threshold  # TrayItem.overdue
    return (not overdue, -(age - threshold) if overdue else -age, request_id, REASON_ORDER[reason])


def order(items: list[TrayItem]) -> list[TrayItem]:
    """Overdue first, the most overdue at the top; then the oldest first; then by request."""
    return sorted(items, key=lambda i: _order_key(i.age, i.threshold, i.request_id, i.reason))


def _open_requests(uow: UnitOfWork, ctx: Context, principals: tuple[str, ...]) -> Iterator[Request]:
    """The requests that may be in the tray of ``principals`` (the viewer and whom they cover):
    every request in a tray state of the configured teams they work in and, of the other
    configured teams, only those that name them (held, asked for, allocated), that a transfer
    brings to their teams, or that are blocked (a work step may be anyone's). ``_reasons``
    then decides. A team's requests are loaded once for all the trays drawn in one read-only
    unit of work (``uow.memo``): after a click the deliverer redraws the Home of everyone the
    request concerns, mostly people of the same team (issue 9: a store of 100,000 cases
    holds tens of thousands of open requests)."""
    configured = [t.key for t in ctx.org.teams]
    mine = {t for p in principals for t in ctx.org.teams_of(p)} & set(configured)
    for key in configured:
        if key in mine:
            yield from uow.memo(("tray_requests", key), partial(uow.requests.in_states, key, TRAY_STATES))
    others = [key for key in configured if key not in mine]
    if others:
        yield from uow.requests.in_states_involving(TRAY_STATES, teams=others, receiving=mine, people=principals, any_with=(BLOCKED,))


def _first_reason(uow: UnitOfWork, ctx: Context, principals: tuple[str, ...], request: Request) -> tuple[str, tuple[str, str, str]] | None:
    """One line a request: the first principal's first reason (REASONS order of the checks)."""
    return next(((p, r) for p in principals for r in _reasons(uow, ctx, p, request)[:1]), None)


@dataclass(frozen=True)
class _Line:
    """A line of the tray before it is drawn: what counts it and puts it in order (``order``)."""

    reason: str
    request_id: int
    age: int
    threshold: int
    audience: str
    team: str  # whose thresholds apply
    principal: str  # whose line it is: the viewer, or an absent person they cover
    request: Request | None = None  # loaded already; else loaded only if its page is drawn


def _lines(uow: UnitOfWork, ctx: Context, principals: tuple[str, ...], team: str | None) -> tuple[list[_Line], list[_Segment]]:
    """Every line of the tray of ``principals`` (the viewer first), unordered: the lines that
    ``_open_requests`` and ``_reasons`` give, found reason by reason so that the thousands of
    queued and held items of business support stay in the database (issue 9):

    * an approved request of a queued kind, not a transfer (an approved transfer awaits the
      receiving team), can have no reason but QUEUE: it is in the queue of the first principal
      in business support of its team (C5);
    * a claimed request can have no reason but HELD, its holder's; nor a blocked one held by
      the viewer (HELD is checked before STEPS, the viewer first);

    those are counted by team and state (``_Segment``), and only the first of each are read
    when a page is drawn (``_first_lines``);

    * the others that may be in the tray are loaded and given their reasons by ``_reasons``,
      as when the tray is drawn whole: those awaiting a decision in a team where a principal may
      decide (``_decider``), the returned ones a principal asked for or is allocated, a transfer
      awaiting the receiving team or in dispute where a principal has a role for it (the
      permission table), and a blocked one (C6.1) held by another principal or with a work step
      of a principal's. None that may have a reason is left out: each can only be in the tray
      (``_open_requests``) if a principal has a role in its team or receiving team, or it names them.

    What several trays drawn in one read-only unit of work share is read once (``uow.memo``):
    a team's queue, the requests awaiting a decision, the blocked and the returned ones."""
    org = ctx.org
    principals = tuple(dict.fromkeys(principals))
    viewer = principals[0]
    configured = [t.key for t in org.teams]
    now = ctx.clock.now()
    lines: list[_Line] = []
    segments: list[_Segment] = []

    def shown(row: Any) -> bool:
        return team is None or team in (row.team, row.receiving_team)

    # C5: the virtual-worker queues, each team's for its first principal in business support.
    not_queued = tuple(sorted({k.name for k in KINDS.values() if not k.queued} | {terms.KIND}))
    queues: set[str] = set()
    for principal in principals:
        for key in configured:
            if key in queues or not org.has_role(principal, key, Role.BUSINESS_SUPPORT):
                continue
            queues.add(key)
            segments += _segments(uow, ctx, _Segment(QUEUE, principal, (key,), (APPROVED,), not_queued, None, team))
    # Held: claimed by a principal; blocked and held by the viewer.
    for principal in principals:
        states = (CLAIMED, BLOCKED) if principal == viewer else (CLAIMED,)
        segments += _segments(uow, ctx, _Segment(HELD, principal, tuple(configured), states, (), principal, team))
    # The rest, loaded: only those a reason may apply to.
    loaded: dict[int, Request] = {}
    for key in configured:
        if any(_may_decide_in(org, p, key) for p in principals):
            loaded |= {r.id: r for r in uow.memo(("tray_requested", key), partial(uow.requests.in_states, key, (REQUESTED,)))}
    loaded |= {r.id: r for r in uow.requests.with_people(_returned_to(uow, principals, configured))}
    for states, action in (((APPROVED, terms.ON_DUTY), "accept"), ((terms.DISPUTED,), "resolve_transfer"), ((terms.ESCALATED,), "decide_transfer")):
        rule = permissions.rule(terms.KIND, action)
        acting = sorted({t for p in principals for t in org.teams_of(p) if org.has_role(p, t, *rule.roles)})
        if acting:
            loaded |= {r.id: r for r in uow.requests.of_kind_touching(terms.KIND, states, teams=configured, touching=acting)}
    loaded |= {r.id: r for r in uow.requests.with_people(_blocked_for(uow, ctx, principals, configured))}
    for request in loaded.values():
        if not shown(request):
            continue
        found = _first_reason(uow, ctx, principals, request)
        if found is not None:
            principal, (reason, audience, threshold_team) = found
            age = reminders.waited(ctx, request, now)
            threshold = _threshold(ctx, reason, request.state, threshold_team)
            lines.append(_Line(reason, request.id, age, threshold, audience, threshold_team, principal, request))
    return lines, segments


@dataclass(frozen=True)
class _Segment:
    """Lines of one reason that stay in the database (``_lines``): the requests of ``teams`` in
    ``states`` (not of ``kinds_not``; held by ``holder``, if set; sending or receiving team
    ``touching``, if set), each a line of ``principal``'s; once counted, of one team and state,
    whose lines all have one threshold."""

    reason: str
    principal: str
    teams: tuple[str, ...]
    states: tuple[str, ...]
    kinds_not: tuple[str, ...]
    holder: str | None
    touching: str | None
    threshold: int = 0
    count: int = 0
    overdue: int = 0


def _segments(uow: UnitOfWork, ctx: Context, segment: _Segment) -> list[_Segment]:
    """``segment`` by team and state, counted in the database: how many, and how many overdue
    (entered their state before ``_waited_from`` of the threshold)."""
    thresholds = {(t, s): _threshold(ctx, segment.reason, s, t) for t in segment.teams for s in segment.states}
    before = {key: _waited_from(ctx, limit) for key, limit in thresholds.items()}
    holders = None if segment.holder is None else [segment.holder]
    counts = uow.memo(
        ("tray_counts", segment.teams, segment.states, segment.kinds_not, segment.holder, segment.touching, tuple(before.items())),
        partial(
            uow.requests.entered_counts, segment.teams, segment.states, before,
            kinds_not=segment.kinds_not, holders=holders, touching=segment.touching,
        ),
    )
    return [
        replace(segment, teams=(t,), states=(s,), threshold=thresholds[t, s], count=n, overdue=early)
        for (t, s), (n, early) in sorted(counts.items())
        if n
    ]


def _waited_from(ctx: Context, days: int) -> dt.datetime:
    """The moment before which a request must have entered its state to have waited at least
    ``days`` working days today (``reminders.waited``: D4, day 0 not counted): midnight
    (London) after the last such day."""
    waited = ctx.org.calendar.working_days_between
    today = local_today(ctx.clock)
    day = today
    if waited(day, today) >= days:  # no more than 0 days: today, and the days after it that are not working days
        while waited(day + dt.timedelta(days=1), today) >= days and day < today + dt.timedelta(days=3660):
            day += dt.timedelta(days=1)
    else:
        while waited(day, today) < days and day > today - dt.timedelta(days=36600):
            day -= dt.timedelta(days=1)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=LONDON).astimezone(dt.UTC)


def _first_lines(uow: UnitOfWork, ctx: Context, segment: _Segment, wanted: int) -> list[_Line]:
    """Lines of ``segment`` (one team and state) among which are its first ``wanted`` in the tray's
    order (``order``: one threshold, so the oldest first, then by request), read from the
    database without reading the others: the ``wanted`` that entered their state first; if there
    are more, those of the same age as the last of them are not all before it (the same age is
    a day, or a working day and the days after it that are not), so that age's first
    ``wanted`` by request too."""
    now = ctx.clock.now()
    holders = None if segment.holder is None else [segment.holder]
    team, state = segment.teams[0], segment.states[0]

    def first(entered: tuple[dt.datetime, dt.datetime] | None) -> list[tuple[int, int]]:
        rows = uow.memo(
            ("tray_first", team, state, segment.kinds_not, segment.holder, segment.touching, wanted, entered),
            partial(
                uow.requests.entered_first, team, state, wanted,
                kinds_not=segment.kinds_not, holders=holders, touching=segment.touching, entered=entered,
            ),
        )
        return [(row.id, reminders.waited_since(ctx, row.entered_at, now)) for row in rows]

    found = first(None)
    if len(found) == wanted:
        last = found[-1][1]
        found = [(request_id, age) for request_id, age in found if age > last]
        found += first((_waited_from(ctx, last + 1), _waited_from(ctx, last)))
    return [
        _Line(segment.reason, request_id, age, segment.threshold, "queue", team, segment.principal)
        for request_id, age in dict(found).items()
    ]


def _returned_to(uow: UnitOfWork, principals: tuple[str, ...], configured: list[str]) -> list[int]:
    """The returned requests a principal asked for or is the allocated worker of (RETURNED_TO_YOU),
    found in plain rows of every returned request and their cases' workers (once for all the trays
    of a read-only unit of work: a join on the cases made PostgreSQL read all of them for each)."""
    rows = uow.memo(("tray_returned",), partial(uow.requests.summaries, configured, (RETURNED,)))
    workers = uow.memo(("tray_returned_workers",), lambda: uow.cases.workers_of(row.case_id for row in rows))
    return [row.id for row in rows if row.requested_by in principals or workers.get(row.case_id) in principals]


def _may_decide_in(org: Organisation, person: str, team: str) -> bool:
    """Whether ``person`` may be among the deciders (``_decider``) of some request of ``team``:
    a manager or practice supervisor of it, or somebody's supervisor with an approving role in it
    (``Organisation.supervisors_for``)."""
    if org.has_role(person, team, Role.MANAGER, Role.PRACTICE_SUPERVISOR):
        return True
    return org.has_role(person, team, *APPROVING_ROLES) and any(p.supervisor == person for p in org.people)


def _blocked_for(uow: UnitOfWork, ctx: Context, principals: tuple[str, ...], configured: list[str]) -> list[int]:
    """The blocked requests that may be in the tray of ``principals`` other than
    those held by the viewer (``_lines``): held by a principal they cover, or with a work step
    assigned to a principal blocking them (C6.1). Read from plain rows and the blocking steps of
    every blocked request (once for all trays of a read-only unit of work)."""
    rows = uow.memo(("tray_blocked",), partial(uow.requests.summaries, configured, (BLOCKED,), with_details=True))
    groups = {row.id: tuple(applies_to(row.details, row.person_id)) for row in rows}
    steps = uow.memo(("tray_blocked_steps",), lambda: work_steps.blocking_steps_of(uow, ctx, groups.values()))
    return [
        row.id
        for row in rows
        if row.holder != principals[0]
        and (row.holder in principals or any(s.assignee in principals for s in steps[groups[row.id]]))
    ]


def work_tray(
    uow: UnitOfWork, ctx: Context, actor: str, team: str | None = None, *, page: int | None = None, page_size: int = 20
) -> WorkTray:
    """What is waiting for ``actor`` (in ``team`` only, if given): read-only, writes nothing.

    With ``page``: only that page of ``page_size`` lines (the last one if there are fewer
    pages), and how many lines there are in all and how many overdue: the same lines, in the
    same order, as the whole tray, but only the page's requests are loaded and drawn
    (``_lines``; issue 9: a business support officer's tray holds thousands of lines)."""
    tray = WorkTray(actor=actor, team=team, as_of=local_today(ctx.clock))
    # Act-for (issue 8): a deputy's tray holds the items of the absent people they cover too.
    principals = (actor, *(p for p in covering(uow, ctx, actor) if p != actor))
    if page is None:
        for request in _open_requests(uow, ctx, principals):
            if team is not None and team not in (request.team, request.receiving_team):
                continue
            found = _first_reason(uow, ctx, principals, request)
            if found is not None:
                principal, (reason, audience, threshold_team) = found
                tray.items.append(_item(uow, ctx, principal, request, reason, audience, threshold_team, actor))
        tray.items = order(tray.items)
    else:
        plain_and_loaded, segments = _lines(uow, ctx, principals, team)
        tray.count = len(plain_and_loaded) + sum(s.count for s in segments)
        tray.overdue_count = sum(1 for x in plain_and_loaded if x.age >= x.threshold) + sum(s.overdue for s in segments)
        tray.page_size = max(page_size, 1)
        tray.page = min(max(page, 1), max(1, -(-tray.count // tray.page_size)))
        for segment in segments:  # the first lines of the pages up to this one, of each
            plain_and_loaded += _first_lines(uow, ctx, segment, tray.page * tray.page_size)
        every = sorted(plain_and_loaded, key=lambda x: _order_key(x.age, x.threshold, x.request_id, x.reason))
        # One line a request, also if it moved between two of these reads: a read-only unit of
        # work reads one snapshot (store.db.read_only_options), a writing one on PostgreSQL
        # each statement afresh; the Home is redrawn after every move anyway.
        first: dict[int, _Line] = {}
        for x in every:
            first.setdefault(x.request_id, x)
        every = list(first.values())
        shown = every[(tray.page - 1) * tray.page_size : tray.page * tray.page_size]
        tray.requests = {r.id: r for r in uow.requests.with_people(x.request_id for x in shown if x.request is None)}
        tray.requests |= {x.request_id: x.request for x in shown if x.request is not None}
        for x in shown:
            if (loaded := tray.requests.get(x.request_id)) is not None:  # (not there: gone since it was counted)
                tray.items.append(_item(uow, ctx, x.principal, loaded, x.reason, x.audience, x.team, actor))
    for key in [team] if team is not None else ctx.org.teams_of(actor):
        if not ctx.org.has_role(actor, key, *MANAGER_ROLES):
            continue
        # Once per team for all the trays of a read-only unit of work (the managers' Homes redrawn after a click).
        look = uow.memo(("tray_radar", key, tray.as_of), partial(radar.radar_for, uow, ctx, key, tray.as_of))
        lines = [line for group in look.groups.values() for line in group]
        tray.radar.append(RadarSummary(key, len(lines), sum(1 for x in lines if x.days_away is not None and x.days_away < 0), len(look.turning)))
        # Only the audits due before today are read (issue 9), not all those within the team's notice.
        tray.overdue_audits += uow.memo(("tray_overdue_audits", key, tray.as_of), partial(audits.overdue, uow, ctx, tray.as_of, [key]))
    tray.overdue_audits.sort(key=lambda a: (-a.working_days_overdue, a.team, a.person_id))
    return tray


def tray_on_demand(
    uow: UnitOfWork, ctx: Context, actor: str, team: str | None, usage: str, *, page: int | None = None, page_size: int = 20
) -> WorkTray:
    """``/worktray [team]``: the tray (or a page of it, as ``work_tray``), in a named team only
    if the actor may see it (``workflows.radar.team_to_show``: known, and the actor has a role in it)."""
    if team is not None:
        escaped = usage.replace("{", "{{").replace("}", "}}")
        try:
            team = radar.team_to_show(
                ctx,
                actor,
                team,
                "work tray",
                which="Say which team (yours: {yours}). " + escaped,
                unknown="There is no team {team} (teams: {teams}). " + escaped,
                action="view_tray",
            )
        except NotAllowed as e:  # one line: the reason and the usage
            raise NotAllowed(f"{e} {usage}") from None
    return work_tray(uow, ctx, actor, team, page=page, page_size=page_size)


def affected_by(uow: UnitOfWork, ctx: Context, request: Request) -> set[str]:
    """Whose tray ``request`` may be in (or have just left): the requester, the allocated
    worker, the holder, the assignees of its blocking work steps, and everyone but the plain
    workers of the sending and receiving teams (managers, business support, group and service
    managers). A superset is harmless: a republish shows the tray as it is."""
    people = {request.requested_by, request.case.worker, *([request.holder] if request.holder else [])}
    if request.state == BLOCKED:
        people |= {s.assignee for s in work_steps.blocking_steps(uow, ctx, request.applies_to)}
    for key in (request.team, request.receiving_team):
        if key is None:
            continue
        try:
            ctx.org.team(key)
        except KeyError:
            continue
        for role in Role:
            if role != Role.WORKER:
                people |= {p.key for p in ctx.org.members(key, role)}
    now = ctx.clock.now()
    running = uow.memo(("deputy_periods",), lambda: uow.deputies.active(now))  # once for a batch's requests
    people |= {d.deputy for d in running if d.absent in people}  # act-for
    return {p for p in people if p}


def note_home_opened(uow: UnitOfWork, ctx: Context, chat_user_id: str) -> None:
    """Remember that ``chat_user_id`` opened the Home tab (now, by ``ctx.clock``), in one
    transaction. Only the Home tabs of people who opened it are republished when something in
    them changes (``home_viewers``): Slack shows Home only when opened, and opening it draws it
    afresh, so a tray drawn for anyone else is CPU and views.publish rate limit spent for nothing.
    Someone not in the organisation is not noted: no request is ever in their tray."""
    if ctx.org.person_by_chat_id(chat_user_id) is None:
        return
    uow.home_viewers.opened(chat_user_id, ctx.clock.now())
    uow.commit()


def home_viewers(uow: UnitOfWork, chat_user_ids: set[str]) -> set[str]:
    """Those of ``chat_user_ids`` who have opened the Home tab (``note_home_opened``)."""
    return uow.home_viewers.among(chat_user_ids)


# -- the morning refresh: Home kept current as time passes ------------------------------------

HOME_REFRESH_JOB = "home-refresh"  # its run per working day in job_runs (one instance redraws, once a day)
RECENT_HOME_VIEWERS = dt.timedelta(days=30)
"""Whose Home the morning refresh redraws: those who opened it within this window. Slack shows
the Home view last published, so a tab kept open (or come back to without re-opening it) shows
yesterday's ages until something in it moves; someone who has not opened Home for a month has
left it, and opening it draws it afresh anyway. The window keeps the daily cost (a tray drawn
and a views.publish each) to the people who use Home, however many once looked at it."""


def homes_to_refresh(uow: UnitOfWork, ctx: Context) -> list[str]:
    """The chat users whose Home the working morning redraws: those who opened it within
    ``RECENT_HOME_VIEWERS`` and are still in the organisation, sorted.

    Each line's age counts working days (D4) and turns overdue at the team's reminder
    threshold; neither moves on a day that is not a working day, so a non-working day
    redraws nobody and claims nothing: the next working morning redraws Home before the
    working day, the weekend and holidays included. It also drops what a deputy period
    that has ended left on Home (the absent person's lines "on behalf of" them on the
    deputy's tray): ``deputies.appoint`` ends a period at the end of its last day (midnight,
    London), so it is gone by the next working morning. A period ended early
    (``deputies.end``) or set up during the day shows at the next change, opening or morning.

    Exactly once a working day across instances and restarts: the run claims (job, "*",
    today) in job_runs and commits here, before anything is drawn; a second run that day gets
    nobody. A run that fails after its claim leaves Home as it was until the next change or
    opening (best effort, as every Home publish)."""
    today = local_today(ctx.clock)
    if not ctx.org.calendar.is_working_day(today):
        return []
    now = ctx.clock.now()
    if not uow.claim_run(job=HOME_REFRESH_JOB, team=work_steps.ALL_TEAMS, period=today.isoformat(), at=now):
        return []
    viewers = [c for c in uow.home_viewers.opened_since(now - RECENT_HOME_VIEWERS) if ctx.org.person_by_chat_id(c) is not None]
    uow.commit()
    return viewers
