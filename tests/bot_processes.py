"""Real worktray bot processes for the fault tests (issue 9, "Nothing lost, nothing doubled").

What tests/test_two_instances.py and tests/test_crash_restart.py share:

* ``fresh_postgres()``: a PostgreSQL database of the test's own, migrated and seeded
  with the demo store plus 18 fictitious children, dropped afterwards.
* ``BotProcess``: ``python -m worktray.cli run --http`` as a separate process, signing
  secret and ``SLACK_API_BASE_URL`` pointing at the local mock Web API; ``kill()`` is
  SIGKILL (no clean-up of any kind runs).
* ``HoldingSlackApi``: tests/slack_mock.py that can hold the answer to one call open
  (the call is received and applied, like Slack would, but the bot does not hear back),
  and then, for a process about to be killed, every later message it sends
  (``also``): the messages in flight at the kill are then exactly the held ones.
* ``Bots``: tests/test_slack_http.py's SlackDriver (the same signed, real-shaped
  payloads) aimed at one instance or another, without draining anything in-process:
  the processes' own deliverers send the cards.
* The journeys (closure, transfer, three-month audit), each step sent to the instance
  its caller says, waiting (bounded polling) for the card the step needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from conftest import new_postgres_database
from slack_mock import Call, Message, SlackApiMock
from sqlalchemy import select
from test_slack_http import SECRET, Response, SlackDriver, button, labels, options_of

from store.db import make_engine, make_session_factory
from store.eventlog import verify
from store.migrate import upgrade
from store.models import (
    Case,
    ChatMessage,
    Event,
    HomeViewer,
    OrganisationRelationship,
    OutboxMessage,
    Person,
    Request,
    WorkerRelationship,
)
from store.uow import UnitOfWork
from workflows import audits
from workflows.org import load_organisation
from worktray import demo
from worktray.scheduler import scheduled_jobs

REPO = Path(__file__).resolve().parent.parent
WAIT = 45.0  # the longest any one thing is waited for (bounded polling, never a speed check)
MGR, BS, P12_MGR = "C0U12MGR", "C0U12BS", "C0P12MGR"
T = TypeVar("T")

# Fictitious people added to the demo store (IDs outside the demo's and the example export's).
CLOSURE_PEOPLE = [f"39000{n:02d}" for n in range(1, 11)]
TRANSFER_PEOPLE = [f"39001{n:02d}" for n in range(1, 6)]
AUDIT_PEOPLE = [f"39002{n:02d}" for n in range(1, 4)]  # with the demo's two due audits (Eve, Mia): five


# -- the database ------------------------------------------------------------------------------


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A migrated, seeded PostgreSQL database of this test's own (processes share it)."""
    with new_postgres_database("worktray_faults") as url:
        with new_uow(url) as uow:
            demo.seed(uow)
            add_people(uow)
        yield url


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """``fresh_postgres()``, or a SQLite file in ``folder`` made the same way (one process at a time on it)."""
    if kind == "postgresql":
        with fresh_postgres() as url:
            yield url
        return
    url = f"sqlite:///{folder / 'worktray.db'}"
    upgrade(url)
    with new_uow(url) as uow:
        demo.seed(uow)
        add_people(uow)
    yield url


@contextmanager
def new_uow(url: str) -> Iterator[UnitOfWork]:
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            yield uow
    finally:
        engine.dispose()


def add_people(uow: UnitOfWork) -> None:
    """Children of Under 12s to close (amy's), to move to 12+ (ben's, 11 years 5 months old) and
    to audit (overdue). Dated from today: the bot processes run on the real clock."""
    today = dt.date.today()

    def ago(days: int) -> dt.date:
        return today - dt.timedelta(days=days)

    for n, pid in enumerate(CLOSURE_PEOPLE + TRANSFER_PEOPLE + AUDIT_PEOPLE):
        moving = pid in TRANSFER_PEOPLE
        worker = ("ben", "Ben Okafor") if moving else ("amy", "Amy Brooke")
        born = ago(11 * 365 + 5 * 30) if moving else ago(9 * 365)
        uow.session.add(Person(id=pid, first_name="Test", last_name=f"Child{chr(65 + n)}", date_of_birth=born,
                               last_seen_face_to_face=ago(10), last_supervision_on=ago(24)))
        uow.session.flush()
        case = Case(person_id=pid, team="u12", worker=worker[0], case_type="CIN", opened_on=ago(800), primary_need="N4")
        audits.mark_audited(case, ago(120) if pid in AUDIT_PEOPLE else ago(20))
        uow.session.add_all([
            case,
            WorkerRelationship(person_id=pid, worker=worker[1], relationship_type="Key Worker (Childrens Social Care)", from_date=ago(800)),
            OrganisationRelationship(person_id=pid, organisation="Under 12s", organisation_kind="team",
                                     relationship_type="Key Team (Childrens Social Care)", from_date=ago(800)),
        ])
    uow.commit()


