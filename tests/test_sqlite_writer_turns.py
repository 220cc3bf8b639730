"""SQLite: writers of one process take turns on a lock, not on SQLite's sleeping busy handler
(store.db._WriterTurns, issue 9). The turn passes the moment a transaction ends, however it
ends (commit, rollback, an error), and readers never wait for it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from store.db import READ_ONLY, _WriterTurns, make_engine


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


def test_the_deliverers_note_goes_before_the_writers_already_waiting() -> None:
    """``FIRST_IN_LINE``: the deliverer's short note of what it sent is served before the clicks
    queued for the turn (the next cards wait for that note)."""
    turns = _WriterTurns()
    order: list[str] = []
    holder: dict[str, bool] = {}
    turns.take(holder)

    def writer(name: str, first: bool) -> threading.Thread:
        def take_and_note() -> None:
            info: dict[str, bool] = {}
            turns.take(info, first=first)
            order.append(name)
            turns.give_back(info)

        thread = threading.Thread(target=take_and_note)
        thread.start()
        return thread

    click = writer("click", first=False)
    _until(lambda: len(turns._free._waiters) == 1)  # type: ignore[attr-defined]  # the click waits
    note = writer("deliverer", first=True)
    _until(lambda: len(turns._free._waiters) == 2)  # type: ignore[attr-defined]  # and the deliverer behind it
    turns.give_back(holder)
    click.join(10)
    note.join(10)
    assert order == ["deliverer", "click"]


def _until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the writers did not queue"
        time.sleep(0.001)
