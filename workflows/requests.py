"""The one mechanism for approve / return / claim, for every kind of request.

Closure uses it now; transfer and audit requests will use the same table,
permission rules and card announcements. A transition is one transaction: the
request changes state (compare-and-set on its version), an event is appended
and the cards are re-announced through the outbox, all or nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from store.models import Case, Request
from store.uow import ConcurrentChange, DuplicateOpenRequest, UnitOfWork
from workflows import permissions
from workflows.clock import LONDON, Clock
from workflows.errors import Conflict, FieldErrors, IllegalTransition, NotAllowed, NotFound
from workflows.org import Organisation, Role

# States. "returned" waits for the worker; "approved", "claimed" and "blocked"
# are the request's life as an item in the team's virtual-worker queue.
REQUESTED = "requested"
RETURNED = "returned"
APPROVED = "approved"
CLAIMED = "claimed"
BLOCKED = "blocked"
CLOSED = "closed"
WITHDRAWN = "withdrawn"
# A re-referral (C12) ends accepted (the case reopens to the team) or declined (escalated).
ACCEPTED = "accepted"
DECLINED = "declined"

# The actor of what worktray does by itself (the morning jobs); no person in the config.
# It takes a transition only where the caller says so (``transition(..., system=True)``).
SYSTEM_ACTOR = "worktray"

# request.details / event detail key: the absent person a deputy took the last action for (act-for).
ON_BEHALF_OF = "on_behalf_of"

IN_QUEUE = (APPROVED, CLAIMED, BLOCKED)
OPEN_STATES = (REQUESTED, RETURNED, APPROVED, CLAIMED, BLOCKED)

# The transition table: (state, action) -> new state. Nothing else is legal.
TRANSITIONS: dict[tuple[str, str], str] = {
    (REQUESTED, "approve"): APPROVED,  # C3: the manager audited and approves
    (REQUESTED, "return"): RETURNED,  # C3: returned with a note of what is needed
    (RETURNED, "resubmit"): REQUESTED,
    (APPROVED, "claim"): CLAIMED,  # C5: BS claim from the virtual worker
    (CLAIMED, "unclaim"): APPROVED,
    (BLOCKED, "unclaim"): APPROVED,  # the holder can let go of a blocked item too; the next audit re-checks
    (APPROVED, "reassign"): CLAIMED,  # a manager hands the item to a BS member
    (CLAIMED, "reassign"): CLAIMED,
    (BLOCKED, "reassign"): BLOCKED,
    (CLAIMED, "block"): BLOCKED,  # C6.1: work steps remain
    (BLOCKED, "recheck"): CLAIMED,  # C6.1: the steps are done
    (CLAIMED, "complete"): CLOSED,  # C6.2-6: the audit is done
    (APPROVED, "send_on"): CLOSED,  # a kind with an onward channel: approval hands it on (C10: purchasing)
    **{(s, "withdraw"): WITHDRAWN for s in OPEN_STATES},  # C11: at any time while open; never once closed
    (REQUESTED, "accept"): ACCEPTED,  # C12: the previous team takes a re-referral back
    (REQUESTED, "decline"): DECLINED,  # C12: not agreed; the group managers are told
}

Hook = Callable[[UnitOfWork, "Context", Request, str], None]

# The actions of the table a queued request (closure, ...) takes; other kinds name their own.
QUEUE_ACTIONS = frozenset({"approve", "return", "resubmit", "claim", "unclaim", "reassign", "block", "recheck", "complete", "withdraw"})


@dataclass(frozen=True)
class ChecklistItem:
    """One item of a kind's approval checklist (C3: the adults' 18 items of seed 002)."""

    key: str  # "1" ... "18"
    heading: str  # the seed's group, e.g. "Best practice"
    text: str


ANSWERS = {"yes": "Yes", "no": "No", "na": "Not applicable"}  # C3: each item yes, no or not applicable


@dataclass(frozen=True)
class Approval:
    """What the manager records on approving (C3): a case note (optional) and,
    where the kind asks for one, the checklist answered item by item."""

    note: str = ""
    answers: Mapping[str, str] = field(default_factory=dict)  # item key -> yes | no | na
    item_notes: Mapping[str, str] = field(default_factory=dict)  # item key -> note (a "no" needs one)


@dataclass(frozen=True)
class RequestKind:
    """What makes one kind of request itself (closure, and later transfer, audit, ...).

    The shared path (approve, return, claim, announce ...) asks the request's
    kind for anything particular to it, and never branches on ``request.kind``.
    A module that defines a kind registers it with ``register_kind``.
    """

    name: str
    label: str  # how cards and messages name it: "Closure request"
    check_approve: Hook | None = None  # a kind's own rule before approval (closure: C4); raises a WorkflowError
    after_approve: Hook | None = None  # what approval also does, in the same transaction
    queued: bool = True  # approval puts the item in the team's virtual-worker queue
    # Where the approved item's card goes instead of the virtual-worker queue (C10: the purchasing
    # channel); a kind with one hands the item on ("send_on") in its after_approve hook.
    onward_channel: Callable[[Organisation, Request], str | None] | None = None
    approved_text: Callable[[Context, Request], str] | None = None  # what the approver is told
    # C3: the checklist the approver answers for this request (closure: the adults' 18 items); none by default
    approval_checklist: Callable[[Request], Sequence[ChecklistItem]] | None = None
    actions: frozenset[str] = QUEUE_ACTIONS  # which actions of TRANSITIONS apply to this kind
    # A kind with states of its own (transfer) declares its own table; None: the shared TRANSITIONS.
    transitions: Mapping[tuple[str, str], str] | None = None
    # Who may do the kind's actions, and in which of a transfer's teams (sending ``team``,
    # ``receiving_team``), is the permission table's (``workflows.permissions``), never the kind's.
    # An action of the kind checked with the person rule of a shared one (transfer: mark_ready as resubmit).
    person_rule_as: Mapping[str, str] = field(default_factory=dict)
    # Cards the kind shows besides the manager card and the queue: (channel, audience) pairs, e.g. the
    # receiving team's manager channel once a transfer is approved.
    also_announce: Callable[[Organisation, Request], Sequence[tuple[str, str]]] | None = None
    # How the kind's own states read on cards (a transfer's "accepted" is not a re-referral's).
    state_labels: Mapping[str, str] = field(default_factory=dict)
    # How the kind's own actions read in "was ... by" (describe): "held on duty".
    action_words: Mapping[str, str] = field(default_factory=dict)
    # Whether the request has a card in the team's manager channel; a kind that only
    # business support act on (C13: the three-month audit) keeps that channel quiet.
    manager_card: bool = True


KINDS: dict[str, RequestKind] = {}


def register_kind(kind: RequestKind) -> RequestKind:
    KINDS[kind.name] = kind
    return kind


def kind_of(request: Request) -> RequestKind:
    """The request's kind; an unregistered one gets the shared behaviour only."""
    return KINDS.get(request.kind) or RequestKind(request.kind, request.kind.replace("_", " ").capitalize() + " request")

