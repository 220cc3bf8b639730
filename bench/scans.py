"""The scans over the whole case store, timed on a big generated one (issue 9).

``python -m bench.scans [--persons N] [--events N] [--runs K] [--explain] [--url URL] [--only TEXT]`` generates
a store (``bench.scale_data``) on a SQLite file and a fresh PostgreSQL database, then times each
scan (the median of K runs, each in its own unit of work): the radar digest and the Transfer
Meeting agenda of 12+ as the deliverer draws them (T2, T3), a team's due audits (``/audits``),
every team's overdue audits, the daily audit job when everything due is raised (C13), and the
reminders' collection over every ladder (issue 7). The goal is PostgreSQL's: 250 ms each.

``--explain`` prints, for each scan, its slowest statements with ``EXPLAIN ANALYZE`` (PostgreSQL).

``--only TEXT`` (with ``--url``) times only the scans whose name contains TEXT, e.g. ``Home``: on a
store the scans have run over once (the audit job has raised what is due), as they run in order.

``--write-lock`` (with ``--url``: alone) times the scheduler's reminders job as it runs
(``worktray.scheduler.send_reminders``: collected read-only, then claimed and queued): how long
its writing transactions last (on SQLite, how long it holds the write lock every click waits
for) against the whole run, while another thread commits a small write every few ms as a click
does, and the longest of those. Twice: on a freshly generated store the first run claims every
key owed (tens of thousands), the second is the steady state (everything claimed; ``make bench``
has run the jobs once for the memory figure already, so both are).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Engine, event

from bench import Goal
from bench.scale_data import generate
from bot import tray_views, views
from store.db import READ_ONLY, make_engine, make_session_factory
from store.migrate import upgrade
from store.uow import UnitOfWork
from workflows import audits, radar, reminders
from workflows.clock import FixedClock, local_today
from workflows.org import load_organisation
from workflows.requests import Context
from worktray import demo, scheduler

GOAL_MS = 250.0
BENCH_NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)  # a Thursday in working time (the generator's "today")


def bench_context() -> Context:
    return Context(org=load_organisation(demo.DEMO_ORG), clock=FixedClock(BENCH_NOW))


Scan = Callable[[UnitOfWork, Context], object]


def _radar(uow: UnitOfWork, ctx: Context) -> object:
    return views.digest_card(uow, ctx, {"digest": radar.RADAR, "team": "12plus", "period": "2026-11-27T12:00", "as_of": "2026-11-26"})


def _agenda(uow: UnitOfWork, ctx: Context) -> object:
    return views.digest_card(uow, ctx, {"digest": radar.AGENDA, "team": "12plus", "period": "2026-11-30T09:00", "as_of": "2026-11-26"})


def _due(uow: UnitOfWork, ctx: Context) -> object:
    return audits.due_audits(uow, ctx, "u12", local_today(ctx.clock))


def _overdue(uow: UnitOfWork, ctx: Context) -> object:
    return audits.overdue(uow, ctx, local_today(ctx.clock))


def _raise(uow: UnitOfWork, ctx: Context) -> object:
    return audits.raise_due_audits(uow, ctx)


def _reminders(uow: UnitOfWork, ctx: Context) -> object:
    return reminders.collect(uow, ctx, ctx.clock.now())


def _reminders_run(uow: UnitOfWork, ctx: Context) -> object:
    return reminders.run(uow, ctx).messages


# The people whose Home the deliverer redraws after a click on an Under 12s closure (who opened Home).
HOME_VIEWERS = ("U0TESS", "U0MARIA", "U0AMY", "U0GITA", "U0SAM", "U0OLU")


def _home(uow: UnitOfWork, ctx: Context) -> object:
    return tray_views.home_cards(uow, ctx, HOME_VIEWERS[0])


def _homes(uow: UnitOfWork, ctx: Context) -> object:
    return [tray_views.home_cards(uow, ctx, viewer) for viewer in HOME_VIEWERS]


# name -> (scan, has its goal); the raise job and the reminders run are timed once all is raised/claimed
SCANS: dict[str, tuple[Scan, bool]] = {
    "radar digest 12+ (T2, drawn)": (_radar, True),
    "transfer meeting agenda 12+ (T3, drawn)": (_agenda, True),
    "due audits of Under 12s (/audits, C13)": (_due, True),
    "overdue audits, every team (C13)": (_overdue, True),
    "daily audit job, all raised (C13)": (_raise, True),
    "reminders: what every ladder owes": (_reminders, False),
    "reminders job, all claimed": (_reminders_run, False),
    "Home of business support, U12 (drawn)": (_home, False),
    f"{len(HOME_VIEWERS)} Homes a click redraws (drawn)": (_homes, False),
}
WRITES = {_raise, _reminders_run}  # the others read, as the bot does, in a read-only unit of work


@dataclass
class Timing:
    name: str
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU (Python's side), less sensitive to a busy machine
    result: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.ms)


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[float, str, Any]]]:
    """Every statement run meanwhile, with its duration (ms)."""
    seen: list[tuple[float, str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(((time.perf_counter() - conn.info.pop("bench_started")) * 1000, statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def _size(result: object) -> str:
    if isinstance(result, list | tuple):
        return f"{len(result)} rows"
    if isinstance(result, int):
        return f"{result}"
    return type(result).__name__


def time_scans(url: str, runs: int = 5, explain: bool = False, only: str = "") -> list[Timing]:
    """Each scan (whose name contains ``only``) ``runs`` times after one untimed warm-up run (which
    also does the raising and the claiming)."""
    engine = make_engine(url)
    uow = partial(UnitOfWork, make_session_factory(engine))
    ctx = bench_context()
    found = []
    try:
        for name, (scan, _) in SCANS.items():
            if only not in name:
                continue
            timing = Timing(name)
            started = time.perf_counter()
            with uow(readonly=scan not in WRITES) as u:
                first = scan(u, ctx)
            timing.result = f"{_size(first)}; first run {(time.perf_counter() - started) * 1000:,.0f} ms"
            for _ in range(runs if SCANS[name][1] else min(runs, 2)):  # the slow ones without a goal: twice
                with statements(engine) as seen, uow(readonly=scan not in WRITES) as u:
                    started, cpu = time.perf_counter(), time.process_time()
                    scan(u, ctx)
                    timing.ms.append((time.perf_counter() - started) * 1000)
                    timing.cpu_ms.append((time.process_time() - cpu) * 1000)
            found.append(timing)
            if explain:
                print(f"\n== {name}: {len(seen)} statements, slowest:")
                _explain(engine, seen)
    finally:
        engine.dispose()
    return found


def _explain(engine: Engine, seen: list[tuple[float, str, Any]], top: int = 3) -> None:
    for ms, statement, parameters in sorted(seen, key=lambda s: -s[0])[:top]:
        print(f"-- {ms:.1f} ms: {' '.join(statement.split())[:300]}")
        if engine.dialect.name == "postgresql" and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            with engine.connect() as conn:
                for (line,) in conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters or None):
                    print("   ", line[:200])


def report(backend: str, timings: list[Timing], goals: list[Goal] | None = None) -> list[str]:
    """The scans' lines; on PostgreSQL (where the goal is), each goal added to ``goals``."""
    if goals is not None and backend == "postgresql":
        goals += [
            Goal(f"scan: {t.name}", backend, f"{t.median:.0f} ms", f"<= {GOAL_MS:.0f} ms", t.median <= GOAL_MS)
            for t in timings
            if SCANS[t.name][1]
        ]
    lines = []
    for t in timings:
        goal = SCANS[t.name][1]
        verdict = (" ok" if t.median <= GOAL_MS else " MISSED") if goal and backend == "postgresql" else ""
        target = f"goal <= {GOAL_MS:.0f} ms on PostgreSQL{verdict}" if goal else "no goal"
        lines.append(
            f"  {backend:<10} {t.name:<42} median {t.median:8.1f} ms of {len(t.ms)}, "
            f"{statistics.median(t.cpu_ms):7.1f} ms CPU in Python  ({target}; {t.result})"
        )
    return lines