class Store:
    """What the processes left in the shared database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.new = lambda: UnitOfWork(make_session_factory(self.engine))

    def close(self) -> None:
        self.engine.dispose()

    def states(self) -> dict[int, tuple[str, str, str]]:
        """request id -> (kind, person, state)."""
        with self.new() as uow:
            return {r.id: (r.kind, r.person_id, r.state) for r in uow.session.scalars(select(Request))}

    def undelivered(self) -> int:
        with self.new() as uow:
            return len(uow.session.scalars(select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None), OutboxMessage.dropped_at.is_(None))).all())

    def outbox(self) -> list[OutboxMessage]:
        with self.new() as uow:
            rows = list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            uow.session.expunge_all()
            return rows

    def chat_messages(self) -> dict[str, tuple[str, str]]:
        with self.new() as uow:
            return {m.card_key: (m.channel, m.ts) for m in uow.session.scalars(select(ChatMessage))}

    def home_viewers(self) -> set[str]:
        """The chat users noted as having opened Home (issue 9)."""
        with self.new() as uow:
            return set(uow.session.scalars(select(HomeViewer.chat_user_id)))

    def events(self) -> list[tuple[str, int | None, dict[str, Any]]]:
        with self.new() as uow:
            return [(e.action, e.request_id, dict(e.detail or {})) for e in uow.session.scalars(select(Event).order_by(Event.id))]


# -- the processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(url: str, api: SlackApiMock | None, token: str = "xoxb-test") -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WORKTRAY_", "DATABASE_URL", "LOG_LEVEL"))}
    env = {**base, "PYTHONPATH": str(REPO), "DATABASE_URL": url, "WORKTRAY_CONFIG": str(demo.DEMO_ORG),
           "SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": SECRET, "WORKTRAY_HTTP_THREADS": "8"}
    return {**env, "SLACK_API_BASE_URL": api.base_url} if api is not None else env


class BotProcess:
    """``worktray run --http`` on an ephemeral port; output to a log file (a pipe could fill up).

    ``token``: its bot token, which the mock records with each call: a test that kills
    processes gives each its own, so that the calls of one process can be told apart."""

    def __init__(self, url: str, api: SlackApiMock, log_path: Path, port: int | None = None, token: str = "xoxb-test") -> None:
        self.url, self.api, self.log_path, self.token = url, api, log_path, token
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BotProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "worktray.cli", "run", "--http", "--host", "127.0.0.1", "--port", str(self.port)],
                env=bot_env(self.url, self.api, self.token), cwd=self.log_path.parent, stdout=log, stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, f"the bot exited at start:\n{self.output()}"
            return healthz(self.port)

        wait_for(ready, "the bot to answer /healthz")

    def kill(self) -> None:
        """SIGKILL: no finally, no atexit, no waitress shutdown; the kernel just closes its sockets."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def healthz(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def worktray_cli(url: str, api: SlackApiMock | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worktray.cli", *args], env=bot_env(url, api), cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Poll ``probe`` until it gives something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# -- Slack's side -------------------------------------------------------------------------------


MESSAGES = frozenset({"chat.postMessage", "chat.update"})  # what the deliverer sends


@dataclass
class Hold:
    """One held answer: ``arrived`` once the call came in (``call``), answered after ``release()``.

    ``also``: from then on, every successful call of these methods made with the same
    bot token (by the same process) is held too, and listed in ``held`` (``call`` first)
    even once released. For a process about to be killed: it sends side by side
    (bot.deliver's lanes), and a call it made just before the kill may reach Slack
    after it; each held call is one the process never hears back about."""

    wanted: Callable[[Call, list[Call]], bool]
    armed_at: int
    also: frozenset[str] = frozenset()
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    call: Call | None = None
    held: list[Call] = field(default_factory=list)

    def release(self) -> None:
        self.released.set()

    def held_posts(self) -> list[Call]:
        """The held posts of cards (with blocks): what a kill now could make the bot post twice."""
        return [c for c in list(self.held) if c.method == "chat.postMessage" and c.args.get("blocks")]


