"""Engines for SQLite (the embedded default) and PostgreSQL (what councils run)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///worktray.db"
READ_ONLY = "worktray_read_only"  # execution option: this transaction only reads (SQLite: a deferred BEGIN)
FIRST_IN_LINE = "worktray_first_in_line"  # execution option: a short write others wait on (SQLite: goes first)
BUSY_SECONDS = 30  # how long a writer waits for SQLite's write lock before "database is locked"
_WRITER = "worktray_writer"  # connection info: this connection holds the process's writer turn (SQLite)


def read_only_options(bind: Any) -> dict[str, Any]:
    """Execution options of a read-only unit of work: one snapshot for all its statements, as
    SQLite's deferred ``BEGIN`` in WAL mode reads (``READ_ONLY``). PostgreSQL's default, read
    committed, would let each statement see what was committed since the one before: a Home's
    counts and its lines, a card's audit facts and the request they are drawn for, could then
    disagree. ``REPEATABLE READ READ ONLY`` takes the snapshot at the first statement; a
    read-only transaction never fails to serialise, and a write in it is refused."""
    if getattr(getattr(bind, "dialect", None), "name", None) == "postgresql":
        return {READ_ONLY: True, "isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    return {READ_ONLY: True}


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str = DEFAULT_DATABASE_URL, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite turn on WAL and make every writing transaction take the write lock at once.

    Personal data stays out of logs: ``hide_parameters`` keeps SQL parameters
    out of error messages, and SQLAlchemy's statement and row logging (which
    a root logger at DEBUG would switch on) is held at WARNING.

    ``pool_size`` (PostgreSQL): connections kept open, sized by the caller to
    the threads that use them (``worktray.serve``: HTTP threads plus the
    deliverer and the scheduler); as many again may open under a burst.

    SQLite lets many readers and one writer work at once in WAL mode. A
    transaction that reads and then writes can fail with "database is locked"
    if another process wrote in between, so each unit of work that may write
    starts with ``BEGIN IMMEDIATE``: writers queue (busy_timeout) instead of
    failing, and the compare-and-set on a request's version decides who wins.
    The event log's hash chain (``store.eventlog.seal``) relies on that lock.
    A read-only unit of work (``UnitOfWork(readonly=True)``, the execution
    option ``READ_ONLY``) starts with a plain ``BEGIN``: in WAL mode it reads a
    snapshot without waiting for the writer or making writers wait for it.

    Within one process, writers take turns on a Python lock before ``BEGIN
    IMMEDIATE`` (``_WriterTurns``): SQLite's own busy handler polls with sleeps
    of up to 100 ms, so a burst of clicks queued on it waited far longer than
    the writes took (issue 9). Other processes (the CLI) still queue on
    busy_timeout.
    """
    url = normalise_url(url)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return _withhold_rows(engine)
    if pool_size is not None:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=30)
    return _withhold_rows(create_engine(url, pool_pre_ping=True, **kwargs))


class WithholdRows(logging.Filter):
    """SQLAlchemy logs every row it fetches at DEBUG ("Row (3549723, 'Lily', 'Marsh', …)").

    Holding ``sqlalchemy.engine`` at WARNING stops that only until something
    lowers the level again (a deployment's logging config, ``echo``, a test at
    DEBUG), so the rows are withheld on the logger itself: the statement, its
    columns and the transaction lines stay (no values: ``hide_parameters``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Row "):
            record.msg, record.args = "Row [withheld]", None
        return True


def _withhold_rows(engine: Engine) -> Engine:
    """Put ``WithholdRows`` on the logger this engine logs through (once)."""
    logger = getattr(engine.logger, "logger", engine.logger)  # echo=True wraps it in an InstanceLogger
    if isinstance(logger, logging.Logger) and not any(isinstance(f, WithholdRows) for f in logger.filters):
        logger.addFilter(WithholdRows())
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    turns = _WriterTurns()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        turns.take(conn.info, first=bool(conn.get_execution_options().get(FIRST_IN_LINE)))
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turns.give_back(conn.info)
            raise

    @event.listens_for(engine, "commit")
    def _on_commit(conn: Any) -> None:
        turns.end(conn, "COMMIT")

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Any) -> None:
        turns.end(conn, "ROLLBACK")

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        turns.give_back(record.info)  # a connection gone back to the pool holds no turn

    @event.listens_for(engine.pool, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
        turns.give_back(record.info)


class _WriterTurns:
    """One writing transaction at a time in this process, in turns.

    Taken before ``BEGIN IMMEDIATE`` and given back the moment the transaction
    ends: the ``commit`` and ``rollback`` events run before SQLAlchemy's own
    COMMIT/ROLLBACK, so they end the transaction themselves (the driver's
    commit after them finds none open and does nothing) and only then hand
    the turn on. A transaction marked ``FIRST_IN_LINE`` (the deliverer noting
    what it sent: short, and the next cards wait for it) is served before the
    others waiting. A turn not had within ``BUSY_SECONDS`` fails as SQLite's
    busy timeout does ("database is locked").
    """

    def __init__(self) -> None:
        self._free = threading.Condition()
        self._busy = False
        self._first_waiting = 0

    def take(self, info: dict[Any, Any], *, first: bool = False) -> None:
        if info.get(_WRITER):
            return  # this connection has the turn already
        deadline = time.monotonic() + BUSY_SECONDS
        with self._free:
            self._first_waiting += first
            try:
                while self._busy or (self._first_waiting and not first):
                    if not self._free.wait(deadline - time.monotonic()):
                        raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
                self._busy = True
            finally:
                self._first_waiting -= first
        info[_WRITER] = True

    def give_back(self, info: dict[Any, Any]) -> None:
        if info.pop(_WRITER, False):
            with self._free:
                self._busy = False
                self._free.notify_all()

    def end(self, conn: Any, statement: str) -> None:
        if not conn.info.get(_WRITER):
            return
        try:
            dbapi_connection = conn.connection.driver_connection
            if dbapi_connection is not None and dbapi_connection.in_transaction:
                dbapi_connection.execute(statement)
        finally:
            self.give_back(conn.info)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