# Who may do what, by role in the request's team: the shared rows of the one permission
# table (``workflows.permissions``), read-only here. Some actions also need the actor to be a
# particular person (see _person_rule); checked in the core for every action, not only by hiding buttons.
ROLES_FOR: Mapping[str, frozenset[Role]] = MappingProxyType({a: r.roles for a, r in permissions.scope_rules(permissions.SHARED).items()})

ACTION_WORDS = {
    "request": "requested",
    "approve": "approved",
    "return": "returned",
    "resubmit": "resubmitted",
    "claim": "claimed",
    "unclaim": "released",
    "reassign": "reassigned",
    "block": "blocked",
    "recheck": "re-checked",
    "complete": "completed",
    "withdraw": "withdrawn",
    "send_on": "sent on",
    "accept": "accepted",
    "decline": "declined",
}

# C11: the sources' 2 weeks for reversing a closure decision. worktray lets an open
# request be withdrawn after it too, and marks such a withdrawal as late. Calendar time by
# the rule (14 days of 24 hours from the request), not working days: D4's calendar does not apply.
WITHDRAW_WINDOW = dt.timedelta(days=14)


@dataclass(frozen=True)
class Context:
    """What every handler needs besides the unit of work."""

    org: Organisation
    clock: Clock


def load(uow: UnitOfWork, request_id: int) -> Request:
    request = uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"There is no request {request_id}.")
    return request


