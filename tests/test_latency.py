"""Issue 9: fast where people wait, and nothing lost or doubled when Slack pushes back.

* A click is acknowledged before any reply reaches Slack: the mock Slack holds
  ``chat.postEphemeral`` (and answers it 429 first) while the click's HTTP answer arrives.
* A read-only unit of work on SQLite does not queue behind the write lock.
* The listener's backlog is at least 128 connections.
* A backlog built while Slack is unreachable, then down (503), drains against a
  Slack enforcing one message per second per channel (429 + Retry-After): every
  message once, in order per channel. A fake clock drives Slack's limit and the
  deliverer's retries; nothing here is timed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from typing import Any

import pytest
from slack_mock import SlackApiMock
from sqlalchemy import select, text
from test_slack_http import (  # noqa: F401 (fixtures)
    MGR,
    SlackDriver,
    Store,
    button,
    slack,
    slack_api,
    store,
)

from bench import add_people
from bot.deliver import Deliverer, undelivered
from bot.slack_app import SlackSender, make_client, settle_replies
from store.db import make_engine, make_session_factory
from store.models import ChatMessage, OutboxMessage
from store.uow import UnitOfWork
from workflows.clock import FixedClock
from worktray.serve import HttpServer

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # test_slack_http's


def _signed_click(slack: SlackDriver, payload: dict[str, Any]) -> int:  # noqa: F811
    """POST a click without waiting for the replies made after the ack (``SlackDriver.post`` waits)."""
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    return slack.request("POST", "/slack/events", body, headers).status


def test_a_click_is_acknowledged_before_slack_takes_the_reply(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    """Slack holds chat.postEphemeral and rate-limits it: the click's 200 arrives first (Slack gives up after 3 s)."""
    slack.command("U0AMY", "close 3549723")
    slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Needs met."})
    card = slack.card(MGR, "Closure request 1")
    released = threading.Event()
    slack.api.hold("chat.postEphemeral", released)
    slack.api.rate_limit("chat.postEphemeral", times=1, retry_after=0)
    try:
        # Amy may not approve her own request: the answer is an ephemeral, which Slack is holding.
        assert _signed_click(slack, slack.click_payload("U0AMY", card, button(card, "Approve"))) == 200
        assert slack.api.calls_to("chat.postEphemeral") == []  # acknowledged while Slack still had not answered
    finally:
        released.set()
    assert settle_replies()
    methods = [c.result.get("error", "ok") for c in slack.api.calls if c.method == "chat.postEphemeral"]
    assert methods == ["ratelimited", "ok"]  # the reply still arrives, after Slack's Retry-After
    assert store.request(1).state == "requested"


def test_a_read_only_unit_of_work_does_not_wait_for_the_write_lock(tmp_path) -> None:
    """SQLite: a writer holds the lock (BEGIN IMMEDIATE); a read-only unit of work (a plain BEGIN) reads anyway."""
    from store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'ro.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with UnitOfWork(factory) as writer:
        writer.session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held until the block ends
        reader = UnitOfWork(factory, readonly=True)
        with reader:
            reader.session.connection().exec_driver_sql("PRAGMA busy_timeout=0")  # locked would fail at once
            assert reader.session.execute(text("SELECT COUNT(*) FROM outbox")).scalar_one() == 0
            with pytest.raises(RuntimeError):
                reader.commit()
    engine.dispose()


def test_the_http_listener_queues_at_least_128_connections() -> None:
    server = HttpServer(lambda environ, start: [], "127.0.0.1", 0, threads=2)
    try:
        assert server.server.adj.backlog >= 128
    finally:
        server.server.close()


# -- the outbox under an outage, then Slack's rate limit ---------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again at once: connections are refused


def test_a_backlog_drains_after_an_outage_at_slacks_rate_limit_once_and_in_order(seeded, ctx, journey, clock: FixedClock) -> None:
    api = SlackApiMock().start()
    try:
        api.limit_per_channel(1.0, clock=lambda: clock.now().timestamp())
        refused = SlackSender(make_client("xoxb-test", f"http://127.0.0.1:{_closed_port()}/api/"))
        deliverer = Deliverer(seeded, ctx, refused)

        # Slack cannot be reached while people work: cards and DMs in several channels pile up.
        people = add_people(seeded, 9_300_000, 4)
        ids = [journey.request(p) for p in people]
        deliverer.drain()
        for rid in ids[:3]:
            journey.approve(rid)
        clock.advance(seconds=30)
        deliverer.drain()
        journey.return_(ids[3])
        # Then Slack answers, but 503: still down.
        api.down = True
        deliverer.sender = SlackSender(make_client("xoxb-test", api.base_url))
        clock.at = _next_due(seeded, clock)
        deliverer.drain()
        assert api.taken() == []
        with seeded() as uow:
            pending = undelivered(uow)
            assert pending and all(r.sent_at is None for r in pending)
            assert any((r.error or "").startswith("Unavailable:") for r in pending)  # what `worktray outbox` shows

        # Slack is back and allows one message per second per channel.
        api.down = False
        for _ in range(200):
            clock.at = _next_due(seeded, clock)
            deliverer.drain()
            with seeded() as uow:
                if not undelivered(uow):
                    break
        else:
            pytest.fail("the backlog did not drain")
        assert any(c.result.get("error") == "ratelimited" for c in api.calls)  # the limit was met, and waited out
        _assert_each_card_once_in_order(seeded, api)
    finally:
        api.stop()


def _next_due(seeded: Any, clock: FixedClock) -> dt.datetime:
    """The fake clock moves on to the earliest pending row's next attempt (never back)."""
    with seeded() as uow:
        due = [r.next_attempt_at for r in undelivered(uow) if r.next_attempt_at is not None]
    return max(clock.now(), min(due)) if due else clock.now()


def _assert_each_card_once_in_order(seeded: Any, api: SlackApiMock) -> None:
    with seeded() as uow:
        rows = [(r.id, r.card_key, r.sent_at, r.dropped_at) for r in uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
        where = {(m.channel, m.ts): m.card_key for m in uow.session.scalars(select(ChatMessage))}
    assert rows and all(sent is not None and dropped is None for _, _, sent, dropped in rows)  # nothing lost
    first_row: dict[str | None, int] = {}
    for row_id, key, _, _ in rows:
        first_row.setdefault(key, row_id)
    lanes: dict[str, list[str]] = {}
    for call in api.taken():
        if call.method not in ("chat.postMessage", "chat.update"):
            continue
        key = where[(call.result["channel"], call.result["ts"])]
        lanes.setdefault(str(call.args["channel"]), []).append(key)
    sent = [k for keys in lanes.values() for k in keys]
    assert sorted(sent) == sorted(first_row)  # every card exactly once: nothing doubled, nothing lost
    assert len(lanes) >= 3
    for keys in lanes.values():
        assert [first_row[k] for k in keys] == sorted(first_row[k] for k in keys)  # in order per channel
