"""Fuzzing the Slack HTTP endpoint with hypothesis (issue 9): no 500, no partial write, a clear message.

The real Slack app (``bot.slack_app``) runs in waitress (``worktray.serve.HttpServer``)
on an ephemeral port against the mock Web API (tests/slack_mock.py), on the seeded
demo store, as tests/test_slack_http.py drives it. Every payload type worktray
handles is sent: slash commands (/case, /radar), block_actions (every action in
``bot.actions.BUTTONS``), view_submission (every callback in ``FORMS``),
app_home_opened and url_verification; and garbage around them: truncated bodies,
bodies over the 1 MB limit, wrong content types, wrong JSON types, missing keys,
nulls and nested junk, unknown action IDs, values naming requests that do not
exist or are of another kind, bad or missing signatures and timestamps.

Properties checked for every request:

* the status is never 500 (and a client timeout catches a hang);
* no request reaches Bolt's error handler: nothing goes unhandled (``SORRY`` is
  never sent and never in an answer);
* whatever the person is shown (the command's answer, an ephemeral, a DM, a form
  field error) is plain words on one line: no traceback, no exception name;
* anything invalid leaves the database exactly as it was (``fingerprint``: every
  row of every table); a reply saying "nothing changed" means nothing changed.

The server and the seeded store are shared by the examples of one test (hypothesis
reuses function-scoped fixtures across examples, hence the suppressed health check):
that is deliberate, each example is compared with the fingerprint taken just
before it, so the examples need no fresh store. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import Journey, fingerprint
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from slack_mock import SlackApiMock
from test_slack_http import SECRET, Response, SlackDriver, running

from bot.actions import BUTTONS, FORMS
from bot.slack_app import MAX_BODY_BYTES, SORRY, UNREADABLE, SlackSender, create_bolt_app, make_client, make_wsgi_app, settle_replies
from workflows.clock import FixedClock
from workflows.org import Organisation
from worktray.bootstrap import build
from worktray.serve import database_ok

EXAMPLES = int(os.environ.get("WORKTRAY_FUZZ_EXAMPLES", "25"))  # more for a deeper run than CI's
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The server and store are shared across examples on purpose (see the module docstring).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
USERS = ("U0AMY", "U0BEN", "U0MARIA", "U0SAM", "U0TESS", "U0OLU", "U0NOBODY")
TIMEOUT = 20  # seconds: a hang fails the test instead of stalling it
EXCEPTION_WORDS = ("Traceback", "Error:", "Exception", "sqlalchemy", "psycopg", "pydantic", 'File "')


# -- the harness ----------------------------------------------------------------------------


class Fuzzer(SlackDriver):
    """SlackDriver plus raw requests with any headers, and a look at what was shown."""

    def raw(self, body: bytes, headers: dict[str, str], method: str = "POST", path: str = "/slack/events") -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            return Response(answer.status, answer.read().decode("utf-8", "replace"))
        finally:
            conn.close()

    def raw_socket(self, body: bytes, headers: dict[str, str]) -> Response:
        """POST over a bare socket: the server may answer (413) and close before the body is all sent."""
        head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": str(len(body)), "Connection": "close"}.items())
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as sock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused mid-body: the answer is waiting
                sock.sendall(f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode() + body)
            answer = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    answer += chunk
        status_line, _, rest = answer.partition(b"\r\n")
        return Response(int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode("utf-8", "replace"))

    def signed(self, body: bytes, content_type: str | None, *, secret: str = SECRET, timestamp: str | None = None) -> Response:
        ts = str(int(time.time())) if timestamp is None else timestamp
        basestring = b"v0:" + ts.encode() + b":" + body
        signature = "v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()
        headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = self.raw(body, headers)
        settle_replies()  # replies to Slack are made after the ack (issue 9)
        self.app.deliverer.drain()
        return response

    def snapshot(self) -> tuple[dict[str, Any], int]:
        """The store's fingerprint and the Web API call count, once the outbox is drained."""
        settle_replies()
        self.app.deliverer.drain()
        return fingerprint(self.app.uow), self.api.count()

    def shown_since(self, mark: int) -> list[str]:
        """Every text worktray showed a person since ``mark``: ephemerals, DMs and modal titles."""
        texts: list[str] = []
        for call in self.api.since(mark):
            to_person = call.method == "chat.postEphemeral" or (
                call.method == "chat.postMessage" and str(call.args.get("channel", "")).startswith(("U", "W"))
            )
            if to_person:
                texts.append(str(call.args.get("text") or ""))
        return texts


@pytest.fixture(scope="module")
def slack_api() -> Iterator[SlackApiMock]:
    """One mock Web API for the module: stopping one takes up to half a second (its poll interval).
    Tests look only at the calls since their own mark, so sharing it changes nothing they see."""
    mock = SlackApiMock().start()
    yield mock
    mock.stop()