def describe(org: Organisation, request: Request) -> str:
    """What last happened to a request, in a sentence (for second clicks)."""
    if request.last_action is None or request.last_action_at is None:
        return f"Request {request.id} is {request.state}."
    when = request.last_action_at.astimezone(LONDON).strftime("%d %b %Y %H:%M")
    word = kind_of(request).action_words.get(request.last_action) or ACTION_WORDS.get(request.last_action, request.last_action)
    by = org.name_of(request.last_actor)
    if request.details.get(ON_BEHALF_OF):  # act-for (issue 8): the deputy, for the absent person
        by += f" on behalf of {org.name_of(str(request.details[ON_BEHALF_OF]))}"
    text = f"Request {request.id} was {word} by {by} at {when}; it is now {request.state}"
    if request.state in (CLAIMED, BLOCKED) and request.holder:
        text += f", held by {org.name_of(request.holder)}"
    return text + "."


def acting_teams(request: Request, action: str) -> tuple[str, ...]:
    """The team(s) in which a role counts for ``action`` on this request (the permission table
    says: the sending team by default, the receiving team for a transfer's accept, hold and dispute)."""
    return permissions.teams_for(permissions.rule(request.kind, action), request.team, request.receiving_team)


def roles_for(request: Request, action: str) -> frozenset[Role]:
    """The roles that may do ``action`` on this request: the permission table's row for its kind."""
    return permissions.rule(request.kind, action).roles


def may(org: Organisation, actor: str, action: str, request: Request, covering: Sequence[str] = ()) -> bool:
    """The permission rule, in one place, for every kind of request. ``covering``: the absent
    people ``actor`` is deputy for now (``workflows.deputies.covering``)."""
    return acting_as(org, actor, action, request, covering) is not None


def acting_as(org: Organisation, actor: str, action: str, request: Request, covering: Sequence[str] = ()) -> str | None:
    """Whose authority ``actor`` may do ``action`` on: their own (``actor``), else that of an
    absent person they are deputy for (their roles in their teams, and the person rules as
    them: a deputy of the holder completes the held item), else None.

    C3 four eyes holds for the person and the authority both: a deputy never approves or
    returns a request they made, nor, as its maker's deputy, one the absent person made
    (that would be the maker's own authority deciding on their own request)."""
    for principal in (actor, *(c for c in covering if c != actor)):
        if principal != actor and _breaks_four_eyes(actor, action, request):
            continue
        if _may_as(org, principal, action, request):
            return principal
    return None


def _breaks_four_eyes(actor: str, action: str, request: Request) -> bool:
    return action in FOUR_EYES and actor == request.requested_by


def _may_as(org: Organisation, person: str, action: str, request: Request) -> bool:
    roles = roles_for(request, action)
    if not any(org.has_role(person, team, *roles) for team in acting_teams(request, action)):
        return False
    return _person_rule(org, person, kind_of(request).person_rule_as.get(action, action), request)


# C3 four eyes: nobody approves or returns their own request.
FOUR_EYES = ("approve", "return")


def _person_rule(org: Organisation, actor: str, action: str, request: Request) -> bool:
    is_manager = org.has_role(actor, request.team, Role.MANAGER)
    if action in FOUR_EYES:
        return actor != request.requested_by
    if action in ("block", "recheck", "complete"):
        return request.holder == actor
    if action == "unclaim":
        return request.holder == actor or is_manager
    if action in ("resubmit", "withdraw"):
        return is_manager or actor in (request.requested_by, request.case.worker)
    return True


def check_allowed(org: Organisation, actor: str, action: str, request: Request, covering: Sequence[str] = ()) -> str:
    """Refuse with a one-line reason, or return whose authority the actor acts on (``acting_as``)."""
    if action in FOUR_EYES and actor == request.requested_by:
        raise NotAllowed(
            f"Nothing changed: you made request {request.id} yourself, so another manager must {action} it (four eyes, C3)."
        )
    principal = acting_as(org, actor, action, request, covering)
    if principal is None and action in FOUR_EYES and request.requested_by in covering:
        raise NotAllowed(
            f"Nothing changed: {org.name_of(request.requested_by)}, whom you act for, made request {request.id}, "
            f"so another manager must {action} it (four eyes, C3)."
        )
    if principal is None:
        word = action.replace("_", " ")
        teams = " or ".join(org.team(t).name for t in acting_teams(request, action))
        raise NotAllowed(f"You cannot {word} request {request.id}: your role in {teams} does not allow it.")
    return principal


