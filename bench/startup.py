"""CLI start: `worktray case show ID` on a small demo database, the median of N runs (issue 9).

``python -m bench.startup [--runs N]``. Each run is a fresh process, as a person runs it
(the ``worktray`` script next to this interpreter, else ``python -m worktray.cli``), timed
from spawn to exit. ``--importtime`` prints the slowest imports of one run instead
(``python -X importtime``). The goal is 250 ms.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import Goal

GOAL_MS = 250.0
PERSON = "3549723"  # a demo person with cases, a family and relationships (worktray.demo)


def demo_database(directory: Path) -> str:
    """A migrated SQLite file with the demo's people (made in this process: the runs only read it)."""
    from store.db import make_engine, make_session_factory
    from store.migrate import upgrade
    from store.uow import UnitOfWork
    from worktray import demo

    url = f"sqlite:///{directory / 'startup.db'}"
    upgrade(url)
    engine = make_engine(url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        demo.seed(uow)
    engine.dispose()
    return url


def command() -> list[str]:
    script = Path(sys.executable).with_name("worktray")
    return [str(script)] if script.exists() else [sys.executable, "-m", "worktray.cli"]


def environment(url: str) -> dict[str, str]:
    repo = str(Path(__file__).resolve().parent.parent)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WORKTRAY_", "DATABASE_URL", "LOG_LEVEL"))}
    return {**keep, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "PYTHONPATH": repo}


def time_runs(url: str, runs: int, cwd: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system, of the child process) milliseconds of each run. On a shared
    machine the wall time mostly measures the neighbours; the CPU time is steadier."""
    env = environment(url)
    argv = [*command(), "case", "show", PERSON]
    subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=True)  # warm the file cache and the .pyc files
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=True)
        wall.append((time.perf_counter() - started) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return wall, cpu


def slowest_imports(url: str, cwd: Path, top: int = 15) -> list[str]:
    """``python -X importtime`` of one run: the imports with the largest cumulative time."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "worktray.cli", "case", "show", PERSON],
                          env=environment(url), cwd=cwd, capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return [f"  {us / 1000:8.1f} ms  {name}" for us, name in sorted(rows, reverse=True)[:top]]


def report(runs: int = 10, goals: list[Goal] | None = None) -> list[str]:
    """The figure's line; its goal added to ``goals``."""
    with tempfile.TemporaryDirectory(prefix="worktray-startup-") as tmp:
        url = demo_database(Path(tmp))
        ms, cpu = time_runs(url, runs, Path(tmp))
    median = statistics.median(ms)
    verdict = "ok" if median <= GOAL_MS else "MISSED"
    if goals is not None:
        goals.append(Goal(f"CLI start, `worktray case show`, median of {runs}", "", f"{median:.0f} ms", f"<= {GOAL_MS:.0f} ms", median <= GOAL_MS))
    return [f"  `worktray case show {PERSON}` (demo SQLite): median {median:.0f} ms of {runs} runs, "
            f"min {min(ms):.0f} ms (goal <= {GOAL_MS:.0f} ms: {verdict}; noisy shared machine); "
            f"CPU (user+sys) median {statistics.median(cpu):.0f} ms, min {min(cpu):.0f} ms"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args(argv)
    if args.importtime:
        with tempfile.TemporaryDirectory(prefix="worktray-startup-") as tmp:
            print("\n".join(slowest_imports(demo_database(Path(tmp)), Path(tmp))))
        return
    print("CLI start")
    print("\n".join(report(args.runs)))


if __name__ == "__main__":
    main()