@pytest.fixture
def fuzz(seeded: Any, db_url: str, org: Organisation, clock: FixedClock, slack_api: SlackApiMock) -> Iterator[Fuzzer]:
    """worktray's Slack app over HTTP on the seeded demo store; Bolt's error handler watched."""
    client = make_client("xoxb-test-token", slack_api.base_url)
    app = build(db_url, org, SlackSender(client), clock=clock, migrate=False)  # db_url is migrated already
    bolt = create_bolt_app(app.interactions, app.uow, org, client, SECRET)
    with running(make_wsgi_app(bolt, lambda: database_ok(app.uow))) as port:
        driver = Fuzzer(app, slack_api, port)
        driver.bolt = bolt
        yield driver
    app.uow.args[0].kw["bind"].dispose()


class Unhandled(logging.Handler):
    """Records Bolt's error handler firing ("unhandled <Exception> in slack ..."): an unhandled exception."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


@pytest.fixture
def unhandled() -> Iterator[Unhandled]:
    handler = Unhandled()
    watched = [logging.getLogger("bot.slack_app"), logging.getLogger("worktray.slack")]
    for logger in watched:
        logger.addHandler(handler)
    yield handler
    for logger in watched:
        logger.removeHandler(handler)


@pytest.fixture
def requests_made(fuzz: Fuzzer, seeded: Any, ctx: Any) -> dict[str, int]:
    """Real requests of several kinds and states, for values that name them (their cards delivered)."""
    journey = Journey(seeded, ctx)
    made = {
        "requested": journey.request("3549723", "amy"),
        "closed": journey.to_state("closed", "3549724"),
    }
    fuzz.app.deliverer.drain()
    return made


def check(fuzz: Fuzzer, unhandled: Unhandled, before: dict[str, Any], mark: int, response: Response, *, writes: bool) -> None:
    """The properties every request must keep (see the module docstring)."""
    assert response.status != 500, response.body[:300]
    assert response.status < 500 or response.status == 503, (response.status, response.body[:300])
    seen, unhandled.seen = unhandled.seen, []
    assert not seen, seen
    shown = [*fuzz.shown_since(mark), *answer_texts(response)]
    for text in shown:
        assert text != SORRY and "went wrong" not in text, shown
        assert not any(word in text for word in EXCEPTION_WORDS), text
        assert "\n" not in text.strip(), text  # one line
    after = fingerprint(fuzz.app.uow)
    if not writes or any("nothing changed" in t.lower() for t in shown):
        # A body that still reads as a Home opening (junk in keys worktray ignores) may note its
        # opener as a Home viewer (issue 9), and only a person of the organisation: nothing else.
        noted = {row[0] for row in after["home_viewers"]} - {row[0] for row in before["home_viewers"]}
        assert noted <= set(USERS) - {"U0NOBODY"}, noted
        before, after = ({k: v for k, v in d.items() if k != "home_viewers"} for d in (before, after))
        assert after == before, {k: (len(before[k]), len(after[k])) for k in before if before[k] != after[k]}


def answer_texts(response: Response) -> list[str]:
    """The texts in Bolt's HTTP answer: a command's ephemeral, a modal's field errors, a plain body."""
    if response.status >= 400 or not response.body:
        server_page = "(generated by worktray)" in response.body  # waitress's own 4xx page, for Slack's logs, not a person
        return [response.body] if response.status < 500 and not server_page else []
    try:
        body = json.loads(response.body)
    except ValueError:
        return [response.body]
    if not isinstance(body, dict):
        return []
    texts = [str(body["text"])] if "text" in body else []
    errors = body.get("errors")
    if isinstance(errors, dict):
        texts += [str(v) for v in errors.values()]
        assert all("\n" not in str(v) for v in errors.values()), errors  # a field error is one line
    return texts


# -- strategies: values ------------------------------------------------------------------------

printable = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)  # what an HTTP header may carry
junk_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=60)  # NUL: KNOWN_VALUES
person_ids = st.sampled_from(["3549723", "3549724", "3549728", "3549750", "0000000", "999999999999", "١٢٣", "3549723x", ""])
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), junk_text)
json_junk = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(junk_text, inner, max_size=3), max_leaves=6)


def request_values(named: dict[str, int]) -> st.SearchStrategy[str]:
    """A button value or a form's private_metadata: real requests, missing ones, and junk."""
    real = st.sampled_from(sorted(named.values())).map(str)
    numbers = st.one_of(real, st.integers(-5, 10**6).map(str), st.integers(2**31, 2**80).map(str), st.just("²"), st.just("١"))
    return st.one_of(
        numbers,
        st.tuples(numbers, st.one_of(numbers, junk_text)).map(":".join),  # request:step, request:period
        st.tuples(numbers, numbers, numbers).map(":".join),
        person_ids,
        junk_text,
        st.text(min_size=250, max_size=3000),
    )


