"""The work tray a page at a time (issue 9): the same lines, in the same order, as the whole tray.

``work_tray(page=...)`` counts the business support queues and held items in the database and
reads only the first lines of each, and loads only the requests that other reasons may apply to
(``workflows.tray._lines``); ``work_tray()`` without a page reads every open request of the
viewer's teams and asks ``_reasons`` of each. Here both run over a mixed store on SQLite and
PostgreSQL (the bench's generator, small: closures in every open state, transfers in every state
to come, queued and held audits, blocked closures with work steps; then varied: moments their
state was entered across weekends, the end of British Summer Time, London midnight and the
future, family closures blocked on other people's steps, re-referrals and purchases, a transfer
held by someone, a team no longer configured, a returned request the manager made, restricted
records, and deputies), for everybody in the organisation, whole or in one of their teams, and
every page of two page sizes and one past the last: each page must be the slice of the whole.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial

import pytest
from conftest import new_postgres_database
from sqlalchemy import event, select

from bench import scans
from bench.scale_data import generate
from bot import tray_views
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import Case, Deputy, Person, Request, WorkStep
from store.uow import UnitOfWork
from workflows import tray
from workflows.clock import LONDON
from workflows.requests import APPROVED, BLOCKED, CLAIMED, REQUESTED, RETURNED, Context

NOW = scans.BENCH_NOW  # Thursday 26 November 2026, 10:00 (the generator's "today")
# Moments a request may have entered its state: around London midnight, a weekend, the end of
# British Summer Time (Sunday 25 October 2026, 01:00 UTC), today and the days to come.
MOMENTS = [
    dt.datetime(2026, 11, 25, 23, 59, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC),  # Saturday
    dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.UTC),  # Sunday night
    dt.datetime(2026, 11, 23, 0, 30, tzinfo=dt.UTC),  # Monday, early
    dt.datetime(2026, 10, 24, 23, 30, tzinfo=dt.UTC),  # 00:30 BST on Sunday 25 October
    dt.datetime(2026, 10, 23, 23, 30, tzinfo=dt.UTC),  # 00:30 BST on Saturday 24 October
    dt.datetime(2026, 10, 26, 0, 30, tzinfo=dt.UTC),  # GMT again, Monday
    dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC),  # later today
    dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC),  # tomorrow (a clock put back, a late import)
    dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC),  # next Monday
]


# What each kind's card reads of a request's details (as the generator's closures carry their form).
DETAILS = {
    "closure": {"reason": "RC7", "closure_date": "2026-11-20", "summary": "Objectives met."},
    "rereferral": {"contact_id": "C1", "contact_date": "2026-11-20", "closed_on": "2026-10-01", "closure_reason": "RC7",
                   "reason": "N1", "same_reason": True, "primary_need_at_closure": "N1", "proposed_worker": "amy"},
    "end_purchase": {"end_date": "2026-12-01", "items": []},
    "transfer": {"point_of_transfer": "age_11y6m", "planned_date": "2026-12-10", "reason": "Moves on.", "standards": {}},
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def mixed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[partial[UnitOfWork], Context]]:
    """The store, made once for this module's tests (which only read it). On PostgreSQL in a
    database of its own: the generator's ANALYZE would leave the session database's planner
    statistics to the tests after it (``tests/test_indexes.py`` plans with them)."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('paging') / 'worktray.db'}"
            upgrade(url)
        else:
            url = stack.enter_context(new_postgres_database("worktray_paging"))
        generate(url, persons=3000, events=0)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        uow = partial(UnitOfWork, make_session_factory(engine))
        with uow() as u:
            vary(u)
        yield uow, scans.bench_context()


