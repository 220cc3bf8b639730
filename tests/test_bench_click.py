"""The click-latency harness of ``make bench`` (issue 9) still runs: a tiny run on SQLite.

Nothing here is timed: it checks that every click, worktray's, bare Bolt's and bare Bolt's with one durable write, reached
Slack's API as a chat.update of the clicked card (else ``wait_for_update`` raises).
"""

from __future__ import annotations

from bench import click


def test_the_click_harness_times_each_click_until_the_cards_update(tmp_path):
    results = click.run(f"sqlite:///{tmp_path / 'bench.db'}", sequential=2, clients=3, rounds=1)
    for name in ("bare Bolt", "durable Bolt", "worktray"):
        assert len(results[name].one_client) == 2
        assert len(results[name].concurrent) == 3
        assert all(ms > 0 for ms in results[name].one_client + results[name].concurrent)
    assert "concurrent" in "\n".join(click.report("sqlite", results, 3))
