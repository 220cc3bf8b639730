"""Act-for deputies (issue 8): set-up and refusals, acting and routing, four eyes (C3), expiry.

On the demo organisation and store, SQLite and PostgreSQL (``db_url``), at the conftest's fixed
time (Thu 26 Nov 2026 10:00 UTC). Maria (manager, Under 12s) names Pia (practice supervisor,
Under 12s) her deputy until the end of Fri 27 Nov; Pia is no approver of her own (C3), so what
she may do as Maria's deputy shows.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import pytest
from conftest import Journey
from sqlalchemy import func, select

from bot.cards import Fact
from bot.views import request_card
from commands.case import CommandError
from commands.deputy import DeputyCommand, Until, parse_deputy
from store.models import Deputy, Event, OutboxMessage
from store.uow import UnitOfWork
from workflows import deputies
from workflows.clock import LONDON, FixedClock
from workflows.errors import NotAllowed, WorkflowError
from workflows.requests import Context, covering, describe, direct_message, load, may

UNTIL = dt.date(2026, 11, 27)
AFTER = dt.datetime(2026, 11, 28, 0, 0, tzinfo=LONDON)  # the first moment after the period


def appoint(seeded: partial[UnitOfWork], ctx: Context, actor: str = "maria", deputy: str | None = "pia", until: dt.date = UNTIL) -> str:
    with seeded() as uow:
        return deputies.appoint(uow, ctx, actor, deputy, until, source="test")


def counts(seeded: partial[UnitOfWork]) -> tuple[int, int]:
    with seeded() as uow:
        return (uow.session.scalar(select(func.count()).select_from(Deputy)) or 0, uow.session.scalar(select(func.count()).select_from(Event)) or 0)


def dms_to(seeded: partial[UnitOfWork], chat_id: str) -> list[dict[str, Any]]:
    with seeded() as uow:
        return [m.body for m in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dm", OutboxMessage.channel == chat_id))]


# -- setting one up -------------------------------------------------------------------------


def test_a_manager_names_a_deputy_and_it_is_an_event(seeded: partial[UnitOfWork], ctx: Context) -> None:
    text = appoint(seeded, ctx)
    assert text.startswith("Pia Novak is your deputy from now until the end of Fri 27 Nov 2026")
    with seeded() as uow:
        [row] = uow.session.scalars(select(Deputy)).all()
        assert (row.absent, row.deputy, row.set_by) == ("maria", "pia", "maria")
        assert row.starts_at == ctx.clock.now() and row.ends_at == AFTER
        [event] = uow.session.scalars(select(Event).where(Event.action == deputies.SET)).all()
        assert (event.actor, event.detail) == ("maria", {"deputy": "pia", "until": "2026-11-27"})
        assert deputies.show(uow, ctx, "maria") == "Your deputy: Pia Novak, until the end of Fri 27 Nov 2026."
        assert deputies.show(uow, ctx, "pia") == "You act for Maria Lopez, until the end of Fri 27 Nov 2026."
        assert deputies.show(uow, ctx, "amy") == "You have no deputy, and act for nobody."


def test_today_is_a_period_until_midnight(seeded: partial[UnitOfWork], ctx: Context) -> None:
    appoint(seeded, ctx, until=dt.date(2026, 11, 26))
    with seeded() as uow:
        assert covering(uow, ctx, "pia") == ("maria",)


def test_business_support_names_business_support(seeded: partial[UnitOfWork], ctx: Context) -> None:
    assert appoint(seeded, ctx, "sam", "tess").startswith("Tess")


@pytest.mark.parametrize(
    ("actor", "deputy", "until", "refusal"),
    [
        ("maria", "pia", dt.date(2026, 11, 25), "25 Nov 2026 is past"),
        ("maria", "maria", UNTIL, "You cannot be your own deputy"),
        ("maria", None, UNTIL, "not in worktray's organisation config"),
        ("maria", "amy", UNTIL, "Amy Brooke has no role in your team that could do your work"),  # a worker: not for a manager
        ("maria", "nadia", UNTIL, "Nadia"),  # a manager, but of 12+: no role in Under 12s
        ("sam", "pia", UNTIL, "Pia Novak has no role in your team"),  # business support's deputy: business support or a manager
        ("amy", "ben", UNTIL, "Only managers and business support name a deputy"),
        ("pia", "maria", UNTIL, "Only managers and business support name a deputy"),
    ],
)
def test_refusals_change_nothing(
    seeded: partial[UnitOfWork], ctx: Context, actor: str, deputy: str | None, until: dt.date, refusal: str
) -> None:
    before = counts(seeded)
    with pytest.raises(WorkflowError) as refused:
        appoint(seeded, ctx, actor, deputy, until)
    assert refusal in str(refused.value) and "nothing changed" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert counts(seeded) == before


def test_overlapping_periods_are_refused(seeded: partial[UnitOfWork], ctx: Context) -> None:
    appoint(seeded, ctx)
    before = counts(seeded)
    with pytest.raises(WorkflowError, match="You already have a deputy, Pia Novak, until the end of Fri 27 Nov 2026"):
        appoint(seeded, ctx, "maria", "gita", dt.date(2026, 12, 4))
    assert counts(seeded) == before


def test_a_deputy_who_is_away_then_cannot_cover(seeded: partial[UnitOfWork], ctx: Context) -> None:
    appoint(seeded, ctx, "sam", "tess")
    with pytest.raises(WorkflowError, match="Sam Patel is away then"):
        appoint(seeded, ctx, "tess", "sam")


def test_after_the_period_a_new_one_may_be_set_and_an_early_end_is_an_event(seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock) -> None:
    appoint(seeded, ctx)
    with seeded() as uow:
        assert deputies.end(uow, ctx, "maria") == "Pia Novak no longer acts for you."
    with seeded() as uow:
        assert covering(uow, ctx, "pia") == ()
        assert [e.action for e in uow.session.scalars(select(Event).order_by(Event.id))][-2:] == [deputies.SET, deputies.ENDED]
        with pytest.raises(WorkflowError, match="no deputy to end"):
            deputies.end(uow, ctx, "maria")
    assert appoint(seeded, ctx, "maria", "gita").startswith("Gita")


# -- acting for the absent person; four eyes (C3) ------------------------------------------------


def test_the_deputy_approves_on_behalf_of_the_absent_manager(seeded: partial[UnitOfWork], ctx: Context, journey: Journey) -> None:
    request_id = journey.request()  # amy's closure of 3549723, for the managers of Under 12s
    with seeded() as uow:
        assert not may(ctx.org, "pia", "approve", load(uow, request_id), covering(uow, ctx, "pia"))
    with pytest.raises(NotAllowed, match="your role in Under 12s does not allow it"):
        journey.approve(request_id, "pia")
    appoint(seeded, ctx)
    journey.approve(request_id, "pia")
    with seeded() as uow:
        request = load(uow, request_id)
        assert request.state == "approved" and request.last_actor == "pia"
        assert "was approved by Pia Novak on behalf of Maria Lopez at" in describe(ctx.org, request)
        [event] = uow.session.scalars(select(Event).where(Event.request_id == request_id, Event.action == "approve")).all()
        assert event.actor == "pia" and event.detail["on_behalf_of"] == "maria"
    journey.claim(request_id)  # sam, as himself: no "on behalf of" any more
    with seeded() as uow:
        assert "on behalf of" not in describe(ctx.org, load(uow, request_id))


def test_four_eyes_holds_for_the_deputy(seeded: partial[UnitOfWork], ctx: Context, journey: Journey) -> None:
    """C3: nobody approves their own request. Maria's deputy does not approve Maria's request
    (her authority on her own request), and a deputy never approves one they made."""
    mine = journey.request(actor="maria")
    appoint(seeded, ctx)
    before = counts(seeded)
    with pytest.raises(NotAllowed, match=r"Maria Lopez, whom you act for, made request .*four eyes, C3"):
        journey.approve(mine, "pia")
    assert counts(seeded) == before
    journey.approve(mine, "olu")  # another approver may
    with seeded() as uow:
        request = load(uow, mine)
        request.requested_by = "pia"  # as if the deputy had made it (never committed)
        request.state = "requested"
        assert not may(ctx.org, "pia", "approve", request, ("maria",))
        request.requested_by = "amy"
        assert may(ctx.org, "pia", "approve", request, ("maria",))


def test_the_deputy_of_the_holder_acts_as_the_holder(seeded: partial[UnitOfWork], ctx: Context, journey: Journey) -> None:
    request_id = journey.request()
    journey.approve(request_id)
    journey.claim(request_id, "sam")
    with pytest.raises(NotAllowed):
        journey.unclaim(request_id, "tess")  # not hers
    appoint(seeded, ctx, "sam", "tess")
    with seeded() as uow:  # the card names the holder, and who acts for him while he is away
        request = load(uow, request_id)
        facts = {f.label: f.value for f in request_card(uow, ctx, request, "queue", request.revision).facts}
        assert facts["Held by"] == "Sam Patel (away until Fri 27 Nov 2026: Tess Wong acts for them)"
    journey.unclaim(request_id, "tess")
    with seeded() as uow:
        assert "released by Tess Wong on behalf of Sam Patel" in describe(ctx.org, load(uow, request_id))


# -- routing, and expiry ------------------------------------------------------------------------


def test_routing_and_permission_before_during_and_after(seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, journey: Journey) -> None:
    def dm_maria(request_id: int) -> None:
        with seeded() as uow:
            direct_message(uow, ctx, "maria", {"view": "to_approve", "request_id": request_id})
            uow.commit()

    first = journey.request()
    dm_maria(first)  # before: Maria only
    assert dms_to(seeded, "U0PIA") == []
    appoint(seeded, ctx)
    clock.at = dt.datetime(2026, 11, 27, 23, 59, tzinfo=LONDON)  # during: the last minute of the period
    dm_maria(first)
    assert dms_to(seeded, "U0PIA") == [{"view": "to_approve", "request_id": first, "deputy_for": "maria"}]
    with seeded() as uow:
        assert may(ctx.org, "pia", "approve", load(uow, first), covering(uow, ctx, "pia"))
    clock.at = AFTER  # after: nothing of it applies
    dm_maria(first)
    assert len(dms_to(seeded, "U0PIA")) == 1
    with seeded() as uow:
        assert covering(uow, ctx, "pia") == ()
        assert not may(ctx.org, "pia", "approve", load(uow, first), covering(uow, ctx, "pia"))
    with pytest.raises(NotAllowed):
        journey.approve(first, "pia")


def test_a_supervisors_request_dm_reaches_the_deputy(seeded: partial[UnitOfWork], ctx: Context, journey: Journey) -> None:
    """C2: Ben's requests go to his supervisor Maria by DM; while she is away, to Pia too."""
    appoint(seeded, ctx)
    request_id = journey.request("3549728", actor="ben")
    assert [b["view"] for b in dms_to(seeded, "U0MARIA")] == ["to_approve"]
    assert dms_to(seeded, "U0PIA") == [{"view": "to_approve", "request_id": request_id, "revision": 1, "deputy_for": "maria"}]


