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
* Home tabs are republished only for the one person who opened Home (on one instance);
* no channel card of a finished journey keeps a button;
* the event log's hash chain verifies, and each request is in the state its last event left it in.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bot_processes import (
    AUDIT_PEOPLE,
    CLOSURE_PEOPLE,
    FINISHED,
    TRANSFER_PEOPLE,
    BotProcess,
    Bots,
    HoldingSlackApi,
    Store,
    assert_each_message_sent_once,
    assert_no_buttons_on_finished_cards,
    assert_one_digest_per_team_and_period,
    assert_store_consistent,
    audit_journey,
    closure_journey,
    fresh_postgres,
    transfer_journey,
    wait_for,
    worktray_cli,
)

from workflows import audits


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
            # sam opens Home on the first instance only; both republish it (the viewers are in the store).
            assert driver.home_opened("U0SAM").status == 200
            wait_for(lambda: store.home_viewers() == {"U0SAM"} or None, "sam to be noted as a Home viewer")

            # Both instances ran the due-audits job at start, at the same moment: the demo's two and our three (C13).
            audit_ids = wait_for(lambda: _audits_raised(store), "the five due audits to be raised")

            # The journeys, and meanwhile two runs of the radar for a period not yet run, from two processes at once.
            next_week = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()
            radar = ["jobs", "run", "radar", "--team", "u12", "--at", next_week]
            with ThreadPoolExecutor(max_workers=22) as pool:
                runs = [pool.submit(worktray_cli, url, api, *radar) for _ in range(2)]
                closures = [pool.submit(closure_journey, driver, pid, i) for i, pid in enumerate(CLOSURE_PEOPLE)]
                transfers = [pool.submit(transfer_journey, driver, pid, i) for i, pid in enumerate(TRANSFER_PEOPLE)]
                audited = [pool.submit(audit_journey, driver, rid, i) for i, rid in enumerate(audit_ids)]
                finished = [f.result() for f in closures + transfers + audited]
                outcomes = sorted(r.result().stdout.strip() for r in runs)
            assert outcomes == ["radar for u12: already done", "radar for u12: posted"], [r.result().stderr for r in runs]

            wait_for(lambda: store.undelivered() == 0, "the outbox to be drained")
            states = store.states()
            for rid in finished:
                kind, person, state = states[rid]
                assert state == FINISHED[kind], (rid, kind, person, state)
            assert {states[r][1] for r in finished} >= set(CLOSURE_PEOPLE + TRANSFER_PEOPLE)
            audited_people = Counter(person for kind, person, _state in states.values() if kind == audits.KIND)
            assert set(audited_people.values()) == {1}, audited_people  # raised at both starts, once per case (C13)
            assert_each_message_sent_once(store, api)
            replies = Counter((c.args.get("channel"), c.args.get("text")) for c in api.calls if c.method == "chat.postMessage" and not c.args.get("blocks"))
            assert all(n == 1 for n in replies.values()), replies.most_common(5)  # each form's answer once, to one instance
            assert_one_digest_per_team_and_period(store)
            assert_no_buttons_on_finished_cards(api, states)
            published = Counter(c.args.get("user_id") for c in api.calls if c.method == "views.publish")
            assert set(published) == {"U0SAM"} and published["U0SAM"] > 1, published  # only who opened Home (issue 9)
            assert_store_consistent(store, cli=False)  # the chain verified in-process (the crash test runs the CLI)
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
