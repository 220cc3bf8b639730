"""Issue 9: the event log is append-only in the database, and a hash chain that
``worktray events verify`` checks, on SQLite and PostgreSQL.

Tampering is done as an attacker with database rights would: raw SQL through the
engine, with the triggers switched off (PostgreSQL) or dropped (SQLite) first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import NOW, POSTGRES_ADMIN_URL, Journey, empty_postgres
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from store.db import make_engine, make_session_factory
from store.eventlog import CHAIN_LOCK_KEY, GENESIS, verify
from store.migrate import upgrade
from store.models import Event
from store.uow import UnitOfWork
from workflows.requests import BLOCKED, CLAIMED, CLOSED
from worktray import cli

WAIT = 120  # seconds a barrier may take before the test gives up (a hang, not a timing check)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def check(uow_factory: partial[UnitOfWork], expect_head: str | None = None) -> tuple[int, list[tuple[int, str]]]:
    with uow_factory() as uow:
        sessions = uow.session_factory
    found = verify(sessions, expect_head=expect_head, batch=3)  # several batches, so the walk crosses them
    return found.count, found.problems


def tamper(engine: Engine, *statements: str) -> None:
    """Change the log behind the bot's back, and put the triggers back as they were."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
            for statement in statements:
                conn.execute(text(statement))
            conn.execute(text("ALTER TABLE events ENABLE TRIGGER USER"))
            return
        triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")).all()
        assert len(triggers) == 2
        for name, _ in triggers:
            conn.execute(text(f"DROP TRIGGER {name}"))
        for statement in statements:
            conn.execute(text(statement))
        for _, sql in triggers:
            conn.execute(text(sql))


def run_verify(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, *extra: str) -> int:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("DATABASE_URL", db_url)
    return cli.main(["events", "verify", *extra])


def test_a_clean_journey_verifies_ok(journey: Journey, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journey.to_state(CLOSED, "3549723", "amy")
    events = journey.events()
    assert len(events) >= 4  # request, approve, claim, complete
    assert [e.id for e in events] == list(range(1, len(events) + 1))  # no gaps
    assert events[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))
    assert check(journey.uow) == (len(events), [])

    assert run_verify(monkeypatch, tmp_path, db_url) == 0
    out = capsys.readouterr().out
    assert f"OK: {len(events)} event(s), the hash chain is unbroken. Head hash: {events[-1].hash}" in out
    assert run_verify(monkeypatch, tmp_path, db_url, "--head", events[2].hash) == 0  # a noted head still in the chain