# -- the command's words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", DeputyCommand("show")),
        ("end", DeputyCommand("end")),
        ("<@U0PIA> until 2026-12-12", DeputyCommand("set", chat_user_id="U0PIA", until=Until(12, 12, 2026))),
        ("<@U0PIA|pia> until 12 Dec", DeputyCommand("set", chat_user_id="U0PIA", until=Until(12, 12))),
        ("@pia until 12 december 2026", DeputyCommand("set", person_key="pia", until=Until(12, 12, 2026))),
        ("pia UNTIL 1 Jan", DeputyCommand("set", person_key="pia", until=Until(1, 1))),
    ],
)
def test_parse(text: str, command: DeputyCommand) -> None:
    assert parse_deputy(text) == command


@pytest.mark.parametrize(
    "text", ["pia", "pia until", "pia on 12 Dec", "pia until 31 Feb", "pia until 2026-13-01", "pia until 12 Dex", "<!channel> until 12 Dec", "end now"]
)
def test_parse_refuses_with_the_usage(text: str) -> None:
    with pytest.raises(CommandError, match="Usage: `/worktray deputy"):
        parse_deputy(text)


def test_a_day_without_a_year_is_the_next_such_day() -> None:
    today = dt.date(2026, 11, 26)
    assert Until(12, 12).resolve(today) == dt.date(2026, 12, 12)
    assert Until(26, 11).resolve(today) == today
    assert Until(5, 1).resolve(today) == dt.date(2027, 1, 5)
    assert Until(29, 2).resolve(today) == dt.date(2028, 2, 29)


