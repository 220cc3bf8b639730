"""Shared fixtures: the store on SQLite (a WAL file) and on the real PostgreSQL.

``db_url`` is parametrised over both back ends, so every store test runs twice.
PostgreSQL tests use a fresh database made for this test session and dropped
after it. If PostgreSQL cannot be reached they are skipped, unless
WORKTRAY_REQUIRE_POSTGRES=1 (as in CI), when they fail instead.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection, text

from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import Base
from store.uow import UnitOfWork
from workflows.clock import FixedClock
from workflows.org import Organisation, load_organisation
from workflows.requests import Context
from worktray import demo

POSTGRES_ADMIN_URL = os.environ.get("WORKTRAY_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("WORKTRAY_REQUIRE_POSTGRES") == "1"
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


@contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database named ``<prefix>_<random>``, dropped afterwards.
    Unreachable: skipped, or failed when WORKTRAY_REQUIRE_POSTGRES=1 (CI)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (WORKTRAY_REQUIRE_POSTGRES=1) but unreachable: {e}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {e}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    with new_postgres_database("worktray_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'worktray.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    with engine.begin() as conn:
        empty_postgres(conn)
    engine.dispose()
    return url


def empty_postgres(conn: Connection) -> None:
    """Empty every table, in the caller's transaction.

    The event log refuses TRUNCATE (migration 0011), so its triggers are switched
    off for this one statement and on again before the transaction commits: an
    owner's step in a test database, never something the application does.
    """
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    conn.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
    conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    conn.execute(text("ALTER TABLE events ENABLE TRIGGER USER"))


@pytest.fixture
def uow_factory(db_url: str) -> Iterator[partial[UnitOfWork]]:
    engine = make_engine(db_url)
    yield partial(UnitOfWork, make_session_factory(engine))
    engine.dispose()


@pytest.fixture(scope="session")
def org() -> Organisation:
    return load_organisation(demo.DEMO_ORG)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def ctx(org: Organisation, clock: FixedClock) -> Context:
    return Context(org=org, clock=clock)


@pytest.fixture
def seeded(uow_factory: partial[UnitOfWork]) -> partial[UnitOfWork]:
    """The demo organisation's fictitious case store."""
    with uow_factory() as uow:
        demo.seed(uow)
    return uow_factory


# -- Added for the core tests: drive requests through the real handlers, and see every write ----

from collections.abc import Callable  # noqa: E402

from sqlalchemy import select as _select  # noqa: E402

from store.models import Event as _Event  # noqa: E402
from store.models import Request as _Request  # noqa: E402
from workflows import closure as _closure  # noqa: E402
from workflows import requests as _wf  # noqa: E402
from workflows.clock import local_today as _local_today  # noqa: E402
from workflows.record_items import RecordChoices as _RecordChoices  # noqa: E402

ALL_TICKS: tuple[str, ...] = ("closure_date", "relationships", "retention", "items", *_closure.OUTCOMES)


