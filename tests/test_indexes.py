"""Issue 9: every column a query filters or joins on has an index.

The real journeys run on PostgreSQL (closure to closed and to blocked, a transfer
that moves, the radar and the agenda, the scans over every open case: the audit job,
due and overdue audits, the reminders, the deliverer drawing every card and the Home trays of
those who opened Home, the morning's Home refresh, a case report) while every statement is captured (``before_cursor_execute``). Each
SELECT, UPDATE and DELETE is then planned again with ``EXPLAIN`` and sequential
scans switched off (``enable_seqscan = off`` only makes them dear, so the planner
still uses one where no index can serve): a plan that still reads a whole table
to filter it, or to join it, names a column without an index.

A small store plans like a big one here, so the test needs no bulk data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from conftest import NOW, Journey, empty_postgres
from sqlalchemy import Connection, Engine, event, text

from bot.deliver import Deliverer
from store.db import make_engine, make_session_factory
from store.uow import UnitOfWork
from workflows import audits, deputies, radar, reminders, transfer, tray
from workflows import requests as wf
from workflows.clock import LONDON, FixedClock, local_today
from workflows.org import Organisation
from workflows.requests import BLOCKED, CLOSED, Context
from workflows.transfer_terms import STANDARDS
from worktray import demo
from worktray.case_report import case_report

pytestmark = pytest.mark.postgres

# Tables whose whole-table reads are meant, each with why. None so far: a tiny table
# (job_runs) is looked up by its unique key, which is an index; add one here only with a reason.
ALLOWED: dict[str, str] = {}


class Sender:
    """A chat platform that accepts everything (the deliverer renders each card for it)."""

    def __init__(self) -> None:
        self.count = 0
        self.homes: set[str] = set()

    def post(self, channel: str, card: Any) -> str:
        self.count += 1
        return f"100.{self.count}"

    def update(self, channel: str, message_id: str, card: Any) -> None:
        self.count += 1

    def direct(self, user: str, card: Any) -> str:
        return self.post(user, card)

    def publish_home(self, user: str, cards: Any) -> None:
        self.homes.add(user)


@pytest.fixture
def captured(postgres_url: str) -> Iterator[tuple[Engine, list[tuple[str, Any]]]]:
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        empty_postgres(conn)
    statements: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE", "WITH"):
            statements.append((statement, parameters[0] if executemany else parameters))

    yield engine, statements
    engine.dispose()


def transfer_form(**changes: Any) -> dict[str, Any]:
    return {
        "receiving_team": "12plus", "point_of_transfer": "age_11y6m", "planned_date": "2026-11-20",
        "reason": "Reaches 11 years 6 months.", "readiness": "ready", **{f"std_{k}": "done" for k in STANDARDS}, **changes,
    }


def run_journeys(uow_factory: partial[UnitOfWork], org: Organisation) -> None:
    """What people do all day: closures, a transfer, the weekly digests, the deliverer, a case report."""
    ctx = Context(org=org, clock=FixedClock(NOW))
    with uow_factory() as uow:
        demo.seed(uow)
    journey = Journey(uow_factory, ctx)
    journey.to_state(CLOSED, "3549723", "amy")
    rid = journey.to_state(BLOCKED, "3549728", "ben")
    journey.finish_steps("3549728")
    journey.recheck(rid)
    journey.complete(rid)
    journey.to_state(wf.APPROVED, "3549740", "amy")  # a family group (C6.4)
    with uow_factory() as uow:
        moving = transfer.raise_transfer(uow, ctx, "ben", "3549750", transfer_form()).id
    with uow_factory() as uow:
        wf.approve(uow, ctx, moving, "maria")
    with uow_factory() as uow:
        transfer.accept(uow, ctx, moving, "nadia", "femi")
    for job, at in (("radar", dt.datetime(2026, 12, 18, 12, tzinfo=LONDON)), ("agenda", dt.datetime(2026, 12, 21, 9, tzinfo=LONDON))):
        with uow_factory() as uow:
            radar.post_digest(uow, ctx, job, "12plus", at)
    run_scans(uow_factory, ctx)
    # Act-for: a period's start and end redraw the cards naming the absent person (the holder;
    # the asker's supervising manager, C2), and the morning those of periods ended overnight.
    for actor, deputy in (("sam", "tess"), ("maria", "pia")):
        with uow_factory() as uow:
            deputies.appoint(uow, ctx, actor, deputy, dt.date(2026, 11, 27))
    with uow_factory() as uow:
        deputies.end(uow, ctx, "sam")
    with uow_factory() as uow:
        deputies.redraw_after_ended_periods(uow, ctx)
    for chat_id in ("U0MARIA", "U0SAM", "U0NADIA"):  # their Home trays are drawn after the deliveries (issue 9)
        with uow_factory() as uow:
            tray.note_home_opened(uow, ctx, chat_id)
    with uow_factory() as uow:  # the morning refresh: who opened Home in the last 30 days
        assert tray.homes_to_refresh(uow, ctx) == ["U0MARIA", "U0NADIA", "U0SAM"]
    sender = Sender()
    Deliverer(uow_factory, ctx, sender).drain()
    assert sender.homes == {"U0MARIA", "U0SAM", "U0NADIA"}
    with uow_factory() as uow:
        assert case_report(uow, "3549740") is not None


def run_scans(uow_factory: partial[UnitOfWork], ctx: Context) -> None:
    """The scans over every open case (issue 9, bench/scans.py): the daily audit job, the due
    and overdue audits, every reminders ladder (the radar is drawn by the deliverer)."""
    today = local_today(ctx.clock)
    with uow_factory() as uow:
        assert audits.raise_due_audits(uow, ctx) > 0
    with uow_factory() as uow:
        assert audits.due_audits(uow, ctx, "u12", today)
        assert audits.overdue(uow, ctx, today)
        radar.radar_for(uow, ctx, "12plus", today)
    with uow_factory() as uow:
        assert reminders.run(uow, ctx).claimed


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def unindexed_reads(conn: Connection, statements: list[tuple[str, Any]]) -> dict[str, set[str]]:
    """Table -> the filters or join conditions for which the planner still reads the whole table.

    Planned in the caller's transaction (``SET LOCAL``), one plan per statement with its first parameters.
    """
    first: dict[str, Any] = {}
    for statement, parameters in statements:
        first.setdefault(statement, parameters)
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    found: dict[str, set[str]] = {}
    for statement, parameters in first.items():
        raw = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters or None).scalar()
        [root] = raw if isinstance(raw, list) else json.loads(raw)
        for node in plan_nodes(root["Plan"]):
            why = whole_table(node) and (node.get("Filter") or _join_condition(root["Plan"], node))
            if why:
                found.setdefault(node["Relation Name"], set()).add(why)
    return found


def whole_table(node: dict[str, Any]) -> bool:
    """A sequential scan, or an index scan with no condition on the index (it walks all of it,
    e.g. the primary key for its order, and filters every row)."""
    if node["Node Type"] == "Seq Scan":
        return True
    return node["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in node


def _join_condition(plan: dict[str, Any], scan: dict[str, Any]) -> str | None:
    """The condition of the join whose input ``scan`` is (a whole table read only to be joined)."""
    for node in plan_nodes(plan):
        if any(child is scan for child in node.get("Plans", [])) or any(
            scan in list(plan_nodes(child)) and child["Node Type"] in ("Hash", "Materialize", "Sort")
            for child in node.get("Plans", [])
        ):
            condition = node.get("Hash Cond") or node.get("Merge Cond") or node.get("Join Filter")
            if condition:
                return str(condition)
    return None


def test_every_filtered_or_joined_column_has_an_index(captured: tuple[Engine, list[tuple[str, Any]]], org: Organisation) -> None:
    engine, statements = captured
    run_journeys(partial(UnitOfWork, make_session_factory(engine)), org)
    assert len(statements) > 100  # the journeys ran and were seen
    with engine.begin() as conn:
        found = unindexed_reads(conn, statements)
    missing = {table: whys for table, whys in found.items() if table not in ALLOWED}
    assert missing == {}, "add an index for these (or a reason to ALLOWED):\n" + json.dumps(
        {t: sorted(w) for t, w in missing.items()}, indent=1
    )


def test_the_check_finds_a_missing_index(captured: tuple[Engine, list[tuple[str, Any]]], org: Organisation) -> None:
    """Not vacuous: without persons.family_group_id's index the family lookups are named (the
    relationship's, and the case report's own Core select of 3549740's family)."""
    engine, statements = captured
    run_journeys(partial(UnitOfWork, make_session_factory(engine)), org)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_persons_family_group_id"))
        found = unindexed_reads(conn, statements)
        conn.rollback()
    assert found == {"persons": {"('F3492471'::text = (family_group_id)::text)", "((family_group_id)::text = 'F3492490'::text)"}}
