"""``/worktray deputy`` on a big store: how long its one transaction lasts, and what it queues.

``python -m bench.deputy [--persons N] [--runs K] [--url URL] [--no-sqlite] [--no-postgres]``
generates a store (``bench.scale_data``, no event rows: the command reads none) in which Sam
holds thousands of items, each with its virtual-worker card posted (and each closure its
manager card), then runs the command as Slack's handler does (``bot.actions.Interactions``):
Sam names Tess his deputy, then ends it, K times. Printed: the writing transaction of each
(BEGIN to COMMIT; on SQLite, how long it holds the write lock every click waits for), the
median and the longest, and the outbox rows each queued (``workflows.deputies.REDRAW_CAP``
requests' cards at most, and the notices).
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

from sqlalchemy import func, insert, select

from bench.scale_data import generate
from bench.scans import BENCH_NOW, bench_context, writing_transactions
from bot.actions import Interactions
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import ChatMessage, OutboxMessage, Request
from store.uow import UnitOfWork
from workflows import deputies
from workflows.requests import manager_card_key, queue_card_key


def post_the_cards(uow: partial[UnitOfWork], holder: str = "sam") -> int:
    """As if every item ``holder`` holds had its cards posted: an outbox row (sent) and where it
    landed, for its virtual-worker card and, for a closure, its manager card."""
    ctx = bench_context()
    with uow() as u:
        held = u.session.scalars(select(Request).where(Request.holder == holder, Request.state.in_(deputies.HELD_STATES))).all()
        rows: list[dict[str, object]] = []
        posted: list[dict[str, object]] = []
        for request in held:
            team = ctx.org.team(request.team)
            cards = [(team.business_support_channel, queue_card_key(request), "queue")]
            if request.kind == "closure":
                cards.append((team.manager_channel, manager_card_key(request), "manager"))
            for channel, key, audience in cards:
                body = {"view": "request", "audience": audience, "request_id": request.id, "revision": request.revision}
                rows.append({"created_at": BENCH_NOW, "kind": "card", "channel": channel, "card_key": key, "body": body,
                             "attempts": 0, "sent_at": BENCH_NOW})
                posted.append({"card_key": key, "channel": channel, "ts": f"1764151200.{len(posted):06d}"})
        u.session.execute(insert(OutboxMessage), rows)
        u.session.execute(insert(ChatMessage), posted)
        u.commit()
        return len(held)


def time_command(url: str, runs: int) -> list[str]:
    engine = make_engine(url)
    uow = partial(UnitOfWork, make_session_factory(engine))
    ctx = bench_context()
    interactions = Interactions(uow, ctx)
    took: dict[str, list[float]] = {"set": [], "end": []}
    queued: dict[str, list[int]] = {"set": [], "end": []}
    try:
        held = post_the_cards(uow)
        for _ in range(runs):
            for verb, text in (("set", "<@U0TESS> until 27 Nov"), ("end", "end")):
                with uow() as u:
                    before = u.session.scalar(select(func.max(OutboxMessage.id))) or 0
                with writing_transactions(engine) as held_for:
                    started = time.perf_counter()
                    reply = interactions.deputy("U0SAM", text)
                    whole = (time.perf_counter() - started) * 1000
                assert reply.text and "nothing changed" not in reply.text, reply.text
                took[verb].append(max((ms for _, ms in held_for), default=whole))
                with uow() as u:
                    queued[verb].append(u.session.scalar(select(func.count()).where(OutboxMessage.id > before)) or 0)
    finally:
        engine.dispose()
    name = engine.dialect.name
    lines = [f"  {name:<10} Sam holds {held:,} items, their cards posted ({runs} runs each)"]
    for verb, label in (("set", "/worktray deputy @tess until 27 Nov"), ("end", "/worktray deputy end")):
        ms = took[verb]
        lines.append(
            f"  {name:<10} {label:<38} writing transaction median {statistics.median(ms):6.1f} ms, longest {max(ms):6.1f} ms; "
            f"queued {statistics.median(queued[verb]):.0f} outbox rows"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    from bench.__main__ import postgres_database, postgres_reachable, sqlite_database

    parser = argparse.ArgumentParser(prog="python -m bench.deputy", description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="an already generated database (skips generating)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    if args.url:
        print("\n".join(time_command(args.url, args.runs)))
        return
    print(f"/worktray deputy over {args.persons:,} persons (bench/deputy.py; noisy shared machine)")
    backends = []
    if not args.no_sqlite:
        backends.append(sqlite_database)
    if not args.no_postgres and postgres_reachable() is None:
        backends.append(postgres_database)
    for database in backends:
        with database() as url:
            upgrade(url)
            started = time.perf_counter()
            summary = generate(url, persons=args.persons, events=0)
            print(f"  data: {summary} in {time.perf_counter() - started:.0f} s")
            print("\n".join(time_command(url, args.runs)), flush=True)


if __name__ == "__main__":
    main()
