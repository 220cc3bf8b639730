"""SQLite: writers of one process take turns on a lock, not on SQLite's sleeping busy handler
(store.db._WriterTurns, issue 9). The turn passes the moment a transaction ends, however it
ends (commit, rollback, an error), and readers never wait for it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from store.db import READ_ONLY, make_engine


@pytest.fixture
def engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    engine.dispose()


def _write_in_thread(engine, value: int, started: threading.Event, done: threading.Event) -> threading.Thread:
    def write() -> None:
        started.set()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_a_second_writer_waits_for_the_first_to_commit_and_then_goes_on(engine) -> None:
    started, done = threading.Event(), threading.Event()
    with engine.begin() as first:
        first.execute(text("INSERT INTO t VALUES (1)"))
        thread = _write_in_thread(engine, 2, started, done)
        assert started.wait(10)
        assert not done.wait(0.2)  # still waiting for its turn while the first is open
        with engine.connect().execution_options(**{READ_ONLY: True}) as reader:  # readers never wait
            assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0
    thread.join(10)
    assert done.is_set()
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT x FROM t")).scalars()) == [1, 2]


@pytest.mark.parametrize("ending", ["rollback", "error"])
def test_the_turn_passes_on_when_a_transaction_rolls_back_or_fails(engine, ending: str) -> None:
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (1)"))
    if ending == "rollback":
        conn.rollback()
    else:
        with pytest.raises(Exception):  # noqa: B017 - any database error ends the transaction
            conn.execute(text("INSERT INTO no_such_table VALUES (1)"))
        conn.rollback()
    started, done = threading.Event(), threading.Event()
    thread = _write_in_thread(engine, 2, started, done)
    thread.join(10)
    assert done.is_set()  # the next writer got in
    conn.close()
    with engine.connect() as check:
        assert list(check.execute(text("SELECT x FROM t")).scalars()) == [2]


def test_a_connection_closed_mid_transaction_gives_its_turn_back(engine) -> None:
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (1)"))
    conn.close()  # rolled back on close
    started, done = threading.Event(), threading.Event()
    _write_in_thread(engine, 2, started, done).join(10)
    assert done.is_set()