def action_ids() -> st.SearchStrategy[str]:
    known = sorted(BUTTONS)
    return st.one_of(
        st.sampled_from(known).map(lambda a: f"wt:{a}"),
        st.tuples(st.sampled_from(known), st.integers(0, 9)).map(lambda t: f"wt:{t[0]}#{t[1]}"),
        st.just("wt:"),
        st.just("wt:no_such_button"),
        junk_text.map(lambda t: f"wt:{t}"),
        st.sampled_from(["approve", "other_app:approve", "x"]),
    )


def element_states() -> st.SearchStrategy[dict[str, Any]]:
    """One element's state, of any of the types read_values knows, with junk inside."""
    option = values_text.map(lambda v: {"text": {"type": "plain_text", "text": "x"}, "value": v})
    dates = st.one_of(st.dates().map(str), values_text, st.none())
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("plain_text_input"), "value": st.one_of(st.none(), values_text, st.text(min_size=3000, max_size=4000))}),
        st.fixed_dictionaries({"type": st.just("static_select"), "selected_option": st.one_of(st.none(), option)}),
        st.fixed_dictionaries({"type": st.sampled_from(["checkboxes", "multi_static_select"]), "selected_options": st.lists(option, max_size=4)}),
        st.fixed_dictionaries({"type": st.just("datepicker"), "selected_date": dates}),
        st.fixed_dictionaries({"type": st.sampled_from(["users_select", "radio_buttons", "???"])}),
    )


FIELD_KEYS = [
    "reason", "closure_date", "summary", "done", "applies_to", "no_visit_reason", "note", "to", "checklist", "people",
    "worker", "outcome", "end_date", "answer_q1", "note_q1", "end_items", "end_reason_1", "end_reason_²", "local_end_reason_1",
    "rec_1", "rec_١", "leaving_care_x", "receiving_team", "point_of_transfer", "planned_date", "gestation_weeks", "readiness",
    "std_chronology", "why_chronology", "hold_reason",
]


KNOWN_VALUES = st.sampled_from([
    "pre_birth", "ready", "potential", "done", "na", "outstanding", "u12", "adults-south", "12plus", "RC7", "A1", "N4", "yes", "no",
    "amy", "maria", "sam", "2026-11-26", "2026-12-01", "2026-02-30", "26/11/2026", "²", "٢٥", "25", "1", "2", "9" * 5000, "agreed", "uphold", "a\x00b",
])
values_text = st.one_of(KNOWN_VALUES, junk_text)


def state_values() -> st.SearchStrategy[dict[str, dict[str, dict[str, Any]]]]:
    keys = st.one_of(st.sampled_from(FIELD_KEYS), junk_text)
    return st.dictionaries(keys, st.dictionaries(junk_text, element_states(), min_size=1, max_size=1), max_size=6)


# -- strategies: payloads -----------------------------------------------------------------------


def command_body(command: str, user: str, text: str, trigger: str) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token", "team_id": "T0FEN", "team_domain": "fenshire", "channel_id": "C0GENERAL",
        "channel_name": "general", "user_id": user, "user_name": "someone", "command": command, "text": text,
        "api_app_id": "A0WORKTRAY", "is_enterprise_install": "false", "response_url": "https://hooks.slack.com/commands/T0FEN/1/x",
        "trigger_id": trigger,
    }


def click_payload(user: str, action_id: str, value: str, action_ts: str, channel: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": "T0FEN"},
        "api_app_id": "A0WORKTRAY",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1764151200.000001", "channel_id": channel, "is_ephemeral": False},
        "trigger_id": "1.1764151200.trigger",
        "team": {"id": "T0FEN", "domain": "fenshire"},
        "channel": {"id": channel, "name": "team-channel"},
        "message": {"type": "message", "text": "card", "ts": "1764151200.000001", "blocks": []},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0FEN/1/x",
        "actions": [{"action_id": action_id, "block_id": "b1", "value": value, "type": "button", "action_ts": action_ts}],
    }


def submission_payload(user: str, callback: str, metadata: str, values: dict[str, Any], view_id: str) -> dict[str, Any]:
    blocks = [{"type": "input", "block_id": key, "element": {"type": "plain_text_input", "action_id": key}} for key in values]
    return {
        "type": "view_submission",
        "team": {"id": "T0FEN", "domain": "fenshire"},
        "user": {"id": user, "username": "someone", "team_id": "T0FEN"},
        "api_app_id": "A0WORKTRAY",
        "trigger_id": "1.1764151200.trigger",
        "view": {
            "id": view_id, "team_id": "T0FEN", "type": "modal", "blocks": blocks, "private_metadata": metadata,
            "callback_id": callback, "state": {"values": values}, "hash": "1764151200.abcdef",
            "title": {"type": "plain_text", "text": "Form"}, "app_id": "A0WORKTRAY",
        },
        "response_urls": [],
    }


