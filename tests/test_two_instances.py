"""Two bot instances on one PostgreSQL, each getting half of the clicks (issue 9, "Nothing
lost, nothing doubled").

Two real ``worktray run --http`` processes share one fresh PostgreSQL database and the
local mock Web API (tests/slack_mock.py). Both start at once, so both run the start-up
catch-up of every team's radar and agenda and the due-audits job at the same moment.
Then 10 closures, 5 transfers and 5 three-month audits run concurrently, their steps
alternating between the instances; some clicks reach both (a double click, a form
submitted twice, Slack's retry with X-Slack-Retry-Num). When the outbox is drained:

* every journey ended where it should (closed, transferred, closed);
* every message was posted once: each chat.postMessage is one card key's only post
  (``chat_messages``) or one unkeyed outbox row, and every outbox row was sent;
* one digest per (job, team, period), with two `worktray jobs run radar` for a new
  period racing each other too;
* no channel card of a finished journey keeps a button;
* `worktray events verify` finds the hash chain unbroken.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bot_processes import (
    AUDIT_PEOPLE,
    CLOSURE_PEOPLE,
    TRANSFER_PEOPLE,
    Bots,
    BotProcess,
    HoldingSlackApi,
    Store,
    audit_journey,
    closure_journey,
    fresh_postgres,
    labels,
    transfer_journey,
    wait_for,
    worktray_cli,
)
from slack_mock import SlackApiMock, dm_channel_of

from workflows import audits
from worktray.demo import DEMO_ORG
from workflows.org import load_organisation
from worktray.scheduler import scheduled_jobs

AFTER_FINISH = {"Reopen"}
FINISHED = {"closure": "closed", "transfer": "transferred", audits.KIND: "closed"}


@pytest.mark.parametrize("database", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_instances_share_the_clicks_of_concurrent_journeys(database: str, tmp_path: Path) -> None:
    api = HoldingSlackApi().start()
    with fresh_postgres() as url:
        store = Store(url)
        bots = [BotProcess(url, api, tmp_path / f"bot{i}.log") for i in range(2)]
        try:
            for bot in bots:
                bot.start()
            for bot in bots:
                bot.wait_ready()
            driver = Bots(api, [b.port for b in bots])

            # Both instances raised the due audits at start, once each (C13): the demo's two and ours.
            audit_ids = wait_for(lambda: _audits_raised(store), "the five due audits to be raised")

            # Two runs of the radar for a period not yet run, from two processes at once.
            next_week = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()
            with ThreadPoolExecutor(max_workers=2) as pool:
                runs = list(pool.map(lambda _: worktray_cli(url, api, "jobs", "run", "radar", "--team", "u12", "--at", next_week), range(2)))
            outcomes = sorted(r.stdout.strip() for r in runs)
            assert outcomes == ["radar for u12: already done", "radar for u12: posted"], [r.stdout + r.stderr for r in runs]

            with ThreadPoolExecutor(max_workers=20) as pool:
                closures = [pool.submit(closure_journey, driver, pid, i) for i, pid in enumerate(CLOSURE_PEOPLE)]
                transfers = [pool.submit(transfer_journey, driver, pid, i) for i, pid in enumerate(TRANSFER_PEOPLE)]
                audited = [pool.submit(audit_journey, driver, rid, i) for i, rid in enumerate(audit_ids)]
                finished = [f.result() for f in closures + transfers + audited]

            wait_for(lambda: store.undelivered() == 0, "the outbox to be drained")
            states = store.states()
            for rid in finished:
                kind, person, state = states[rid]
                assert state == FINISHED[kind], (rid, kind, person, state)
            assert {states[r][1] for r in finished} >= set(CLOSURE_PEOPLE + TRANSFER_PEOPLE)
            assert_each_message_sent_once(store, api)
            assert_one_digest_per_team_and_period(store)
            assert_no_buttons_on_finished_cards(api, states)
            verified = worktray_cli(url, api, "events", "verify")
            assert verified.returncode == 0 and verified.stdout.startswith("OK"), verified.stdout + verified.stderr
            for bot in bots:
                assert "Traceback" not in bot.output(), bot.output()
        finally:
            for bot in bots:
                bot.stop()
            store.close()
            api.stop()


def _audits_raised(store: Store) -> list[int] | None:
    ids = sorted(rid for rid, (kind, _person, _state) in store.states().items() if kind == audits.KIND)
    people = {store.states()[rid][1] for rid in ids}
    return ids if len(ids) >= 5 and set(AUDIT_PEOPLE) <= people else None


# -- what is checked once everything is drained (test_crash_restart.py uses these too) ------------------


def assert_each_message_sent_once(store: Store, api: SlackApiMock) -> None:
    """Every outbox row was sent, and every post stands for exactly one message.

    A keyed card is posted once (its ts is in ``chat_messages``) and edited afterwards;
    an unkeyed direct message is one post per outbox row. A second post of a card,
    from a second deliverer or a resend after a crash, would be a post too many here."""
    rows = store.outbox()
    assert all(r.sent_at is not None and r.dropped_at is None for r in rows), [(r.id, r.card_key, r.error) for r in rows if r.sent_at is None]
    # The outbox's posts: a card always has blocks. A reply to a form (bot.slack_app's
    # ``direct``, text only) is the request's answer, not an outbox message.
    posted = [c for c in api.calls if c.method == "chat.postMessage" and c.result.get("ok") and c.args.get("blocks")]
    cards = store.chat_messages()
    unkeyed = [r for r in rows if r.card_key is None]
    posted_ts = Counter(c.result["ts"] for c in posted)
    assert all(n == 1 for n in posted_ts.values())
    recorded = {ts for _channel, ts in cards.values()}
    assert recorded <= set(posted_ts), "a card's recorded message was never posted"
    assert len(posted) == len(cards) + len(unkeyed), (
        f"{len(posted)} posts for {len(cards)} cards and {len(unkeyed)} direct messages: "
        f"{[(c.args.get('channel'), c.args.get('text', '')[:70]) for c in posted if c.result['ts'] not in recorded][:12]}"
    )
    for call in api.calls:  # every edit is of a message that was posted, in the channel it was posted to
        if call.method == "chat.update":
            assert call.args["ts"] in posted_ts


def assert_one_digest_per_team_and_period(store: Store) -> None:
    """T2, T3: each (job, team, period) posted once, and every scheduled team's latest period was."""
    posted = Counter((action, detail["team"], detail["period"]) for action, _rid, detail in store.events()
                     if action in ("radar_posted", "agenda_posted"))
    assert posted and all(n == 1 for n in posted.values()), posted
    planned = {(f"{p.job}_posted", p.team) for p in scheduled_jobs(load_organisation(DEMO_ORG))}
    assert planned <= {(action, team) for action, team, _period in posted}
    keys = Counter(r.card_key for r in store.outbox() if "digest" in r.body)
    assert len(keys) == len(posted), (keys, posted)


def assert_no_buttons_on_finished_cards(api: SlackApiMock, states: dict[int, tuple[str, str, str]]) -> None:
    """A finished journey's channel cards show no button for any of its steps (only
    Reopen on a closed closure, C12: a new journey, not a finished step)."""
    channels = {c.args.get("channel") for c in api.calls if c.method == "chat.postMessage" and str(c.args.get("channel", "")).startswith("C")}
    for channel in channels:
        for message in api.messages(str(channel)):
            title = message.text.split(" · ")[0]
            for prefix in ("Closure request ", "Transfer ", "Three-month audit "):
                number = title.removeprefix(prefix).split(" ")[0]
                if title.startswith(prefix) and number.isdigit() and int(number) in states:
                    kind, _person, state = states[int(number)]
                    if state == FINISHED.get(kind):
                        assert set(labels(message)) <= AFTER_FINISH, (channel, message.text, labels(message), json.dumps(message.blocks)[:300])