def test_reminders_to_the_absent_manager_reach_the_deputy_while_it_lasts(
    seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, journey: Journey
) -> None:
    """The chasing engine's DM to Maria (waiting for a decision, 2 working days) is copied to Pia
    while she deputises, drawn with "You are deputy for: Maria Lopez"; after, it is not."""
    from bot.views import for_deputy, reminders_card
    from workflows import reminders

    def run_at(when: dt.datetime) -> None:
        clock.at = when
        with seeded() as uow:
            reminders.run(uow, ctx)

    journey.request()  # Thu 26 Nov, for the managers of Under 12s: Maria
    appoint(seeded, ctx, until=dt.date(2026, 11, 30))
    run_at(dt.datetime(2026, 11, 30, 9, 0, tzinfo=LONDON))  # Mon: 2 working days
    [to_pia] = [b for b in dms_to(seeded, "U0PIA") if b["view"] == reminders.VIEW]
    assert to_pia["deputy_for"] == "maria"
    assert for_deputy(ctx, reminders_card(to_pia), to_pia).facts[0] == Fact("You are deputy for", "Maria Lopez")
    journey.request("3549728", actor="ben")  # Mon 30 Nov, 9:00, Pia's last day; Ben's supervisor: Maria
    run_at(dt.datetime(2026, 12, 2, 10, 0, tzinfo=LONDON))  # Wed: its 2 working days, after Pia's period
    assert any(line.startswith("Closure request 2 ") for line in dms_to(seeded, "U0MARIA")[-1]["lines"])
    assert [b for b in dms_to(seeded, "U0PIA") if b["view"] == reminders.VIEW] == [to_pia]  # nothing more for Pia


