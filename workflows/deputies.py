"""Act-for deputies (issue 8): a manager or business support member names who acts for them
while they are away (``/worktray deputy @user until <date>``).

While a period lasts (from the moment it is set up until the end of the named day,
Europe/London), the deputy

- may act as the absent person: the permission check (``workflows.requests.acting_as``)
  treats the deputy as holding the absent person's roles in the absent person's teams,
  and the person rules as them (a deputy of the holder completes the held item);
- gets what is addressed to the absent person: every direct message, reminders included
  (``workflows.requests.direct_message``), marked "You are deputy for: <absent>";
- is named on the cards for what they do: "approved by Ben Hale on behalf of Maria Lopez"
  (``workflows.requests.describe``; the event's detail says ``on_behalf_of``).

C3, four eyes, still holds: a deputy never approves or returns a request they made, nor,
acting for the absent person, one the absent person made. After the period nothing of it
applies. Deputies do not chain: a deputy's own deputy does not act for the first absent person.

Who may be named (decided here, documented in the README): a person of the organisation
config, not the asker, who holds, in a team where the asker is a manager or business
support, a role that could do that work: for a manager, a manager, practice supervisor,
group manager, service manager or head of service of the team; for business support,
business support or a manager of the team. Periods of one absent person never overlap, and
a deputy who is away themselves (has a deputy of their own then) cannot cover.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from store.models import Deputy, Request
from store.uow import UnitOfWork
from workflows.clock import LONDON, local_today
from workflows.errors import NotAllowed, NotFound, WorkflowError
from workflows.org import APPROVING_ROLES, Organisation, Role
from workflows.requests import BLOCKED, CLAIMED, REQUESTED, Context, Redraw, posted_cards_of, queue_redraws
from workflows.work_steps import ALL_TEAMS

# Who may name a deputy, and who may cover them, by the absent person's role in a team.
MAY_NAME = (Role.MANAGER, Role.BUSINESS_SUPPORT)
COVER_ROLES: dict[Role, tuple[Role, ...]] = {
    Role.MANAGER: (Role.MANAGER, Role.PRACTICE_SUPERVISOR, Role.GROUP_MANAGER, Role.SERVICE_MANAGER, Role.HEAD_OF_SERVICE),
    Role.BUSINESS_SUPPORT: (Role.BUSINESS_SUPPORT, Role.MANAGER),
}

SET = "deputy_set"  # the event of a set-up
ENDED = "deputy_ended"  # the event of an early end


def end_of_day(day: dt.date) -> dt.datetime:
    """The first moment after ``day`` in Europe/London: a period's (exclusive) end."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=LONDON)


def day_label(at: dt.datetime) -> str:
    """The last day of a period ending at ``at`` (exclusive), as people say it: "Fri 12 Dec 2026"."""
    last = (at.astimezone(LONDON) - dt.timedelta(microseconds=1)).date()
    return last.strftime("%a %d %b %Y")


def may_name(org: Organisation, person: str) -> bool:
    found = org.person(person)
    return found is not None and any(m.role in MAY_NAME for m in found.roles)


def could_cover(org: Organisation, absent: str, deputy: str) -> bool:
    """Does ``deputy`` hold, in a team where ``absent`` is a manager or business support, a role
    that could do that work (``COVER_ROLES``)?"""
    found = org.person(absent)
    if found is None:
        return False
    return any(m.role in COVER_ROLES and org.has_role(deputy, m.team, *COVER_ROLES[m.role]) for m in found.roles)


def named(uow: UnitOfWork, ctx: Context, person: str) -> str:
    """A person a card names (an approver, a holder), and who acts for them while they are away:
    "Sam Patel (away until Fri 27 Nov 2026: Tess Wong acts for them)"."""
    name = ctx.org.name_of(person)
    now = ctx.clock.now()
    for period in uow.memo(("away", person), lambda: uow.deputies.active(now, absent=person)):
        name += f" (away until {day_label(period.ends_at)}: {ctx.org.name_of(period.deputy)} acts for them)"
    return name


