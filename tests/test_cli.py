"""The ``worktray`` command as a user runs it: a separate process, configured by DATABASE_URL.

``db upgrade``, ``import`` (all or nothing, exit 1 naming file and row) and
``case show`` (text, ``--json``, exit 1 for an unknown person), on a fresh
SQLite file and, through the ``db_url`` fixture, on PostgreSQL too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import worktray
from workflows.closure import ClosureForm, request_closure
from workflows.requests import approve, claim

REPO = Path(worktray.__file__).resolve().parent.parent
DEMO_CSV = REPO / "worktray" / "demo" / "csv"
DEMO_ORG = REPO / "worktray" / "demo" / "org.yml"
NOT_CHECKED = "keys were not checked against a config"


def run_cli(database_url: str, *args: str, cwd: Path, config: Path | None = None, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m worktray.cli`` in its own process (cwd without a .env file).

    ``config`` sets WORKTRAY_CONFIG; otherwise it is left as inherited (default
    worktray.yml, relative to cwd, so normally absent). ``settings``: more environment variables.
    """
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING", **settings}
    if config is not None:
        env["WORKTRAY_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "worktray.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file that does not exist yet: the CLI has to create the schema."""
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_db_upgrade_creates_the_schema(sqlite_url, tmp_path):
    result = run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "database schema is up to date" in result.stdout
    assert (tmp_path / "cli.db").exists()


def test_import_then_case_show(sqlite_url, tmp_path):
    assert run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path).returncode == 0
    imported = run_cli(sqlite_url, "import", str(DEMO_CSV), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "persons.csv: 6 rows" in imported.stdout
    assert "work_steps.csv: 4 rows" in imported.stdout

    shown = run_cli(sqlite_url, "case", "show", "3600205", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Person 3600205 (RT): Ruby Tranter, born 2013-01-22" in shown.stdout
    assert "CS Core Group Meeting (incoming), assigned ben, scheduled 2026-12-01" in shown.stdout
    assert "Child Protection Review triggered 2026-10-20, completed 2026-11-03, NOT authorised" in shown.stdout

    as_json = run_cli(sqlite_url, "case", "show", "3600205", "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert [(c["case_type"], c["team"], c["worker"], c["open"]) for c in report["cases"]] == [("CP", "u12", "ben", True)]
    assert sorted(s["kind"] for s in report["open_work_steps"]) == ["incoming", "incomplete"]
    assert [e["action"] for e in report["events"]] == []  # the import event is not about one person


def test_case_show_unknown_person_exits_1(sqlite_url, tmp_path):
    assert run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path).returncode == 0
    result = run_cli(sqlite_url, "case", "show", "999", cwd=tmp_path)
    assert result.returncode == 1
    assert "there is no person 999" in result.stderr
    assert result.stdout == ""


def test_a_broken_import_exits_1_and_imports_nothing(sqlite_url, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(DEMO_CSV, broken)
    with (broken / "work_steps.csv").open("a", encoding="utf-8") as f:
        f.write("3600205,CS Visit,ben,incoming,31/02/2026,open\n")
    result = run_cli(sqlite_url, "import", str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert "work_steps.csv row 6, column scheduled_on" in result.stderr
    assert "nothing was imported" in result.stderr
    # persons.csv was fine, yet no person from it is in the store.
    shown = run_cli(sqlite_url, "case", "show", "3600101", cwd=tmp_path)
    assert shown.returncode == 1
    assert "there is no person 3600101" in shown.stderr


def test_import_and_case_show_on_each_back_end(db_url, tmp_path):
    """The same commands against the migrated test database: SQLite and PostgreSQL."""
    first = run_cli(db_url, "import", str(DEMO_CSV), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "cases.csv: 7 rows" in first.stdout
    again = run_cli(db_url, "import", str(DEMO_CSV), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "cases.csv: 0 rows" in again.stdout  # idempotent

    report = json.loads(run_cli(db_url, "case", "show", "3600102", "--json", cwd=tmp_path).stdout)
    assert report["person"]["initials"] == "LA"
    assert [m["id"] for m in report["family_group"]["members"]] == ["3600101", "3600102"]
    assert [(c["case_type"], c["opened_on"]) for c in report["cases"]] == [("CIN", "2025-03-10")]
    kinds = {(r["organisation_kind"], r["open"]) for r in report["organisation_relationships"]}
    assert kinds == {("team", True), ("place_of_education", True)}


def test_case_show_lists_requests_with_holder_and_the_event_log(seeded, ctx, db_url, tmp_path):
    """A family member's closure that applies to this person shows on their report too, with its events."""
    form = ClosureForm(reason="RC8", closure_date=dt.date(2026, 11, 26), summary="Outcomes met.", applies_to=["3549724"])
    with seeded() as uow:
        request_id = request_closure(uow, ctx, "amy", "3549723", form, source="test").id
    with seeded() as uow:
        approve(uow, ctx, request_id, "maria", source="test")
    with seeded() as uow:
        claim(uow, ctx, request_id, "sam", source="test")

    shown = run_cli(db_url, "case", "show", "3549724", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    (request,) = report["requests"]
    assert (request["id"], request["person_id"], request["state"], request["holder"]) == (request_id, "3549723", "claimed", "sam")
    assert request["details"]["applies_to"] == ["3549723", "3549724"]
    assert [(e["actor"], e["action"], e["to_state"]) for e in report["events"]] == [
        ("amy", "request", "requested"),
        ("maria", "approve", "approved"),
        ("sam", "claim", "claimed"),
    ]
    assert {r["relationship_type"] for r in report["worker_relationships"] if r["open"]} == {
        "Key Worker (Childrens Social Care)", "GP"
    }

    text = run_cli(db_url, "case", "show", "3549724", cwd=tmp_path).stdout
    assert f"#{request_id} closure for 3549723: claimed, requested by amy" in text
    assert ", held by sam; last: claim by sam" in text
    assert "sam claim request #" in text and "approved -> claimed" in text


def test_case_show_before_db_upgrade_says_what_to_do(tmp_path):
    """A database without the schema gets a clear message, not a traceback."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.db'}"
    result = subprocess.run([sys.executable, "-m", "worktray.cli", "case", "show", "1"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "worktray db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_checks_keys_against_the_config(db_url, tmp_path):
    """With WORKTRAY_CONFIG set, a row naming a team nobody configured is refused and nothing is imported."""
    broken = tmp_path / "broken"
    shutil.copytree(DEMO_CSV, broken)
    with (broken / "cases.csv").open("a", encoding="utf-8") as f:
        f.write("3600205,u13,ben,CP,2026-01-01,,\n")
    result = run_cli(db_url, "import", str(broken), cwd=tmp_path, config=DEMO_ORG)
    assert result.returncode == 1
    assert "cases.csv row 9, column team: no team 'u13' in the organisation config (teams: u12, adults-south, 12plus)" in result.stderr
    assert "nothing was imported" in result.stderr
    assert NOT_CHECKED not in result.stderr
    shown = run_cli(db_url, "case", "show", "3600101", cwd=tmp_path)
    assert shown.returncode == 1 and "there is no person 3600101" in shown.stderr

    clean = run_cli(db_url, "import", str(DEMO_CSV), cwd=tmp_path, config=DEMO_ORG)
    assert clean.returncode == 0, clean.stderr
    assert "cases.csv: 7 rows" in clean.stdout
    assert clean.stderr == ""


def test_import_without_a_config_warns_and_imports_unchecked(db_url, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(DEMO_CSV, broken)
    with (broken / "work_steps.csv").open("a", encoding="utf-8") as f:
        f.write("3600205,CS Visit,zoe,incoming,,open\n")
    result = run_cli(db_url, "import", str(broken), cwd=tmp_path, config=tmp_path / "missing.yml")
    assert result.returncode == 0, result.stderr
    assert NOT_CHECKED in result.stderr and "missing.yml" in result.stderr
    assert "work_steps.csv: 5 rows" in result.stdout


def test_an_invalid_config_stops_the_import_before_the_database(sqlite_url, tmp_path):
    """A config that exists but does not load exits 2; the database is not even created."""
    bad = tmp_path / "worktray.yml"
    bad.write_text("name: x\nteams: []\n", encoding="utf-8")
    result = run_cli(sqlite_url, "import", str(DEMO_CSV), cwd=tmp_path, config=bad)
    assert result.returncode == 2
    assert "worktray.yml, line" in result.stderr
    assert not (tmp_path / "cli.db").exists()


def test_each_problem_of_a_config_is_a_line_of_its_own(sqlite_url, tmp_path):
    """Several mistakes in the org config: each its own line, each saying it comes from worktray."""
    bad = tmp_path / "worktray.yml"
    bad.write_text(DEMO_ORG.read_text(encoding="utf-8").replace("manager_channel:", "manager_chanel:", 2), encoding="utf-8")
    result = run_cli(sqlite_url, "import", str(DEMO_CSV), cwd=tmp_path, config=bad)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 4 and all(line.startswith("worktray: ") and "worktray.yml, line " in line for line in lines), lines


def test_importing_the_cli_leaves_migrations_slack_and_the_scheduler_unloaded(tmp_path):
    """Issue 9: `worktray case show` starts fast because each command imports what it needs;
    importing the command line (a fresh interpreter) loads no alembic, Slack or APScheduler."""
    heavy = ["alembic", "slack_bolt", "slack_sdk", "apscheduler"]
    probe = f"import sys, worktray.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


# What `worktray case show` does not need: migrations, Slack, the scheduler (issue 9, first pass);
# pydantic and pydantic-settings (its settings come from worktray.quick_settings), python-dotenv
# when there is no .env file, the organisation config (YAML, holidays, workflows.org) and the bot;
# on SQLite, SQLAlchemy's PostgreSQL dialect (store.models.postgresql_index).
NOT_FOR_CASE_SHOW = ("alembic", "slack_bolt", "slack_sdk", "apscheduler", "pydantic", "pydantic_settings", "dotenv",
                     "yaml", "holidays", "workflows.org", "workflows.requests", "bot", "commands",
                     "sqlalchemy.dialects.postgresql")


def after_command(database_url: str, cwd: Path, argv: tuple[str, ...], expression: str) -> Any:
    """``expression`` (JSON) evaluated after ``argv``'s command ran in a fresh interpreter."""
    probe = (
        f"import gc, json, sys, runpy; sys.argv = ['worktray', *{argv!r}]\n"
        "try:\n    runpy.run_module('worktray.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps({expression}))"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def loaded_by_case_show(database_url: str, cwd: Path, person: str = "1", argv: tuple[str, ...] = ()) -> list[str]:
    """The modules of NOT_FOR_CASE_SHOW that a `case show` run (or ``argv``'s command; a fresh interpreter) imported."""
    return list(after_command(database_url, cwd, argv or ("case", "show", person),
                              f"sorted(m for m in {NOT_FOR_CASE_SHOW!r} if m in sys.modules)"))


def test_case_show_loads_no_migrations_slack_or_scheduler(sqlite_url, tmp_path):
    """The same for a whole `case show` run (the command a person waits for): nor pydantic,
    the organisation config (YAML, holidays) or the bot (issue 9: CLI start <= 250 ms)."""
    assert run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path).returncode == 0
    assert loaded_by_case_show(sqlite_url, tmp_path) == []


def test_events_verify_reads_its_settings_without_pydantic_either(sqlite_url, tmp_path):
    """`events verify` needs only the database, as case show does (worktray.quick_settings)."""
    assert run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path).returncode == 0
    assert loaded_by_case_show(sqlite_url, tmp_path, argv=("events", "verify")) == []


def test_case_show_of_a_demo_person_loads_none_of_them_either(sqlite_url, tmp_path):
    """A person with cases, work steps and assessments (the demo CSV): every section drawn, still light."""
    assert run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path).returncode == 0
    assert run_cli(sqlite_url, "import", str(DEMO_CSV), cwd=tmp_path).returncode == 0
    assert run_cli(sqlite_url, "case", "show", "3600205", cwd=tmp_path).stdout.startswith("Person 3600205")
    assert loaded_by_case_show(sqlite_url, tmp_path, "3600205") == []


