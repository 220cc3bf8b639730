"""The scale bench of ``make bench`` (issue 9) still runs: its generator, small, on both back ends.

Nothing is timed. The generated store must be one the product reads: a hash chain that
``verify`` accepts, the scans and the daily jobs running over it, and the sequences carrying
on after the generator's explicit IDs (a new request and its event can be written).
"""

from __future__ import annotations

from functools import partial

from sqlalchemy import func, select

from bench import scans
from bench.scale_data import generate
from store.db import make_engine, make_session_factory
from store.eventlog import verify
from store.models import Case, Event, Person, Request
from store.uow import UnitOfWork
from workflows import audits, radar, reminders
from workflows.clock import local_today


def test_the_generator_fills_a_store_the_scans_and_jobs_read(db_url):
    summary = generate(db_url, persons=500, events=5000)
    assert summary.rows["persons"] == 500 and summary.rows["events"] == 5000
    engine = make_engine(db_url)
    uow = partial(UnitOfWork, make_session_factory(engine))
    ctx = scans.bench_context()
    today = local_today(ctx.clock)
    try:
        with uow() as u:
            assert u.session.scalar(select(func.count()).select_from(Case).where(Case.closed_on.is_(None))) == 500
            assert u.session.scalar(select(func.count()).select_from(Person)) == 500
            kinds = set(u.session.scalars(select(Request.kind).distinct()))
        assert kinds == {"closure", "transfer", "audit"}
        assert verify(make_session_factory(engine)).ok  # a correct chain, ids 1..n
        with uow() as u:
            look = radar.radar_for(u, ctx, "12plus", today)
            assert look.groups and look.turning  # transfers to come (T2) and children turning 11y6m (T1)
            assert audits.due_audits(u, ctx, "u12", today)
            assert audits.overdue(u, ctx, today)
        for name, (scan, _) in scans.SCANS.items():  # every timed scan runs (the jobs write: new rows after the explicit IDs)
            with uow() as u:
                assert scan(u, ctx) is not None, name
        with uow() as u:
            assert reminders.run(u, ctx).claimed == []  # the timed run claimed everything owed already
            assert u.session.scalar(select(func.max(Event.id))) > 5000  # the jobs' events joined the chain
        assert verify(make_session_factory(engine)).ok
    finally:
        engine.dispose()