def next_state(org: Organisation, request: Request, action: str) -> str:
    kind = kind_of(request)
    table = kind.transitions if kind.transitions is not None else TRANSITIONS
    new = table.get((request.state, action)) if action in kind.actions else None
    if new is None:
        raise IllegalTransition(f"Nothing changed. {describe(org, request)}")
    return new


def covering(uow: UnitOfWork, ctx: Context, actor: str) -> tuple[str, ...]:
    """The absent people ``actor`` is deputy for now (issue 8, act-for; ``workflows.deputies``).

    Read once until the unit of work writes (``uow.memo``): an action asks it in its
    checks (``precheck``, a kind's own rule) and again in ``transition``, with nothing written
    in between; a write (a deputy named or ended, too) makes the next ask read it again."""
    return uow.memo(("covering", actor), lambda: tuple(d.absent for d in uow.deputies.active(ctx.clock.now(), deputy=actor)))


def precheck(ctx: Context, request: Request, action: str, actor: str, uow: UnitOfWork | None = None) -> str:
    """Is the action legal now, and may this person do it? Asked before a form is
    checked, so a second click or a refusal is told as such, not as field errors.
    With the unit of work, a deputy may act for the absent person they cover (act-for);
    returns whose authority the actor acts on."""
    next_state(ctx.org, request, action)
    return check_allowed(ctx.org, actor, action, request, covering(uow, ctx, actor) if uow is not None else ())


def withdrawable(request: Request, now: dt.datetime | None = None) -> bool:
    """C11: an open request can be withdrawn at any time (nothing is closed yet, and a
    returned request must never be a dead end); a finished one never is: it is reopened."""
    return request.state in OPEN_STATES


def past_withdraw_window(request: Request, now: dt.datetime) -> bool:
    """C11: more than 2 weeks since the request was made. Drawn from the clock when a
    card is drawn (no job edits the request), and marked on a withdrawal made then."""
    return now - request.requested_at > WITHDRAW_WINDOW


def transition(
    uow: UnitOfWork,
    ctx: Context,
    request: Request,
    action: str,
    actor: str,
    *,
    source: str | None = None,
    detail: dict[str, Any] | None = None,
    apply: Callable[[Request], None] | None = None,
    system: bool = False,
) -> Request:
    """Check, change state, log, announce: the one path every action takes.

    ``apply`` makes the action's own changes (holder, note, store records)
    inside the same transaction. Raises a WorkflowError with a message for the
    user when the action is not allowed, not legal now, or lost a race.
    ``system``: worktray acts by itself (a morning job), as ``SYSTEM_ACTOR``; no role
    is asked of it, the legality of the action still is.
    """
    now = ctx.clock.now()
    new_state = next_state(ctx.org, request, action)
    principal = actor
    if system:
        actor = principal = SYSTEM_ACTOR
    else:
        principal = check_allowed(ctx.org, actor, action, request, covering(uow, ctx, actor))
    old_state = request.state
    if apply is not None:
        apply(request)
    if principal != actor:  # act-for: the card says "<deputy> on behalf of <absent>" (describe)
        request.details = {**request.details, ON_BEHALF_OF: principal}
        detail = {**(detail or {}), ON_BEHALF_OF: principal}
    elif ON_BEHALF_OF in request.details:
        request.details = {k: v for k, v in request.details.items() if k != ON_BEHALF_OF}
    request.state = new_state
    request.last_actor = actor
    request.last_action = action
    request.last_action_at = now
    uow.record(
        at=now,
        actor=actor,
        action=action,
        request=request,
        from_state=old_state,
        to_state=new_state,
        source=source,
        detail=detail,
    )
    announce(uow, ctx, request)
    save(uow, ctx, request)
    return request