def vary(uow: UnitOfWork) -> None:
    """What the generator does not make (see the module's docstring), at random but always the same."""
    rnd = random.Random(26)
    session = uow.session
    open_requests = list(session.scalars(select(Request).where(Request.state.in_(tray.TRAY_STATES)).order_by(Request.id)))
    for request in open_requests:
        roll = rnd.random()
        if roll < 0.25:
            request.last_action_at = rnd.choice(MOMENTS)
        elif roll < 0.6:  # the same day, another time: same age, not the same moment
            request.last_action_at = request.requested_at + dt.timedelta(minutes=rnd.randint(-600, 600))
    blocked = [r for r in open_requests if r.state == BLOCKED]
    others = list(session.scalars(select(Person.id).order_by(Person.id).limit(40)))
    for n, request in enumerate(blocked[:8]):  # a family closure (C6.4): blocked on a step of another member's
        other = others[n]
        request.details = {**request.details, "applies_to": [request.person_id, other]}
        uow.cases.add(WorkStep(person_id=other, title="Family visit", assignee=("dan", "tess", "ivy", "pia", "maria")[n % 5], kind="incomplete"))
    busy = {(r.person_id, r.kind) for r in session.scalars(select(Request).where(Request.state.in_(tray.TRAY_STATES)))}
    cases = iter(session.scalars(select(Case).where(Case.closed_on.is_(None)).order_by(Case.id)).all()[::7])
    extra = [
        ("rereferral", REQUESTED, None, None, None),
        ("rereferral", APPROVED, None, None, None),
        ("end_purchase", APPROVED, None, None, None),
        ("end_purchase", REQUESTED, None, None, None),
        ("transfer", CLAIMED, "sam", "12plus", None),
        ("closure", APPROVED, None, None, "gone"),  # a team no longer in the configuration
        ("closure", RETURNED, None, None, "maria"),  # asked for by the manager
        ("closure", CLAIMED, "sam", None, None),
        ("closure", BLOCKED, "tess", None, None),
        ("closure", REQUESTED, None, None, "olu"),
    ]
    for n, (kind, state, holder, receiving, who) in enumerate(extra * 3):
        case = next(c for c in cases if (c.person_id, kind) not in busy)  # one open request of a kind a person
        busy.add((case.person_id, kind))
        team = "gone" if who == "gone" else case.team
        by = who if who in ("maria", "olu") else (case.worker or "amy")
        at = MOMENTS[n % len(MOMENTS)]
        session.add(Request(kind=kind, state=state, case_id=case.id, person_id=case.person_id, team=team, requested_by=by,
                            requested_at=at - dt.timedelta(days=n % 4), holder=holder, receiving_team=receiving,
                            details=DETAILS[kind] | {"applies_to": [case.person_id]}, last_actor=by, last_action=state, last_action_at=at))
    for absent, deputy in (("sam", "tess"), ("maria", "ben"), ("nadia", "ivy")):
        session.add(Deputy(absent=absent, deputy=deputy, starts_at=NOW - dt.timedelta(days=2), ends_at=NOW + dt.timedelta(days=5),
                           set_by=absent, set_at=NOW - dt.timedelta(days=3)))
    uow.commit()


