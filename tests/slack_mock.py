"""A local stand-in for Slack's Web API, good enough for slack_sdk's WebClient.

It listens on 127.0.0.1 on an ephemeral port, accepts ``POST /api/<method>``
(JSON or form bodies, like WebClient sends them), records ``(method, args)``
and answers the way Slack does for the handful of methods worktray calls.
Point a client at it with ``WebClient(base_url=mock.base_url)``.

Slack misbehaving, on request (issue 9): ``rate_limit`` answers HTTP 429 with
Retry-After, ``limit_per_channel`` enforces about one message per second per
channel as Slack does, ``down`` answers HTTP 503, and ``hold`` keeps a method's
calls waiting until an event is set.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER_ID = "U0WORKTRAY"


@dataclass(frozen=True)
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    result: dict[str, Any]


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    edits: int = 0


class SlackApiMock:
    """Records every Web API call; ``fail(method, error)`` makes a method answer ok=false once."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._failures: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-api-mock", daemon=True)
        self.socket_url: str | None = None  # what apps.connections.open hands out (a local WebSocket server)
        self.down = False  # True: every call is answered HTTP 503 (and not recorded)
        self._rate_limited: dict[str, list[float]] = {}  # method -> Retry-After of each 429 still to answer
        self._held: dict[str, threading.Event] = {}
        self._per_channel: tuple[float, Callable[[], float], frozenset[str]] | None = None
        self._last_sent: dict[str, float] = {}  # channel -> when its last message was taken

    @property
    def base_url(self) -> str:
        """What WebClient wants: scheme, host, port and the /api/ prefix, with the trailing slash."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def start(self) -> SlackApiMock:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what tests look at ---------------------------------------------------

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c.args for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        with self._lock:
            return self.calls[mark:]

    def messages(self, channel: str) -> list[Message]:
        """The channel's messages as they look now: posted, then edited in place by chat.update.

        A DM can be asked for by the user ID it was posted to or by its D... channel."""
        shown: dict[str, Message] = {}
        names = {channel, dm_channel_of(channel)}
        with self._lock:
            for call in self.calls:
                if not call.result.get("ok") or not {call.args.get("channel"), call.result.get("channel")} & names:
                    continue
                if call.method == "chat.postMessage":
                    ts = call.result["ts"]
                    shown[ts] = Message(channel, ts, call.args.get("text") or "", call.args.get("blocks") or [])
                elif call.method == "chat.update" and call.args.get("ts") in shown:
                    message = shown[call.args["ts"]]
                    message.text, message.blocks = call.args.get("text") or "", call.args.get("blocks") or []
                    message.edits += 1
        return list(shown.values())

    def fail(self, method: str, error: str) -> None:
        with self._lock:
            self._failures.setdefault(method, []).append(error)

    # -- Slack misbehaving (issue 9) ----------------------------------------------------

    def rate_limit(self, method: str, times: int = 1, retry_after: float = 1) -> None:
        """The next ``times`` calls of ``method`` are answered HTTP 429 with ``Retry-After``."""
        with self._lock:
            self._rate_limited.setdefault(method, []).extend([retry_after] * times)

    def hold(self, method: str, until: threading.Event) -> None:
        """Calls of ``method`` wait (unanswered) until ``until`` is set."""
        self._held[method] = until

    def limit_per_channel(self, seconds: float = 1.0, clock: Callable[[], float] = time.monotonic,
                          methods: tuple[str, ...] = ("chat.postMessage", "chat.update")) -> None:
        """Like Slack: about one message per ``seconds`` per channel; a faster one is
        answered HTTP 429 with the whole seconds left as Retry-After (at least 1).
        ``clock``: where the seconds come from (a test's fake clock)."""
        with self._lock:
            self._per_channel = (seconds, clock, frozenset(methods))

    def taken(self, method: str | None = None) -> list[Call]:
        """The calls answered ok (``method``: of that method only), in the order they were taken."""
        with self._lock:
            return [c for c in self.calls if c.result.get("ok") and (method is None or c.method == method)]

    def respond(self, method: str, args: dict[str, Any], token: str | None) -> tuple[int, dict[str, str], dict[str, Any]]:
        """HTTP status, extra headers and body: ``answer`` unless Slack is down, holding or rate-limiting."""
        held = self._held.get(method)
        if held is not None:
            held.wait(30)
        if self.down:
            return 503, {}, {"ok": False, "error": "service_unavailable"}
        wait = self._must_wait(method, args)
        if wait is not None:
            result = {"ok": False, "error": "ratelimited"}
            with self._lock:
                self.calls.append(Call(method, args, token, result))
            return 429, {"Retry-After": str(wait)}, result
        return 200, {}, self.answer(method, args, token)

    def _must_wait(self, method: str, args: dict[str, Any]) -> int | None:
        with self._lock:
            queued = self._rate_limited.get(method)
            if queued:
                return math.ceil(queued.pop(0))
            if self._per_channel is None or method not in self._per_channel[2]:
                return None
            seconds, clock, _ = self._per_channel
            channel, now = str(args.get("channel")), clock()
            last = self._last_sent.get(channel)
            if last is not None and now - last < seconds:
                return max(1, math.ceil(seconds - (now - last)))
            self._last_sent[channel] = now
            return None

    # -- answering ------------------------------------------------------------------

    def answer(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        with self._lock:
            failures = self._failures.get(method)
            if failures:
                result = {"ok": False, "error": failures.pop(0)}
            elif token is None:
                result = {"ok": False, "error": "not_authed"}
            elif method == "apps.connections.open":
                result = {"ok": True, "url": self.socket_url} if self.socket_url else {"ok": False, "error": "socket_mode_not_enabled"}
            else:
                result = self._success(method, args, f"1764151200.{next(self._ts):06d}")
            self.calls.append(Call(method, args, token, result))
            return result

    @staticmethod
    def _success(method: str, args: dict[str, Any], ts: str) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://fenshire.example.slack.com/", "team": "Fenshire", "user": "worktray",
                    "team_id": "T0FEN", "user_id": BOT_USER_ID, "bot_id": "B0WORKTRAY", "is_enterprise_install": False}
        if method == "chat.postMessage":
            # Like Slack: a post to a user ID lands in the app's DM with them, and the
            # answer names that DM channel (D...), which chat.update needs afterwards.
            return {"ok": True, "channel": dm_channel_of(args.get("channel")), "ts": ts,
                    "message": {"type": "message", "text": args.get("text"), "ts": ts, "bot_id": "B0WORKTRAY"}}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            return {"ok": True, "view": {"id": f"V{ts.replace('.', '')}", **(args.get("view") or {})}}
        return {"ok": False, "error": "unknown_method"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                path = self.path.partition("?")[0]
                method = path.removeprefix("/api/").lstrip("/")
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                args = _parse(raw, self.headers.get("Content-Type", ""))
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.pop("token", None)
                status, headers, answer = mock.respond(method, args, token)
                body = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def dm_channel_of(channel: Any) -> Any:
    """The app's DM channel with a user (U.../W...) as Slack would name it; other channels as given."""
    if isinstance(channel, str) and channel[:1] in ("U", "W"):
        return "D" + channel[1:]
    return channel


def _parse(raw: str, content_type: str) -> dict[str, Any]:
    """JSON bodies as they are; form bodies as a flat dict, JSON-looking values decoded."""
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        return dict(json.loads(raw))
    args: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if value[:1] in ("[", "{"):
            try:
                args[key] = json.loads(value)
                continue
            except ValueError:
                pass
        args[key] = value
    return args