def open_request(
    uow: UnitOfWork,
    ctx: Context,
    kind: RequestKind,
    case: Case,
    actor: str,
    details: dict[str, Any],
    *,
    already_open: Callable[[], str],
    person_id: str | None = None,
    requested_by: str | None = None,
    source: str | None = None,
    event_detail: dict[str, Any] | None = None,
    state: str = REQUESTED,
    receiving_team: str | None = None,
) -> Request:
    """Raise a new request of a kind on a case: the row, its first event and its cards, in
    the caller's transaction (the caller commits). Every kind starts here.

    The database holds at most one open request of a kind per person (a partial unique
    index), so two people asking at the same moment cannot both succeed: the loser's
    transaction is rolled back and ``already_open()`` (asked after the rollback, so it
    can name the request that won) is what they are told. A kind may start elsewhere than
    ``requested`` (a potential transfer; a transfer audit straight into the queue), and a
    request may involve a second, receiving team (T).
    """
    now = ctx.clock.now()
    request = Request(
        kind=kind.name,
        state=state,
        receiving_team=receiving_team,
        case_id=case.id,
        person_id=person_id or case.person_id,
        team=case.team,
        requested_by=requested_by or actor,
        requested_at=now,
        details=details,
        last_actor=actor,
        last_action="request",
        last_action_at=now,
    )
    try:
        uow.requests.add(request)
    except DuplicateOpenRequest:
        uow.rollback()
        raise Conflict(already_open()) from None
    request.case = case
    uow.record(at=now, actor=actor, action="request", request=request, to_state=state, source=source, detail=event_detail)
    announce(uow, ctx, request)
    return request


def save(uow: UnitOfWork, ctx: Context, request: Request) -> None:
    """Flush with compare-and-set; on a lost race, say who won."""
    try:
        uow.requests.save()
    except ConcurrentChange:
        uow.rollback()
        fresh = load(uow, request.id)
        raise Conflict(f"Someone was quicker. {describe(ctx.org, fresh)}") from None


# -- cards ------------------------------------------------------------------


def manager_card_key(request: Request, revision: int | None = None) -> str:
    return f"request:{request.id}:r{revision or request.revision}:manager"


def queue_card_key(request: Request) -> str:
    return f"request:{request.id}:queue"


def onward_card_key(request: Request) -> str:
    return f"request:{request.id}:onward"


def announce(uow: UnitOfWork, ctx: Context, request: Request) -> None:
    """Ask the outbox to show the request's cards as they now are.

    The manager card lives in the team's manager channel; once approved, the
    item's card lives in the business-support channel (the virtual worker).
    The deliverer posts a card the first time and edits it in place after.
    The DMs already sent about the request are redrawn too.
    """
    now = ctx.clock.now()
    team = ctx.org.team(request.team)
    if kind_of(request).manager_card:
        uow.send(
            at=now,
            kind="card",
            channel=team.manager_channel,
            card_key=manager_card_key(request),
            body={"view": "request", "audience": "manager", "request_id": request.id, "revision": request.revision},
        )
    if kind_of(request).queued and (request.details.get("queued") or request.state in IN_QUEUE):
        request.details = {**request.details, "queued": True}
        uow.send(
            at=now,
            kind="card",
            channel=team.business_support_channel,
            card_key=queue_card_key(request),
            body={"view": "request", "audience": "queue", "request_id": request.id, "revision": request.revision},
        )
    redraw_direct_messages(uow, ctx, request)
    _announce_onward(uow, ctx, request)
    _announce_also(uow, ctx, request)


def also_card_key(request: Request, audience: str) -> str:
    return f"request:{request.id}:{audience}"


def _announce_also(uow: UnitOfWork, ctx: Context, request: Request) -> None:
    """The kind's other cards (a transfer's card in the receiving team's manager channel)."""
    also = kind_of(request).also_announce
    for channel, audience in also(ctx.org, request) if also is not None else ():
        uow.send(
            at=ctx.clock.now(),
            kind="card",
            channel=channel,
            card_key=also_card_key(request, audience),
            body={"view": "request", "audience": audience, "request_id": request.id, "revision": request.revision},
        )


