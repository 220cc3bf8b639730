"""`worktray run --http` as a real process: it starts, answers /healthz and a signed
/case command, delivers through the Web API given by SLACK_API_BASE_URL, and stops
cleanly on SIGTERM. (Socket Mode is driven over a real WebSocket in test_socket_mode.py;
start-up failures are in test_startup.py.)"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_mock import SlackApiMock

from worktray.demo import DEMO_ORG

SECRET = "serve-test-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, str] | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    except OSError:
        return None


def _signed_command(port: int, user: str, text: str) -> tuple[int, str]:
    body = urlencode({"command": "/case", "text": text, "user_id": user, "channel_id": "C0GENERAL",
                      "team_id": "T0FEN", "trigger_id": "1.2.3", "response_url": "https://hooks.slack.com/x"})
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/slack/events", body=body.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature})
    answer = conn.getresponse()
    return answer.status, answer.read().decode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, SlackApiMock]]:
    api = SlackApiMock().start()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}", WORKTRAY_CONFIG=str(DEMO_ORG),
               SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET, SLACK_API_BASE_URL=api.base_url)
    upgraded = subprocess.run([sys.executable, "-m", "worktray.cli", "db", "upgrade"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr  # Slack mode needs the schema: it never creates it
    proc = subprocess.Popen([sys.executable, "-m", "worktray.cli", "run", "--http", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(300):  # wait until it listens (bounded; not a speed check)
            if _get(port, "/healthz") is not None or proc.poll() is not None:
                break
            time.sleep(0.1)
        yield proc, port, api
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        api.stop()


def test_http_server_process_serves_and_stops(server):
    proc, port, _api = server
    assert proc.poll() is None, "the server exited at start"
    assert _get(port, "/healthz") == (200, "ok")
    status, body = _signed_command(port, "U0AMY", "nonsense")
    assert status == 200 and "Usage" in body
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Traceback" not in out


def test_http_mode_without_a_signing_secret_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", WORKTRAY_CONFIG=str(DEMO_ORG), SLACK_BOT_TOKEN="xoxb-test")
    result = subprocess.run([sys.executable, "-m", "worktray.cli", "run", "--http", "--port", str(_free_port())],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr + result.stdout


def test_the_database_pool_matches_the_http_threads(db_url, monkeypatch):
    """PostgreSQL: one pooled connection per HTTP thread plus the deliverer's and the scheduler's."""
    from store.db import make_engine
    from worktray.serve import BACKGROUND_CONNECTIONS
    from worktray.settings import Settings

    monkeypatch.setenv("WORKTRAY_HTTP_THREADS", "5")
    threads = Settings(_env_file=None).worktray_http_threads
    engine = make_engine(db_url, pool_size=threads + BACKGROUND_CONNECTIONS)
    try:
        if engine.dialect.name == "postgresql":
            assert (engine.pool.size(), engine.pool._max_overflow) == (7, 7)  # type: ignore[attr-defined]
        assert engine.hide_parameters
    finally:
        engine.dispose()