class HoldingSlackApi(SlackApiMock):
    """The mock Web API, able to hold the answer to a call open.

    The call is received and recorded (Slack has acted on it) but its answer is not
    written until the hold is released: a bot killed meanwhile never hears that it went through.
    """

    def __init__(self) -> None:
        super().__init__()
        self._holds: list[Hold] = []

    def hold(self, wanted: Callable[[Call, list[Call]], bool], also: frozenset[str] = frozenset()) -> Hold:
        """Hold the first successful call for which ``wanted(call, calls since now)`` is true
        (and, with ``also``, that process's later calls of those methods: ``Hold``)."""
        with self._lock:
            found = Hold(wanted, len(self.calls), also)
            self._holds.append(found)
        return found

    def answer(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        result = super().answer(method, args, token)
        with self._lock:
            call = next(c for c in reversed(self.calls) if c.result is result)
            mine = None
            if result.get("ok"):
                mine = next((h for h in self._holds if h.call is not None and method in h.also and token == h.call.token), None)
                if mine is None:
                    mine = next((h for h in self._holds if h.call is None and h.wanted(call, self.calls[h.armed_at:])), None)
                    if mine is not None:
                        mine.call = call
            if mine is not None:
                mine.held.append(call)
        if mine is not None:
            mine.arrived.set()
            mine.released.wait(timeout=WAIT)
        return result

    def wait_until_recorded(self, store: Store, hold: Hold) -> None:
        """Before killing the process ``hold`` caught: wait until it has recorded every
        post Slack answered it (the ts in ``chat_messages``). Its other messages are held
        (``also``), so the posts in flight at the kill are exactly ``hold.held_posts()``:
        a kill then may double those and must double nothing else. The journeys here
        send cards only (each outbox row has a card key), so every answered post has a ts to find."""
        assert hold.call is not None
        token = hold.call.token

        def all_recorded() -> bool:
            held = hold.held_posts()
            answered = [c for c in self.taken("chat.postMessage")
                        if c.token == token and c.args.get("blocks") and not any(c is h for h in held)]
            recorded = {ts for _channel, ts in store.chat_messages().values()}
            return all(c.result["ts"] in recorded for c in answered)

        wait_for(all_recorded, "every post Slack answered to be recorded before the kill")


class Bots(SlackDriver):
    """SlackDriver's signed, real-shaped requests, sent to the instance ``to`` names; nothing drained here."""

    def __init__(self, api: SlackApiMock, ports: list[int]) -> None:
        super().__init__(app=None, api=api, port=ports[0])  # type: ignore[arg-type]
        self.ports = ports
        self._lock = threading.Lock()

    def post(self, body: str, content_type: str, *, timestamp: int | None = None, secret: str = SECRET,
             headers: dict[str, str] | None = None, to: int = 0) -> Response:
        ts = int(time.time()) if timestamp is None else timestamp
        signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        all_headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature, **(headers or {})}
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[to % len(self.ports)], timeout=30)
        try:
            conn.request("POST", "/slack/events", body=body.encode(), headers=all_headers)
            answer = conn.getresponse()
            return Response(answer.status, answer.read().decode())
        finally:
            conn.close()

    def trigger(self) -> str:
        with self._lock:
            return super().trigger()

    def slash(self, user: str, text: str, to: int) -> Response:
        body = urlencode({
            "token": "legacy-verification-token", "team_id": "T0FEN", "team_domain": "fenshire",
            "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user, "user_name": user.lower(),
            "command": "/case", "text": text, "api_app_id": "A0WORKTRAY", "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T0FEN/1/x", "trigger_id": self.trigger(),
        })
        return self.post(body, "application/x-www-form-urlencoded", to=to)

    # -- finding what a journey waits for -------------------------------------------------------

    def card_with(self, channel: str, prefix: str, marker: str, button_label: str | None = None) -> Message | None:
        """The newest message in ``channel`` whose text starts with ``prefix`` and holds ``marker``
        (and, if given, shows that button), or None."""
        found = [m for m in self.api.messages(channel) if m.text.startswith(prefix) and marker in m.text]
        if not found:
            return None
        if button_label is not None and button_label not in labels(found[-1]):
            return None
        return found[-1]

    def wait_card(self, channel: str, prefix: str, marker: str, button_label: str) -> Message:
        return wait_for(lambda: self.card_with(channel, prefix, marker, button_label),
                        f"a {prefix!r} card for {marker!r} in {channel} with {button_label!r}")

    def wait_view(self, callback: str, metadata: str) -> dict[str, Any]:
        def opened() -> dict[str, Any] | None:
            views = [c["view"] for c in self.api.calls_to("views.open")
                     if c["view"]["callback_id"] == callback and c["view"]["private_metadata"] == metadata]
            return views[-1] if views else None

        return wait_for(opened, f"the {callback!r} modal for {metadata}")