def _announce_onward(uow: UnitOfWork, ctx: Context, request: Request) -> None:
    """The card in the kind's onward channel (C10: purchasing), once the item has been sent on."""
    onward = kind_of(request).onward_channel
    channel = onward(ctx.org, request) if onward is not None else None
    if channel is None or not (request.details.get("sent_on") or request.last_action == "send_on"):
        return
    request.details = {**request.details, "sent_on": True}
    uow.send(
        at=ctx.clock.now(),
        kind="card",
        channel=channel,
        card_key=onward_card_key(request),
        body={"view": "request", "audience": "onward", "request_id": request.id, "revision": request.revision},
    )


def direct_message(uow: UnitOfWork, ctx: Context, person_key: str, body: dict[str, Any]) -> bool:
    """Queue a DM to a configured person; people not in the config cannot be reached.

    A DM about a request is a card like the channel ones: it gets a card key, is
    posted once and redrawn in place whenever the request moves on
    (``redraw_direct_messages``), so it never keeps a button for a step that is over.
    """
    chat_id = ctx.org.chat_id_of(person_key)
    if chat_id is None:
        return False
    request = uow.requests.get(int(body["request_id"])) if "request_id" in body else None
    _send_dm(uow, ctx, chat_id, request, body)
    for deputy in uow.deputies.active(ctx.clock.now(), absent=person_key):  # act-for: the deputy gets it too
        deputy_chat = ctx.org.chat_id_of(deputy.deputy)
        if deputy_chat is not None and deputy_chat != chat_id:
            _send_dm(uow, ctx, deputy_chat, request, {**body, DEPUTY_FOR: person_key})
    return True


DEPUTY_FOR = "deputy_for"  # a DM's body key: sent to a deputy, for this absent person


def _send_dm(uow: UnitOfWork, ctx: Context, chat_id: str, request: Request | None, body: dict[str, Any]) -> None:
    card_key = dm_card_key(request, chat_id, str(body.get("view", "message"))) if request is not None else None
    uow.send(at=ctx.clock.now(), kind="dm", channel=chat_id, card_key=card_key, body=body)


def dm_card_key_prefix(request_id: int) -> str:
    return f"dm:{request_id}:"


def dm_card_key(request: Request, chat_id: str, view: str) -> str:
    """One DM card per request, recipient and view, and per step of the request
    (its version): a second return is a new message the worker is notified of,
    and the first one is redrawn as the request now is."""
    return f"{dm_card_key_prefix(request.id)}v{request.version}:{chat_id}:{view}"


def redraw_direct_messages(uow: UnitOfWork, ctx: Context, request: Request) -> None:
    """Queue again every DM card already sent about the request, so that each is
    edited in place to show the request as it now is."""
    queue_redraws(uow, ctx, posted_cards_of(uow, [request], channel_cards=False, dm_views=None))


@dataclass(frozen=True)
class Redraw:
    """A card already posted (a channel card or a DM), to be queued again as it was first
    queued: the deliverer draws it from the request as it is then and edits it in place."""

    kind: str
    channel: str
    card_key: str
    body: dict[str, Any]


def card_key_prefix(request_id: int) -> str:
    """Every channel card of a request: manager (per revision), queue, onward, a kind's others."""
    return f"request:{request_id}:"


def posted_cards_of(
    uow: UnitOfWork, requests: Sequence[Request], *, channel_cards: bool = True, dm_views: Collection[str] | None = ()
) -> list[Redraw]:
    """The cards already posted about ``requests`` that a redraw would change (one query for
    them all), without touching the requests (no new version: nobody's click loses a
    compare-and-set to it): with ``channel_cards`` their channel cards (of the manager cards,
    the current revision's only: an older one reads "superseded", whoever is away), and their
    DMs of ``dm_views`` (None: all)."""
    by_id = {r.id: r for r in requests}
    prefixes = [card_key_prefix(i) for i in by_id] if channel_cards else []
    prefixes += [dm_card_key_prefix(i) for i in by_id] if dm_views is None or dm_views else []
    found: list[Redraw] = []
    for row, _posted in uow.posted_cards(prefixes):
        assert row.card_key is not None
        request = by_id[int(row.card_key.split(":")[1])]  # request:<id>:... and dm:<id>:...
        if row.card_key.startswith(card_key_prefix(request.id)):
            if row.body.get("audience") == "manager" and row.card_key != manager_card_key(request):
                continue
        elif dm_views is not None and row.body.get("view") not in dm_views:
            continue
        found.append(Redraw(row.kind, row.channel, row.card_key, row.body))
    return found