def home_envelope(user: str, tab: str) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token", "team_id": "T0FEN", "api_app_id": "A0WORKTRAY",
        "event": {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": tab, "event_ts": "1764151200.000001"},
        "type": "event_callback", "event_id": "Ev00000001", "event_time": 1764151200,
        "authorizations": [{"team_id": "T0FEN", "user_id": "U0WORKTRAY", "is_bot": True}],
    }


COMMAND_TEXTS = st.one_of(
    st.tuples(st.sampled_from(["close", "status", "reopen", "rereferral", "transfer", "CLOSE", "frobnicate", ""]), person_ids, junk_text)
    .map(lambda t: f"{t[0]} {t[1]} {t[2]}".strip()),
    st.tuples(st.sampled_from(["close", "status", "reopen", "transfer"]), person_ids).map(" ".join),
    st.sampled_from(["", "u12", "adults-south", "12plus", "nonsense team", "U12"]),
    junk_text,
    st.text(min_size=1000, max_size=5000),
)


@st.composite
def slash_commands(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """(form fields, may it write): /case status of a real case writes the look's event (C-access)."""
    command = draw(st.sampled_from(["/case", "/radar", "/nope"]))
    text = draw(COMMAND_TEXTS)
    user = draw(st.sampled_from(USERS))
    trigger = draw(st.one_of(st.just("1.1764151200.trigger"), st.text(min_size=1, max_size=400)))
    return command_body(command, user, text, trigger), command == "/case" and text.lower().startswith(("status", "rereferral"))


@st.composite
def clicks(draw: st.DrawFn, named: dict[str, int]) -> dict[str, Any]:
    ts = draw(st.one_of(st.just("1764151200.000001"), st.text(max_size=400)))
    channel = draw(st.sampled_from(["C0U12MGR", "C0U12BS", "D0SOMEONE", "C0UNKNOWN"]))
    return click_payload(draw(st.sampled_from(USERS)), draw(action_ids()), draw(request_values(named)), ts, channel)


@st.composite
def submissions(draw: st.DrawFn, named: dict[str, int]) -> dict[str, Any]:
    callback = draw(st.one_of(st.sampled_from(sorted(FORMS)), st.just("no_such_form")))
    view_id = draw(st.one_of(st.just("V00000001"), st.text(max_size=400)))
    return submission_payload(draw(st.sampled_from(USERS)), callback, draw(request_values(named)), draw(state_values()), view_id)


def interactive_body(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


# -- mutating a payload: wrong types, missing keys, nulls, nested junk --------------------------


@st.composite
def mutated(draw: st.DrawFn, payload: Any) -> Any:
    """The payload with one to three places replaced by junk or deleted."""
    for _ in range(draw(st.integers(1, 3))):
        payload = _mutate_once(draw, payload)
    return payload


def _mutate_once(draw: st.DrawFn, value: Any) -> Any:
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value, key=str)))
        changed = dict(value)
        what = draw(st.sampled_from(["delete", "junk", "deeper", "deeper"]))
        if what == "delete":
            del changed[key]
        elif what == "junk":
            changed[key] = draw(json_junk)
        else:
            changed[key] = _mutate_once(draw, value[key])
        return changed
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        changed_list = list(value)
        changed_list[index] = _mutate_once(draw, value[index])
        return changed_list
    return draw(json_junk)


# -- the tests ------------------------------------------------------------------------------------

@FUZZ
@given(data=st.data())
def test_slash_commands(fuzz: Fuzzer, unhandled: Unhandled, requests_made: dict[str, int], data: st.DataObject) -> None:
    """/case and /radar with any text, by anyone: a one-line answer or a card, never a 500."""
    fields, writes = data.draw(slash_commands())
    before, mark = fuzz.snapshot()
    response = fuzz.signed(urlencode(fields).encode(), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=writes)
    if fields["command"] in ("/case", "/radar"):
        assert response.status == 200


@FUZZ
@given(data=st.data())
def test_button_clicks(fuzz: Fuzzer, unhandled: Unhandled, requests_made: dict[str, int], data: st.DataObject) -> None:
    """Every button, pressed by anyone with any value: real requests of any kind or state, missing ones, junk."""
    payload = data.draw(clicks(requests_made))
    value = payload["actions"][0]["value"]
    names_real_request = value.split(":")[0] in {str(v) for v in requests_made.values()}
    before, mark = fuzz.snapshot()
    response = fuzz.signed(interactive_body(payload), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=names_real_request)
    assert response.status in (200, 404), response  # 404: Bolt's answer to an action_id no listener takes