def request_number(message: Message) -> int:
    found = re.search(r"(\d+)", message.text)
    assert found, message.text
    return int(found.group(1))


def both(bots: Bots, send: Callable[[int], Response]) -> list[Response]:
    """The same request to both instances at once: a double click, or Slack delivering twice."""
    answers: list[Response] = []
    threads = [threading.Thread(target=lambda i=i: answers.append(send(i))) for i in range(len(bots.ports))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


# -- the journeys ----------------------------------------------------------------------------------


def closure_journey(bots: Bots, pid: str, first: int) -> int:
    """C2 -> C3 -> C5 -> C6: request, approve, claim, audit; instances alternate from ``first``.

    The approve button is double-clicked on both instances and its form submitted to
    both; the claim is clicked on one and Slack's retry of it (X-Slack-Retry-Num)
    lands on the other."""
    rid, card = request_closure(bots, pid, first)
    approve_closure(bots, card, rid, first, twice=True)
    claim_and_audit(bots, pid, rid, first)
    return rid


def request_closure(bots: Bots, pid: str, first: int) -> tuple[int, Message]:
    """amy asks to close the case (the C2 form); the manager's card appears. Returns (request id, card)."""
    assert bots.slash("U0AMY", f"close {pid}", to=first).status == 200
    form = bots.wait_view("request_closure", pid)
    done = options_of(form, "done")
    answer = bots.submit("U0AMY", form, {"reason": "RC7", "summary": "Needs met; family stable.", "done": done, "applies_to": []}, to=first + 1)
    assert answer.status == 200 and answer.body == "", answer.body
    card = bots.wait_card(MGR, "Closure request", f"· {pid} (", "Approve")
    return request_number(card), card


def approve_closure(bots: Bots, card: Message, rid: int, first: int, *, twice: bool = False) -> None:
    """maria approves (C3); with ``twice`` the click and the form both reach every instance."""
    approve = bots.click_payload("U0MARIA", card, button(card, "Approve"))
    if twice:
        assert all(a.status == 200 for a in both(bots, lambda i: bots.interactive(approve, to=i)))
    else:
        assert bots.interactive(approve, to=first).status == 200
    approve_form = bots.wait_view("approve", str(rid))
    submitted = bots.submission_payload("U0MARIA", approve_form, {})
    if twice:
        assert all(a.status == 200 for a in both(bots, lambda i: bots.interactive(submitted, to=i)))
    else:
        answer = bots.interactive(submitted, to=first + 1)
        assert answer.status == 200 and answer.body == "", answer.body


def claim_and_audit(bots: Bots, pid: str, rid: int, first: int) -> None:
    """sam claims the item (C5; Slack's retry of the click reaches the other instance) and completes the closure audit (C6)."""
    marker = f"· {pid} ("
    queue = bots.wait_card(BS, f"Closure request {rid}", marker, "Claim")
    claim = bots.click_payload("U0SAM", queue, button(queue, "Claim"))
    assert bots.interactive(claim, to=first).status == 200
    assert bots.interactive(claim, to=first + 1, headers=RETRY).status == 200
    queue = bots.wait_card(BS, f"Closure request {rid}", marker, "Open closure audit")
    assert bots.click("U0SAM", queue, "Open closure audit", to=first + 1).status == 200
    audit = bots.wait_view("audit", str(rid))
    answer = bots.submit("U0SAM", audit, {"checklist": options_of(audit, "checklist")}, to=first)
    assert answer.status == 200 and answer.body == "", answer.body


def transfer_journey(bots: Bots, pid: str, first: int) -> int:
    """T1 -> approve -> accept (T7 moves the case today): ben raises it ready, maria approves, nadia accepts for 12+."""
    marker = f"· {pid} ("
    assert bots.slash("U0BEN", f"transfer {pid}", to=first).status == 200
    form = bots.wait_view("transfer", pid)
    values = {"receiving_team": "12plus", "point_of_transfer": "age_11y6m", "planned_date": time.strftime("%Y-%m-%d"),
              "reason": "Reaches 11y6m.", "readiness": "ready", "std_chronology": "done"}
    answer = bots.submit("U0BEN", form, values, to=first + 1)
    assert answer.status == 200 and answer.body == "", answer.body
    card = bots.wait_card(MGR, "Transfer", marker, "Approve")
    rid = request_number(card)
    assert bots.click("U0MARIA", card, "Approve", to=first).status == 200
    approve_form = bots.wait_view("approve", str(rid))
    assert bots.submit("U0MARIA", approve_form, {}, to=first + 1).body == ""
    receiving = bots.wait_card(P12_MGR, f"Transfer {rid}", marker, "Accept")
    accept = bots.click_payload("U0NADIA", receiving, button(receiving, "Accept"))
    assert all(a.status == 200 for a in both(bots, lambda i: bots.interactive(accept, to=i)))
    accept_form = bots.wait_view("transfer_accept", str(rid))
    submitted = bots.submission_payload("U0NADIA", accept_form, {"worker": "femi"})
    assert all(a.status == 200 for a in both(bots, lambda i: bots.interactive(submitted, to=i)))
    return rid


def audit_journey(bots: Bots, rid: int, first: int) -> int:
    """C13: business support claim the raised three-month audit and record it compliant."""
    prefix = f"Three-month audit {rid} "
    card = bots.wait_card(BS, prefix, "", "Claim")
    claim = bots.click_payload("U0SAM", card, button(card, "Claim"))
    assert all(a.status == 200 for a in both(bots, lambda i: bots.interactive(claim, to=i)))
    card = bots.wait_card(BS, prefix, "", "Record audit")
    assert bots.click("U0SAM", card, "Record audit", to=first + 1).status == 200
    form = bots.wait_view("record_audit", str(rid))
    yes = {b["block_id"]: "yes" for b in form["blocks"] if b.get("block_id", "").startswith("check_")}
    answer = bots.submit("U0SAM", form, {**yes, "outcome": audits.COMPLIANT}, to=first)
    assert answer.status == 200 and answer.body == "", answer.body
    return rid



AFTER_FINISH = {"Reopen"}  # C12: reopening a closed case is a new journey, not a finished step
FINISHED = {"closure": "closed", "transfer": "transferred", audits.KIND: "closed"}


# -- what is checked once everything is drained -----------------------------------------------------


def assert_each_message_sent_once(store: Store, api: SlackApiMock, in_flight: Sequence[Call] = ()) -> None:
    """Every outbox row was sent, and every post stands for exactly one message.

    A keyed card is posted once (its ts is in ``chat_messages``) and edited afterwards;
    an unkeyed direct message is one post per outbox row. A second post of a card,
    from a second deliverer or a resend after a crash, would be a post too many here.
    ``in_flight``: calls whose answer the bot never heard (killed while Slack held them,
    ``Hold.held``). Each post among them is a copy the bot never recorded, and the
    card was posted again (the copy it heard about, and kept); every other post was
    recorded: a crash doubles only what was in flight at the kill."""
    rows = store.outbox()
    assert all(r.sent_at is not None and r.dropped_at is None for r in rows), [(r.id, r.card_key, r.error) for r in rows if r.sent_at is None]
    # The outbox's posts: a card always has blocks. A reply to a form (bot.slack_app's
    # ``direct``, text only) is the request's answer, not an outbox message.
    everything = [c for c in api.calls if c.method == "chat.postMessage" and c.result.get("ok") and c.args.get("blocks")]
    lost = [c for c in everything if any(c is f for f in in_flight)]
    posted = [c for c in everything if not any(c is f for f in in_flight)]
    cards = store.chat_messages()
    recorded = {ts for _channel, ts in cards.values()}
    assert not {c.result["ts"] for c in lost} & recorded, "a post the bot never heard back about is recorded"
    for copy in lost:  # the restarted bot posted the card again: same channel, same request (its text may have moved on)
        again = [c for c in posted if c.args["channel"] == copy.args["channel"] and _same_card(c, copy)]
        assert again, (copy.args["channel"], copy.args["text"][:70])
    unkeyed = [r for r in rows if r.card_key is None]
    posted_ts = Counter(c.result["ts"] for c in posted)
    assert all(n == 1 for n in posted_ts.values())
    assert recorded <= set(posted_ts), "a card's recorded message was never posted"
    assert len(posted) == len(cards) + len(unkeyed), (
        f"{len(posted)} posts for {len(cards)} cards and {len(unkeyed)} direct messages: "
        f"{[(c.args.get('channel'), c.args.get('text', '')[:70]) for c in posted if c.result['ts'] not in recorded][:12]}"
    )
    for call in api.calls:  # every edit is of a message that was posted, in the channel it was posted to
        if call.method == "chat.update":
            assert call.args["ts"] in posted_ts


def _same_card(one: Call, other: Call) -> bool:
    """The same request's card (kind and number), or, for anything else, the same text."""
    a, b = ABOUT_A_REQUEST.search(one.args["text"]), ABOUT_A_REQUEST.search(other.args["text"])
    if a is None or b is None:
        return bool(one.args["text"] == other.args["text"])
    return a.groups() == b.groups()


def assert_one_digest_per_team_and_period(store: Store) -> None:
    """T2, T3: each (job, team, period) posted once, and every scheduled team's latest period was."""
    posted = Counter((action, detail["team"], detail["period"]) for action, _rid, detail in store.events()
                     if action in ("radar_posted", "agenda_posted"))
    assert posted and all(n == 1 for n in posted.values()), posted
    planned = {(f"{p.job}_posted", p.team) for p in scheduled_jobs(load_organisation(demo.DEMO_ORG))}
    assert planned <= {(action, team) for action, team, _period in posted}
    keys = Counter(r.card_key for r in store.outbox() if "digest" in r.body)
    assert len(keys) == len(posted), (keys, posted)


def assert_no_buttons_on_finished_cards(api: SlackApiMock, states: dict[int, tuple[str, str, str]], in_flight: Sequence[Call] = ()) -> None:
    """A finished journey's cards, in channels and in DMs, show no button for any of its
    steps (only Reopen on a closed closure, C12: a new journey, not a finished step).

    ``in_flight``: calls the bot never heard back about (killed meanwhile). A post among
    them is a stale copy the bot cannot edit (it never learnt its ts; README, "A crash
    loses nothing"); it is left out, and its card's copy the bot kept is checked."""
    stale = {c.result["ts"] for c in in_flight if c.method == "chat.postMessage"}
    channels = {str(c.args.get("channel")) for c in api.calls if c.method == "chat.postMessage" and c.args.get("blocks")}
    for channel in channels:
        for message in api.messages(channel):
            about = ABOUT_A_REQUEST.search(message.text)
            if about is None or int(about.group(2)) not in states or message.ts in stale:
                continue
            kind, _person, state = states[int(about.group(2))]
            if state == FINISHED.get(kind):
                assert set(labels(message)) <= AFTER_FINISH, (channel, message.text, labels(message), json.dumps(message.blocks)[:300])


ABOUT_A_REQUEST = re.compile(r"\b(Closure request|Transfer|Three-month audit) (\d+)\b")


def assert_store_consistent(store: Store, *, cli: bool) -> None:
    """The event log verifies (`worktray events verify`, or its function in-process);
    each request is in the state its last event left it in; every outbox row is sent
    or pending, none given up."""
    if cli:
        verified = worktray_cli(store.url, None, "events", "verify")
        assert verified.returncode == 0 and verified.stdout.startswith("OK"), verified.stdout + verified.stderr
    else:
        found = verify(make_session_factory(store.engine))
        assert found.ok, found.problems
    with store.new() as uow:
        for request in uow.session.query(Request):
            moves = [e.to_state for e in uow.session.query(Event).filter(Event.request_id == request.id).order_by(Event.id) if e.to_state]
            assert moves and moves[-1] == request.state, (request.id, request.state, moves)
    assert all(row.dropped_at is None for row in store.outbox())