@contextmanager
def writing_transactions(engine: Engine) -> Iterator[list[tuple[int, float]]]:
    """Each writing transaction meanwhile: the thread that ran it and how long it lasted (ms,
    BEGIN to COMMIT or ROLLBACK; a read-only unit of work's are left out). On SQLite, how long
    it held the write lock."""
    held: list[tuple[int, float]] = []

    def begin(conn: Any) -> None:
        if not conn.get_execution_options().get(READ_ONLY):
            conn.info["bench_write_began"] = time.perf_counter()

    def end(conn: Any) -> None:
        began = conn.info.pop("bench_write_began", None)
        if began is not None:
            held.append((threading.get_ident(), (time.perf_counter() - began) * 1000))

    listeners = (("begin", begin), ("commit", end), ("rollback", end))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield held
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def _clicks(uow: partial[UnitOfWork], ctx: Context, stop: threading.Event, took: list[float]) -> None:
    """A stand-in for people's clicks: a small writing unit of work every 5 ms until ``stop``."""
    while not stop.wait(0.005):
        started = time.perf_counter()
        with uow() as u:
            u.home_viewers.opened("UBENCHCLICK", ctx.clock.now())
            u.commit()
        took.append((time.perf_counter() - started) * 1000)


def reminders_write_lock(url: str) -> list[str]:
    """The reminders job, twice: its writing transactions against the whole run, and the
    longest click meanwhile."""
    engine = make_engine(url)
    uow = partial(UnitOfWork, make_session_factory(engine))
    ctx = bench_context()
    lines = []
    try:
        for run in ("run 1", "run 2"):
            stop, clicks = threading.Event(), list[float]()
            clicker = threading.Thread(target=_clicks, args=(uow, ctx, stop, clicks))
            with writing_transactions(engine) as held:
                clicker.start()
                started = time.perf_counter()
                queued = scheduler.run_in_two(uow, ctx, reminders.owed_now, scheduler.queue_reminders)
                total = (time.perf_counter() - started) * 1000
                stop.set()
                clicker.join()
            job = [ms for thread, ms in held if thread == threading.get_ident()]
            lines.append(
                f"  {engine.dialect.name:<10} reminders job, {run:<12} {total:7.0f} ms in all, writing transaction(s) "
                f"{' + '.join(f'{ms:.0f} ms' for ms in job) or 'none'} ({queued} messages); "
                f"{len(clicks)} clicks meanwhile, longest {max(clicks, default=0):.0f} ms"
            )
    finally:
        engine.dispose()
    return lines


