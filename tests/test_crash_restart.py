"""``kill -9`` the bot in the middle of journeys, restart it, finish them (issue 9).

One real ``worktray run --http`` process on a fresh SQLite or PostgreSQL database, Slack's Web
API being the local mock (tests/slack_mock.py) that can hold an answer open. Six
closures are requested; then, while the deliverer waits for Slack's answer to the first
approval's card edit, the other five are approved, so their cards pile up in the outbox.
The next delivery run posts some of them and is caught in a card edit after a post
(Slack has the post and the edit; the bot has heard back about the post but has not
heard about the edit): the bot is killed with SIGKILL there.

The deliverer sends different channels' messages side by side (bot.deliver's lanes), so
other messages may be in flight at that moment too. To keep the test exact, Slack then
holds every further message of that process as well (``Hold.also``), and the kill waits
until the bot has recorded every post Slack answered: the messages in flight at the
kill are exactly the held ones (``Hold.held``), at most one per channel.

Right after the kill the store is consistent: the event log verifies, every request is
in the state its last event moved it to, every outbox row is sent or still pending.
A new process on the same database delivers what was pending, and the journeys are
finished (claim, closure audit). Then every message was delivered once: the card posted
before the kill is not posted again (bot.deliver records each message as soon as it is
sent), the edit in flight is simply redrawn, and no card of a finished journey keeps a
button for a step that is over.

The one thing a crash can double is pinned here too: the bot is killed a second time
while Slack holds the answer to a card's first post. Slack has the card, the bot never
learns its ts, so the restarted bot posts it again: a card whose first post was in
flight at a kill is posted once more, and nothing else is (never a post the bot had
recorded). chat.postMessage has no idempotency key; finding the lost copy would need the
history scopes the app does not ask for: bot/deliver.py, README "A crash loses nothing".
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bot_processes import (
    CLOSURE_PEOPLE,
    MESSAGES,
    MGR,
    WAIT,
    BotProcess,
    Bots,
    HoldingSlackApi,
    Store,
    approve_closure,
    assert_each_message_sent_once,
    assert_no_buttons_on_finished_cards,
    assert_store_consistent,
    claim_and_audit,
    fresh_database,
    request_closure,
    wait_for,
)
from slack_mock import Call


def an_edit_after_a_post(call: Call, since: list[Call]) -> bool:
    """A manager-card edit in a delivery run that has already posted a card since its own first edit."""
    if not _manager_edit(call):
        return False
    earlier = since[:-1]
    first_edit = next((i for i, c in enumerate(earlier) if _manager_edit(c)), None)
    return first_edit is not None and any(c.method == "chat.postMessage" for c in earlier[first_edit + 1:])


def _manager_edit(call: Call) -> bool:
    return call.method == "chat.update" and call.args.get("channel") == MGR


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_kill_9_in_the_middle_of_journeys_then_restart(database: str, tmp_path: Path) -> None:
    api = HoldingSlackApi().start()
    holds = []
    with fresh_database(database, tmp_path) as url:
        store = Store(url)
        bot = BotProcess(url, api, tmp_path / "before.log", token="xoxb-test-before").start()
        processes = [bot]
        try:
            bot.wait_ready()
            driver = Bots(api, [bot.port])
            wait_for(lambda: store.undelivered() == 0, "the start-up digests and audits to be delivered")
            people = CLOSURE_PEOPLE[:6]
            with ThreadPoolExecutor(max_workers=6) as pool:
                requested = list(pool.map(lambda pid: request_closure(driver, pid, 0), people))
            wait_for(lambda: store.undelivered() == 0, "the requests' cards to be delivered")

            # 1. The deliverer waits for Slack's answer to the first approval's card edit ...
            first = api.hold(lambda call, _since: _manager_edit(call))
            holds.append(first)
            approve_closure(driver, requested[0][1], requested[0][0], 0)
            assert first.arrived.wait(WAIT)
            # ... while the other five are approved: their cards wait in the outbox.
            for rid, card in requested[1:]:
                approve_closure(driver, card, rid, 0)
            assert {state for _kind, _pid, state in store.states().values() if _kind == "closure"} == {"approved"}
            # 2. The next run posts a card, then is caught in an edit: kill -9 there, once every
            #    post Slack answered is recorded (the other lanes' messages are held from then on).
            second = api.hold(an_edit_after_a_post, also=MESSAGES)
            holds.append(second)
            first.release()
            assert second.arrived.wait(WAIT), bot.output()
            api.wait_until_recorded(store, second)
            assert store.undelivered() > 0
            bot.kill()
            second.release()

            # 3. Right after the kill: consistent, nothing half done.
            assert_store_consistent(store, cli=False)

            # 4. A new process delivers what was pending; the journeys are finished.
            again = BotProcess(url, api, tmp_path / "after.log", token="xoxb-test-after").start()
            processes.append(again)
            again.wait_ready()
            driver = Bots(api, [again.port])
            wait_for(lambda: store.undelivered() == 0, "the pending messages to be delivered after the restart")
            edited = [c for c in api.calls if c.method == "chat.update" and c.args["ts"] == second.call.args["ts"]]  # type: ignore[union-attr]
            assert len(edited) >= 2  # the edit in flight at the kill was drawn again: harmless

            # 5. Killed again, now while Slack holds the answer to a card's first post: Slack has the
            #    card, the bot never hears its ts. The posts in flight (that one, and any other
            #    lane's held with it) are what a crash can double (bot/deliver.py; README, "A crash
            #    loses nothing"); nothing the bot had recorded is sent twice.
            third = api.hold(lambda call, _since: call.method == "chat.postMessage" and bool(call.args.get("blocks")), also=MESSAGES)
            holds.append(third)
            claim_and_audit(driver, people[0], requested[0][0], 0)
            assert third.arrived.wait(WAIT), again.output()
            api.wait_until_recorded(store, third)
            again.kill()
            third.release()
            assert_store_consistent(store, cli=False)
            last = BotProcess(url, api, tmp_path / "last.log", token="xoxb-test-last").start()
            processes.append(last)
            last.wait_ready()
            driver = Bots(api, [last.port])
            with ThreadPoolExecutor(max_workers=5) as pool:
                list(pool.map(lambda r: claim_and_audit(driver, people[r[0] + 1], r[1][0], 0), enumerate(requested[1:])))
            wait_for(lambda: store.undelivered() == 0, "the outbox to be drained")

            states = store.states()
            assert [states[rid][2] for rid, _card in requested] == ["closed"] * 6
            assert_store_consistent(store, cli=True)
            assert third.call is not None and third.held_posts()  # a card's first post was in flight: posted twice
            assert all(len({c.args["channel"] for c in h.held_posts()}) == len(h.held_posts()) for h in (second, third))
            in_flight = second.held + third.held
            assert_each_message_sent_once(store, api, in_flight=in_flight)
            assert_no_buttons_on_finished_cards(api, states, in_flight=in_flight)
            for process in processes[1:]:
                assert "Traceback" not in process.output(), process.output()
        finally:
            for hold in holds:
                hold.release()
            for process in processes:
                process.stop()
            store.close()
            api.stop()