def appoint(uow: UnitOfWork, ctx: Context, actor: str, deputy: str | None, until: dt.date, *, source: str | None = None) -> str:
    """Set up a period: ``deputy`` acts for ``actor`` from now until the end of ``until``
    (Europe/London); ``deputy`` None: someone not in the config. Refused, with nothing changed, when the asker may not name a deputy, the
    deputy is themself, unknown, without a role that could do the work, away themselves, or the
    period is past or overlaps one of the asker's. The set-up is an event, in the same transaction."""
    org = ctx.org
    now = ctx.clock.now()
    if not may_name(org, actor):
        raise NotAllowed("Only managers and business support name a deputy; nothing changed.")
    if deputy == actor:
        raise WorkflowError("You cannot be your own deputy: name someone else; nothing changed.")
    if deputy is None or org.person(deputy) is None:  # None: a mention of nobody in the config
        raise NotFound("That person is not in worktray's organisation config, so cannot be your deputy; nothing changed.")
    if until < local_today(ctx.clock):
        raise WorkflowError(f"{until:%d %b %Y} is past: a deputy is named until today or a later day; nothing changed.")
    ends_at = end_of_day(until)
    if not could_cover(org, actor, deputy):
        raise NotAllowed(
            f"{org.name_of(deputy)} has no role in your team that could do your work "
            "(a manager's deputy: a manager or senior; business support's: business support or a manager); nothing changed."
        )
    for period in uow.deputies.of(actor, now):
        if period.starts_at < ends_at:
            raise WorkflowError(
                f"You already have a deputy, {org.name_of(period.deputy)}, until the end of {day_label(period.ends_at)}: "
                "periods cannot overlap. End it first (/worktray deputy end); nothing changed."
            )
    if any(p.starts_at < ends_at for p in uow.deputies.of(deputy, now)):
        raise WorkflowError(f"{org.name_of(deputy)} is away then (they have a deputy of their own); nothing changed.")
    period = Deputy(absent=actor, deputy=deputy, starts_at=now, ends_at=ends_at, set_by=actor, set_at=now)
    uow.deputies.add(period)
    uow.record(at=now, actor=actor, action=SET, source=source, detail={"deputy": deputy, "until": until.isoformat()})
    queue_change(uow, ctx, card_change(uow, ctx, period, started=True))
    uow.commit()
    return (
        f"{org.name_of(deputy)} is your deputy from now until the end of {day_label(ends_at)} (Europe/London): "
        "they get what is sent to you and may act for you."
    )


def end(uow: UnitOfWork, ctx: Context, actor: str, *, source: str | None = None) -> str:
    """End the asker's running period now (they are back early); an event, in the same transaction."""
    now = ctx.clock.now()
    running = list(uow.deputies.of(actor, now))
    if not running:
        raise WorkflowError("You have no deputy to end; nothing changed.")
    for period in running:
        period.ends_at = max(now, period.starts_at)
        uow.record(at=now, actor=actor, action=ENDED, source=source, detail={"deputy": period.deputy})
        queue_change(uow, ctx, card_change(uow, ctx, period, started=False))
    uow.commit()
    return f"{ctx.org.name_of(running[0].deputy)} no longer acts for you."


def show(uow: UnitOfWork, ctx: Context, actor: str) -> str:
    """Who acts for the asker, and for whom the asker acts, now."""
    now = ctx.clock.now()
    org = ctx.org
    lines = [f"Your deputy: {org.name_of(p.deputy)}, until the end of {day_label(p.ends_at)}." for p in uow.deputies.of(actor, now)]
    lines += [f"You act for {org.name_of(p.absent)}, until the end of {day_label(p.ends_at)}." for p in uow.deputies.active(now, deputy=actor)]
    return "\n".join(lines) or "You have no deputy, and act for nobody."


# -- the cards that name the absent person, redrawn when a period starts or ends ----------------
#
# A card names a person with ``named`` (above): "Held by Sam Patel (away until Fri 27 Nov 2026:
# Tess Wong acts for them)" on every card of a request Sam holds (claimed or blocked: the
# manager card, the virtual-worker card, a transfer's or an audit's), and, on a closure's manager
# card and the supervising manager's copy of it (the "to_approve" DM), "For: Maria Lopez (...)"
# while the request waits for the asker's supervising manager (C2). When a period starts or ends
# those lines change, though no request moved; so the cards are queued again through the outbox
# (``workflows.requests.posted_cards_of`` / ``queue_redraws``, as a transition redraws its DMs),
# the request rows untouched.
#
# Bounded (issue 9): a business-support member may hold thousands of items (the bench's Sam,
# ~7,000), and a channel takes about one message a second. Only the ``REDRAW_CAP`` most recently
# active requests naming the person are redrawn, each card once, read through indexes from their
# newest end (migration 0017); the rest are counted, and when there are more than that, one short
# notice goes to the person's team channel(s) saying who acts for them on how many items, which
# show it as they next change. Home trays are drawn from the periods when they are drawn (the
# deliverer redraws those the queued cards touch; the morning refresh the others).

REDRAW_CAP = 50
"""At most this many requests naming the person have their cards redrawn when a period starts
or ends: with a closure's manager and virtual-worker cards, ~50 s of a channel's delivery lane
at Slack's ~1 message a second per channel, whatever the person holds."""
HELD_STATES = (CLAIMED, BLOCKED)  # where a card says "Held by" (bot.views, bot.audit_views, bot.transfer_views)
AWAITING_STATES = (REQUESTED,)  # where a closure waits for the asker's supervising manager (C2: "For")
NAMING_DMS = ("to_approve",)  # the supervising manager's copy of the manager card names the same people
NOTICE_VIEW = "deputy_notice"  # an outbox body: the notice in the team channel beyond the cap
NOTICE_CHANNELS = {Role.BUSINESS_SUPPORT: "business_support_channel", Role.MANAGER: "manager_channel"}  # by MAY_NAME role
REDRAW_JOB = "deputy-cards"  # the morning's run per day in job_runs: periods ended by their date
FIRST_LOOK_BACK = dt.timedelta(days=7)  # the first run ever: periods that ended within this