def test_update_delete_and_truncate_are_refused_by_the_database(journey: Journey, engine: Engine) -> None:
    journey.to_state(CLAIMED, "3549723", "amy")
    before = [(e.id, e.actor, e.detail, e.hash) for e in journey.events()]
    statements = ["UPDATE events SET actor = 'mallory' WHERE id = 2", "DELETE FROM events WHERE id = 2", "DELETE FROM events"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE events CASCADE")
    for statement in statements:
        with pytest.raises(DBAPIError, match="events are append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert [(e.id, e.actor, e.detail, e.hash) for e in journey.events()] == before
    assert check(journey.uow) == (len(before), [])


def test_a_changed_event_is_named_by_verify(journey: Journey, engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journey.to_state(CLAIMED, "3549723", "amy")
    count = len(journey.events())
    tamper(engine, "UPDATE events SET detail = '{\"note\": \"Lily Marsh never visited\"}' WHERE id = 2")
    assert check(journey.uow) == (count, [(2, "changed: its hash does not match its content")])

    assert run_verify(monkeypatch, tmp_path, db_url) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "event 2: changed: its hash does not match its content",
        f"BROKEN: 1 problem(s) in {count} event(s); the log was changed outside worktray.",
    ]
    assert "Lily" not in out and "Marsh" not in out  # IDs only, no personal data


def test_a_removed_event_is_found_before_the_next(journey: Journey, engine: Engine) -> None:
    journey.to_state(CLAIMED, "3549723", "amy")
    count = len(journey.events())
    tamper(engine, "DELETE FROM events WHERE id = 2")
    assert check(journey.uow) == (count - 1, [(3, "removed or reordered before event 3")])


def test_a_rewritten_hash_breaks_the_link_to_the_next_event(journey: Journey, engine: Engine) -> None:
    """An attacker who recomputes the changed event's hash still breaks its successor's link."""
    journey.to_state(CLAIMED, "3549723", "amy")
    events = journey.events()
    event = events[1]
    event.actor = "mallory"
    from store.eventlog import _values, chain_hash

    forged = chain_hash(_values(event), event.prev_hash)
    tamper(engine, f"UPDATE events SET actor = 'mallory', hash = '{forged}' WHERE id = 2")
    assert check(journey.uow) == (len(events), [(3, "removed or reordered before event 3")])


def test_a_truncated_log_misses_the_noted_head(journey: Journey, engine: Engine) -> None:
    journey.to_state(CLAIMED, "3549723", "amy")
    events = journey.events()
    tamper(engine, f"DELETE FROM events WHERE id = {events[-1].id}")  # the newest event: the chain itself still links
    assert check(journey.uow) == (len(events) - 1, [])
    assert check(journey.uow, expect_head=events[-1].hash)[1] == [(events[-2].id, "the noted head hash is no longer in the chain: events were removed or rewritten up to here")]


def test_a_rolled_back_unit_of_work_leaves_no_gap(seeded: partial[UnitOfWork], journey: Journey) -> None:
    at = journey.ctx.clock.now()
    with seeded() as uow:
        uow.record(at=at, actor="amy", action="test", person_id="3549723")
        uow.commit()
    with seeded() as uow:
        uow.record(at=at, actor="amy", action="lost", person_id="3549723")
        uow.session.flush()
    with seeded() as uow:
        uow.record(at=at, actor="amy", action="test", person_id="3549723", detail={"b": [1, 2], "a": {"z": 1, "y": None}})
        uow.commit()
    assert [(e.id, e.action) for e in journey.events()] == [(1, "test"), (2, "test")]
    assert check(seeded) == (2, [])


def test_concurrent_writers_keep_one_unbroken_chain(journey: Journey) -> None:
    """Several journeys at once (threads, one engine): every event is in one chain, ids without gaps."""
    runs = [(CLOSED, "3549723", "amy"), (CLOSED, "3501779", "amy"), (BLOCKED, "3549728", "ben"), (CLAIMED, "3549735", "amy")]
    barrier = threading.Barrier(len(runs))
    errors: list[BaseException] = []

    def run(state: str, person: str, requester: str) -> None:
        try:
            barrier.wait(WAIT)
            journey.to_state(state, person, requester)
        except BaseException as e:  # reported below with its text
            errors.append(e)

    threads = [threading.Thread(target=run, args=r) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert errors == []
    events = journey.events()
    assert {e.request_id for e in events} == {1, 2, 3, 4}
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert check(journey.uow) == (len(events), [])


def _add_legacy_events(url: str, ids: list[int]) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for n in ids:
            conn.execute(
                text("INSERT INTO events (id, at, actor, action, person_id, detail) VALUES (:id, :at, 'amy', 'test', '3549723', :d)"),
                {"id": n, "at": "2026-11-26 10:00:00.000000" if conn.dialect.name == "sqlite" else "2026-11-26 10:00:00+00",
                 "d": f'{{"n": {n}}}'},
            )
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with no schema (not the session's migrated one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("postgres_url")  # skipped (or failed) like the others when PostgreSQL is away
    name = f"worktray_fresh_{tmp_path.name[-20:].replace('-', '_').lower()}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migration_chains_existing_events_in_id_order(fresh_url: str) -> None:
    """0011 backfills the hashes of a log written before it, closing the gaps a sequence left."""
    upgrade(fresh_url, "0008")
    _add_legacy_events(fresh_url, [1, 2, 5, 9])
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    uow_factory: Any = partial(UnitOfWork, make_session_factory(engine))
    try:
        with uow_factory() as uow:
            rows = [(e.id, e.detail) for e in uow.session.query(Event).order_by(Event.id)]
        assert rows == [(1, {"n": 1}), (2, {"n": 2}), (3, {"n": 5}), (4, {"n": 9})]
        assert check(uow_factory) == (4, [])
        with uow_factory() as uow:  # the application carries the chain on
            uow.record(at=uow.session.get(Event, 4).at, actor="amy", action="test")
            uow.commit()
        assert check(uow_factory) == (5, [])
        with pytest.raises(DBAPIError, match="events are append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM events WHERE id = 1"))
    finally:
        engine.dispose()


def _head(conn: psycopg.Connection[Any], into: list[tuple[Any, ...] | None]) -> None:
    into.append(conn.execute("SELECT * FROM events_chain_head(%s)", (CHAIN_LOCK_KEY,)).fetchone())


@pytest.mark.postgres
def test_the_head_is_read_after_the_lock_is_held_on_postgresql(postgres_url: str) -> None:
    """A writer that waited for the chain's lock reads the head its predecessor committed,
    not the one before (events_chain_head reads with a snapshot taken after the lock)."""
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        empty_postgres(conn)
    with UnitOfWork(make_session_factory(engine)) as uow:
        uow.record(at=NOW, actor="amy", action="test")
        uow.commit()
        last_hash = uow.session.query(Event.hash).scalar()
    engine.dispose()
    first, second = psycopg.connect(postgres_url), psycopg.connect(postgres_url)
    seen: list[tuple[Any, ...] | None] = []
    try:
        first.execute("SELECT * FROM events_chain_head(%s)", (CHAIN_LOCK_KEY,))  # holds the lock
        first.execute(
            "INSERT INTO events (id, at, actor, action, detail, prev_hash, hash) VALUES (2, now(), 'amy', 'test', '{}', %s, %s)",
            (last_hash, "f" * 64),
        )
        waiter = threading.Thread(target=_head, args=(second, seen))
        waiter.start()
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        while first.execute(waiting).fetchone() == (0,):
            waiter.join(0.01)  # until the second writer waits for the lock (not a timing check)
        first.commit()
        waiter.join(WAIT)
        assert seen == [(2, "f" * 64)]
    finally:
        second.rollback()
        first.close()
        second.close()