def pages_of(count: int, size: int) -> range:
    return range(1, max(1, -(-count // size)) + 2)  # every page, and one past the last (shown as the last)


def test_each_page_is_the_slice_of_the_whole_tray(mixed: tuple[partial[UnitOfWork], Context]) -> None:
    uow, ctx = mixed
    people = [p.key for p in ctx.org.people]
    seen = {"lines": 0, "pages": 0, "on_behalf": 0, "hidden": 0, "overdue": 0, "not": 0}
    with uow(readonly=True) as paged:  # one read-only unit of work for every page (what it keeps, it keeps per key)
        for who in people:
            for team in [None, *ctx.org.teams_of(who)]:
                with uow() as whole_uow:  # the whole tray, nothing kept between trays
                    whole = tray.work_tray(whole_uow, ctx, who, team)
                for size in (7, 20) if team is None else (5,):
                    pages = max(1, -(-len(whole.items) // size))
                    for page in pages_of(len(whole.items), size):
                        look = tray.work_tray(paged, ctx, who, team, page=page, page_size=size)
                        shown = min(page, pages)
                        assert (look.page, look.page_size) == (shown, size)
                        assert (look.waiting, look.overdue) == (whole.waiting, whole.overdue), (who, team, size, page)
                        assert look.items == whole.items[(shown - 1) * size : shown * size], (who, team, size, page)
                        assert (look.radar, look.overdue_audits) == (whole.radar, whole.overdue_audits)
                        seen["pages"] += 1
                seen["lines"] += len(whole.items)
                seen["on_behalf"] += sum(1 for i in whole.items if i.on_behalf_of)
                seen["hidden"] += sum(1 for i in whole.items if i.hidden)
                seen["overdue"] += whole.overdue
                seen["not"] += whole.waiting - whole.overdue
    # Not vacuous: many lines over many pages, of every reason, deputies' and restricted ones, late and not.
    assert seen["lines"] > 1000 and seen["pages"] > 300 and all(seen.values()), seen
    with uow() as u:
        reasons = {i.reason for who in people for i in tray.work_tray(u, ctx, who).items}
    assert reasons == set(tray.REASONS)


def test_the_home_draws_the_same_cards_a_page_at_a_time(mixed: tuple[partial[UnitOfWork], Context]) -> None:
    """The Home (``tray_views.home_cards``) as it was drawn from the whole tray: same heading,
    lines, buttons, summary and "Show more"."""
    uow, ctx = mixed
    for who in ("sam", "tess", "maria", "olu", "ben"):
        chat_id = ctx.org.chat_id_of(who)
        assert chat_id is not None
        with uow() as u:
            whole = tray.work_tray(u, ctx, who)
            pages = max(1, -(-len(whole.items) // tray_views.PAGE_SIZE))
            expected = {page: tray_views.tray_cards(u, ctx, whole, page) for page in (1, 2, pages, pages + 1)}
        with uow(readonly=True) as u:
            for page, cards in expected.items():
                drawn = tray_views.home_cards(u, ctx, chat_id, page)
                assert drawn[:-1] == cards, (who, page)  # the last card: the commands


def test_the_home_of_business_support_loads_only_its_page(mixed: tuple[partial[UnitOfWork], Context]) -> None:
    """Issue 9: tess's queue (Under 12s business support) is counted and ordered in the database;
    the requests loaded are those of the page and the few other reasons may apply to."""
    uow, ctx = mixed
    loaded: list[int] = []

    def note(target: Request, context: object) -> None:
        loaded.append(target.id)

    with uow(readonly=True) as u:
        whole = tray.work_tray(u, ctx, "tess")
    event.listen(Request, "load", note)
    try:
        with uow(readonly=True) as u:
            cards = tray_views.home_cards(u, ctx, "U0TESS")
    finally:
        event.remove(Request, "load", note)
    assert len(whole.items) > 10 * tray_views.PAGE_SIZE
    assert cards[0].title.startswith(f"My work tray: {len(whole.items)} waiting, {whole.overdue} overdue (page 1 of")
    assert len(set(loaded)) < 3 * tray_views.PAGE_SIZE, len(set(loaded))


def test_a_moment_is_old_enough_from_the_start_of_the_london_day_after_the_last_day_that_is() -> None:
    """``_waited_from(days)``: a request that entered its state before it has waited at least
    ``days`` working days today (Thursday 26 November 2026), one that entered it at it has not."""
    ctx = scans.bench_context()
    for days in range(-3, 12):
        start = tray._waited_from(ctx, days)
        assert start.astimezone(LONDON).time() == dt.time(0, 0)
        before, at = start - dt.timedelta(microseconds=1), start
        assert tray.reminders.waited_since(ctx, before, NOW) >= days > tray.reminders.waited_since(ctx, at, NOW), days
    assert tray._waited_from(ctx, 1) == dt.datetime(2026, 11, 26, 0, 0, tzinfo=LONDON)  # entered yesterday or before
    assert tray._waited_from(ctx, 5) == dt.datetime(2026, 11, 20, 0, 0, tzinfo=LONDON)  # Thursday 19th: Fri, Mon-Thu
