"""Peak memory of the bot holding a big case store (issue 9): at most 150 MB.

``python -m bench.rss --url URL`` (a store made by ``bench.scale_data``) starts a separate
process that is the bot as ``worktray run --http`` wires it (``worktray.bootstrap.build``,
the Slack, HTTP and scheduler modules imported, the scheduler built) minus the listener, and
runs every scheduled job body once as at start-up and through the day: the digests' catch-up
(T2, T3), due transfers (T7), the morning round (D3, C6.1), the three-month audits (C13) and
the reminders (issue 7), then drains the outbox through a chat that accepts everything (so
each digest card is drawn from the store). The clock is the generator's "today" in working
time. The child reports its peak resident set (``VmHWM`` in /proc/self/status, else ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import Goal

GOAL_MB = 150.0


def peak_mb() -> float:
    """The process's peak resident set (VmHWM), in MB (ru_maxrss where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str) -> dict[str, object]:
    """The bot's process: build it, run each job once, drain; what each did and the peak."""
    from bench import NoopSender
    from bench.scans import bench_context
    from worktray import scheduler, serve  # noqa: F401  (the modules `worktray run --http` holds)
    from worktray.bootstrap import build

    ctx = bench_context()
    app = build(url, ctx.org, NoopSender(), ctx.clock, migrate=False)
    # The deliverer's thread is not started: a job's kick only sets its flag, the drain below delivers.
    scheduler.build_scheduler(app)  # built as at start-up, not started (its jobs run below, once each)
    done: dict[str, object] = {"started_mb": round(peak_mb(), 1)}
    started = time.perf_counter()
    steps: dict[str, Callable[[], object]] = {
        "catch_up": lambda: scheduler.catch_up(app),
        "transfers_due": lambda: scheduler.move_due_transfers(app),
        "morning": lambda: scheduler.morning(app),
        "audits_raised": lambda: scheduler.raise_due_audits(app),
        "reminders": lambda: scheduler.send_reminders(app),
        "delivered": app.deliverer.drain,
    }
    peaks: dict[str, float] = {}
    for name, step in steps.items():
        done[name] = step()
        peaks[name] = round(peak_mb(), 1)
    done["seconds"] = round(time.perf_counter() - started, 1)
    done["peak_mb"] = round(peak_mb(), 1)
    done["peak_after"] = peaks
    return done


def measure(url: str) -> dict[str, object]:
    """Run ``child`` in its own process (a fresh interpreter: nothing of the bench's own counts)."""
    repo = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "-m", "bench.rss", "--child", url], cwd=repo, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def report(url: str, backend: str, goals: list[Goal] | None = None) -> list[str]:
    """The figure's line; its goal added to ``goals``."""
    found = measure(url)
    peak = float(str(found["peak_mb"]))
    verdict = "ok" if peak <= GOAL_MB else "MISSED"
    if goals is not None:
        goals.append(Goal("bot peak RSS holding the store", backend, f"{peak:.0f} MB", f"<= {GOAL_MB:.0f} MB", peak <= GOAL_MB))
    return [
        f"  {backend:<10} bot peak RSS {peak:.0f} MB (goal <= {GOAL_MB:.0f} MB: {verdict}); after start-up {found['started_mb']} MB; "
        f"jobs once in {found['seconds']} s: {found['audits_raised']} audits raised, {found['reminders']} reminder messages, "
        f"{found['delivered']} messages delivered; peak after each: {found['peak_after']}"
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rss", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a store made by bench.scale_data")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return
    if not args.url:
        parser.error("--url is needed")
    from store.db import make_engine

    print("\n".join(report(args.url, make_engine(args.url).dialect.name)))


if __name__ == "__main__":
    main()