@FUZZ
@given(data=st.data())
def test_form_submissions(fuzz: Fuzzer, unhandled: Unhandled, requests_made: dict[str, int], data: st.DataObject) -> None:
    """Every form, submitted with junk values of every element type and any private_metadata."""
    payload = data.draw(submissions(requests_made))
    metadata = payload["view"]["private_metadata"]
    writes = metadata.split(":")[0] in {str(v) for v in requests_made.values()} or payload["view"]["callback_id"] in ("request_closure", "transfer")
    before, mark = fuzz.snapshot()
    response = fuzz.signed(interactive_body(payload), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=writes)
    assert response.status in (200, 404), response


@FUZZ
@given(user=st.one_of(st.sampled_from(USERS), junk_text), tab=st.sampled_from(["home", "messages", "", "about"]))
def test_home_opened(fuzz: Fuzzer, unhandled: Unhandled, user: str, tab: str) -> None:
    before, mark = fuzz.snapshot()
    response = fuzz.signed(json.dumps(home_envelope(user, tab)).encode(), "application/json")
    check(fuzz, unhandled, before, mark, response, writes=tab == "home")
    # Opening Home writes one thing only: its opener, if in the organisation, as a Home viewer (issue 9).
    after = fingerprint(fuzz.app.uow)
    assert {k: v for k, v in after.items() if k != "home_viewers"} == {k: v for k, v in before.items() if k != "home_viewers"}
    noted = {row[0] for row in after["home_viewers"]} - {row[0] for row in before["home_viewers"]}
    assert noted <= ({user} & set(USERS) - {"U0NOBODY"}) and (tab == "home" or not noted), (user, tab, noted)


@FUZZ
@given(challenge=junk_text)
def test_url_verification(fuzz: Fuzzer, unhandled: Unhandled, challenge: str) -> None:
    """Slack's handshake when the request URL is set: the challenge comes back, nothing is written."""
    before, mark = fuzz.snapshot()
    body = {"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"}
    response = fuzz.signed(json.dumps(body).encode(), "application/json")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert response.status == 200 and response.json() == {"challenge": challenge}


def base_payloads() -> st.SearchStrategy[tuple[str, Any]]:
    """(kind, payload) of every type, with values that write nothing, for mutating."""
    nothing = {"none": 10**6}
    return st.one_of(
        st.tuples(st.just("command"), slash_commands().filter(lambda c: not c[1]).map(lambda c: c[0])),
        st.tuples(st.just("interactive"), clicks(nothing)),
        st.tuples(st.just("interactive"), submissions(nothing).filter(lambda p: p["view"]["callback_id"] not in ("request_closure", "transfer"))),
        st.tuples(st.just("json"), st.sampled_from(USERS).map(lambda u: home_envelope(u, "home"))),
        st.tuples(st.just("json"), st.just({"type": "url_verification", "challenge": "abc", "token": "t"})),
    )


@FUZZ
@given(data=st.data())
def test_wrong_types_missing_keys_and_nested_junk(fuzz: Fuzzer, unhandled: Unhandled, data: st.DataObject) -> None:
    """Any payload with places replaced by junk of another JSON type or deleted: never a 500, nothing written."""
    kind, payload = data.draw(base_payloads())
    payload = data.draw(mutated(payload))
    if kind == "command":
        fields = payload if isinstance(payload, dict) else {"junk": payload}
        body = urlencode({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}).encode()
        content_type = "application/x-www-form-urlencoded"
    elif kind == "interactive":
        body, content_type = interactive_body(payload), "application/x-www-form-urlencoded"
    else:
        body, content_type = json.dumps(payload).encode(), "application/json"
    before, mark = fuzz.snapshot()
    response = fuzz.signed(body, content_type)
    check(fuzz, unhandled, before, mark, response, writes=False)


@FUZZ
@given(data=st.data())
def test_truncated_bodies_and_wrong_content_types(fuzz: Fuzzer, unhandled: Unhandled, data: st.DataObject) -> None:
    """A valid-looking body cut anywhere, sent as any content type, correctly signed: never a 500, nothing written."""
    kind, payload = data.draw(base_payloads())
    if kind == "command":
        body = urlencode(payload).encode()
    elif kind == "interactive":
        body = interactive_body(payload)
    else:
        body = json.dumps(payload).encode()
    cut = data.draw(st.integers(0, len(body)))
    body = data.draw(st.sampled_from([body[:cut], body[:cut] + b"\xff\xfe", body[cut:], body.replace(b"%22", b"%2", 1)]))
    content_type = data.draw(st.sampled_from([
        "application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data; boundary=x",
        "application/json; charset=latin-1", None,
    ]))
    before, mark = fuzz.snapshot()
    response = fuzz.signed(body, content_type)
    check(fuzz, unhandled, before, mark, response, writes=False)


