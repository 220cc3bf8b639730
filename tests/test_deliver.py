"""The outbox deliverer: post once, edit in place after, never lose a message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import psycopg
from conftest import empty_postgres
from sqlalchemy import select

from bot.deliver import ADVISORY_LOCK_KEY, Deliverer, Posted, retry_delay
from store.db import make_engine, make_session_factory
from store.models import ChatMessage, OutboxMessage
from store.uow import UnitOfWork
from workflows import closure, requests
from worktray import demo


class RecordingSender:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.fail = False
        self.next_ts = 0

    def post(self, channel, card):
        self._maybe_fail()
        self.next_ts += 1
        self.calls.append(("post", channel, card.title))
        return f"100.{self.next_ts}"

    def update(self, channel, ts, card):
        self._maybe_fail()
        self.calls.append(("update", f"{channel}@{ts}", card.title))

    def direct(self, user, card):
        """Like Slack: a DM lands in the app's DM channel with the user, D..., which is what is returned."""
        self._maybe_fail()
        self.next_ts += 1
        self.calls.append(("dm", user, card.title))
        return Posted(f"D{user[1:]}", f"100.{self.next_ts}")

    def _maybe_fail(self):
        if self.fail:
            raise ConnectionError("slack is down")


def _request(seeded, ctx) -> int:
    form = closure.ClosureForm(reason="RC8", closure_date=dt.date(2026, 11, 20), summary="Goals met")
    with seeded() as uow:
        return closure.request_closure(uow, ctx, "amy", "3549723", form).id


def test_first_delivery_posts_later_ones_edit_the_same_message(seeded, ctx):
    sender = RecordingSender()
    deliverer = Deliverer(seeded, ctx, sender)
    request_id = _request(seeded, ctx)
    assert deliverer.drain() == 1
    assert sender.calls == [("post", "C0U12MGR", f"Closure request {request_id} · 3549723 (LM)")]

    with seeded() as uow:
        requests.approve(uow, ctx, request_id, "maria")
    deliverer.drain()  # different channels are sent to at once (issue 9): in any order
    assert ("update", "C0U12MGR@100.1", f"Closure request {request_id} · 3549723 (LM)") in sender.calls[1:]
    assert [c[:2] for c in sender.calls[1:] if c[0] == "post"] == [("post", "C0U12BS")]  # the virtual-worker item
    with seeded() as uow:
        keys = {m.card_key: m.ts for m in uow.session.scalars(select(ChatMessage))}
    assert set(keys) == {
        f"request:{request_id}:r1:manager",
        f"request:{request_id}:queue",
        f"dm:{request_id}:v2:U0AMY:approved",  # the worker's DM is a card too
    }
    assert keys[f"request:{request_id}:r1:manager"] == "100.1" and len(set(keys.values())) == 3


def test_several_pending_rows_of_one_card_are_sent_once(seeded, ctx):
    sender = RecordingSender()
    request_id = _request(seeded, ctx)
    with seeded() as uow:
        requests.approve(uow, ctx, request_id, "maria")
    with seeded() as uow:
        requests.claim(uow, ctx, request_id, "sam")
    Deliverer(seeded, ctx, sender).drain()
    assert sorted(c[1] for c in sender.calls) == ["C0U12BS", "C0U12MGR", "U0AMY"]  # each card once, and the worker's DM
    assert next(c[2] for c in sender.calls if c[1] == "U0AMY").endswith("approved")
    with seeded() as uow:
        assert all(r.sent_at is not None for r in uow.session.scalars(select(OutboxMessage)))


def test_a_failed_send_stays_pending_and_is_retried(seeded, ctx):
    sender = RecordingSender()
    deliverer = Deliverer(seeded, ctx, sender)
    _request(seeded, ctx)
    sender.fail = True
    assert deliverer.drain() == 0
    with seeded() as uow:
        row = uow.session.scalars(select(OutboxMessage)).one()
        assert row.sent_at is None and row.attempts == 1 and "ConnectionError" in row.error
    sender.fail = False
    assert deliverer.drain() == 0  # not due yet: the first retry waits 30 seconds
    ctx.clock.advance(seconds=30)
    assert deliverer.drain() == 1
    assert sender.calls[0][0] == "post"
    with seeded() as uow:
        assert uow.session.scalars(select(OutboxMessage)).one().sent_at is not None


