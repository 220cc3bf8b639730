"""The outbox deliverer under faults, in-process (issue 9): a crash in the middle of a
delivery run reposts nothing already sent, and a second instance that found the
other delivering looks again soon. End to end with real processes:
tests/test_crash_restart.py and tests/test_two_instances.py."""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
from sqlalchemy import select
from test_deliver import RecordingSender, _request, postgres_with_a_request

from bot.deliver import ADVISORY_LOCK_KEY, Deliverer
from store.models import ChatMessage, OutboxMessage
from workflows import closure


class Killed(BaseException):
    """Stands for kill -9 in the middle of a send: nothing after it runs (not even ``except Exception``)."""


class DyingSender(RecordingSender):
    """Sends like Slack, and dies on its ``dies_at``-th call, before that call reaches Slack."""

    def __init__(self, dies_at: int) -> None:
        super().__init__()
        self.dies_at = dies_at

    def _maybe_fail(self):
        if len(self.calls) + 1 == self.dies_at:
            raise Killed


def test_a_crash_in_a_delivery_run_reposts_nothing_it_had_sent(seeded, ctx):
    """Two requests' cards in one run; the process dies at the third send. The two
    messages sent before it are recorded already, so the next run edits, never reposts."""
    _request(seeded, ctx)
    form = closure.ClosureForm(reason="RC8", closure_date=dt.date(2026, 11, 20), summary="Goals met")
    with seeded() as uow:
        closure.request_closure(uow, ctx, "ben", "3549728", form)
    dying = DyingSender(dies_at=3)
    try:
        # One send at a time, so that "the third send" is one message and nothing else is in
        # flight when it dies (in-process, another lane's thread would go on and record its
        # message after the "kill"). Lanes killed for real: tests/test_crash_restart.py.
        Deliverer(seeded, ctx, dying, threads=1).drain()
        raise AssertionError("the sender should have died")
    except Killed:
        pass
    sent_before = list(dying.calls)
    assert len(sent_before) == 2
    with seeded() as uow:
        recorded = len(uow.session.scalars(select(ChatMessage)).all())
    assert recorded == 2  # each send recorded as soon as it went out

    after = RecordingSender()
    Deliverer(seeded, ctx, after).drain()
    reposted = [c for c in after.calls if c[0] in ("post", "dm") and c in sent_before]
    assert reposted == []
    with seeded() as uow:
        assert all(row.sent_at is not None for row in uow.session.scalars(select(OutboxMessage)))


def test_an_instance_that_found_the_other_delivering_looks_again_soon_on_postgresql(postgres_url, ctx):
    """The other instance's run may end just after ours was turned away: our rows would wait
    for the next poll (here a minute). They go out as soon as the lock is free."""
    sender = RecordingSender()
    with postgres_with_a_request(postgres_url, ctx) as uow_factory, psycopg.connect(postgres_url, autocommit=True) as other_instance:
        deliverer = Deliverer(uow_factory, ctx, sender)
        thread = threading.Thread(target=deliverer.run_forever, kwargs={"poll_seconds": 60}, daemon=True)
        try:
            other_instance.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
            thread.start()
            deliverer.kick()
            deadline = time.monotonic() + 20
            while not deliverer.busy_elsewhere and time.monotonic() < deadline:
                time.sleep(0.05)
            assert deliverer.busy_elsewhere and sender.calls == []
            other_instance.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))  # no kick: the other run just ended
            while not sender.calls and time.monotonic() < deadline + 10:  # bounded, well under the 60 s poll
                time.sleep(0.05)
            assert [c[0] for c in sender.calls][:1] == ["post"]
        finally:
            deliverer.stop()
            thread.join(timeout=30)