def test_case_show_configures_no_mapper_and_leaves_the_collector_on(sqlite_url, tmp_path):
    """Issue 9: the report reads tables with Core, so no ORM mapper is configured (about 20 ms);
    its imports ran without the garbage collector (worktray.frozen_imports), which is on again."""
    assert run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path).returncode == 0
    assert run_cli(sqlite_url, "import", str(DEMO_CSV), cwd=tmp_path).returncode == 0
    state = after_command(sqlite_url, tmp_path, ("case", "show", "3600205"), (
        "{'configured': [m.class_.__name__ for m in sys.modules['store.models'].Base.registry.mappers if m.configured],"
        " 'collector_on': gc.isenabled(), 'frozen': gc.get_freeze_count() > 0}"
    ))
    assert state == {"configured": [], "collector_on": True, "frozen": True}


def test_case_show_reads_the_database_url_from_a_dot_env_file(sqlite_url, tmp_path):
    """The quick settings read .env as Settings does (the environment wins over it)."""
    assert run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path).returncode == 0
    assert run_cli(sqlite_url, "import", str(DEMO_CSV), cwd=tmp_path).returncode == 0
    (tmp_path / ".env").write_text(f"# the demo\nexport DATABASE_URL='{sqlite_url}'\nLOG_LEVEL=WARNING\n")
    env = {k: v for k, v in os.environ.items() if k.upper() not in ("DATABASE_URL", "LOG_LEVEL")}
    result = subprocess.run([sys.executable, "-m", "worktray.cli", "case", "show", "3600205"], cwd=tmp_path,
                            env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Person 3600205")
    missing = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = run_cli(missing, "case", "show", "3600205", cwd=tmp_path)  # DATABASE_URL in the environment wins
    assert result.returncode == 1
    assert "no worktray schema" in result.stderr


def test_case_show_does_not_wait_for_a_writer_on_sqlite(sqlite_url, tmp_path):
    """case show only reads: while the bot holds SQLite's write lock (BEGIN IMMEDIATE, as every
    writing unit of work does) it reads its snapshot at once instead of queueing behind it."""
    import sqlite3

    assert run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path).returncode == 0
    assert run_cli(sqlite_url, "import", str(DEMO_CSV), cwd=tmp_path).returncode == 0
    writer = sqlite3.connect(tmp_path / "cli.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE persons SET first_name = 'Changed' WHERE id = '3600205'")
        shown = run_cli(sqlite_url, "case", "show", "3600205", cwd=tmp_path)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Person 3600205 (RT): Ruby Tranter")  # the committed snapshot


