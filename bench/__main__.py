"""``python -m bench``: closure journeys, contended claims and outbox drain, per back end.

Prints a small table, then issue 9's figures (click latency beside bare Bolt, Slack pushing
back, import, scans, memory, CLI start) and ends with a summary of every goal, MET or
MISSED; asserts nothing. SQLite always runs (a temporary WAL file); PostgreSQL runs when
reachable at WORKTRAY_BENCH_POSTGRES_URL (default: the tests' WORKTRAY_TEST_POSTGRES_URL
or postgresql://127.0.0.1:5432/test), in a temporary database that is dropped afterwards.
At the default sizes it takes about a quarter of an hour (--no-scale: about a minute).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psycopg
from sqlalchemy import func, select, text

from bench import Goal, NoopSender, add_people, claim_worker, click, importing, make_context, summary
from bot.deliver import Deliverer
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import Event
from store.uow import UnitOfWork
from workflows import closure
from workflows.clock import local_today
from workflows.requests import Context, approve, claim
from worktray import demo

TICKS = ["closure_date", "relationships", "retention", "items", *closure.OUTCOMES]
POSTGRES_ADMIN_URL = os.environ.get(
    "WORKTRAY_BENCH_POSTGRES_URL", os.environ.get("WORKTRAY_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
)


@dataclass
class Figures:
    journeys: int = 0
    journey_seconds: float = 0.0
    items: int = 0
    processes: int = 0
    claim_seconds: float = 0.0
    attempts: int = 0
    one_winner: int = 0
    claim_failures: int = 0
    outbox_rows: int = 0
    chat_calls: int = 0
    outbox_seconds: float = 0.0


# -- databases --------------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="worktray-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"worktray_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable() -> str | None:
    """None when reachable, else why not."""
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
        return None
    except psycopg.OperationalError as e:
        return str(e).strip().splitlines()[0]


# -- what is measured ---------------------------------------------------------------------------


def one_journey(uow: partial[UnitOfWork], ctx: Context, person_id: str) -> None:
    """Request -> approve -> claim -> open the audit -> complete: five transactions, as in chat."""
    form = closure.ClosureForm(reason="RC7", closure_date=local_today(ctx.clock), summary="Objectives met.")
    with uow() as u:
        request_id = closure.request_closure(u, ctx, "amy", person_id, form).id
    with uow() as u:
        approve(u, ctx, request_id, "maria")
    with uow() as u:
        claim(u, ctx, request_id, "sam")
    with uow() as u:
        closure.open_audit(u, ctx, request_id, "sam")
    with uow() as u:
        closure.complete(u, ctx, request_id, "sam", confirmed=TICKS)


def approved_items(uow: partial[UnitOfWork], ctx: Context, people: list[str]) -> list[int]:
    ids = []
    for person_id in people:
        form = closure.ClosureForm(reason="RC7", closure_date=local_today(ctx.clock), summary="Objectives met.")
        with uow() as u:
            request_id = closure.request_closure(u, ctx, "amy", person_id, form).id
        with uow() as u:
            approve(u, ctx, request_id, "maria")
        ids.append(request_id)
    return ids


def contended_claims(url: str, request_ids: list[int], processes: int, figures: Figures) -> None:
    """K processes click Claim on every item in the same order; each item must have one winner."""
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(processes + 1)
    results = mp.Queue()
    actors = ["sam", "tess"]
    workers = [
        mp.Process(target=claim_worker, args=(url, actors[i % 2], request_ids, barrier, results), daemon=True)
        for i in range(processes)
    ]
    for w in workers:
        w.start()
    barrier.wait(120)
    started = time.perf_counter()
    outcomes = [results.get(timeout=300) for _ in workers]
    figures.claim_seconds = time.perf_counter() - started
    for w in workers:
        w.join(30)
    figures.items, figures.processes = len(request_ids), processes
    figures.attempts = sum(won + lost + failed for won, lost, failed in outcomes)
    figures.claim_failures = sum(failed for _, _, failed in outcomes)


def count_single_winners(uow: partial[UnitOfWork], request_ids: list[int]) -> int:
    with uow() as u:
        claims = select(Event.request_id, func.count()).where(Event.action == "claim").group_by(Event.request_id)
        counts = dict(u.session.execute(claims).tuples().all())
    return sum(1 for rid in request_ids if counts.get(rid) == 1)


def run(url: str, journeys: int, items: int, processes: int) -> Figures:
    upgrade(url)
    engine = make_engine(url)
    uow = partial(UnitOfWork, make_session_factory(engine))
    ctx = make_context()
    with uow() as u:
        demo.seed(u)
    figures = Figures()

    people = add_people(uow, 8000000, journeys)
    started = time.perf_counter()
    for person_id in people:
        one_journey(uow, ctx, person_id)
    figures.journeys, figures.journey_seconds = journeys, time.perf_counter() - started

    sender = NoopSender()
    started = time.perf_counter()
    Deliverer(uow, ctx, sender).drain()  # one drain after all journeys: rows of one card coalesce
    figures.outbox_seconds = time.perf_counter() - started
    with uow() as u:
        figures.outbox_rows = u.session.execute(text("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")).scalar_one()
    figures.chat_calls = sender.sent

    request_ids = approved_items(uow, ctx, add_people(uow, 8500000, items))
    contended_claims(url, request_ids, processes, figures)
    figures.one_winner = count_single_winners(uow, request_ids)
    engine.dispose()
    return figures


# -- the table ----------------------------------------------------------------------------------


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def table(results: dict[str, Figures | str]) -> str:
    names = list(results)
    rows: list[tuple[str, ...]] = [("", *names)]

    def row(label: str, cell: Callable[[Figures], str]) -> None:
        rows.append((label, *(cell(f) if isinstance(f, Figures) else "-" for f in results.values())))

    row("closure journeys (5 transactions each)", lambda f: f"{f.journeys} in {f.journey_seconds:.2f} s")
    row("  journeys per second", lambda f: rate(f.journeys, f.journey_seconds))
    row("  ms per journey", lambda f: f"{1000 * f.journey_seconds / f.journeys:.1f}")
    row("claims under contention", lambda f: f"{f.items} items x {f.processes} processes")
    row("  claims won per second", lambda f: rate(f.items, f.claim_seconds))
    row("  clicks handled per second", lambda f: rate(f.attempts, f.claim_seconds))
    row("  items with exactly one winner", lambda f: f"{f.one_winner}/{f.items}")
    row("  unexpected errors", lambda f: str(f.claim_failures))
    row("outbox drain (no-op sender)", lambda f: f"{f.outbox_rows} rows in {f.outbox_seconds:.2f} s")
    row("  rows per second", lambda f: rate(f.outbox_rows, f.outbox_seconds))
    row("  chat calls (rows of one card coalesce)", lambda f: f"{f.chat_calls}, {rate(f.chat_calls, f.outbox_seconds)}")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=False))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    notes = [f"{name}: not run ({why})" for name, why in results.items() if isinstance(why, str)]
    return "\n".join(lines + notes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=100, help="full closure journeys per back end")
    parser.add_argument("--items", type=int, default=40, help="approved items raced for")
    parser.add_argument("--processes", type=int, default=4, help="claiming processes")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clickers in the click-latency figure")
    parser.add_argument("--import-persons", type=int, default=100_000, help="persons in the generated export of the import figure")
    parser.add_argument("--persons", type=int, default=100_000, help="scale: open cases (one person each) in the generated store")
    parser.add_argument("--events", type=int, default=1_000_000, help="scale: event-log rows in the generated store")
    parser.add_argument("--no-scale", action="store_true", help="skip the scans, CLI start and memory figures (minutes)")
    args = parser.parse_args(argv)

    results: dict[str, Figures | str] = {}
    started = time.perf_counter()
    with sqlite_database() as url:
        results["sqlite (WAL file)"] = run(url, args.journeys, args.items, args.processes)
    why = "--no-postgres" if args.no_postgres else postgres_reachable()
    if why is None:
        with postgres_database() as url:
            results["postgresql"] = run(url, args.journeys, args.items, args.processes)
    else:
        results["postgresql"] = why
    print(f"worktray bench: core level, no chat platform (total {time.perf_counter() - started:.1f} s)\n")
    print(table(results))
    goals: list[Goal] = []
    print_click_latency(args.clients, args.no_postgres, goals)
    importing.print_import(args.import_persons, args.no_postgres, goals)
    print_scale(args, goals)
    print(f"\nsummary: issue 9's goals, as measured above (import of {args.import_persons:,} persons; "
          f"{'no scans' if args.no_scale else f'scans and RSS over {args.persons:,} open cases, {args.events:,} events'})")
    print("\n".join(summary(goals)))


def print_click_latency(clients: int, no_postgres: bool, goals: list[Goal] | None = None) -> None:
    """Issue 9: a signed Claim click until Slack's API has the card's update, beside a bare Bolt app."""
    started = time.perf_counter()
    lines = []
    with sqlite_database() as url:
        lines += click.report("sqlite", click.run(url, clients=clients), clients, goals)
    lines += slack_pushing_back("sqlite", sqlite_database, goals)
    why = "--no-postgres" if no_postgres else postgres_reachable()
    if why is None:
        with postgres_database() as url:
            lines += click.report("postgresql", click.run(url, clients=clients), clients, goals)
        lines += slack_pushing_back("postgresql", postgres_database, goals)
    else:
        lines.append(f"  postgresql: not run ({why})")
        if goals is not None:
            goals.append(Goal("click -> chat.update, ack under 429, outbox drain", "postgresql", f"not run ({why})", "as on sqlite", None))
    print(f"\nwhat a person waits for: click -> chat.update at the Slack API, HTTP, same run (total {time.perf_counter() - started:.1f} s)")
    print("\n".join(lines))


def slack_pushing_back(backend: str, database: Callable[[], AbstractContextManager[str]], goals: list[Goal] | None = None) -> list[str]:
    """Issue 9: the ack while Slack answers 429, and an outbox backlog drained at Slack's per-channel limit."""
    with database() as url:
        acks = click.ack_under_429(url)
    with database() as url:
        drain = click.drain_at_limit(url)
    return click.report_slack_pushing_back(backend, acks, drain, goals)


def print_scale(args: argparse.Namespace, goals: list[Goal] | None = None) -> None:
    """Issue 9: the scans over a big store, the bot's peak memory holding it, and the CLI's start."""
    from bench import scans, startup

    if args.no_scale:
        print("\nscale: not run (--no-scale)")
        if goals is not None:
            goals.append(Goal("scans, bot peak RSS, CLI start", "", "not run (--no-scale)", "<= 250 ms, <= 150 MB, <= 250 ms", None))
        return
    started = time.perf_counter()
    lines = scans.run_all(args.persons, args.events, runs=5, postgres=not args.no_postgres, rss=True, goals=goals)
    print(f"\n{lines[0]} (total {time.perf_counter() - started:.0f} s)")
    print("\n".join(lines[1:]))
    print("\nCLI start (bench/startup.py)")
    print("\n".join(startup.report(goals=goals)))


if __name__ == "__main__":
    main()
