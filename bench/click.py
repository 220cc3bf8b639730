"""What a person waits for: a signed Claim click until Slack's Web API receives the card's
chat.update, for worktray and for a bare Bolt app (ack + chat.update) in the same run.

Both apps run behind the same HTTP server (``worktray.serve.HttpServer``, waitress, as
``worktray run --http``) against one local Slack Web API (``RecordingSlack``) that notes
when each chat.update arrives. worktray runs as it does in production: its deliverer
thread sends the outbox, so the time includes the click's transaction, the ack and the
delivery of the redrawn card. Absolute times drift on this machine; the ratio to bare
Bolt measured in the same run is the figure to watch (issue 9).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import json
import logging
import math
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_bolt import App as BoltApp
from slack_sdk import WebClient
from sqlalchemy import Column, MetaData, String, Table, select

from bench import Goal, add_people
from bot.slack_app import SlackSender, create_bolt_app, make_client, make_wsgi_app, settle_replies
from store.db import make_engine
from store.models import ChatMessage
from workflows import closure
from workflows.clock import local_today
from workflows.reminders import VIEW as REMINDERS_VIEW
from workflows.requests import approve, queue_card_key
from worktray.bootstrap import App, build
from worktray.serve import HttpServer

GOAL_ONE_CLIENT = 2.0  # 1 client p50: at most this many times bare Bolt's
GOAL_P99_MS, GOAL_P99_RATIO = 100.0, 1.5  # 20 concurrent p99: at most this, and this many times bare Bolt's
GOAL_ACK_MS = 1000.0  # the ack while Slack answers 429 (Slack gives up after 3 s)
DRAIN_SLACK = 1.5  # "drains at the limit": within this many times the limit's floor
SECRET = "bench-signing-secret"
BS_USER = "U0TESS"  # tess: business support of the demo's Under 12s
THREADS = 8  # worktray's default WORKTRAY_HTTP_THREADS


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the standard library's 5 would turn concurrent clients away (a 1 s retry)


class RecordingSlack:
    """Slack's Web API, locally: answers like Slack and notes when each chat.update arrives.

    Slack pushing back, on request: ``throttled`` methods are always answered HTTP 429
    with Retry-After 1; ``per_channel_seconds`` enforces one message per that many
    seconds per channel (429 with the whole seconds left, as Slack does).
    """

    def __init__(self, per_channel_seconds: float | None = None) -> None:
        self.posted: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (channel, ts) -> blocks
        self.updated: dict[tuple[str, str], float] = {}  # (channel, ts) -> perf_counter at arrival
        self.texts: dict[str, list[str]] = {}  # channel -> the text of each post taken, in order
        self.throttled: set[str] = set()
        self.rejected = 0  # answers 429
        self.per_channel_seconds = per_channel_seconds
        self._last_taken: dict[str, float] = {}
        self._ts = itertools.count(1)
        self._changed = threading.Condition()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for_update(self, key: tuple[str, str], timeout: float = 30.0) -> float:
        """When the update of message ``key`` arrived (waits for it)."""
        with self._changed:
            if not self._changed.wait_for(lambda: key in self.updated, timeout):
                raise TimeoutError(f"no chat.update of {key} within {timeout} s")
            return self.updated[key]

    def respond(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        """HTTP status, extra headers and body."""
        wait = self._must_wait(method, args)
        if wait is not None:
            with self._changed:
                self.rejected += 1
            return 429, {"Retry-After": str(wait)}, {"ok": False, "error": "ratelimited"}
        return 200, {}, self.answer(method, args)

    def _must_wait(self, method: str, args: dict[str, Any]) -> int | None:
        if method in self.throttled:
            return 1
        if self.per_channel_seconds is None or method not in ("chat.postMessage", "chat.update"):
            return None
        with self._changed:
            channel, now = str(args.get("channel")), time.monotonic()
            last = self._last_taken.get(channel)
            if last is not None and now - last < self.per_channel_seconds:
                return max(1, math.ceil(self.per_channel_seconds - (now - last)))
            self._last_taken[channel] = now
            return None

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        ts = f"1764151200.{next(self._ts):06d}"
        with self._changed:
            if method == "chat.update":
                self.updated.setdefault((args["channel"], args["ts"]), time.perf_counter())
                self._changed.notify_all()
                return {"ok": True, "channel": args["channel"], "ts": args["ts"]}
            if method == "chat.postMessage":
                channel = args["channel"]
                blocks = args.get("blocks") or []
                self.posted[(channel, ts)] = json.loads(blocks) if isinstance(blocks, str) else blocks
                self.texts.setdefault(channel, []).append(f"{args.get('text') or ''} {json.dumps(self.posted[(channel, ts)])}")
                return {"ok": True, "channel": channel, "ts": ts}
        if method == "auth.test":
            return {"ok": True, "user_id": "U0WORKTRAY", "bot_id": "B0WORKTRAY", "team_id": "T0FEN"}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        return {"ok": True}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        slack = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    args = json.loads(raw or "{}")
                else:
                    args = dict(parse_qsl(raw))
                status, headers, answer = slack.respond(self.path.rpartition("/")[2], args)
                body = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@dataclass
class Target:
    """A card on which one Claim click is timed."""

    channel: str
    ts: str
    action_id: str
    value: str


def claim_button(blocks: list[dict[str, Any]]) -> tuple[str, str]:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button" and element["text"]["text"] == "Claim":
                return element["action_id"], element["value"]
    raise LookupError("no Claim button on the card")


def click_body(target: Target, n: int) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": BS_USER, "username": "tess", "name": "tess", "team_id": "T0FEN"},
        "api_app_id": "A0WORKTRAY",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": target.ts, "channel_id": target.channel, "is_ephemeral": False},
        "trigger_id": f"{n}.1764151200.trigger",
        "team": {"id": "T0FEN", "domain": "fenshire"},
        "channel": {"id": target.channel, "name": "team-channel"},
        "message": {"type": "message", "ts": target.ts, "text": "card", "bot_id": "B0WORKTRAY", "blocks": []},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0FEN/1/x",
        "actions": [{"action_id": target.action_id, "block_id": "b1", "value": target.value, "type": "button",
                     "text": {"type": "plain_text", "text": "Claim"}, "action_ts": f"{int(time.time())}.{n:06d}"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def signed_post(port: int, body: str) -> int:
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/slack/events", body=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
        })
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def time_ack(port: int, target: Target, n: int) -> float:
    """Milliseconds from sending the click until its HTTP answer (the ack) is back."""
    started = time.perf_counter()
    status = signed_post(port, click_body(target, n))
    if status != 200:
        raise RuntimeError(f"the click was answered {status}")
    return (time.perf_counter() - started) * 1000


def time_click(port: int, slack: RecordingSlack, target: Target, n: int) -> float:
    """Milliseconds from sending the click until Slack's API has the card's update."""
    started = time.perf_counter()
    status = signed_post(port, click_body(target, n))
    if status != 200:
        raise RuntimeError(f"the click was answered {status}")
    return (slack.wait_for_update((target.channel, target.ts)) - started) * 1000


@dataclass
class Latencies:
    one_client: list[float] = field(default_factory=list)
    concurrent: list[float] = field(default_factory=list)

    @staticmethod
    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure(port: int, slack: RecordingSlack, targets: Iterator[Target], sequential: int, clients: int, rounds: int) -> Latencies:
    n = itertools.count(1)
    out = Latencies()
    for _ in range(3):  # warm up: connections, caches, the first import of lazy modules
        time_click(port, slack, next(targets), next(n))
    for _ in range(sequential):
        out.one_client.append(time_click(port, slack, next(targets), next(n)))
    for _ in range(rounds):
        batch = [next(targets) for _ in range(clients)]
        barrier = threading.Barrier(clients)
        results: list[float] = []
        lock = threading.Lock()

        def click(target: Target, number: int, barrier: threading.Barrier = barrier,
                  results: list[float] = results, lock: threading.Lock = lock) -> None:
            barrier.wait()
            took = time_click(port, slack, target, number)
            with lock:
                results.append(took)

        threads = [threading.Thread(target=click, args=(t, next(n))) for t in batch]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out.concurrent.extend(results)
    return out


# -- the two apps ------------------------------------------------------------------------------


@contextmanager
def serving(wsgi_app: Callable[..., Any]) -> Iterator[int]:
    server = HttpServer(wsgi_app, "127.0.0.1", 0, THREADS)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        requests_done(server)
        server.stop()


def requests_done(server: HttpServer, timeout: float = 10.0) -> None:
    """Wait until waitress's worker threads are idle. A worker ends each request by waking the
    server's loop through its trigger, which ``HttpServer.stop`` closes: stopping while one is
    still finishing printed an ``OSError: [Errno 9] Bad file descriptor`` traceback."""
    tasks = server.server.task_dispatcher
    deadline = time.monotonic() + timeout
    while (tasks.active_count or tasks.queue) and time.monotonic() < deadline:
        time.sleep(0.01)


def bare_bolt(slack: RecordingSlack) -> BoltApp:
    """The floor: Bolt verifying the signature, acking, and one chat.update."""
    client = WebClient(token="xoxb-bench", base_url=slack.base_url)
    bolt = BoltApp(client=client, signing_secret=SECRET, process_before_response=True, token_verification_enabled=False)

    @bolt.action(re.compile(".*"))
    def claim(ack: Callable[[], None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_update(channel=body["channel"]["id"], ts=body["container"]["message_ts"], text="Claimed", blocks=[])

    return bolt


def durable_bolt(slack: RecordingSlack, url: str) -> BoltApp:
    """The floor for any app that records a click before showing it: bare Bolt that also
    commits one row per click, in the run's database through worktray's own engine settings
    (SQLite: WAL, BEGIN IMMEDIATE, the writer turns; PostgreSQL: the pool's pre-ping). The
    distance from bare Bolt to this is the price of durability alone, not of worktray."""
    engine = make_engine(url)
    clicks = Table("bench_durable_clicks", MetaData(), Column("message_ts", String(40)))
    clicks.create(engine, checkfirst=True)
    client = WebClient(token="xoxb-bench", base_url=slack.base_url)
    bolt = BoltApp(client=client, signing_secret=SECRET, process_before_response=True, token_verification_enabled=False)

    @bolt.action(re.compile(".*"))
    def claim(ack: Callable[[], None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        with engine.begin() as conn:
            conn.execute(clicks.insert().values(message_ts=body["container"]["message_ts"]))
        client.chat_update(channel=body["channel"]["id"], ts=body["container"]["message_ts"], text="Claimed", blocks=[])

    return bolt


def bare_targets(slack: RecordingSlack, count: int) -> Iterator[Target]:
    client = WebClient(token="xoxb-bench", base_url=slack.base_url)
    for _ in range(count):
        ts = client.chat_postMessage(channel="C0BARE", text="card")["ts"]
        yield Target("C0BARE", str(ts), "claim", "1")


@contextmanager
def delivering(app: App) -> Iterator[None]:
    """The deliverer's threads running, as in production. On the way out nothing is left
    sending when the local Slack stops or the bench database is dropped (else their failures
    would print after the figures): the replies made after acks settle, the rows due now are
    delivered, then the threads are stopped and joined (``Deliverer.stop`` does not join them)."""
    threads = [app.deliverer.start(), *(t for t in threading.enumerate() if t.name == "outbox-homes")]
    try:
        yield
    finally:
        settle_replies(60)
        app.deliverer.drain()
        app.deliverer.stop()
        for thread in threads:
            thread.join(30)
        quiet_stragglers([t for t in threads if t.is_alive()])


def quiet_stragglers(threads: list[threading.Thread]) -> None:
    """A deliverer thread that would not end in time (a send hanging): what it and its
    senders log once Slack's mock or the database is gone is noise, not a figure. Only
    their records are dropped, and only in the bench's own process."""
    if not threads:
        return
    senders = [t for t in threading.enumerate() if t.name.startswith("outbox-send")]
    idents = {t.ident for t in [*threads, *senders]}

    def not_theirs(record: logging.LogRecord) -> bool:
        return record.thread not in idents

    for name in ("bot.deliver", "worktray.slack.web"):
        logging.getLogger(name).addFilter(not_theirs)


@contextmanager
def expected_429s() -> Iterator[None]:
    """While Slack pushing back is the scenario, the deliverer's warning for each 429 (one
    per row, as an operator should see it) would bury the figure that counts them: dropped
    here, in the bench, for the scenario's length. Any other failure is still printed."""

    def not_a_429(record: logging.LogRecord) -> bool:
        return "RateLimited:" not in record.getMessage()

    deliver_log = logging.getLogger("bot.deliver")
    deliver_log.addFilter(not_a_429)
    try:
        yield
    finally:
        deliver_log.removeFilter(not_a_429)


def worktray_targets(url: str, slack: RecordingSlack, count: int) -> tuple[App, list[Target]]:
    """The demo organisation with ``count`` closures approved and waiting in the virtual worker."""
    client = make_client("xoxb-bench", slack.base_url)
    app = build(url, _org(), SlackSender(client))
    ids = add_people(app.uow, 9_100_000, count)
    ctx = app.ctx
    keys = []
    for person in ids:
        with app.uow() as uow:
            form = closure.ClosureForm(reason="RC7", closure_date=local_today(ctx.clock), summary="Objectives met.")
            request = closure.request_closure(uow, ctx, "amy", person, form)
            request_id, key = request.id, queue_card_key(request)
        with app.uow() as uow:
            approve(uow, ctx, request_id, "maria")
        keys.append(key)
    app.deliverer.drain()
    targets = []
    with app.uow() as uow:
        for key in keys:
            where = uow.session.scalars(select(ChatMessage).where(ChatMessage.card_key == key)).one()
            action_id, value = claim_button(slack.posted[(where.channel, where.ts)])
            targets.append(Target(where.channel, where.ts, action_id, value))
    return app, targets


def _org() -> Any:
    from bench import make_context

    return make_context().org


def run(url: str, *, sequential: int = 40, clients: int = 20, rounds: int = 5) -> dict[str, Latencies]:
    """The three apps (bare Bolt, bare Bolt with one durable write, worktray), one after the
    other, in this process; returns their latencies (ms)."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" at every burst
    slack = RecordingSlack()
    needed = 3 + sequential + clients * rounds
    try:
        bolt = bare_bolt(slack)
        with serving(make_wsgi_app(bolt, lambda: True)) as port:
            bare = measure(port, slack, bare_targets(slack, needed), sequential, clients, rounds)
        with serving(make_wsgi_app(durable_bolt(slack, url), lambda: True)) as port:
            durable = measure(port, slack, bare_targets(slack, needed), sequential, clients, rounds)
        app, targets = worktray_targets(url, slack, needed)
        with delivering(app):
            ours = create_bolt_app(app.interactions, app.uow, app.ctx.org, make_client("xoxb-bench", slack.base_url), SECRET)
            with serving(make_wsgi_app(ours, lambda: True)) as port:
                worktray = measure(port, slack, iter(targets), sequential, clients, rounds)
        return {"bare Bolt": bare, "durable Bolt": durable, "worktray": worktray}
    finally:
        slack.stop()


def ack_under_429(url: str, *, sequential: int = 10, clients: int = 20) -> list[float]:
    """Ack times (ms) of Claim clicks while Slack answers every chat.postEphemeral,
    chat.update and chat.postMessage with 429 + Retry-After: ``sequential`` one after
    another, then ``clients`` at once. Slack gives up on an ack after 3 s."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    slack = RecordingSlack()
    try:
        app, targets = worktray_targets(url, slack, sequential + clients)
        slack.throttled = {"chat.postEphemeral", "chat.update", "chat.postMessage"}
        numbers = itertools.count(1)
        acks: list[float] = []
        with expected_429s(), delivering(app):
            try:
                ours = create_bolt_app(app.interactions, app.uow, app.ctx.org, make_client("xoxb-bench", slack.base_url), SECRET)
                with serving(make_wsgi_app(ours, lambda: True)) as port:
                    acks += [time_ack(port, targets[i], next(numbers)) for i in range(sequential)]
                    acks += _at_once(lambda t: time_ack(port, t, next(numbers)), targets[sequential:])
            finally:
                slack.throttled = set()  # let the replies still waiting out the 429s finish
        return acks
    finally:
        slack.stop()


def _at_once(work: Callable[[Target], float], targets: list[Target]) -> list[float]:
    barrier = threading.Barrier(len(targets))
    results: list[float] = []
    lock = threading.Lock()

    def one(target: Target) -> None:
        barrier.wait()
        took = work(target)
        with lock:
            results.append(took)

    threads = [threading.Thread(target=one, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@dataclass
class Drain:
    messages: int
    channels: int
    seconds: float
    lost: int
    doubled: int
    out_of_order: int
    rejected: int


def drain_at_limit(url: str, *, messages: int = 60, channels: int = 6, per_channel_seconds: float = 1.0) -> Drain:
    """A backlog of ``messages`` reminder cards over ``channels`` channels, sent by the
    deliverer's own thread (as in production) to a Slack that takes about one message per
    ``per_channel_seconds`` per channel and answers 429 + Retry-After to the rest.
    Counts what arrived: lost, doubled, out of order per channel."""
    slack = RecordingSlack(per_channel_seconds=per_channel_seconds)
    try:
        app = build(url, _org(), SlackSender(make_client("xoxb-bench", slack.base_url)))
        names = [f"C0DRAIN{c:02d}" for c in range(channels)]
        with app.uow() as uow:
            for n in range(messages):
                channel = names[n % channels]
                body = {"view": REMINDERS_VIEW, "channel": channel, "lines": [f"bench message {n:05d}"]}
                uow.send(at=app.ctx.clock.now(), kind="card", channel=channel, body=body)
            uow.commit()
        started = time.perf_counter()
        with expected_429s(), delivering(app):
            app.deliverer.kick()
            deadline = started + 10 * messages * per_channel_seconds / channels + 30
            while sum(len(v) for v in slack.texts.values()) < messages and time.perf_counter() < deadline:
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        return _count_arrivals(slack, names, messages, seconds, channels)
    finally:
        slack.stop()


def _count_arrivals(slack: RecordingSlack, names: list[str], messages: int, seconds: float, channels: int) -> Drain:
    numbers = {ch: [int(m) for t in slack.texts.get(ch, []) for m in re.findall(r"bench message (\d+)", t)] for ch in names}
    seen = [n for ns in numbers.values() for n in ns]
    out_of_order = sum(1 for ns in numbers.values() for a, b in itertools.pairwise(ns) if b < a)
    return Drain(messages, channels, seconds, lost=len(set(range(messages)) - set(seen)),
                 doubled=len(seen) - len(set(seen)), out_of_order=out_of_order, rejected=slack.rejected)


def report_slack_pushing_back(backend: str, acks: list[float], drain: Drain, goals: list[Goal] | None = None) -> list[str]:
    """The lines of the two figures; their goals added to ``goals``."""
    floor = drain.messages / drain.channels - 1  # the first message of each channel goes at once
    in_order = drain.out_of_order == 0
    if goals is not None:
        goals += [
            Goal(f"ack under a 429-answering Slack, max of {len(acks)}", backend, f"{max(acks):.0f} ms",
                 f"< {GOAL_ACK_MS:.0f} ms always", max(acks) < GOAL_ACK_MS),
            Goal(f"outbox drain at ~1/s per channel, {drain.messages} messages", backend,
                 f"lost {drain.lost}, doubled {drain.doubled}, {'in order' if in_order else 'out of order'}, {drain.seconds:.1f} s",
                 f"none lost or doubled, at the limit (<= {DRAIN_SLACK}x its floor, {floor:.0f} s)",
                 drain.lost == 0 and drain.doubled == 0 and in_order and drain.seconds <= DRAIN_SLACK * floor),
        ]
    return [
        f"  {backend:<10} ack under a 429-answering Slack: max {max(acks):.1f} ms, p50 {Latencies.pct(acks, 0.5):.1f} ms "
        f"over {len(acks)} clicks (goal: always < {GOAL_ACK_MS:.0f} ms; Slack's limit 3000)",
        f"  {backend:<10} outbox drain at ~1/s per channel: {drain.messages} messages over {drain.channels} channels, "
        f"{drain.seconds:.1f} s (floor ~{floor:.0f} s), lost {drain.lost}, doubled {drain.doubled}, "
        f"{'in order' if in_order else f'{drain.out_of_order} out of order'} (429s answered: {drain.rejected})",
    ]


def report(backend: str, results: dict[str, Latencies], clients: int, goals: list[Goal] | None = None) -> list[str]:
    """The lines of the click figures; their goals added to ``goals``."""
    bare, durable, ours = results["bare Bolt"], results["durable Bolt"], results["worktray"]
    p = Latencies.pct
    one = (p(ours.one_client, 0.5), p(bare.one_client, 0.5))
    many = (p(ours.concurrent, 0.99), p(bare.concurrent, 0.99))
    if goals is not None:
        goals += [
            Goal("click -> chat.update, 1 client p50", backend, f"x{one[0] / one[1]:.1f} ({one[0]:.1f} ms, bare Bolt {one[1]:.1f})",
                 f"<= x{GOAL_ONE_CLIENT:g} bare Bolt", one[0] <= GOAL_ONE_CLIENT * one[1]),
            Goal(f"click -> chat.update, {clients} concurrent p99", backend, f"{many[0]:.0f} ms",
                 f"<= {GOAL_P99_MS:.0f} ms", many[0] <= GOAL_P99_MS),
            Goal(f"click -> chat.update, {clients} concurrent p99 ratio", backend, f"x{many[0] / many[1]:.1f} (bare Bolt {many[1]:.0f} ms)",
                 f"<= x{GOAL_P99_RATIO:g} bare Bolt", many[0] <= GOAL_P99_RATIO * many[1]),
        ]
    return [
        f"  {backend:<10} click -> chat.update, 1 client p50: worktray {one[0]:7.1f} ms, bare Bolt {one[1]:6.1f} ms, "
        f"x{one[0] / one[1]:.1f} (goal <= x{GOAL_ONE_CLIENT:g})",
        f"  {backend:<10} click -> chat.update, {clients} concurrent p50/p99: "
        f"worktray {p(ours.concurrent, 0.5):7.1f}/{many[0]:7.1f} ms, bare Bolt {p(bare.concurrent, 0.5):6.1f}/{many[1]:6.1f} ms, "
        f"p99 x{many[0] / many[1]:.1f} (goal <= {GOAL_P99_MS:.0f} ms and <= x{GOAL_P99_RATIO:g})",
        f"  {backend:<10} (reference: bare Bolt + one durable write per click, 1 client p50 {p(durable.one_client, 0.5):.1f} ms "
        f"(x{p(durable.one_client, 0.5) / one[1]:.1f}), {clients} concurrent p99 {p(durable.concurrent, 0.99):.0f} ms: durability's own price)",
        f"  {backend:<10} (samples: {len(ours.one_client)} sequential, {len(ours.concurrent)} concurrent; "
        f"mean 1 client {statistics.fmean(ours.one_client):.1f} ms)",
    ]


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.click``: the click-latency figures alone, per back end."""
    import argparse

    from bench.__main__ import postgres_database, postgres_reachable, slack_pushing_back, sqlite_database

    parser = argparse.ArgumentParser(prog="python -m bench.click", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clickers")
    parser.add_argument("--sequential", type=int, default=40, help="clicks timed one after another")
    parser.add_argument("--rounds", type=int, default=5, help="bursts of --clients concurrent clicks")
    parser.add_argument("--slack-pushing-back", action="store_true", help="also: ack under 429s, outbox drain at ~1/s per channel")
    args = parser.parse_args(argv)
    size = {"clients": args.clients, "sequential": args.sequential, "rounds": args.rounds}
    lines: list[str] = []
    if args.backend in ("sqlite", "both"):
        with sqlite_database() as url:
            lines += report("sqlite", run(url, **size), args.clients)
        if args.slack_pushing_back:
            lines += slack_pushing_back("sqlite", sqlite_database)
    if args.backend in ("postgresql", "both"):
        why = postgres_reachable()
        if why is None:
            with postgres_database() as url:
                lines += report("postgresql", run(url, **size), args.clients)
            if args.slack_pushing_back:
                lines += slack_pushing_back("postgresql", postgres_database)
        else:
            lines.append(f"  postgresql: not run ({why})")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
