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

from store.models import Deputy
from store.uow import UnitOfWork
from workflows.clock import LONDON, local_today
from workflows.errors import NotAllowed, NotFound, WorkflowError
from workflows.org import Organisation, Role
from workflows.requests import Context

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
    uow.deputies.add(Deputy(absent=actor, deputy=deputy, starts_at=now, ends_at=ends_at, set_by=actor, set_at=now))
    uow.record(at=now, actor=actor, action=SET, source=source, detail={"deputy": deputy, "until": until.isoformat()})
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
    uow.commit()
    return f"{ctx.org.name_of(running[0].deputy)} no longer acts for you."


def show(uow: UnitOfWork, ctx: Context, actor: str) -> str:
    """Who acts for the asker, and for whom the asker acts, now."""
    now = ctx.clock.now()
    org = ctx.org
    lines = [f"Your deputy: {org.name_of(p.deputy)}, until the end of {day_label(p.ends_at)}." for p in uow.deputies.of(actor, now)]
    lines += [f"You act for {org.name_of(p.absent)}, until the end of {day_label(p.ends_at)}." for p in uow.deputies.active(now, deputy=actor)]
    return "\n".join(lines) or "You have no deputy, and act for nobody."