@pytest.mark.parametrize(
    ("environment", "dot_env"),
    [
        ({}, None),
        ({"DATABASE_URL": "sqlite:///from-env.db", "LOG_LEVEL": "DEBUG"}, None),
        ({"database_url": "sqlite:///lower-case.db"}, None),
        ({}, "DATABASE_URL=sqlite:///from-file.db\nlog_level=ERROR\n"),
        ({"LOG_LEVEL": "WARNING"}, "export DATABASE_URL=\"postgresql://u@h/db\"  # comment\nLOG_LEVEL=ERROR\nOTHER=1\n"),
        ({"DATABASE_URL": "sqlite:///env-wins.db"}, "DATABASE_URL=sqlite:///file-loses.db\n"),
        ({}, "DATABASE_URL=\n"),
        ({}, "BASE=/srv\nDATABASE_URL=sqlite:///${BASE}/w.db\n"),
    ],
)
def test_quick_settings_read_what_settings_read(environment, dot_env, tmp_path, monkeypatch):
    """worktray.quick_settings (no pydantic) gives case show the database URL and log level
    that worktray.settings.Settings gives every other command, from the same places."""
    from worktray.quick_settings import quick_settings
    from worktray.settings import Settings

    for name in list(os.environ):
        if name.upper() in ("DATABASE_URL", "LOG_LEVEL"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    if dot_env is not None:
        (tmp_path / ".env").write_text(dot_env)
    quick, full = quick_settings(), Settings()
    assert quick is not None
    assert (quick.database_url, quick.log_level) == (full.database_url, full.log_level)


def test_a_dot_env_line_without_a_value_is_left_to_settings_to_refuse(tmp_path, monkeypatch):
    """`DATABASE_URL` alone on a line: python-dotenv reads None, and pydantic-settings would use
    the default (a SQLite file here) as if the line were not there. The quick reader does not
    guess, and Settings refuses it: one line naming it, exit 2, no database made."""
    from worktray.quick_settings import quick_settings

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LOG_LEVEL=INFO\nDATABASE_URL\n")
    assert quick_settings() is None
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    for argv in (["db", "upgrade"], ["case", "show", "3549723"]):
        result = subprocess.run([sys.executable, "-m", "worktray.cli", *argv], cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 2, result.stderr
        assert result.stderr == "worktray: DATABASE_URL in .env has no value: write DATABASE_URL=... or remove the line\n"
    assert not (tmp_path / "worktray.db").exists()


def test_person_restrict_sets_and_lifts_the_flag_with_an_event_and_neutral_cards(seeded, ctx, db_url, tmp_path):
    """Issue 8: a record is restricted without a CSV import; the event log says who/when, and the
    open request's channel card is redrawn (queued in the same transaction) so it turns neutral."""
    with seeded() as uow:
        request_id = request_closure(uow, ctx, "amy", "3549723", ClosureForm(reason="RC8", closure_date=dt.date(2026, 11, 26), summary="Met."), source="test").id

    def state() -> tuple[bool, list[str], int]:
        with seeded() as uow:
            person = uow.cases.person("3549723")
            assert person is not None
            actions = [e.action for e in uow.history("3549723", [request_id]) if e.action.startswith("restricted")]
            queued = uow.session.scalar(text("select count(*) from outbox where card_key like :k"), {"k": f"request:{request_id}:%"})
            return person.restricted, actions, int(queued or 0)

    _, _, cards_before = state()
    done = run_cli(db_url, "person", "restrict", "3549723", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3549723 is now restricted; 1 open request(s) redrawn."
    restricted, actions, cards = state()
    assert restricted and actions == ["restricted_set"] and cards > cards_before
    again = run_cli(db_url, "person", "restrict", "3549723", cwd=tmp_path)
    assert again.returncode == 0 and "already restricted; nothing changed" in again.stdout
    lifted = run_cli(db_url, "person", "restrict", "3549723", "--off", cwd=tmp_path)
    assert lifted.returncode == 0 and lifted.stdout.startswith("3549723 is now not restricted")
    assert state()[:2] == (False, ["restricted_cleared", "restricted_set"])  # newest first
    unknown = run_cli(db_url, "person", "restrict", "9999999", cwd=tmp_path)
    assert unknown.returncode == 1 and unknown.stderr.strip() == "worktray: There is no person 9999999 in the case store."


# -- a database that cannot be used: which of three reasons, each with its own remedy --------------

# Every command that reads the store through worktray.db_errors (person restrict too, by the same helper).
STORE_COMMANDS = [("case", "show", "3549723"), ("events", "verify"), ("outbox",), ("outbox", "retry", "--all"), ("outbox", "drop", "1")]


def a_closed_port() -> int:
    """A local port nothing listens on (just released by the kernel): connecting is refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("argv", STORE_COMMANDS, ids=" ".join)
def test_a_server_that_refuses_connections_is_named_and_not_sent_to_db_upgrade(argv, tmp_path):
    """A PostgreSQL URL to a server that is not there: "could not connect" with host and port,
    never the password, and not "run worktray db upgrade" (which would fail the same way)."""
    port = a_closed_port()
    result = run_cli(f"postgresql://worktray:s3cret-pw@127.0.0.1:{port}/councildb", *argv, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"worktray: could not connect to the database councildb on 127.0.0.1:{port} (OperationalError)")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    for wrong in ("s3cret", "db upgrade", "Traceback", "no worktray schema"):
        assert wrong not in result.stderr


def test_a_sqlite_file_that_cannot_be_opened_is_named(tmp_path):
    result = run_cli(f"sqlite:///{tmp_path / 'no-such-dir' / 'w.db'}", "case", "show", "1", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"worktray: could not open the database file {tmp_path / 'no-such-dir' / 'w.db'}")
    assert "db upgrade" not in result.stderr


# The command, and a column it reads that is renamed "behind worktray's back".
CHANGED = [(("case", "show", "3549723"), "persons", "last_supervision_on"), (("events", "verify"), "events", "prev_hash"),
           (("outbox",), "outbox", "error")]


@pytest.mark.parametrize(("argv", "table", "column"), CHANGED, ids=[" ".join(a) for a, _t, _c in CHANGED])
def test_a_schema_changed_outside_worktray_is_an_error_of_its_own(db_url, tmp_path, argv, table, column):
    """The newest schema with a column renamed by hand: the database answers with an error, which
    is said with its class only (no SQL, no parameters), and not as a missing schema."""
    from store.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {table} RENAME COLUMN {column} TO renamed_by_hand"))
        result = run_cli(db_url, *argv, cwd=tmp_path)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {table} RENAME COLUMN renamed_by_hand TO {column}"))
        engine.dispose()
    assert result.returncode == 1, result.stderr
    kind = "OperationalError" if db_url.startswith("sqlite") else "UndefinedColumn"
    assert f"answered with an error ({kind}) although its worktray schema is the newest" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    for wrong in ("db upgrade", "no worktray schema", "Traceback", "SELECT", "3549723", "renamed_by_hand"):
        assert wrong not in result.stderr


def test_an_older_schema_is_sent_to_db_upgrade(tmp_path):
    """A database migrated only part of the way (the code is newer than its schema): upgrade it."""
    from store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    result = run_cli(url, "case", "show", "3549723", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"worktray: the database file {tmp_path / 'old.db'} has an older worktray schema (0002): run `worktray db upgrade`"


@pytest.mark.postgres
def test_no_schema_on_postgresql_is_sent_to_db_upgrade(postgres_url, tmp_path):
    """PostgreSQL's "relation does not exist" is a missing schema too: here the session's
    database seen through a search path on which none of its tables is visible."""
    result = run_cli(f"{postgres_url}?options=-csearch_path%3Dnowhere", "case", "show", "1", cwd=tmp_path)
    assert result.returncode == 1
    assert "has no worktray schema yet: run `worktray db upgrade`" in result.stderr


# Every command uses the database; these are the ones that fell over first on a URL SQLAlchemy cannot read.
EVERY_COMMAND = [*STORE_COMMANDS, ("db", "upgrade"), ("run",), ("person", "restrict", "3549723"), ("import", "."),
                 ("jobs",), ("demo", "reset")]
URL_FORM = "write it as postgresql://USER:PASSWORD@HOST:PORT/NAME or sqlite:///PATH"


@pytest.mark.parametrize("argv", EVERY_COMMAND, ids=" ".join)
def test_an_unreadable_database_url_is_one_line_naming_the_setting(argv, tmp_path):
    """A URL with a port that is not a number (and a password): one line naming DATABASE_URL,
    exit 2 (a setting to correct), never the URL or its password, no traceback."""
    result = run_cli("postgresql://worktray:s3cret-pw@dbhost:54x2/councildb", *argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"worktray: DATABASE_URL is not a database URL (its port is not a number): {URL_FORM}\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("url", "problem"),
    [("notaurl", "is not a database URL"), ("", "is not a database URL"),
     ("mongodb://worktray:s3cret-pw@dbhost/councildb", "names a kind of database SQLAlchemy does not know (mongodb)")],
)
def test_a_database_url_that_is_not_one_is_named_without_its_text(url, problem, tmp_path):
    result = run_cli(url, "case", "show", "1", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"worktray: DATABASE_URL {problem}: {URL_FORM}\n"
    assert "s3cret" not in result.stderr and "dbhost" not in result.stderr



@pytest.mark.parametrize("argv", [("case", "show", "1"), ("run",), ("db", "upgrade")], ids=" ".join)
@pytest.mark.parametrize(("url", "kind"), [("mysql://worktray:s3cret-pw@dbhost/councildb", "mysql"),
                                           ("mssql://worktray:s3cret-pw@dbhost/councildb", "mssql"),
                                           ("oracle://worktray:s3cret-pw@dbhost:1521/councildb", "oracle"),
                                           ("postgresql+psycopg2://worktray:s3cret-pw@dbhost/councildb", "postgresql+psycopg2")])
def test_a_database_whose_driver_is_not_installed_is_named_with_what_worktray_supports(url, kind, argv, tmp_path):
    """A kind of database SQLAlchemy knows but worktray does not install a driver for: one line
    naming DATABASE_URL and what worktray supports, exit 2; not ModuleNotFoundError's traceback."""
    result = run_cli(url, *argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"worktray: DATABASE_URL names {kind}, whose driver is not installed: "
                             f"worktray supports SQLite and PostgreSQL (postgresql://... with psycopg 3); {URL_FORM}\n")
    assert "s3cret" not in result.stderr and "dbhost" not in result.stderr and result.stdout == ""


# -- a setting pydantic refuses: one line naming it, exit 2 ------------------------------------------

# The commands that read their settings with pydantic-settings (worktray.settings); the others
# (STORE_COMMANDS) read only the database URL and the log level (worktray.quick_settings).
SETTINGS_COMMANDS = [*(argv for argv in EVERY_COMMAND if argv not in STORE_COMMANDS), ("jobs", "run", "radar")]


@pytest.mark.parametrize("argv", SETTINGS_COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("threads", "problem"),
    [("0", "Input should be greater than or equal to 1 (it is '0')"),
     ("eight", "Input should be a valid integer, unable to parse string as an integer (it is 'eight')")],
    ids=["too-few", "not-a-number"],
)
def test_a_setting_pydantic_refuses_is_one_line_naming_it(argv, threads, problem, sqlite_url, tmp_path):
    """WORKTRAY_HTTP_THREADS=0: the environment variable and pydantic's message, exit 2 (a setting
    to correct, as a bad DATABASE_URL is), not pydantic's ValidationError traceback."""
    result = run_cli(sqlite_url, *argv, cwd=tmp_path, WORKTRAY_HTTP_THREADS=threads)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"worktray: WORKTRAY_HTTP_THREADS: {problem}\n"
    assert result.stdout == ""


def test_each_refused_setting_is_a_line_and_a_secret_is_not_shown(monkeypatch, tmp_path):
    """A line per setting; a setting that may hold a secret (token, secret, URL) is named with
    pydantic's message but without its value."""
    from worktray.errors import StartupError
    from worktray.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no .env
    with pytest.raises(StartupError) as refused:
        load_settings(slack_signing_secret=["s3cret-signing"], database_url=5432, worktray_http_threads="many")
    assert refused.value.code == 2
    assert str(refused.value).splitlines() == [
        "DATABASE_URL: Input should be a valid string",
        "SLACK_SIGNING_SECRET: Input should be a valid string",
        "WORKTRAY_HTTP_THREADS: Input should be a valid integer, unable to parse string as an integer (it is 'many')",
    ]
    assert "s3cret" not in str(refused.value) and "5432" not in str(refused.value)


@pytest.mark.parametrize("argv", [("case", "show", "1"), ("db", "upgrade")], ids=" ".join)
def test_a_log_level_logging_does_not_know_is_one_line_naming_it(argv, sqlite_url, tmp_path):
    """LOG_LEVEL is read by logging, not pydantic: `verbose` is one line naming the setting (exit 2),
    not logging's ValueError traceback; a level in lower case is the level."""
    result = run_cli(sqlite_url, *argv, cwd=tmp_path, LOG_LEVEL="verbose")
    assert result.returncode == 2, result.stderr
    assert result.stderr == "worktray: LOG_LEVEL: not a log level; use DEBUG, INFO, WARNING, ERROR or CRITICAL (it is 'verbose')\n"
    assert run_cli(sqlite_url, "db", "upgrade", cwd=tmp_path, LOG_LEVEL="warning").returncode == 0


@pytest.mark.parametrize("argv", [("case", "show", "1"), ("db", "upgrade")], ids=" ".join)
def test_a_dot_env_file_that_is_not_utf8_is_one_line_naming_it(argv, sqlite_url, tmp_path):
    """A .env saved as Windows-1252 (an é on line 2): the file and its line, exit 2, not
    UnicodeDecodeError's traceback, from either reader of the settings."""
    (tmp_path / ".env").write_bytes(b"LOG_LEVEL=WARNING\nWORKTRAY_CONFIG=caf\xe9.yml\n")
    result = run_cli(sqlite_url, *argv, cwd=tmp_path, LC_ALL="C.UTF-8")
    assert result.returncode == 2, result.stderr
    assert result.stderr == "worktray: .env, line 2: not utf-8 text: save the .env file as utf-8\n"


MIGRATING_COMMANDS = [("db", "upgrade"), ("import", str(DEMO_CSV)), ("demo", "reset")]


@pytest.mark.parametrize("argv", MIGRATING_COMMANDS, ids=lambda argv: " ".join(argv[:1]))
def test_the_commands_that_migrate_name_a_database_they_cannot_reach(argv, tmp_path):
    """`db upgrade` (the first command an IT team runs), `import` and `demo reset` on a server that
    is not there, or a SQLite path that cannot be opened: one line saying where, no password, not
    OperationalError's traceback."""
    port = a_closed_port()
    result = run_cli(f"postgresql://worktray:s3cret-pw@127.0.0.1:{port}/councildb", *argv, cwd=tmp_path, config=DEMO_ORG)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (f"worktray: could not connect to the database councildb on 127.0.0.1:{port} (OperationalError): "
                             "check that the server is running and that DATABASE_URL names its host, port and credentials\n")
    result = run_cli(f"sqlite:///{tmp_path / 'no-such-dir' / 'w.db'}", *argv, cwd=tmp_path, config=DEMO_ORG)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (f"worktray: could not open the database file {tmp_path / 'no-such-dir' / 'w.db'} (OperationalError): "
                             "check the path in DATABASE_URL and its permissions\n")
