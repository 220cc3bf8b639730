"""Socket Mode (the manifest's default) over a real WebSocket.

A local WebSocket server (the ``websockets`` package) poses as Slack's Socket
Mode endpoint: the Web API mock answers ``apps.connections.open`` with its
``ws://127.0.0.1:PORT`` address, Bolt's builtin Socket Mode handler connects
there, the server says ``hello`` and sends envelopes shaped like Slack's
(a slash command, a button click, ``app_home_opened`` as a first delivery with
``retry_attempt: 0`` and as a retry with ``retry_attempt: 1``) and reads the
acknowledgements. What the bot did is read from the Web API mock.

The regression this guards: Bolt turns ``retry_attempt: 0`` into
``X-Slack-Retry-Num: 0``, and a guard that took any such header for a retry
dropped every Socket Mode event (the Home tab never rendered).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_mock import SlackApiMock
from websockets.sync.server import Server, ServerConnection, serve

from bot.slack_app import SlackSender, create_bolt_app, make_client, settle_replies, socket_mode_handler
from workflows.clock import FixedClock
from workflows.org import Organisation
from worktray.bootstrap import build

WAIT = 60  # seconds: a bound on waiting for the bot, not a speed check


class FakeSocketModeEndpoint:
    """Slack's side of one Socket Mode connection: hello, then envelopes one at a time, each awaiting its ack."""

    def __init__(self) -> None:
        self.envelopes: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.server: Server = serve(self._handle, "127.0.0.1", 0, compression=None)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link/?ticket=test"

    def _handle(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0WORKTRAY"},
                            "debug_info": {"host": "test", "approximate_connection_time": 3600}}))
        while (envelope := self.envelopes.get(timeout=WAIT)) is not None:
            ws.send(json.dumps(envelope))
            while True:  # the client's answer for this envelope (it sends nothing else unasked)
                message = json.loads(ws.recv(timeout=WAIT))
                if message.get("envelope_id") == envelope["envelope_id"]:
                    self.acks.put(message)
                    break

    def exchange(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Send one envelope and return the client's acknowledgement."""
        self.envelopes.put(envelope)
        ack = self.acks.get(timeout=WAIT)
        settle_replies()  # replies to Slack are made after the ack (issue 9)
        return ack


@pytest.fixture
def socket_mode(seeded: Any, db_url: str, org: Organisation, clock: FixedClock) -> Iterator[tuple[FakeSocketModeEndpoint, SlackApiMock]]:
    api = SlackApiMock().start()
    endpoint = FakeSocketModeEndpoint()
    endpoint.thread.start()
    api.socket_url = endpoint.url
    client = make_client("xoxb-test-token", api.base_url)
    app = build(db_url, org, SlackSender(client), clock=clock, migrate=False)
    bolt = create_bolt_app(app.interactions, app.uow, org, client, "")
    handler = socket_mode_handler(bolt, "xapp-test-token")
    handler.connect()
    try:
        yield endpoint, api
    finally:
        endpoint.envelopes.put(None)
        handler.close()
        endpoint.server.shutdown()
        api.stop()
        app.uow.args[0].kw["bind"].dispose()


def envelope(kind: str, n: int, payload: dict[str, Any], retry_attempt: int = 0) -> dict[str, Any]:
    return {"envelope_id": f"env-{n}", "type": kind, "payload": payload, "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt else ""}


def home_opened(event_id: str) -> dict[str, Any]:
    return {"token": "x", "team_id": "T0FEN", "api_app_id": "A0WORKTRAY", "type": "event_callback", "event_id": event_id,
            "event_time": 1764151200, "event": {"type": "app_home_opened", "user": "U0AMY", "channel": "D0HOME", "tab": "home",
                                                "event_ts": "1764151200.000001"}}


def test_commands_clicks_and_events_work_over_socket_mode(socket_mode) -> None:
    endpoint, api = socket_mode
    assert api.calls_to("apps.connections.open") == [{}]

    # A slash command: its answer comes back in the ack's payload, seen by the invoker only.
    command = {"command": "/case", "text": "status 3549723", "user_id": "U0AMY", "channel_id": "C0GENERAL", "team_id": "T0FEN",
               "trigger_id": "1.2.3", "response_url": "https://hooks.slack.com/commands/x", "api_app_id": "A0WORKTRAY"}
    ack = endpoint.exchange(envelope("slash_commands", 1, command))
    status = ack["payload"]
    assert status["response_type"] == "ephemeral" and status["text"].startswith("Case 3549723 (LM)")
    button = next(e for b in status["blocks"] if b["type"] == "actions" for e in b["elements"] if e["text"]["text"] == "Request closure")

    # A click on that card's button opens the closure form (views.open at the Web API).
    click = {"type": "block_actions", "user": {"id": "U0AMY", "team_id": "T0FEN"}, "api_app_id": "A0WORKTRAY", "trigger_id": "4.5.6",
             "team": {"id": "T0FEN"}, "channel": {"id": "C0GENERAL"}, "container": {"type": "message", "channel_id": "C0GENERAL"},
             "actions": [{"action_id": button["action_id"], "value": button["value"], "type": "button", "block_id": "b1",
                          "action_ts": "1764151200.000002"}]}
    assert endpoint.exchange(envelope("interactive", 2, click))["envelope_id"] == "env-2"
    opened = api.calls_to("views.open")
    assert [v["view"]["callback_id"] for v in opened] == ["request_closure"]

    # app_home_opened, first delivery (retry_attempt 0): the Home tab is published.
    assert endpoint.exchange(envelope("events_api", 3, home_opened("Ev1")))["envelope_id"] == "env-3"
    published = api.calls_to("views.publish")
    assert len(published) == 1 and published[0]["user_id"] == "U0AMY" and published[0]["view"]["type"] == "home"

    # The same event retried (retry_attempt 1): acknowledged, not processed again.
    assert endpoint.exchange(envelope("events_api", 4, home_opened("Ev1"), retry_attempt=1))["envelope_id"] == "env-4"
    assert len(api.calls_to("views.publish")) == 1


def test_socket_mode_payloads_stay_out_of_the_log(socket_mode, caplog) -> None:
    """slack_sdk logs every WebSocket message at DEBUG; what a person typed must not reach the log."""
    endpoint, _api = socket_mode
    caplog.set_level(logging.DEBUG)
    command = {"command": "/case", "text": "status Lily Marsh 2015-06-14", "user_id": "U0AMY", "channel_id": "C0GENERAL",
               "team_id": "T0FEN", "trigger_id": "1.2.3", "response_url": "https://hooks.slack.com/commands/x"}
    ack = endpoint.exchange(envelope("slash_commands", 1, command))
    assert ack["envelope_id"] == "env-1"
    assert caplog.records  # the exchange was logged (slack_sdk, Bolt), only not its contents
    for word in ("Lily", "Marsh", "2015-06-14"):
        assert word not in caplog.text