@FUZZ
@given(data=st.data())
def test_bad_signatures_and_timestamps(fuzz: Fuzzer, unhandled: Unhandled, data: st.DataObject) -> None:
    """A forged, stale, future, missing or malformed signature or timestamp: 401, nothing written, nobody told."""
    _, payload = data.draw(base_payloads())
    body = json.dumps(payload).encode()
    now = int(time.time())
    how = data.draw(st.sampled_from(["secret", "stale", "future", "no_signature", "no_timestamp", "junk_timestamp", "junk_signature"]))
    before, mark = fuzz.snapshot()
    if how in ("secret", "stale", "future", "junk_timestamp"):
        timestamp = {"stale": str(now - 60 * 6), "future": str(now + 60 * 6), "junk_timestamp": data.draw(printable.filter(lambda t: not t.strip().isdigit()))}.get(how)
        response = fuzz.signed(body, "application/json", secret="not-the-secret" if how == "secret" else SECRET, timestamp=timestamp)
    else:
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=" + "0" * 64}
        if how == "no_signature":
            del headers["X-Slack-Signature"]
        elif how == "no_timestamp":
            del headers["X-Slack-Request-Timestamp"]
        else:
            headers["X-Slack-Signature"] = data.draw(printable)
        response = fuzz.raw(body, headers)
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert response.status == 401, response
    assert fuzz.api.count() == mark  # a forged request makes no Web API call at all


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(extra=st.integers(1, 4096), kind=st.sampled_from(["json", "interactive"]))
def test_oversize_bodies_are_refused(fuzz: Fuzzer, unhandled: Unhandled, extra: int, kind: str) -> None:
    """A body over MAX_BODY_BYTES (1 MB), signed: refused before Bolt (413), never a 500, nothing written."""
    filler = "x" * (MAX_BODY_BYTES + extra)
    payload = {"type": "url_verification", "challenge": filler} if kind == "json" else click_payload("U0AMY", "wt:claim", filler, "1.1", "C0U12BS")
    body = json.dumps(payload).encode() if kind == "json" else interactive_body(payload)
    before, mark = fuzz.snapshot()
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    content_type = "application/json" if kind == "json" else "application/x-www-form-urlencoded"
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    response = fuzz.raw_socket(body, headers)
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert response.status == 413, response


