"""C5: exactly one claimer wins an item, also when several click at once.

Claims race from several OS processes (multiprocessing, 'spawn') on a SQLite file in WAL
mode and on PostgreSQL, and from threads in one process. Every round: one winner; every
other claimer is told who has it (Conflict, or IllegalTransition when it read after the
commit); one claim event; the holder is the winner. No timing is asserted: the start
barrier only makes the race likely, and the outcome must hold however it falls.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from sqlalchemy import text

from store.db import make_engine, make_session_factory
from store.uow import UnitOfWork
from workflows.clock import FixedClock
from workflows.errors import Conflict, IllegalTransition
from workflows.org import load_organisation
from workflows.requests import APPROVED, CLAIMED, Context, claim
from worktray import demo

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
WORKERS = 6
ROUNDS = 5
# Business support of Under 12s; sam appears three times: the same person clicking in three windows.
CLAIMERS = ("sam", "tess", "sam", "tess", "sam", "tess")
WAIT = 120  # seconds a barrier or result may take before the test gives up (a hang, not a timing check)


@dataclass(frozen=True)
class Outcome:
    worker: int
    actor: str
    result: str  # "won", "Conflict", "IllegalTransition" or "error"
    message: str


def _attempt(uow_factory: partial[UnitOfWork], ctx: Context, request_id: int, worker: int, actor: str) -> Outcome:
    """One click on Claim, as the Slack handler would make it: one unit of work."""
    try:
        with uow_factory() as uow:
            message = claim(uow, ctx, request_id, actor, source=f"test:worker{worker}")
        return Outcome(worker, actor, "won", message)
    except (Conflict, IllegalTransition) as e:
        return Outcome(worker, actor, type(e).__name__, str(e))
    except Exception as e:  # anything else (e.g. "database is locked") fails the test with its text
        return Outcome(worker, actor, "error", f"{type(e).__name__}: {e}")


def claimer_process(url: str, worker: int, actor: str, rounds: int, barrier: Any, request_id: Any, results: Any) -> None:
    """A separate process: its own engine and connections, like another bot instance."""
    engine = make_engine(url)
    uow_factory = partial(UnitOfWork, make_session_factory(engine))
    ctx = Context(org=load_organisation(demo.DEMO_ORG), clock=FixedClock(NOW))
    with engine.connect() as conn:  # open a connection before the race, not during it
        conn.execute(text("SELECT 1"))
    try:
        for _ in range(rounds):
            barrier.wait(WAIT)
            results.put(_attempt(uow_factory, ctx, request_id.value, worker, actor))
    finally:
        engine.dispose()


def check_round(journey, ctx: Context, request_id: int, outcomes: list[Outcome]) -> Outcome:
    """One winner, the others told who has it; one claim event; the holder is the winner."""
    assert [o for o in outcomes if o.result == "error"] == []
    winners = [o for o in outcomes if o.result == "won"]
    assert len(winners) == 1, outcomes
    [winner] = winners
    winner_name = ctx.org.name_of(winner.actor)
    for loser in outcomes:
        if loser is winner:
            continue
        assert loser.result in ("Conflict", "IllegalTransition"), loser
        assert f"claimed by {winner_name}" in loser.message, loser
    claims = [e for e in journey.events(request_id) if e.action == "claim"]
    assert [(e.actor, e.from_state, e.to_state) for e in claims] == [(winner.actor, APPROVED, CLAIMED)]
    assert claims[0].source == f"test:worker{winner.worker}", "the event names the process that won"
    request = journey.get(request_id)
    assert (request.state, request.holder) == (CLAIMED, winner.actor)
    return winner


def new_item(journey) -> int:
    """An approved closure of 3549723 waiting in the Under 12s virtual worker."""
    return journey.to_state(APPROVED, "3549723", "amy")


def test_sqlite_runs_in_wal_mode(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'wal.db'}"
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_one_winner_among_processes(db_url, journey, ctx):
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(WORKERS + 1)
    request_id = mp.Value("i", 0)
    results = mp.Queue()
    processes = [
        mp.Process(target=claimer_process, args=(db_url, i, CLAIMERS[i], ROUNDS, barrier, request_id, results), daemon=True)
        for i in range(WORKERS)
    ]
    for p in processes:
        p.start()
    winners: list[str] = []
    try:
        for _ in range(ROUNDS):
            rid = new_item(journey)
            request_id.value = rid
            barrier.wait(WAIT)  # all claimers and this process: go
            outcomes = [results.get(timeout=WAIT) for _ in range(WORKERS)]
            winners.append(check_round(journey, ctx, rid, outcomes).actor)
            journey.withdraw(rid, "maria")  # frees 3549723 for the next round's request
        for p in processes:
            p.join(WAIT)
            assert p.exitcode == 0
    finally:
        for p in processes:
            if p.is_alive():
                p.terminate()
                p.join(5)
    assert len(winners) == ROUNDS


def test_one_winner_among_threads(seeded, journey, ctx):
    """Threads of one bot process share the engine and its pool, as the Slack handlers do."""
    for _ in range(ROUNDS):
        rid = new_item(journey)
        barrier = threading.Barrier(WORKERS)
        outcomes: list[Outcome] = []
        lock = threading.Lock()

        def click(worker: int, barrier=barrier, rid=rid, lock=lock, outcomes=outcomes) -> None:
            barrier.wait(WAIT)
            outcome = _attempt(seeded, ctx, rid, worker, CLAIMERS[worker])
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=click, args=(i,)) for i in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        assert len(outcomes) == WORKERS
        check_round(journey, ctx, rid, outcomes)
        journey.withdraw(rid, "maria")


def test_a_claim_that_read_before_the_winner_committed_loses(db_url, seeded, journey, ctx):
    """Compare-and-set, not select-then-update: a claimer that saw the item free still loses.

    On PostgreSQL two transactions interleave: A reads (approved), B claims and commits, A
    claims. On SQLite this interleaving cannot happen (every unit of work begins with
    BEGIN IMMEDIATE, so B waits for A): the process test above covers SQLite.
    """
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE; the interleaving cannot occur")
    rid = new_item(journey)
    with seeded() as slow:
        seen = slow.requests.get(rid)
        assert seen is not None and seen.state == APPROVED and seen.holder is None
        journey.claim(rid, "tess")  # another unit of work wins meanwhile
        with pytest.raises(Conflict) as lost:
            claim(slow, ctx, rid, "sam")
    assert str(lost.value).startswith("Someone was quicker.")
    assert "claimed by Tess Wong" in str(lost.value)
    claims = [e for e in journey.events(rid) if e.action == "claim"]
    assert [e.actor for e in claims] == ["tess"]
    assert journey.get(rid).holder == "tess"
