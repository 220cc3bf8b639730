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
from functools import partial
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import Base
from store.uow import UnitOfWork
from worktray import demo
from workflows.clock import FixedClock
from workflows.org import Organisation, load_organisation
from workflows.requests import Context

POSTGRES_ADMIN_URL = os.environ.get("WORKTRAY_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("WORKTRAY_REQUIRE_POSTGRES") == "1"
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    name = f"worktray_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (WORKTRAY_REQUIRE_POSTGRES=1) but unreachable: {e}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {e}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


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