def build(url: str, persons: int, events: int) -> str:
    upgrade(url)
    started = time.perf_counter()
    summary = generate(url, persons=persons, events=events)
    return f"{summary} in {time.perf_counter() - started:.0f} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scans", description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--url", help="an already generated database (skips generating)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--write-lock", action="store_true", help="only the reminders job's writing transactions (with --url)")
    parser.add_argument("--only", default="", help="only the scans whose name contains this (with --url)")
    args = parser.parse_args(argv)
    if args.url and args.write_lock:
        print("\n".join(reminders_write_lock(args.url)))
        return
    if args.url:
        print("\n".join(report(make_engine(args.url).dialect.name, time_scans(args.url, args.runs, args.explain, args.only))))
        return
    print("\n".join(run_all(args.persons, args.events, args.runs, args.explain, not args.no_sqlite, not args.no_postgres)))


def run_all(
    persons: int, events: int, runs: int, explain: bool = False, sqlite: bool = True, postgres: bool = True, rss: bool = False,
    goals: list[Goal] | None = None,
) -> list[str]:
    """Generate and time on both back ends (and, with ``rss``, the bot's peak memory on each
    generated store, ``bench.rss``): the lines ``make bench`` prints (the goals added to ``goals``)."""
    from bench import rss as bot_rss
    from bench.__main__ import postgres_database, postgres_reachable, sqlite_database

    lines = [f"scans over {persons:,} open cases and {events:,} events (median of {runs} runs; noisy shared machine)"]
    memory: list[str] = []
    if sqlite:
        with sqlite_database() as url:
            lines.append(f"  sqlite data: {build(url, persons, events)}")
            memory += bot_rss.report(url, "sqlite", goals) if rss else []  # first: the bot's first day on a fresh store
            lines += reminders_write_lock(url)  # before the scans: their reminders runs claim everything owed
            lines += report("sqlite", time_scans(url, runs, explain), goals)
    why = postgres_reachable() if postgres else "--no-postgres"
    if why is None:
        with postgres_database() as url:
            lines.append(f"  postgresql data: {build(url, persons, events)}")
            memory += bot_rss.report(url, "postgresql", goals) if rss else []
            lines += reminders_write_lock(url)
            lines += report("postgresql", time_scans(url, runs, explain), goals)
    else:
        lines.append(f"  postgresql: not run ({why})")
        if goals is not None:
            goals.append(Goal(f"scans over {persons:,} open cases, bot peak RSS", "postgresql", f"not run ({why})",
                              f"<= {GOAL_MS:.0f} ms each", None))
    if memory:
        lines += [f"the bot holding {persons:,} cases: peak memory with every scheduled job run once (bench/rss.py)", *memory]
    return lines


if __name__ == "__main__":
    main()