class Journey:
    """Moves closure requests through the real handlers, one unit of work per step.

    Tests reach a state the way users would (request, approve, claim ...), so what
    they check starts from exactly what the handlers leave behind, never hand-made rows.
    """

    def __init__(self, uow_factory: partial[UnitOfWork], ctx: Context) -> None:
        self.uow = uow_factory
        self.ctx = ctx

    def form(self, person_id: str = "3549723", **changes: object) -> _closure.ClosureForm:
        """A valid C2 form for the person's open case; ``changes`` override fields."""
        with self.uow() as uow:
            case = uow.cases.open_case(person_id) or uow.cases.cases_of(person_id)[-1]  # closed: a late resubmit
            adult = _closure.is_adult(case)
            never_seen = _closure.needs_no_visit_reason(case)
        data: dict[str, object] = {
            "reason": "A1" if adult else "RC7",
            "closure_date": _local_today(self.ctx.clock),
            "summary": "Plan objectives met; family agree closure.",
            "visit_done": True,
            "letter_done": True,
            "evaluation_done": True,
        }
        if never_seen:  # C4: the worker notes why no final visit was needed
            data["no_visit_reason"] = "Client declined visits; reviewed by phone with the carer."
        data.update(changes)
        return _closure.ClosureForm.model_validate(data)

    def request(self, person_id: str = "3549723", actor: str = "amy", **changes: object) -> int:
        form = self.form(person_id, **changes)
        with self.uow() as uow:
            return _closure.request_closure(uow, self.ctx, actor, person_id, form).id

    def approver(self, request_id: int) -> str:
        """maria for Under 12s (olu when maria asked herself: four eyes, C3); olu (service
        manager) for adults, whose demo client needs C4 sign-off."""
        request = self.get(request_id)
        return "maria" if request.team == "u12" and request.requested_by != "maria" else "olu"

    def approve(self, request_id: int, actor: str | None = None, approval: _wf.Approval | None = None) -> str:
        """Approve; an adult's request gets the 18-item checklist all "yes" unless ``approval`` is given (C3)."""
        actor = actor or self.approver(request_id)
        with self.uow() as uow:
            if approval is None:
                found = uow.requests.get(request_id)
                items = _wf.checklist_for(found) if found is not None else []
                approval = _wf.Approval(answers={item.key: "yes" for item in items})
            return _wf.approve(uow, self.ctx, request_id, actor, approval)

    def return_(self, request_id: int, actor: str = "maria", note: str = "Add the closure letter.") -> str:
        with self.uow() as uow:
            return _wf.return_request(uow, self.ctx, request_id, actor, note)

    def resubmit(self, request_id: int, actor: str = "amy", **changes: object) -> str:
        form = self.form(self.get(request_id).person_id, **changes)
        with self.uow() as uow:
            return _closure.resubmit(uow, self.ctx, request_id, actor, form)

    def claim(self, request_id: int, actor: str = "sam") -> str:
        with self.uow() as uow:
            return _wf.claim(uow, self.ctx, request_id, actor)

    def unclaim(self, request_id: int, actor: str = "sam") -> str:
        with self.uow() as uow:
            return _wf.unclaim(uow, self.ctx, request_id, actor)

    def reassign(self, request_id: int, to: str = "tess", actor: str = "maria") -> str:
        with self.uow() as uow:
            return _wf.reassign(uow, self.ctx, request_id, actor, to)

    def open_audit(self, request_id: int, actor: str = "sam") -> _closure.ClosurePlan:
        with self.uow() as uow:
            plan = _closure.open_audit(uow, self.ctx, request_id, actor)
            uow.session.expunge_all()  # the plan's records stay readable after the unit of work
            return plan

    def recheck(self, request_id: int, actor: str = "sam") -> str:
        with self.uow() as uow:
            return _closure.recheck(uow, self.ctx, request_id, actor)

    def complete(
        self,
        request_id: int,
        actor: str = "sam",
        confirmed: tuple[str, ...] | list[str] = ALL_TICKS,
        end_reasons: dict[int, str] | None = None,
        choices: _RecordChoices | None = None,
    ) -> str:
        with self.uow() as uow:
            return _closure.complete(
                uow, self.ctx, request_id, actor, confirmed=list(confirmed), end_reasons=end_reasons, choices=choices
            )

    def withdraw(self, request_id: int, actor: str = "amy") -> str:
        with self.uow() as uow:
            return _wf.withdraw(uow, self.ctx, request_id, actor)

    def finish_steps(self, person_id: str) -> None:
        """Each open step's assignee marks it done (what unblocks an audit, C6.1)."""
        with self.uow() as uow:
            steps = [(s.id, s.assignee) for s in uow.cases.open_work_steps([person_id])]
        for step_id, assignee in steps:
            with self.uow() as uow:
                _closure.mark_step_done(uow, self.ctx, step_id, assignee)

    def to_state(
        self,
        state: str,
        person_id: str = "3549723",
        requester: str = "amy",
        holder: str = "sam",
        approver: str | None = None,
    ) -> int:
        """A new request on the person, driven into ``state`` through the handlers.

        "blocked" needs a person with open work steps (3549728); "closed" one without.
        """
        rid = self.request(person_id, requester)
        if state == _wf.REQUESTED:
            return rid
        if state == _wf.WITHDRAWN:
            self.withdraw(rid, requester)
            return rid
        if state == _wf.RETURNED:
            self.return_(rid, actor=approver or self.approver(rid))
            return rid
        self.approve(rid, approver)
        if state == _wf.APPROVED:
            return rid
        self.claim(rid, holder)
        if state == _wf.CLAIMED:
            return rid
        plan = self.open_audit(rid, holder)
        if state == _wf.BLOCKED:
            assert plan.blocking_steps, f"{person_id} has no open work steps to block on"
            return rid
        assert state == _wf.CLOSED, state
        self.complete(rid, holder)
        return rid

    def get(self, request_id: int) -> _Request:
        """The request as committed (detached: plain columns only)."""
        with self.uow() as uow:
            request = uow.requests.get(request_id)
            assert request is not None
            uow.session.expunge(request)  # keep its loaded columns past the unit of work's rollback
            return request

    def events(self, request_id: int | None = None) -> list[_Event]:
        with self.uow() as uow:
            query = _select(_Event).order_by(_Event.id)
            if request_id is not None:
                query = query.where(_Event.request_id == request_id)
            events = list(uow.session.scalars(query).all())
            uow.session.expunge_all()
            return events


@pytest.fixture
def journey(seeded: partial[UnitOfWork], ctx: Context) -> Journey:
    return Journey(seeded, ctx)


def fingerprint(uow_factory: partial[UnitOfWork]) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in key order: equal before and after means nothing was written."""
    with uow_factory() as uow:
        return {
            table.name: [tuple(row) for row in uow.session.execute(_select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def db_fingerprint(seeded: partial[UnitOfWork]) -> Callable[[], dict[str, list[tuple[object, ...]]]]:
    """Call before and after an action; compare to prove it wrote nothing."""
    return partial(fingerprint, seeded)