def queue_redraws(uow: UnitOfWork, ctx: Context, redraws: Iterable[Redraw]) -> int:
    """Queue each card to be redrawn in place (the outbox; one delivery per card however many
    rows it has pending); how many were queued."""
    now = ctx.clock.now()
    count = 0
    for redraw in redraws:
        uow.send(at=now, kind=redraw.kind, channel=redraw.channel, card_key=redraw.card_key, body=redraw.body)
        count += 1
    return count


# -- the shared actions -------------------------------------------------------


def never_seen_face_to_face(uow: UnitOfWork, request: Request) -> list[str]:
    """C4: the people on the request who have never been seen face to face."""
    people = [uow.cases.person(p) for p in request.applies_to]
    return [p.id for p in people if p is not None and p.last_seen_face_to_face is None]


def checklist_for(request: Request) -> list[ChecklistItem]:
    """The approval checklist the request's kind asks for (C3); empty for most."""
    items = kind_of(request).approval_checklist
    return list(items(request)) if items is not None else []


def check_approve(uow: UnitOfWork, ctx: Context, request: Request, actor: str) -> None:
    """May this person approve this request now? Asked before the approve form is
    shown and again on submit: legal now, their role, four eyes (C3) and the kind's own rule (C4)."""
    precheck(ctx, request, "approve", actor, uow)
    kind = kind_of(request)
    if kind.check_approve is not None:
        kind.check_approve(uow, ctx, request, actor)


def checked_answers(items: Sequence[ChecklistItem], approval: Approval) -> list[dict[str, str]]:
    """C3: every item answered yes, no or not applicable; a "no" needs a note.
    Raises FieldErrors on ``answer_<key>`` / ``note_<key>``."""
    errors: dict[str, str] = {}
    answered = []
    for item in items:
        answer = (approval.answers.get(item.key) or "").strip()
        note = (approval.item_notes.get(item.key) or "").strip()
        if answer not in ANSWERS:
            errors[f"answer_{item.key}"] = f"Answer item {item.key}: yes, no or not applicable."
        elif answer == "no" and not note:
            errors[f"note_{item.key}"] = f"Item {item.key} is answered no: note what is missing or why (C3)."
        answered.append({"item": item.key, "answer": answer, "note": note})
    if errors:
        raise FieldErrors(errors)
    return answered


def approve(
    uow: UnitOfWork, ctx: Context, request_id: int, actor: str, approval: Approval | None = None, *, source: str | None = None
) -> str:
    """C3: approve, with the manager's case note (optional) and the kind's checklist
    (the adults' 18 items); the item goes to the team's virtual worker (C5).

    The request's kind may add a rule (closure: C4) and what approval also does.
    """
    request = load(uow, request_id)
    kind = kind_of(request)
    check_approve(uow, ctx, request, actor)
    approval = approval or Approval()
    answers = checked_answers(checklist_for(request), approval)
    note = approval.note.strip()
    recorded: dict[str, Any] = {"by": actor, "note": note}
    if answers:
        recorded["checklist"] = answers

    def _apply(r: Request) -> None:
        if note:  # the latest manager's note on the request (C3 case note); a return's note stays otherwise
            r.note = note
        r.details = {**r.details, "approval": recorded}

    detail = {k: v for k, v in (("note", note), ("checklist", answers)) if v}
    transition(uow, ctx, request, "approve", actor, source=source, detail=detail or None, apply=_apply)
    if kind.after_approve is not None:
        kind.after_approve(uow, ctx, request, actor)
    if request.requested_by != actor:  # the worker hears the decision, as with a return
        direct_message(uow, ctx, request.requested_by, {"view": "approved", "request_id": request.id, "by": actor})
    uow.commit()
    if kind.approved_text is not None:
        return kind.approved_text(ctx, request)
    return f"Approved. Request {request.id} is now in the virtual worker of {ctx.org.team(request.team).name}."