def test_the_deputys_work_tray_holds_the_absent_managers_decisions_while_it_lasts(
    seeded: partial[UnitOfWork], ctx: Context, clock: FixedClock, journey: Journey
) -> None:
    """Items route to the deputy: Pia's tray (Home and /worktray) shows the decision waiting for
    Maria, marked "on behalf of", with the card's Approve and Return; after the period it is gone."""
    from bot.tray_views import item_card
    from workflows import tray

    request_id = journey.request()

    def pias_lines() -> list[tray.TrayItem]:
        with seeded() as uow:
            return [i for i in tray.work_tray(uow, ctx, "pia").items if i.request_id == request_id]

    assert pias_lines() == []
    appoint(seeded, ctx)
    [line] = pias_lines()
    assert (line.reason, line.on_behalf_of) == (tray.DECIDE, "maria")
    with seeded() as uow:
        card = item_card(uow, ctx, "pia", line)
    assert card.title.endswith("on behalf of Maria Lopez")
    assert {b.label for b in card.buttons} >= {"Approve", "Return"}
    with seeded() as uow:  # Maria's own tray is unchanged, and says nothing of a deputy
        [own] = [i for i in tray.work_tray(uow, ctx, "maria").items if i.request_id == request_id]
        assert own.on_behalf_of is None
        assert "pia" in tray.affected_by(uow, ctx, load(uow, request_id))  # her Home is republished too
    clock.at = AFTER
    assert pias_lines() == []