@FUZZ
@given(method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH"]), path=st.sampled_from(["/slack/events", "/", "/healthz", "/slack/events/x", "/%ff"]))
def test_other_methods_and_paths(fuzz: Fuzzer, unhandled: Unhandled, method: str, path: str) -> None:
    before, mark = fuzz.snapshot()
    response = fuzz.raw(b"", {}, method=method, path=path)
    check(fuzz, unhandled, before, mark, response, writes=False)


@pytest.fixture
def real_forms(fuzz: Fuzzer, seeded: Any, ctx: Any) -> list[tuple[str, dict[str, Any]]]:
    """(user, view) of forms worktray really opened, on real requests: submitted below with any values."""
    journey = Journey(seeded, ctx)
    requested = journey.request("3549723", "amy")
    closed = journey.to_state("closed", "3549724")
    claimed = journey.to_state("claimed", "3549728")  # open work steps: its audit is blocked (C6.1)
    audits = [journey.to_state("claimed", "3501779"), journey.to_state("claimed", "3549735")]  # C10: the CLA's record items
    adult = journey.request("4100001", "dan")  # C3, C4: the adults' checklist
    fuzz.app.deliverer.drain()
    opened: list[tuple[str, dict[str, Any]]] = []

    def open_by(user: str, payload: dict[str, Any], kind: str) -> None:
        mark = fuzz.api.count()
        body = urlencode(payload).encode() if kind == "command" else interactive_body(payload)
        assert fuzz.signed(body, "application/x-www-form-urlencoded").status == 200
        views = [c.args["view"] for c in fuzz.api.since(mark) if c.method == "views.open"]
        opened.extend((user, view) for view in views)

    open_by("U0AMY", command_body("/case", "U0AMY", "close 3549740", "1.t"), "command")
    open_by("U0BEN", command_body("/case", "U0BEN", "transfer 3549750", "1.t"), "command")
    for user, action, value in [
        ("U0MARIA", "wt:approve", requested), ("U0MARIA", "wt:return", requested), ("U0MARIA", "wt:reopen", closed),
        ("U0SAM", "wt:audit", claimed), ("U0MARIA", "wt:reassign", claimed), ("U0SAM", "wt:audit", audits[0]),
        ("U0SAM", "wt:audit", audits[1]), ("U0OLU", "wt:approve", adult), ("U0RUTH", "wt:return", adult),
    ]:
        open_by(user, click_payload(user, action, str(value), "1.1", "C0U12MGR"), "click")
    assert len(opened) >= 5, [v["callback_id"] for _, v in opened]
    return opened


@st.composite
def filled_in(draw: st.DrawFn, view: dict[str, Any]) -> dict[str, Any]:
    """view.state.values for the view's inputs: each left as opened, set to one of its options, or junk."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        kind, options = element["type"], element.get("options", [])
        junk_option = values_text.map(lambda v: {"text": {"type": "plain_text", "text": "x"}, "value": v})
        option = st.sampled_from(options) if options else junk_option
        state: dict[str, Any] = {"type": kind}
        if kind == "static_select":
            state["selected_option"] = draw(st.one_of(st.just(element.get("initial_option")), option, junk_option, st.none()))
        elif kind in ("checkboxes", "multi_static_select"):
            state["selected_options"] = draw(st.one_of(st.just(element.get("initial_options", [])), st.lists(st.one_of(option, junk_option), max_size=5)))
        elif kind == "datepicker":
            state["selected_date"] = draw(st.one_of(st.just(element.get("initial_date")), st.dates().map(str), values_text, st.none()))
        else:
            state["value"] = draw(st.one_of(st.just(element.get("initial_value")), values_text, st.text(min_size=400, max_size=4000), st.none()))
        values[block["block_id"]] = {element["action_id"]: state}
    return values


@FUZZ
@given(data=st.data())
def test_real_forms_with_any_values(fuzz: Fuzzer, unhandled: Unhandled, real_forms: list[tuple[str, dict[str, Any]]], data: st.DataObject) -> None:
    """Forms as worktray opened them, submitted with each field as opened, another option, or junk."""
    user, view = data.draw(st.sampled_from(real_forms))
    values = data.draw(filled_in(view))
    payload = submission_payload(user, view["callback_id"], view["private_metadata"], values, "V1")
    payload["view"]["blocks"] = view["blocks"]
    before, mark = fuzz.snapshot()
    response = fuzz.signed(interactive_body(payload), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=True)
    assert response.status == 200
    field_errors = response.body.startswith("{") and response.json().get("response_action") == "errors"
    if field_errors:
        assert fingerprint(fuzz.app.uow) == before  # a field error: the modal stays open and nothing is written
    wrote = fingerprint(fuzz.app.uow) != before
    event(f"{view['callback_id']}: {'field errors' if field_errors else 'written' if wrote else 'refused or unreadable'}")


# -- regressions: the concrete inputs the fuzzing found ----------------------------------------------


def test_a_forged_request_with_a_non_numeric_timestamp_is_401_and_tells_nobody(fuzz: Fuzzer, unhandled: Unhandled) -> None:
    """Bolt's signature check ran int(timestamp) and raised; its error handler answered 200 and
    DMed the user the forged body named "Something went wrong"."""
    body = interactive_body(click_payload("U0AMY", "wt:claim", "1", "1.1", "C0U12BS"))
    before, mark = fuzz.snapshot()
    response = fuzz.signed(body, "application/x-www-form-urlencoded", secret="not-the-secret", timestamp="abc")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert response.status == 401 and fuzz.api.count() == mark


def test_a_body_that_is_not_utf8_gets_a_plain_400(fuzz: Fuzzer, unhandled: Unhandled) -> None:
    """Bolt's WSGI adapter decoded the body as UTF-8 and raised: waitress answered 500."""
    before, mark = fuzz.snapshot()
    response = fuzz.signed(b"\xff\xfe", "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert (response.status, response.body) == (400, UNREADABLE)


@pytest.mark.parametrize(
    ("action", "value"),
    [
        ("wt:withdraw", "١"),  # int() read the Arabic-Indic digit as request 1: amy's request was withdrawn
        ("wt:withdraw", " 1"),
        ("wt:claim", "4294967296"),  # past a 32-bit ID column: an overflow in the database, not a refusal
        ("wt:meeting_agreed", "²:2026-W48"),  # "²".isdigit() but int("²") raised: an unhandled ValueError
    ],
)
def test_a_button_value_that_is_not_plain_digits_names_no_request(
    fuzz: Fuzzer, unhandled: Unhandled, requests_made: dict[str, int], action: str, value: str
) -> None:
    before, mark = fuzz.snapshot()
    response = fuzz.signed(interactive_body(click_payload("U0AMY", action, value, "1.1", "C0U12MGR")), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert response.status == 200
    assert any("nothing changed" in text for text in fuzz.shown_since(mark)), fuzz.shown_since(mark)


def test_a_nul_character_anywhere_is_refused_plainly(fuzz: Fuzzer, unhandled: Unhandled, requests_made: dict[str, int]) -> None:
    """A button value "\\x00" reached a query: PostgreSQL refuses NUL in text (DataError, unhandled)."""
    before, mark = fuzz.snapshot()
    payload = click_payload("U0AMY", "wt:request_closure", "\x00", "1.1", "C0U12MGR")
    response = fuzz.signed(interactive_body(payload), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert (response.status, response.body) == (200, UNREADABLE)
    command = command_body("/case", "U0AMY", "status 35497\x0023", "1.1.trigger")
    response = fuzz.signed(urlencode(command).encode(), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert (response.status, response.body) == (200, UNREADABLE)


def test_a_long_action_ts_or_view_id_still_records_the_step(fuzz: Fuzzer, unhandled: Unhandled, requests_made: dict[str, int]) -> None:
    """The event's ``source`` (200 characters) was built from Slack's action_ts or view ID uncut."""
    rid = str(requests_made["requested"])
    note = {"note": {"note": {"type": "plain_text_input", "value": "Add the closure letter."}}}
    before, mark = fuzz.snapshot()
    response = fuzz.signed(interactive_body(submission_payload("U0MARIA", "return", rid, note, "V" * 300)), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=True)
    returned = fingerprint(fuzz.app.uow)
    assert returned["requests"] != before["requests"]
    before, mark = fuzz.snapshot()
    response = fuzz.signed(interactive_body(click_payload("U0AMY", "wt:withdraw", rid, "9" * 300, "C0U12MGR")), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=True)
    assert fingerprint(fuzz.app.uow)["requests"] != before["requests"]


@pytest.mark.parametrize("weeks", ["²", "9" * 5000])
def test_weeks_of_gestation_that_int_cannot_read_are_a_field_error(fuzz: Fuzzer, unhandled: Unhandled, weeks: str) -> None:
    """T1: "²".isdigit() is true but int("²") raised, as did int() of 5000 digits: an unhandled ValueError."""
    fields = {"receiving_team": "12plus", "point_of_transfer": "pre_birth", "planned_date": "2026-11-26", "reason": "Expected in spring.",
              "gestation_weeks": weeks}
    values = {key: {key: {"type": "plain_text_input", "value": value}} for key, value in fields.items()}
    before, mark = fuzz.snapshot()
    response = fuzz.signed(interactive_body(submission_payload("U0BEN", "transfer", "3549750", values, "V1")), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert response.json()["response_action"] == "errors"
    assert "weeks of gestation" in response.json()["errors"]["gestation_weeks"]


def test_reassigning_to_someone_not_in_the_config_does_not_quote_them_back(
    fuzz: Fuzzer, unhandled: Unhandled, real_forms: list[tuple[str, dict[str, Any]]]
) -> None:
    """C5: a "to" that is not a configured person came back verbatim in the field error (here two lines)."""
    user, view = next((u, v) for u, v in real_forms if v["callback_id"] == "reassign")
    values = {"to": {"to": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": "\nsam"}}}}
    payload = submission_payload(user, "reassign", view["private_metadata"], values, "V1")
    payload["view"]["blocks"] = view["blocks"]
    before, mark = fuzz.snapshot()
    response = fuzz.signed(interactive_body(payload), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert response.json() == {"response_action": "errors", "errors": {"to": "Choose business support in Under 12s from the list."}}


@pytest.mark.parametrize("event", [None, "", 7, ["type"]])
def test_an_event_that_is_not_an_object_gets_a_plain_400(fuzz: Fuzzer, unhandled: Unhandled, event: Any) -> None:
    """Bolt's own middleware read body["event"] as an object before ours could refuse it: a null event
    was a 500 (Bolt's error handling raised again), a string one an unhandled AttributeError."""
    envelope = {**home_envelope("U0AMY", "home"), "event": event}
    before, mark = fuzz.snapshot()
    response = fuzz.signed(json.dumps(envelope).encode(), "application/json")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert (response.status, response.body) == (400, UNREADABLE)


@pytest.mark.parametrize("depth", [100_000, 950])
def test_json_nested_too_deep_is_refused_plainly(fuzz: Fuzzer, unhandled: Unhandled, depth: int) -> None:
    """json.loads raised RecursionError (not a ValueError) inside BoltRequest: waitress answered 500."""
    deep = "[" * depth + "]" * depth
    bodies = [
        (deep.encode(), "application/json"),
        (urlencode({"payload": deep}).encode(), "application/x-www-form-urlencoded"),
        (('{"type": "block_actions", "x": ' + deep + "}").encode(), "application/json"),
    ]
    for body, content_type in bodies:
        before, mark = fuzz.snapshot()
        response = fuzz.signed(body, content_type)
        check(fuzz, unhandled, before, mark, response, writes=False)
        assert response.status in (200, 400) and response.body in ("", UNREADABLE), response


@pytest.mark.parametrize("payload", [
    {"user": {"id": "U0AMY"}, "trigger_id": "1.t", "view": None},  # no type: no listener takes it
    {"command": "/nope", "user_id": "U0AMY", "trigger_id": "1.t", "view": "x"},
])
def test_a_view_that_is_not_an_object_is_refused_plainly(fuzz: Fuzzer, unhandled: Unhandled, payload: dict[str, Any]) -> None:
    """Bolt's "Unhandled request" log line read body["view"].get(...): an unhandled AttributeError."""
    before, mark = fuzz.snapshot()
    response = fuzz.signed(interactive_body(payload), "application/x-www-form-urlencoded")
    check(fuzz, unhandled, before, mark, response, writes=False)
    assert (response.status, response.body) == (400, UNREADABLE)