def test_never_gives_up_and_waits_longer_each_time(seeded, ctx):
    """No cap on attempts or time: after 20 failures the row is still pending, due
    again after at most an hour (the old deliverer abandoned it after 5)."""
    sender = RecordingSender()
    deliverer = Deliverer(seeded, ctx, sender)
    _request(seeded, ctx)
    sender.fail = True
    for _ in range(20):
        deliverer.drain()
        with seeded() as uow:
            due = uow.session.scalars(select(OutboxMessage)).one().next_attempt_at
        ctx.clock.at = due
    with seeded() as uow:
        row = uow.session.scalars(select(OutboxMessage)).one()
        assert row.attempts == 20 and row.sent_at is None and row.dropped_at is None
    assert [retry_delay(n).total_seconds() for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


@contextmanager
def postgres_with_a_request(postgres_url, ctx) -> Iterator[partial[UnitOfWork]]:
    """The session's PostgreSQL database emptied, the demo seeded and one closure requested:
    its manager card is the one message due. Yields the unit-of-work factory."""
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        empty_postgres(conn)
    uow_factory = partial(UnitOfWork, make_session_factory(engine))
    with uow_factory() as uow:
        demo.seed(uow)
    _request(uow_factory, ctx)
    try:
        yield uow_factory
    finally:
        engine.dispose()


def test_a_second_instance_waits_its_turn_on_postgresql(postgres_url, ctx):
    """Two worktray processes on one PostgreSQL database never deliver the same rows:
    while one holds the deliverer's advisory lock, the other sends nothing."""
    sender = RecordingSender()
    with postgres_with_a_request(postgres_url, ctx) as uow_factory, psycopg.connect(postgres_url, autocommit=True) as other_instance:
        other_instance.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        assert Deliverer(uow_factory, ctx, sender).drain() == 0
        assert sender.calls == []
        other_instance.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
        assert Deliverer(uow_factory, ctx, sender).drain() == 1
        assert [c[0] for c in sender.calls] == ["post"]
        # and the lock is released after a drain: the other instance can take it at once
        assert other_instance.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()[0] is True


def test_a_row_committed_after_its_card_was_drawn_waits_for_the_next_delivery(seeded, ctx):
    """A card is drawn once for the rows due; a change committed after it was drawn (PostgreSQL
    reads what is committed at each statement) must not be marked sent with it, or the card
    would stay at the earlier state for good (the claim's Open closure audit on a closed request)."""
    sender = RecordingSender()
    request_id = _request(seeded, ctx)
    with seeded() as uow:
        requests.approve(uow, ctx, request_id, "maria")

    class ClaimedMeanwhile(Deliverer):
        claimed = False

        def _render(self, uow, row, held):
            card = super()._render(uow, row, held)
            if row.channel == "C0U12BS" and not self.claimed:
                self.claimed = True
                with seeded() as other:  # sam claims it just after the queue card was drawn
                    requests.claim(other, ctx, request_id, "sam")
            return card

    deliverer = ClaimedMeanwhile(seeded, ctx, sender, threads=1)
    deliverer.drain()
    queue = f"request:{request_id}:queue"
    with seeded() as uow:
        pending = {r.card_key for r in uow.session.scalars(select(OutboxMessage)) if r.sent_at is None}
    assert deliverer.claimed and queue in pending  # the claim's row is still to be drawn
    sender.calls.clear()
    deliverer.drain()
    assert any(kind == "update" and where.startswith("C0U12BS@") for kind, where, _title in sender.calls)
    with seeded() as uow:
        assert all(r.sent_at is not None for r in uow.session.scalars(select(OutboxMessage)))


def test_the_card_a_person_clicked_on_is_sent_before_the_others_of_its_batch(seeded, ctx):
    """Issue 9: a burst of clicks sees each clicked card redrawn first. The kick says which
    message was clicked (``Deliverer.kick(awaited)``); without it the outbox's order holds
    (the manager card was queued first). One thread, so the order sent is the order drawn."""
    first, second = RecordingSender(), RecordingSender()
    ids = [_request(seeded, ctx)]
    with seeded() as uow:  # a second person's request, so the two batches are alike
        ids.append(closure.request_closure(uow, ctx, "amy", "3549724", closure.ClosureForm(
            reason="RC8", closure_date=dt.date(2026, 11, 20), summary="Goals met")).id)
    for rid in ids:
        with seeded() as uow:
            requests.approve(uow, ctx, rid, "maria")
    plain = Deliverer(seeded, ctx, first, threads=1)
    plain.drain()
    with seeded() as uow:
        queue = {rid: uow.posted_message(f"request:{rid}:queue") for rid in ids}
        requests.claim(uow, ctx, ids[0], "sam")
    first.calls.clear()
    plain.drain()
    assert first.calls[0][1] == "C0U12MGR@100.1"  # the outbox's order: the manager card first

    with seeded() as uow:
        requests.claim(uow, ctx, ids[1], "sam")
    clicked = queue[ids[1]]
    assert clicked is not None
    awaiting = Deliverer(seeded, ctx, second, threads=1)
    awaiting.kick(Posted(clicked.channel, clicked.ts))
    awaiting.drain()
    assert second.calls[0] == ("update", f"C0U12BS@{clicked.ts}", second.calls[0][2])  # the clicked card first
    assert len(second.calls) == 3  # and the rest still go: the manager card and the worker's DM
