"""Nothing lost: the outbox through a long Slack outage, the operator's `worktray outbox`,
the IDs-only warning, and direct messages redrawn in place as their request moves on.

The clock is the conftest's FixedClock, moved by hand to each due time (what the
scheduler's minute job would meet); no test waits for real time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from typing import Any

import pytest
from slack_mock import SlackApiMock
from slack_sdk import WebClient
from sqlalchemy import select
from test_cli import run_cli

from bot import deliver
from bot.deliver import Deliverer, Posted, failure_code, retry_delay
from bot.slack_app import SlackSender
from store.models import ChatMessage, OutboxMessage

FIXTURE_NAMES = ("Lily", "Noah", "Marsh", "Kai", "Ellison", "Eve", "Sutton", "Greene")  # worktray/demo.py


class FlakySender:
    """A chat platform that can be down, for everyone or for some channels only.

    A failure's message quotes the card and a service user's name, as a careless
    library might: none of it may reach the store or the log.
    """

    def __init__(self) -> None:
        self.down = False
        self.broken_channels: set[str] = set()
        self.calls: list[tuple[str, str, str]] = []  # (method, channel or channel@ts, title)
        self._ts = 0

    def _check(self, channel: str, title: str) -> None:
        if self.down or channel in self.broken_channels:
            raise ConnectionError(f"could not send '{title}' about Lily Marsh to {channel}")

    def post(self, channel, card):
        self._check(channel, card.title)
        self._ts += 1
        self.calls.append(("post", channel, card.title))
        return f"200.{self._ts}"

    def update(self, channel, ts, card):
        self._check(channel, card.title)
        self.calls.append(("update", f"{channel}@{ts}", card.title))

    def direct(self, user, card):
        self._check(user, card.title)
        self._ts += 1
        self.calls.append(("direct", user, card.title))
        return Posted(f"D{user[1:]}", f"200.{self._ts}")


def outbox(uow_factory) -> list[OutboxMessage]:
    with uow_factory() as uow:
        rows = list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        uow.session.expunge_all()
        return rows


def next_due(uow_factory) -> dt.datetime:
    return min(r.next_attempt_at for r in outbox(uow_factory) if r.sent_at is None and r.next_attempt_at)


# -- a long outage, then recovery --------------------------------------------------------------


def test_a_long_slack_outage_loses_nothing_and_doubles_nothing(journey, seeded, ctx, clock):
    """20 failed attempts over more than ten simulated hours while the journey goes on;
    when Slack is back every card and DM is delivered exactly once, as it is now."""
    sender = FlakySender()
    sender.down = True
    deliverer = Deliverer(seeded, ctx, sender)
    started = clock.now()
    first = journey.request("3549723")  # the manager card: row 1
    delays: list[float] = []
    steps = 0
    while outbox(seeded)[0].attempts < 20:
        steps += 1
        assert steps < 200
        attempts = outbox(seeded)[0].attempts
        assert deliverer.drain() == 0
        row = outbox(seeded)[0]
        if row.attempts > attempts:  # tried now: how long until the next try
            delays.append((row.next_attempt_at - clock.now()).total_seconds())
        if steps == 3:
            journey.return_(first)  # the manager card again, and the worker's DM
        if steps == 6:
            journey.request("3549728", actor="ben")  # a second request while Slack is down
        clock.at = next_due(seeded)
    assert delays[:4] == [30, 60, 120, 240] and delays[-1] == 3600 and len(delays) == 20
    assert delays == sorted(delays)  # growing, then capped at an hour
    assert clock.now() - started > dt.timedelta(hours=10)
    assert all(r.sent_at is None and r.dropped_at is None for r in outbox(seeded))  # nothing given up

    sender.down = False
    clock.at = max(r.next_attempt_at for r in outbox(seeded))
    delivered = deliverer.drain()
    rows = outbox(seeded)
    assert all(r.sent_at is not None and r.error is None for r in rows)
    keys = {r.card_key for r in rows}
    assert None not in keys  # every message is a card, DMs too
    assert delivered == len(keys) == len(sender.calls)  # each card once: several rows of one card, one message
    assert Counter(method for method, *_ in sender.calls) == {"post": 2, "direct": 2}  # the return DM to Amy; Ben's request to Maria, his supervisor (C2)
    assert ("direct", "U0AMY", f"Closure request {first} · 3549723 (LM) · returned") in sender.calls
    with seeded() as uow:
        assert {m.card_key for m in uow.session.scalars(select(ChatMessage))} == keys
    assert deliverer.drain() == 0  # and nothing is sent twice


def test_a_failing_row_does_not_block_the_rows_behind_it(journey, seeded, ctx, monkeypatch):
    """More failing rows than one batch, then a good one: the good one goes out in the same drain."""
    monkeypatch.setattr(deliver, "BATCH_SIZE", 3)
    sender = FlakySender()
    sender.broken_channels = {"C0GONE"}
    rid = journey.request("3549723")
    with seeded() as uow:
        uow.session.query(OutboxMessage).delete()
        for i in range(7):  # a card in a channel that was deleted
            body = {"view": "request", "audience": "manager", "request_id": rid, "revision": 1}
            uow.send(at=ctx.clock.now(), kind="card", channel="C0GONE", card_key=f"request:{rid}:gone{i}", body=body)
        uow.commit()
    journey.approve(rid)  # then the real cards and the worker's DM
    assert Deliverer(seeded, ctx, sender).drain() == 3
    assert sorted(c[1] for c in sender.calls) == ["C0U12BS", "C0U12MGR", "U0AMY"]  # channels at once: any order
    gone = [r for r in outbox(seeded) if r.channel == "C0GONE"]
    assert [(r.attempts, r.sent_at) for r in gone] == [(1, None)] * 7


def test_rows_of_a_card_waiting_out_a_delay_go_with_a_newer_row_of_it(journey, seeded, ctx):
    """The card is sent once for both rows: the waiting one is not sent again later."""
    sender = FlakySender()
    deliverer = Deliverer(seeded, ctx, sender)
    rid = journey.request("3549723")
    sender.down = True
    deliverer.drain()
    sender.down = False
    journey.return_(rid)  # a new row of the same manager card, due now; the first waits 30 s
    assert deliverer.drain() == 2
    assert sorted(c[0] for c in sender.calls) == ["direct", "post"]  # channels at once: any order
    assert all(r.sent_at is not None for r in outbox(seeded))


# -- the warning: IDs only -----------------------------------------------------------------------


def test_a_failure_is_logged_at_warning_with_ids_only(journey, seeded, ctx, caplog):
    sender = FlakySender()
    sender.down = True
    rid = journey.request("3549723")
    journey.return_(rid, note="Lily Marsh's mother asked for a visit first.")
    with caplog.at_level(logging.DEBUG):
        Deliverer(seeded, ctx, sender).drain()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "bot.deliver"]
    assert len(warnings) == 2  # the manager card (two rows) and the DM
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"outbox rows [1, 2] (card request:{rid}:r1:manager) not delivered, attempt 1: ConnectionError" in text
    assert f"card dm:{rid}:" in text and ":U0AMY:returned" in text
    for name in (*FIXTURE_NAMES, "visit", "could not send"):
        assert name not in text
    stored = {r.error for r in outbox(seeded)}
    assert stored == {"ConnectionError"}  # the type only: the exception's message quoted the card


def test_a_slack_error_is_stored_and_logged_as_its_code(journey, seeded, ctx, caplog):
    """Over the Slack mock: Slack refuses the post; the code is kept, the response is not."""
    api = SlackApiMock().start()
    try:
        api.fail("chat.postMessage", "channel_not_found")
        sender = SlackSender(WebClient(base_url=api.base_url, token="xoxb-test"))
        journey.request("3549723")
        with caplog.at_level(logging.WARNING):
            assert Deliverer(seeded, ctx, sender).drain() == 0
    finally:
        api.stop()
    [row] = outbox(seeded)
    assert row.error == "SlackApiError: channel_not_found"
    assert "SlackApiError: channel_not_found; next attempt at 2026-11-26T10:00:30+00:00" in caplog.text
    assert "3549723" not in caplog.text and "(LM)" not in caplog.text


def test_failure_code_keeps_only_a_plain_error_code():
    class Refused(Exception):
        def __init__(self, response: Any) -> None:
            super().__init__(f"Slack said {response} about Kai Ellison")
            self.response = response

    assert failure_code(Refused({"ok": False, "error": "not_in_channel"})) == "Refused: not_in_channel"
    assert failure_code(Refused({"ok": False, "error": "Kai Ellison said no"})) == "Refused"
    assert failure_code(Refused(None)) == "Refused"
    assert failure_code(TimeoutError("read timed out for Kai")) == "TimeoutError"
    assert retry_delay(1) == dt.timedelta(seconds=30) and retry_delay(500) == dt.timedelta(hours=1)


# -- `worktray outbox` -------------------------------------------------------------------------


def test_worktray_outbox_lists_retries_and_drops(journey, seeded, ctx, db_url, tmp_path):
    sender = FlakySender()
    sender.down = True
    rid = journey.request("3549723")
    journey.return_(rid)
    Deliverer(seeded, ctx, sender).drain()  # three rows fail: the card (rows 1 and 2) and the DM (row 3)
    ctx.clock.advance(seconds=30)
    sender.broken_channels = {"U0AMY"}  # the DM keeps failing; the card recovers
    sender.down = False
    Deliverer(seeded, ctx, sender).drain()

    listed = run_cli(db_url, "outbox", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "1 message(s) not delivered yet, 1 of them failing:" in listed.stdout
    [line] = [ln for ln in listed.stdout.splitlines() if ln.strip().startswith("3 ")]
    assert line.split() == ["3", "dm", "U0AMY", f"dm:{rid}:v2:U0AMY:returned", "2", "2026-11-26", "10:01:30", "UTC", "ConnectionError"]
    for name in FIXTURE_NAMES:
        assert name not in listed.stdout

    retried = run_cli(db_url, "outbox", "retry", "3", cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert "1 message(s) due now: 3." in retried.stdout
    [row] = [r for r in outbox(seeded) if r.id == 3]
    assert row.next_attempt_at is None and row.attempts == 2
    assert run_cli(db_url, "outbox", "retry", "--all", cwd=tmp_path).returncode == 0
    unknown = run_cli(db_url, "outbox", "retry", "1", cwd=tmp_path)  # delivered already
    assert unknown.returncode == 1 and "no undelivered message 1" in unknown.stderr

    dropped = run_cli(db_url, "outbox", "drop", "3", cwd=tmp_path)
    assert dropped.returncode == 0, dropped.stderr
    assert "kept in the outbox for the record, not deleted" in dropped.stdout
    [row] = [r for r in outbox(seeded) if r.id == 3]
    assert row.dropped_at is not None and row.sent_at is None  # still there
    ctx.clock.advance(hours=2)
    sender.broken_channels = set()
    assert Deliverer(seeded, ctx, sender).drain() == 0  # a dropped row is not retried
    after = run_cli(db_url, "outbox", cwd=tmp_path)
    assert "The outbox is empty" in after.stdout and "1 dropped message(s) are kept for the record" in after.stdout
    again = run_cli(db_url, "outbox", "drop", "3", cwd=tmp_path)
    assert again.returncode == 1 and "no undelivered message 3" in again.stderr


# -- direct messages are cards ------------------------------------------------------------------


@pytest.fixture
def slack_api():
    api = SlackApiMock().start()
    yield api
    api.stop()


def buttons_of(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["text"]["text"] for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def test_a_dm_is_edited_in_place_when_its_request_moves_on(journey, seeded, ctx, slack_api):
    """Over the Slack mock: the returned DM loses Resubmit once resubmitted; it is one message, edited."""
    deliverer = Deliverer(seeded, ctx, SlackSender(WebClient(base_url=slack_api.base_url, token="xoxb-test")))
    rid = journey.request("3549723")
    journey.return_(rid)
    deliverer.drain()
    [posted] = [c for c in slack_api.calls_to("chat.postMessage") if c["channel"] == "U0AMY"]
    [dm] = slack_api.messages("U0AMY")
    assert "Resubmit" in buttons_of(dm.blocks)
    with seeded() as uow:
        where = [(m.channel, m.ts) for m in uow.session.scalars(select(ChatMessage)) if m.card_key.startswith(f"dm:{rid}:")]
    assert where == [("D0AMY", dm.ts)]  # the DM channel Slack answered with

    journey.resubmit(rid)
    deliverer.drain()
    updates = [c for c in slack_api.calls_to("chat.update") if c["channel"] == "D0AMY"]
    assert [u["ts"] for u in updates] == [dm.ts]
    [dm] = slack_api.messages("U0AMY")
    assert dm.edits == 1 and "Resubmit" not in buttons_of(dm.blocks)
    assert "Waiting for the manager" in json.dumps(dm.blocks)
    assert posted["channel"] == "U0AMY"


def test_a_blocked_dm_loses_its_buttons_when_the_step_is_done(journey, seeded, ctx, slack_api):
    deliverer = Deliverer(seeded, ctx, SlackSender(WebClient(base_url=slack_api.base_url, token="xoxb-test")))
    rid = journey.to_state("blocked", person_id="3549728", requester="ben")
    deliverer.drain()
    blocked = [m for m in slack_api.messages("U0BEN") if "cannot progress" in m.text]
    assert len(blocked) == 1 and any(b.startswith("Mark #") for b in buttons_of(blocked[0].blocks))
    mark = len(slack_api.calls)
    journey.finish_steps("3549728")
    with seeded() as uow:
        from workflows import closure

        for step in uow.cases.open_work_steps(["3549728"]):  # C7: what ben cannot finish, maria cancels
            closure.cancel_step(uow, ctx, rid, step.id, "maria", "Not needed")
    journey.recheck(rid)
    deliverer.drain()
    assert "chat.postMessage" not in [c.method for c in slack_api.since(mark) if c.args.get("channel") == "U0BEN"]
    [blocked] = [m for m in slack_api.messages("U0BEN") if m.ts == blocked[0].ts]
    assert blocked.edits >= 1 and buttons_of(blocked.blocks) == []
    assert "no longer blocked" in blocked.text
    for person in ("U0AMY", "U0MARIA"):
        for message in slack_api.messages(person):
            assert not [b for b in buttons_of(message.blocks) if b.startswith(("Mark #", "Cancel step"))]


def test_the_console_shows_a_persons_dms_again_after_a_restart(db_url, org, clock):
    """The console forgets printed DMs when it stops; `dms` draws them from the store, as they now are."""
    from test_console import after, replay

    first = ["/case close 3549723", 'submit reason=RC8 closure_date=today summary="Done"',
             "as maria press Return", 'as maria submit note="Add the letter."']
    replay(db_url, org, clock, first)
    code, out = replay(db_url, org, clock, ["as ben dms", "as amy dms", "as amy press Resubmit", "as amy dms please"])
    assert "ben has no direct messages." in after(out, "ben> dms")
    shown = after(out, "amy> dms")
    assert "  >> DM to Amy Brooke (as it is now)\n    Closure request 1 · 3549723 (LM) · returned" in shown
    assert "Resubmit" in shown and "Now: Returned to the worker" in shown
    assert "  >> form for amy\n    Resubmit closure" in after(out, "amy> press Resubmit")  # its button works again
    assert "Too many words after dms. Usage: `dms`" in out and code == 1

    code, out = replay(db_url, org, clock, ["as amy dms", "as amy press Resubmit", "as amy submit"])
    assert code == 0, out
    _, out = replay(db_url, org, clock, ["as amy dms"])
    assert "Now: Waiting for the manager" in out and "Resubmit" not in after(out, "amy> dms")


def test_the_migration_makes_rows_the_old_deliverer_abandoned_due_again(tmp_path):
    """0003: a row given up after 5 attempts (before the upgrade) is pending and due now after it."""
    from sqlalchemy import create_engine, text

    from store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO outbox (created_at, kind, channel, body, attempts, error) "
                          "VALUES ('2026-11-01 10:00:00', 'card', 'C0U12MGR', '{}', 5, 'ConnectionError')"))
    upgrade(url)
    with engine.begin() as conn:
        row = conn.execute(text("SELECT attempts, sent_at, next_attempt_at, dropped_at FROM outbox")).one()
    engine.dispose()
    assert tuple(row) == (5, None, None, None)
