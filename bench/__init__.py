"""``make bench``: rough throughput figures for the core on SQLite and PostgreSQL.

Nothing here asserts anything; it prints numbers so a change that makes the
closure journey, the claim race or the outbox much slower shows up. The parts
that spawned processes must import live here (not in ``__main__``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import text

from bot.cards import Card
from store.db import make_engine, make_session_factory
from store.models import Case, OrganisationRelationship, Person, RecordItem, ServiceUserGroup, WorkerRelationship
from store.uow import UnitOfWork
from workflows.clock import SystemClock
from workflows.errors import Conflict, IllegalTransition
from workflows.org import load_organisation
from workflows.requests import Context, claim
from worktray import demo

D = dt.date


@dataclass(frozen=True)
class Goal:
    """A row of issue 9's goal table as this run measured it: each section adds its own, and
    ``make bench`` ends with all of them in one place (``summary``)."""

    figure: str
    backend: str  # "sqlite", "postgresql", or "" (the CLI's start: the demo's SQLite)
    measured: str
    goal: str
    met: bool | None  # None: not run (no PostgreSQL, --no-scale)

    @property
    def verdict(self) -> str:
        return "NOT RUN" if self.met is None else "MET" if self.met else "MISSED"


def summary(goals: list[Goal]) -> list[str]:
    """One line per goal (verdict, figure, back end, what was measured, the goal), each figure's
    back ends side by side in the order the figures were measured; then how many were met."""
    if not goals:
        return []
    first: dict[str, int] = {}
    for g in goals:
        first.setdefault(g.figure, len(first))
    width = {name: max(len(getattr(g, name)) for g in goals) for name in ("figure", "backend", "measured")}
    lines = [
        f"  {g.verdict:<7}  {g.figure:<{width['figure']}}  {g.backend:<{width['backend']}}  {g.measured:<{width['measured']}}  goal {g.goal}"
        for g in sorted(goals, key=lambda g: first[g.figure])
    ]
    met = sum(1 for g in goals if g.met)
    missed = sum(1 for g in goals if g.met is False)
    return [*lines, f"  {met} met, {missed} missed, {len(goals) - met - missed} not run"]


def make_context() -> Context:
    return Context(org=load_organisation(demo.DEMO_ORG), clock=SystemClock())


def add_people(uow_factory: partial[UnitOfWork], first_id: int, count: int) -> list[str]:
    """Fictitious Under 12s CIN cases, each with what a closure ends (C6.3, C10) and keeps (C9)."""
    ids = [str(first_id + i) for i in range(count)]
    with uow_factory() as uow:
        add = uow.session.add_all
        add([Person(id=p, first_name="Bench", last_name=f"P{p}", date_of_birth=D(2015, 1, 1),
                    last_seen_face_to_face=D(2026, 1, 5)) for p in ids])
        uow.session.flush()
        for p in ids:
            add([
                Case(person_id=p, team="u12", worker="amy", case_type="CIN", opened_on=D(2020, 1, 1)),
                WorkerRelationship(person_id=p, worker="Amy Brooke", relationship_type="Key Worker (Childrens Social Care)",
                                   from_date=D(2020, 1, 1)),
                WorkerRelationship(person_id=p, worker="Dr Iris Vale", relationship_type="GP", from_date=D(2016, 1, 1)),
                OrganisationRelationship(person_id=p, organisation="Under 12s", organisation_kind="team",
                                         relationship_type="Key Team (Childrens Social Care)", from_date=D(2020, 1, 1)),
                ServiceUserGroup(person_id=p, group="CS Abuse or Neglect", start_date=D(2020, 1, 1)),
                RecordItem(person_id=p, kind="legal_status", description="C: Section 17 Child in Need", from_date=D(2020, 2, 1)),
            ])
        uow.commit()
    return ids


class NoopSender:
    """A chat platform that accepts everything at once: measures our side of delivery only."""

    def __init__(self) -> None:
        self.sent = 0

    def post(self, channel: str, card: Card) -> str:
        self.sent += 1
        return f"{self.sent}.000"

    def update(self, channel: str, message_id: str, card: Card) -> None:
        self.sent += 1

    def direct(self, user: str, card: Card) -> str:
        self.sent += 1
        return f"{self.sent}.000"


def claim_worker(url: str, actor: str, request_ids: list[int], barrier: Any, results: Any) -> None:
    """One process clicking Claim on every item in turn, racing the others (spawned)."""
    engine = make_engine(url)
    uow_factory = partial(UnitOfWork, make_session_factory(engine))
    ctx = make_context()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    won = lost = failed = 0
    barrier.wait(120)
    for request_id in request_ids:
        try:
            with uow_factory() as uow:
                claim(uow, ctx, request_id, actor)
            won += 1
        except (Conflict, IllegalTransition):
            lost += 1
        except Exception:
            failed += 1
    results.put((won, lost, failed))
    engine.dispose()
