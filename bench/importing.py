"""``python -m bench.importing``: ``worktray import`` of a 100,000-person / 730k-row export (issue 9).

Generates the fictitious export (bench/export_data.py), then runs the real command,
``worktray import DIR`` with the demo organisation's config (so keys are checked and the
re-referral and audit-date steps run, as for a council), in a child process per back end
on a fresh, migrated database, and prints rows imported, wall seconds and the child's
peak RSS (``os.wait4``'s rusage, the same figure as getrusage(RUSAGE_CHILDREN) for one
child) beside the goal. The rows in the store afterwards are counted and compared with
what the generator wrote.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench import Goal
from bench.export_data import generate_export
from store.db import make_engine
from store.importer import FILES
from store.migrate import upgrade

GOAL_SECONDS = 15.0
GOAL_MB = 300.0
GOAL = f"goal <= {GOAL_SECONDS:.0f} s, <= {GOAL_MB:.0f} MB"
DEMO_ORG = Path(__file__).resolve().parent.parent / "worktray" / "demo" / "org.yml"


@dataclass
class ImportFigure:
    rows: int  # rows in the export
    stored: int  # rows of the import's tables in the store afterwards
    seconds: float
    peak_mb: float
    exit_code: int
    cpu_seconds: float = 0.0  # the child's user + system CPU: on a shared machine, what wall time would be alone
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.stored == self.rows


def stored_rows(url: str) -> int:
    """Rows in the tables an import fills (persons, cases, ...)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return sum(conn.execute(select(func.count()).select_from(spec.table)).scalar_one() for spec in FILES)
    finally:
        engine.dispose()


def run_import(url: str, directory: Path, rows: int) -> ImportFigure:
    """``worktray import`` in a child process on a migrated database: wall time and peak RSS."""
    upgrade(url)  # the schema exists, as in production; the command's own upgrade is then a check
    env = {**os.environ, "DATABASE_URL": url, "WORKTRAY_CONFIG": str(DEMO_ORG), "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-c", "import sys; from worktray.cli import main; sys.exit(main())", "import", str(directory)]
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    peak_mb = usage.ru_maxrss / 1024  # Linux: kilobytes
    cpu = usage.ru_utime + usage.ru_stime
    return ImportFigure(rows, stored_rows(url), seconds, peak_mb, child.returncode, cpu_seconds=cpu, stderr=stderr)


def report(name: str, figure: ImportFigure | str, goals: list[Goal] | None = None) -> str:
    """The figure's line; its goals (time, every row stored; peak memory) added to ``goals``."""
    if isinstance(figure, str):
        if goals is not None:
            goals.append(Goal("import", name, f"not run ({figure})", f"<= {GOAL_SECONDS:.0f} s, <= {GOAL_MB:.0f} MB", None))
        return f"  {name}: not run ({figure})"
    if goals is not None:
        stored = "every row stored" if figure.ok else f"FAILED, exit {figure.exit_code}"
        goals += [
            Goal(f"import of {figure.rows:,} rows, time", name, f"{figure.seconds:.1f} s, {stored}",
                 f"<= {GOAL_SECONDS:.0f} s, every row stored", figure.ok and figure.seconds <= GOAL_SECONDS),
            Goal(f"import of {figure.rows:,} rows, peak memory", name, f"{figure.peak_mb:.0f} MB",
                 f"<= {GOAL_MB:.0f} MB", figure.ok and figure.peak_mb <= GOAL_MB),
        ]
    line = (
        f"  {name:<10} {figure.rows:>9,} rows  {figure.seconds:6.1f} s ({figure.cpu_seconds:5.1f} s CPU)  "
        f"{figure.peak_mb:6.0f} MB peak   ({GOAL})"
    )
    if not figure.ok:
        tail = figure.stderr.strip().splitlines()[-3:]
        line += f"\n    FAILED: exit {figure.exit_code}, {figure.stored:,} rows stored; " + " | ".join(tail)
    return line


def run(persons: int, no_postgres: bool, seed: int = 9, goals: list[Goal] | None = None) -> list[str]:
    """Generate the export once and import it into each back end; the report's lines (the goals added to ``goals``)."""
    main_module = sys.modules["__main__"]  # `python -m bench` or `python -m bench.importing`
    if not hasattr(main_module, "postgres_database"):
        main_module = importlib.import_module("bench.__main__")
    sqlite_database, postgres_database, postgres_reachable = (
        main_module.sqlite_database, main_module.postgres_database, main_module.postgres_reachable
    )
    lines = []
    with tempfile.TemporaryDirectory(prefix="worktray-bench-export-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        rows = sum(generate_export(directory, persons=persons, seed=seed).values())
        lines.append(f"  (export of {persons:,} persons, {rows:,} rows generated in {time.perf_counter() - started:.1f} s)")
        with sqlite_database() as url:
            lines.append(report("sqlite", run_import(url, directory, rows), goals))
        why = "--no-postgres" if no_postgres else postgres_reachable()
        if why is None:
            with postgres_database() as url:
                lines.append(report("postgresql", run_import(url, directory, rows), goals))
        else:
            lines.append(report("postgresql", why, goals))
    return lines


def print_import(persons: int, no_postgres: bool, goals: list[Goal] | None = None) -> None:
    """The `make bench` section."""
    started = time.perf_counter()
    lines = run(persons, no_postgres, goals=goals)
    print(f"\nimport: `worktray import` of a case-system export, all or nothing, one child process per back end "
          f"(total {time.perf_counter() - started:.1f} s)")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.importing", description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000, help="persons in the generated export (about 7.3 rows each)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    print_import(args.persons, args.no_postgres)


if __name__ == "__main__":
    main()