@dataclass
class CardChange:
    """What a period's start or end queues: the cards to redraw, and the notices (channel, body)."""

    redraws: list[Redraw] = field(default_factory=list)
    notices: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def naming(uow: UnitOfWork, ctx: Context, person: str, limit: int | None = None) -> tuple[list[Request], int]:
    """The open requests whose cards name ``person`` (held by them; awaiting them as the asker's
    supervising manager, C2): the ``limit`` (``REDRAW_CAP``) most recently active, and how many
    there are in all."""
    limit = REDRAW_CAP if limit is None else limit
    held, held_total = uow.requests.latest_naming("holder", [person], HELD_STATES, limit=limit)
    org = ctx.org
    supervised = [p.key for p in org.people if p.supervisor == person and p.key != person]
    teams = [t for t in org.teams_of(person) if org.has_role(person, t, *APPROVING_ROLES)]  # as org.supervisor_of
    asked, asked_total = (
        uow.requests.latest_naming("requested_by", supervised, AWAITING_STATES, limit=limit, teams=teams) if supervised and teams else ([], 0)
    )
    latest = sorted([*held, *asked], key=lambda r: (r.last_action_at or r.requested_at, r.id), reverse=True)  # disjoint states
    return latest[:limit], held_total + asked_total


def card_change(uow: UnitOfWork, ctx: Context, period: Deputy, *, started: bool) -> CardChange:
    """The cards to redraw now that ``period`` has started (or ended), and the notice when more
    name the absent person than are redrawn. Reads a bounded number of rows (``naming``)."""
    requests, total = naming(uow, ctx, period.absent)
    change = CardChange(posted_cards_of(uow, requests, dm_views=NAMING_DMS))
    if total > len(requests):
        body = {
            "view": NOTICE_VIEW,
            "absent": period.absent,
            "deputy": period.deputy,
            "until": day_label(period.ends_at) if started else None,
            "items": total,
            "redrawn": len(requests),
        }
        change.notices = [(channel, body) for channel in notice_channels(ctx.org, period.absent)]
    return change


def notice_channels(org: Organisation, person: str) -> list[str]:
    """Where the absent person's team hears of it: the business-support channel of each team
    where they are business support, the manager channel of each where they are a manager."""
    found = org.person(person)
    channels = [getattr(org.team(m.team), NOTICE_CHANNELS[m.role]) for m in found.roles if m.role in NOTICE_CHANNELS] if found else []
    return list(dict.fromkeys(channels))


def queue_change(uow: UnitOfWork, ctx: Context, change: CardChange) -> int:
    """Queue the change's redraws and notices in the caller's transaction; how many messages."""
    for channel, body in change.notices:
        uow.send(at=ctx.clock.now(), kind="card", channel=channel, body=body)
    return queue_redraws(uow, ctx, change.redraws) + len(change.notices)


def ended_by_date(uow: UnitOfWork, ctx: Context) -> list[CardChange]:
    """The morning's reading half (a read-only unit of work): the cards to redraw for the periods
    that ended at the end of their last day (midnight, London) since the previous run (the first
    run: within ``FIRST_LOOK_BACK``). A period ended early (``end``) was redrawn then. Nothing
    when today's run is taken already."""
    now = ctx.clock.now()
    if uow.job_run(job=REDRAW_JOB, team=ALL_TEAMS, period=local_today(ctx.clock).isoformat()) is not None:
        return []
    previous = uow.latest_run([(REDRAW_JOB, ALL_TEAMS)])
    since = previous.ran_at if previous is not None else now - FIRST_LOOK_BACK
    ended = [p for p in uow.deputies.ended_between(since, now) if p.ends_at.astimezone(LONDON).time() == dt.time(0)]
    return [card_change(uow, ctx, period, started=False) for period in ended]


def redraw_ended(uow: UnitOfWork, ctx: Context, changes: list[CardChange]) -> int:
    """The morning's writing half: claim today's run (job_runs: once a day across instances and
    restarts), then queue what ``ended_by_date`` found; how many messages."""
    if not uow.claim_run(job=REDRAW_JOB, team=ALL_TEAMS, period=local_today(ctx.clock).isoformat(), at=ctx.clock.now()):
        return 0
    queued = sum(queue_change(uow, ctx, change) for change in changes)
    uow.commit()
    return queued


def redraw_after_ended_periods(uow: UnitOfWork, ctx: Context) -> int:
    """Both halves in one unit of work (tests, by hand)."""
    return redraw_ended(uow, ctx, ended_by_date(uow, ctx))