# -- the running periods, read once an action ------------------------------------------------


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Whom the store is asked about as a deputy (``Deputies.active(deputy=...)``: ``covering``), in order."""
    from store.uow import Deputies

    seen: list[str] = []
    real = Deputies.active

    def active(self: Deputies, at: dt.datetime, *, absent: str | None = None, deputy: str | None = None) -> Any:
        if deputy is not None:
            seen.append(deputy)
        return real(self, at, absent=absent, deputy=deputy)

    monkeypatch.setattr(Deputies, "active", active)
    return seen


def submit(seeded: partial[UnitOfWork], ctx: Context, chat_id: str, callback: str, request_id: int, values: dict[str, Any]) -> str:
    from bot.actions import Interactions

    reply = Interactions(seeded, ctx).submit(chat_id, callback, str(request_id), values, source="test")
    assert reply.text is not None and not reply.errors, reply
    return reply.text


def test_a_submission_reads_the_deputys_periods_once(seeded: partial[UnitOfWork], ctx: Context, journey: Journey, asked: list[str]) -> None:
    """A form submitted asks who the submitter covers in its precheck and again in ``transition``
    (and, approving an adult never seen, in C4's rule): the store is asked once, and the deputy
    still acts on behalf of the absent manager."""
    returned, approved = journey.request(), journey.request("3549728", "ben")
    appoint(seeded, ctx)
    asked.clear()
    assert submit(seeded, ctx, "U0PIA", "return", returned, {"note": "Add the closure letter."}).startswith(f"Returned request {returned}")
    assert asked == ["pia"]
    asked.clear()
    assert submit(seeded, ctx, "U0PIA", "approve", approved, {}).startswith("Approved.")
    assert asked == ["pia"]
    with seeded() as uow:
        assert "returned by Pia Novak on behalf of Maria Lopez" in describe(ctx.org, load(uow, returned))
        assert "approved by Pia Novak on behalf of Maria Lopez" in describe(ctx.org, load(uow, approved))
    asked.clear()
    form = journey.form("3549723")
    values = {"reason": form.reason, "closure_date": form.closure_date, "summary": form.summary, "done": ["visit_done", "letter_done", "evaluation_done"]}
    assert submit(seeded, ctx, "U0AMY", "resubmit", returned, values) == f"Resubmitted request {returned} to the manager."
    assert asked == ["amy"]


def test_approving_an_adult_never_seen_reads_them_once_too(seeded: partial[UnitOfWork], ctx: Context, journey: Journey, asked: list[str]) -> None:
    """C4's rule asks who the approver covers as well: still one read."""
    rid = journey.request("4100001", "dan")
    asked.clear()
    answers = {f"answer_{item.key}": "yes" for item in journey_checklist(seeded, rid)}
    assert submit(seeded, ctx, "U0OLU", "approve", rid, answers).startswith("Approved.")
    assert asked == ["olu"]


def journey_checklist(seeded: partial[UnitOfWork], request_id: int) -> list[Any]:
    from workflows.requests import checklist_for

    with seeded() as uow:
        return checklist_for(load(uow, request_id))


def test_what_is_kept_until_a_write_is_read_again_after_one(seeded: partial[UnitOfWork]) -> None:
    """``uow.memo``: kept while nothing is written; a flush, a commit or a rollback forgets it."""
    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        return len(reads)

    with seeded() as uow:
        assert [uow.memo("k", read) for _ in range(3)] == [1, 1, 1]
        deputy = Deputy(absent="maria", deputy="pia", starts_at=AFTER, ends_at=AFTER, set_by="maria", set_at=AFTER)
        uow.deputies.add(deputy)  # a flush
        assert uow.memo("k", read) == 2
        uow.session.flush()  # nothing to write: nothing forgotten
        assert uow.memo("k", read) == 2
        deputy.ends_at = AFTER + dt.timedelta(days=1)  # a change not flushed yet counts as written
        assert uow.memo("k", read) == 3
        uow.session.flush()
        assert uow.memo("k", read) == 4
        uow.rollback()
        assert uow.memo("k", read) == 5
        uow.commit()
        assert uow.memo("k", read) == 6
    with seeded() as uow:
        assert uow.memo("k", read) == 7  # a unit of work of its own