def route_to_supervisor(uow: UnitOfWork, ctx: Context, request: Request) -> str | None:
    """C2: the request goes to the worker's supervising manager: besides the card in
    the team's manager channel (where any manager may act, as cover), the supervisor
    gets it as a direct message with Approve and Return. Returns their key, or None
    when nobody is configured (the team's managers are the fallback)."""
    supervisor = ctx.org.supervisor_of(request.requested_by, request.team)
    if supervisor is None:
        return None
    direct_message(uow, ctx, supervisor.key, {"view": "to_approve", "request_id": request.id, "revision": request.revision})
    return supervisor.key


def return_request(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, note: str, *, source: str | None = None) -> str:
    """C3: return to the worker with a note of what is needed; the worker gets a DM."""
    request = load(uow, request_id)
    precheck(ctx, request, "return", actor, uow)
    note = note.strip()
    if not note:
        raise FieldErrors({"note": "Say what is needed before the request can be approved."})

    def _apply(r: Request) -> None:
        r.note = note

    transition(uow, ctx, request, "return", actor, source=source, detail={"note": note}, apply=_apply)
    direct_message(uow, ctx, request.requested_by, {"view": "returned", "request_id": request.id, "by": actor})
    uow.commit()
    return f"Returned request {request.id} to {ctx.org.name_of(request.requested_by)}."


def _set_holder(holder: str | None) -> Callable[[Request], None]:
    def _apply(r: Request) -> None:
        r.holder = holder

    return _apply


def claim(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, *, source: str | None = None) -> str:
    """C5: exactly one BS member wins an item (compare-and-set on the version)."""
    request = transition(uow, ctx, load(uow, request_id), "claim", actor, source=source, apply=_set_holder(actor))
    uow.commit()
    return f"You hold {kind_of(request).label.lower()} {request.id}. Open its audit when you are ready."


def unclaim(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, *, source: str | None = None) -> str:
    request = transition(uow, ctx, load(uow, request_id), "unclaim", actor, source=source, apply=_set_holder(None))
    uow.commit()
    return f"Request {request.id} is back in the virtual worker for anyone to claim."


def reassign(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, to: str, *, source: str | None = None) -> str:
    """A manager gives an item to another business-support member of the team."""
    request = load(uow, request_id)
    if ctx.org.person(to) is None:  # not one of the form's options: never quote it back (it may be anything)
        raise FieldErrors({"to": f"Choose business support in {ctx.org.team(request.team).name} from the list."})
    if not ctx.org.has_role(to, request.team, Role.BUSINESS_SUPPORT):
        raise FieldErrors({"to": f"{ctx.org.name_of(to)} is not business support in {ctx.org.team(request.team).name}."})
    previous = request.holder
    if previous == to and request.state in (CLAIMED, BLOCKED):  # a second submit of the same reassignment
        raise IllegalTransition(f"Nothing changed. {describe(ctx.org, request)}")
    transition(uow, ctx, request, "reassign", actor, source=source, detail={"from": previous, "to": to}, apply=_set_holder(to))
    direct_message(uow, ctx, to, {"view": "assigned", "request_id": request.id, "by": actor})
    uow.commit()
    return f"Request {request.id} is now held by {ctx.org.name_of(to)}."


def withdraw(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, *, source: str | None = None) -> str:
    """C11: the worker or a manager withdraws an open request at any time; the case stays
    open. After 2 weeks the withdrawal is marked late on the card and in the event log.
    A finished closure is never withdrawn (nor rewritten): it is reopened instead."""
    request = load(uow, request_id)
    if request.state == CLOSED:
        raise IllegalTransition(
            f"Nothing changed. {describe(ctx.org, request)} A closed case is never rewritten: "
            "a manager or practice supervisor can Reopen it as a new involvement (C11)."
        )
    now = ctx.clock.now()
    late = past_withdraw_window(request, now)
    detail: dict[str, Any] = {"late": True, "days_open": (now - request.requested_at).days} if late else {}

    def _apply(r: Request) -> None:
        r.holder = None
        if late:
            r.details = {**r.details, "withdrawn_late": True}

    transition(uow, ctx, request, "withdraw", actor, source=source, detail=detail, apply=_apply)
    uow.commit()
    if late:
        return f"Request {request.id} is withdrawn, after the 2 weeks of C11 (marked as late); the case stays open."
    return f"Request {request.id} is withdrawn; the case stays open."
