"""Start-up failures are one clear line on stderr and a non-zero exit, never a traceback (issue 5).

``worktray run`` as a separate process for each way it can fail to start: no
database, a database without worktray's schema, Slack unreachable, a token
Slack rejects, a config path that does not exist, and the console on a
database with records that are not the demo's but no config (no silent
fall-back to the demo organisation there).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_mock import SlackApiMock

import worktray

REPO = Path(worktray.__file__).resolve().parent.parent
DEMO_ORG = REPO / "worktray" / "demo" / "org.yml"
DEMO_CSV = REPO / "worktray" / "demo" / "csv"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worktray_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m worktray.cli`` with only the given settings (no SLACK_* or WORKTRAY_* inherited)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WORKTRAY_CONFIG", "DATABASE_URL", "LOG_LEVEL"))}
    return subprocess.run([sys.executable, "-m", "worktray.cli", *args], cwd=cwd, env={**base, "PYTHONPATH": str(REPO), **env},
                          capture_output=True, text=True, timeout=120, check=False)


def the_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one line on stderr, ``worktray: …``; there is no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("worktray: "), result.stderr  # nothing else, at the default LOG_LEVEL
    return lines[0]


@pytest.fixture
def api() -> Iterator[SlackApiMock]:
    mock = SlackApiMock().start()
    yield mock
    mock.stop()


@pytest.fixture
def upgraded(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'wt.db'}"
    assert worktray_cli("db", "upgrade", cwd=tmp_path, DATABASE_URL=url).returncode == 0
    return url


def slack_env(api: SlackApiMock, database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "WORKTRAY_CONFIG": str(DEMO_ORG), "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "s", "SLACK_API_BASE_URL": api.base_url}


def test_no_database(tmp_path, api):
    env = slack_env(api, f"postgresql://worktray:secret-pw@127.0.0.1:{closed_port()}/worktray")
    result = worktray_cli("run", "--http", cwd=tmp_path, **env)
    line = the_error(result)
    assert line.startswith("worktray: cannot reach the database at postgresql://worktray:***@127.0.0.1:")
    assert "Connection refused" in line
    assert "secret-pw" not in result.stderr
    assert api.calls == []  # it stopped before talking to Slack


def test_database_without_the_schema(tmp_path, api):
    result = worktray_cli("run", "--http", cwd=tmp_path, **slack_env(api, f"sqlite:///{tmp_path / 'empty.db'}"))
    assert the_error(result).endswith("has no worktray schema: run `worktray db upgrade` first")
    assert result.returncode == 1


def test_slack_unreachable(tmp_path, upgraded, api):
    env = {**slack_env(api, upgraded), "SLACK_API_BASE_URL": f"http://127.0.0.1:{closed_port()}/api/"}
    assert the_error(worktray_cli("run", "--http", cwd=tmp_path, **env)).startswith("worktray: cannot reach Slack's Web API at http://127.0.0.1:")


def test_slack_rejects_the_token(tmp_path, upgraded, api):
    api.fail("auth.test", "invalid_auth")
    line = the_error(worktray_cli("run", "--http", cwd=tmp_path, **slack_env(api, upgraded)))
    assert line == "worktray: Slack rejected SLACK_BOT_TOKEN (invalid_auth): check the bot token"
    assert api.methods() == ["auth.test"]


def test_slack_rejects_the_app_token_in_socket_mode(tmp_path, upgraded, api):
    api.fail("apps.connections.open", "invalid_auth")
    env = {**slack_env(api, upgraded), "SLACK_APP_TOKEN": "xapp-test"}
    line = the_error(worktray_cli("run", cwd=tmp_path, **env))
    assert line == "worktray: Slack rejected SLACK_APP_TOKEN (invalid_auth): check the app-level token"


@pytest.mark.parametrize("mode", [["--http"], ["--console", "--script", "none.txt"]], ids=["slack", "console"])
def test_a_config_path_that_does_not_exist(tmp_path, upgraded, api, mode):
    env = {**slack_env(api, upgraded), "WORKTRAY_CONFIG": str(tmp_path / "council.yml")}
    result = worktray_cli("run", *mode, cwd=tmp_path, **env)
    assert the_error(result) == f"worktray: WORKTRAY_CONFIG is {tmp_path / 'council.yml'}, which does not exist"
    assert result.returncode == 2


def test_slack_without_any_config(tmp_path, upgraded, api):
    env = slack_env(api, upgraded)
    del env["WORKTRAY_CONFIG"]
    line = the_error(worktray_cli("run", "--http", cwd=tmp_path, **env))
    assert line.startswith("worktray: no organisation config at worktray.yml")


def test_the_console_never_falls_back_to_the_demo_on_real_records(tmp_path, upgraded):
    export = tmp_path / "export"  # one (fictitious) person who is in neither the demo seed nor the demo export
    export.mkdir()
    (export / "persons.csv").write_text("id,first_name,last_name\n9900001,Zed,Quarry\n", encoding="utf-8")
    assert worktray_cli("import", str(export), cwd=tmp_path, DATABASE_URL=upgraded).returncode == 0
    script = tmp_path / "script.txt"
    script.write_text("help\n", encoding="utf-8")
    result = worktray_cli("run", "--console", "--script", str(script), cwd=tmp_path, DATABASE_URL=upgraded)
    line = the_error(result)
    assert "the database holds records that are not the demo's" in line and "WORKTRAY_CONFIG" in line
    assert result.stdout == ""


def test_the_console_demo_still_starts_on_an_empty_database(tmp_path):
    script = tmp_path / "script.txt"
    script.write_text("help\n", encoding="utf-8")
    result = worktray_cli("run", "--console", "--script", str(script), cwd=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}")
    assert result.returncode == 0, result.stderr
    assert "worktray console" in result.stdout
