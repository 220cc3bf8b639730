"""The whole closure journey over real HTTP, the way Slack drives it.

The Slack app (bot.slack_app) runs in waitress (worktray.serve.HttpServer, as
``worktray run --http`` runs it) on an ephemeral port; every request is signed like Slack signs it (v0:{ts}:{body}, HMAC-SHA256)
and shaped like the real payloads in ../shared/slack/payloads (slash commands
as flat form fields, interactivity as ``payload=<json>``). Outgoing Web API
calls go to a local mock (tests/slack_mock.py) that records them. The outbox is
drained explicitly after each request; no background thread runs. Runs on
SQLite and PostgreSQL (``db_url``), on the demo case store, at a fixed time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_mock import Message, SlackApiMock
from sqlalchemy import func, select

from bot.slack_app import SlackSender, View, create_bolt_app, field_errors, make_client, make_wsgi_app, settle_replies
from store.models import (
    Event,
    OrganisationRelationship,
    OutboxMessage,
    Request,
    WorkerRelationship,
    WorkStep,
)
from workflows.clock import FixedClock
from workflows.org import Organisation
from worktray.bootstrap import App, build
from worktray.serve import HttpServer, database_ok

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TODAY = dt.date(2026, 11, 26)  # the conftest clock: 2026-11-26 10:00 UTC
MGR, BS = "C0U12MGR", "C0U12BS"
NAMES_OF_CLIENTS = ("Lily", "Noah", "Marsh", "Kai", "Ellison", "Pat ", "Greene")


@pytest.fixture
def slack_api() -> Iterator[SlackApiMock]:
    """A local Slack Web API that records every call (``.calls``, ``.calls_to(method)``)."""
    mock = SlackApiMock().start()
    yield mock
    mock.stop()


# -- the harness: Slack's side of the conversation ------------------------------------------


@dataclass
class Response:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class SlackDriver:
    """Sends signed requests to worktray as Slack would, and drains the outbox after each."""

    def __init__(self, app: App, api: SlackApiMock, port: int) -> None:
        self.app = app
        self.api = api
        self.port = port
        self._n = itertools.count(1)
        self.bolt: Any = None

    # -- raw HTTP ---------------------------------------------------------------

    def post(self, body: str, content_type: str, *, timestamp: int | None = None, secret: str = SECRET,
             headers: dict[str, str] | None = None) -> Response:
        ts = int(time.time()) if timestamp is None else timestamp
        signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        response = self.request("POST", "/slack/events", body, all_headers)
        settle_replies()  # replies to Slack are made after the ack (issue 9)
        self.app.deliverer.drain()
        return response

    def request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body.encode(), headers=headers or {})
            answer = conn.getresponse()
            return Response(answer.status, answer.read().decode())
        finally:
            conn.close()

    def interactive(self, payload: dict[str, Any], **kwargs: Any) -> Response:
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kwargs)

    # -- what people do ------------------------------------------------------------

    def command(self, user: str, text: str, channel: str = "C0GENERAL") -> Response:
        body = urlencode({
            "token": "legacy-verification-token", "team_id": "T0FEN", "team_domain": "fenshire",
            "channel_id": channel, "channel_name": "general", "user_id": user, "user_name": user.lower(),
            "command": "/case", "text": text, "api_app_id": "A0WORKTRAY", "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T0FEN/1/x", "trigger_id": self.trigger(),
        })
        return self.post(body, "application/x-www-form-urlencoded")

    def click(self, user: str, message: Message, label: str, **kwargs: Any) -> Response:
        """Press the button labelled ``label`` on a message as it now looks."""
        return self.interactive(self.click_payload(user, message, button(message, label)), **kwargs)

    def click_payload(self, user: str, message: Message, element: dict[str, Any]) -> dict[str, Any]:
        channel_name = "directmessage" if message.channel.startswith("D") else "team-channel"
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0FEN"},
            "api_app_id": "A0WORKTRAY",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": False},
            "trigger_id": self.trigger(),
            "team": {"id": "T0FEN", "domain": "fenshire"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": message.channel, "name": channel_name},
            "message": {"bot_id": "B0WORKTRAY", "type": "message", "text": message.text, "user": "U0WORKTRAY",
                        "ts": message.ts, "app_id": "A0WORKTRAY", "blocks": message.blocks, "team": "T0FEN"},
            "state": {"values": {}},
            "response_url": "https://hooks.slack.com/actions/T0FEN/1/x",
            "actions": [{"action_id": element["action_id"], "block_id": "b1", "text": element["text"],
                         "value": element["value"], "type": "button", "action_ts": f"{int(time.time())}.{next(self._n):06d}"}],
        }

    def submit(self, user: str, view: dict[str, Any], values: dict[str, Any] | None = None, **kwargs: Any) -> Response:
        """Submit a modal as opened by views.open; fields not given keep their initial values."""
        return self.interactive(self.submission_payload(user, view, values or {}), **kwargs)

    def submission_payload(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        view_id = f"V{next(self._n):08d}"
        return {
            "type": "view_submission",
            "team": {"id": "T0FEN", "domain": "fenshire"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0FEN"},
            "api_app_id": "A0WORKTRAY",
            "token": "legacy-verification-token",
            "trigger_id": self.trigger(),
            "view": {
                "id": view_id, "team_id": "T0FEN", "type": "modal", "blocks": view["blocks"],
                "private_metadata": view["private_metadata"], "callback_id": view["callback_id"],
                "state": {"values": state_values(view, values)}, "hash": "1764151200.abcdef",
                "title": view["title"], "clear_on_close": False, "notify_on_close": False,
                "close": view.get("close"), "submit": view.get("submit"), "previous_view_id": None,
                "root_view_id": view_id, "app_id": "A0WORKTRAY", "external_id": "",
                "app_installed_team_id": "T0FEN", "bot_id": "B0WORKTRAY",
            },
            "response_urls": [],
        }

    def home_opened(self, user: str) -> Response:
        envelope = {
            "token": "legacy-verification-token", "team_id": "T0FEN", "api_app_id": "A0WORKTRAY",
            "event": {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home",
                      "event_ts": "1764151200.000001"},
            "type": "event_callback", "event_id": f"Ev{next(self._n):08d}", "event_time": 1764151200,
            "authorizations": [{"enterprise_id": None, "team_id": "T0FEN", "user_id": "U0WORKTRAY", "is_bot": True,
                                "is_enterprise_install": False}],
        }
        return self.post(json.dumps(envelope), "application/json")

    def trigger(self) -> str:
        return f"{next(self._n)}.1764151200.trigger"

    # -- what Slack shows -----------------------------------------------------------

    def last_view(self, callback: str) -> dict[str, Any]:
        opened = [c["view"] for c in self.api.calls_to("views.open") if c["view"]["callback_id"] == callback]
        assert opened, f"no modal {callback!r} was opened"
        return opened[-1]

    def card(self, channel: str, title_start: str) -> Message:
        found = [m for m in self.api.messages(channel) if m.text.startswith(title_start)]
        assert found, f"no message starting {title_start!r} in {channel}"
        return found[-1]

    def ephemerals(self, user: str) -> list[str]:
        return [c["text"] for c in self.api.calls_to("chat.postEphemeral") if c["user"] == user]

    def dms(self, user: str) -> list[Message]:
        return self.api.messages(user)


def button(message: Message, label: str) -> dict[str, Any]:
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button" and element["text"]["text"] == label:
                return element
    raise AssertionError(f"no {label!r} button on {message.text!r}; buttons: {labels(message)}")


def labels(message: Message) -> list[str]:
    return [e["text"]["text"] for b in message.blocks for e in b.get("elements", []) if e.get("type") == "button"]


def options_of(view: dict[str, Any], block_id: str) -> list[str]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return [o["value"] for o in block["element"]["options"]]


def state_values(view: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """view.state.values as Slack builds it: what was typed or chosen, else the initial value."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        kind, key = element["type"], block["block_id"]
        options = {o["value"]: o for o in element.get("options", [])}
        state: dict[str, Any] = {"type": kind}
        if kind == "static_select":
            chosen = given.get(key)
            state["selected_option"] = (options.get(chosen) or {"text": {"type": "plain_text", "text": str(chosen)}, "value": chosen}) if chosen else element.get("initial_option")
        elif kind in ("checkboxes", "multi_static_select"):
            chosen = given.get(key)
            state["selected_options"] = [options[v] for v in chosen] if chosen is not None else element.get("initial_options", [])
        elif kind == "datepicker":
            state["selected_date"] = given.get(key, element.get("initial_date"))
        else:
            state["value"] = given.get(key, element.get("initial_value"))
        values[key] = {element["action_id"]: state}
    return values


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def slack(seeded: Any, db_url: str, org: Organisation, clock: FixedClock, slack_api: SlackApiMock) -> Iterator[SlackDriver]:
    """worktray's Slack app over HTTP on an ephemeral port, on the seeded demo store."""
    client = make_client("xoxb-test-token", slack_api.base_url)
    app = build(db_url, org, SlackSender(client), clock=clock)
    bolt = create_bolt_app(app.interactions, app.uow, org, client, SECRET)
    with running(make_wsgi_app(bolt, lambda: database_ok(app.uow))) as port:
        driver = SlackDriver(app, slack_api, port)
        driver.bolt = bolt
        yield driver
    app.uow.args[0].kw["bind"].dispose()


@contextmanager
def running(wsgi_app: Any) -> Iterator[int]:
    """The WSGI app in waitress on an ephemeral port, in a thread; yields the port."""
    server = HttpServer(wsgi_app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.stop()
        thread.join(timeout=30)


# -- reading the store ----------------------------------------------------------------------------


class Store:
    def __init__(self, uow_factory: Any) -> None:
        self.new = uow_factory

    def count(self, model: type) -> int:
        with self.new() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(model)))

    def request(self, request_id: int) -> Request:
        with self.new() as uow:
            r = uow.requests.get(request_id)
            assert r is not None
            uow.session.expunge(r)
            return r

    def requests(self) -> list[tuple[int, str, str]]:
        with self.new() as uow:
            return [(r.id, r.person_id, r.state) for r in uow.session.scalars(select(Request).order_by(Request.id))]

    def events(self, request_id: int | None = None) -> list[str]:
        with self.new() as uow:
            query = select(Event.action).order_by(Event.id)
            if request_id is not None:
                query = query.where(Event.request_id == request_id)
            return list(uow.session.scalars(query))

    def closed_on(self, person_id: str) -> dt.date | None:
        with self.new() as uow:
            return uow.cases.cases_of(person_id)[-1].closed_on

    def worker_relationships(self, person_id: str) -> dict[str, dt.date | None]:
        with self.new() as uow:
            rows = uow.session.scalars(select(WorkerRelationship).where(WorkerRelationship.person_id == person_id))
            return {r.relationship_type: r.to_date for r in rows}

    def organisation_relationships(self, person_id: str) -> dict[str, dt.date | None]:
        with self.new() as uow:
            rows = uow.session.scalars(select(OrganisationRelationship).where(OrganisationRelationship.person_id == person_id))
            return {r.relationship_type: r.to_date for r in rows}

    def user_groups_open(self, person_id: str) -> int:
        with self.new() as uow:
            return len(uow.cases.open_service_user_groups(person_id))

    def retentions(self, person_id: str) -> list[tuple[str, dt.date]]:
        with self.new() as uow:
            return [(r.criteria, r.retain_until) for r in uow.cases.retentions(person_id)]

    def open_items(self, person_id: str) -> int:
        with self.new() as uow:
            return len(uow.cases.open_record_items(person_id))

    def step(self, title: str) -> WorkStep:
        with self.new() as uow:
            s = uow.session.scalars(select(WorkStep).where(WorkStep.title == title)).one()
            uow.session.expunge(s)
            return s

    def writes(self) -> tuple[int, int, int]:
        """Everything an interaction can write: requests, events, outbox rows."""
        return self.count(Request), self.count(Event), self.count(OutboxMessage)


@pytest.fixture
def store(seeded: Any) -> Store:
    return Store(seeded)


def all_sent_text(api: SlackApiMock) -> str:
    """Every message, modal and reply sent, less the App Home views: Home may show a full name to
    people whose role and team allow it (issue 8; checked in tests/test_worktray*.py)."""
    return json.dumps([c.args for c in api.calls if c.method != "views.publish"])


def assert_no_client_names_in_channels(api: SlackApiMock, *channels: str) -> None:
    """Channel messages carry the person ID and initials only."""
    for channel in channels:
        sent = json.dumps([vars(m) for m in api.messages(channel)])
        for name in NAMES_OF_CLIENTS:
            assert name not in sent, f"{name!r} appeared in {channel}"


# -- the journey: request -> errors -> return -> resubmit -> approve -> claim -> audit -> closed ---------


def test_return_resubmit_approve_claim_close_over_http(slack: SlackDriver, store: Store) -> None:
    api = slack.api
    # 1. The worker asks: the C2 modal opens; nothing is written yet.
    assert slack.command("U0AMY", "close 3549723").status == 200
    form = slack.last_view("request_closure")
    assert form["private_metadata"] == "3549723"
    assert {b["block_id"] for b in form["blocks"] if b["type"] == "input"} >= {"reason", "closure_date", "summary", "done", "applies_to"}
    assert store.writes() == (0, 0, 0)

    # 2. A closure date before the case opened (04/10/2022) is refused on the field; nothing written.
    answer = slack.submit("U0AMY", form, {"reason": "RC7", "closure_date": "2022-01-01", "summary": "Needs met."})
    assert answer.status == 200
    assert answer.json()["response_action"] == "errors"
    assert "before the case opened" in answer.json()["errors"]["closure_date"]
    assert store.writes() == (0, 0, 0)

    # 3. A valid request for the person and their sibling: the manager's card appears (C2, C3).
    answer = slack.submit("U0AMY", form, {"reason": "RC7", "summary": "Needs met; family stable.", "done": ["visit_done"], "applies_to": ["3549724"]})
    assert answer.status == 200 and answer.body == ""
    assert store.requests() == [(1, "3549723", "requested")]
    assert store.events(1) == ["request"]
    assert any("Closure request 1" in m.text for m in slack.dms("U0AMY"))
    card = slack.card(MGR, "Closure request 1")
    assert labels(card) == ["Approve", "Return", "Withdraw"]
    shown = json.dumps(card.blocks)
    assert "3549723 (LM)" in shown and "3549724" in shown and "Manager's audit (C3)" in shown

    # 4. The manager returns it with a note that tries to ping the channel, mention someone and disguise a link.
    assert slack.click("U0MARIA", card, "Return").status == 200
    note_form = slack.last_view("return")
    assert note_form["private_metadata"] == "1"
    assert store.events(1) == ["request"]  # opening the modal writes nothing
    empty = slack.submit("U0MARIA", note_form, {"note": "   "})
    assert empty.json() == {"response_action": "errors", "errors": {"note": "Say what is needed before the request can be approved."}}
    note = "Add the closure letter <!channel> and ask <@U0SAM> & see <http://evil.example|gov.uk>"
    assert slack.submit("U0MARIA", note_form, {"note": note}).body == ""
    assert store.request(1).state == "returned"
    assert store.events(1) == ["request", "return"]
    returned_dm = [m for m in slack.dms("U0AMY") if "returned" in m.text][-1]
    assert labels(returned_dm) == ["Resubmit", "Withdraw"]  # C11: a returned request is never a dead end
    dm_text = json.dumps(returned_dm.blocks).replace("\\u200d", "")  # less the zero-width joiners that stop markup and links
    assert "&lt;!channel&gt;" in dm_text and "&lt;@U0SAM&gt;" in dm_text and "&lt;http://evil.example|gov.uk&gt;" in dm_text
    assert "&amp;" in dm_text
    sent = all_sent_text(api)
    assert "<!channel>" not in sent and "<@U0SAM>" not in sent and "<http://evil.example" not in sent
    assert "Returned to the worker" in json.dumps(slack.card(MGR, "Closure request 1").blocks)

    # 5. The worker resubmits from the DM: a fresh card; the old one is edited to say superseded.
    assert slack.click("U0AMY", returned_dm, "Resubmit").status == 200
    resubmit_form = slack.last_view("resubmit")
    assert resubmit_form["private_metadata"] == "1"
    posted_before = len(api.calls_to("chat.postMessage"))
    assert slack.submit("U0AMY", resubmit_form, {"done": ["visit_done", "letter_done"]}).body == ""
    request = store.request(1)
    assert (request.state, request.revision) == ("requested", 2)
    assert request.details["letter_done"] is True and request.details["applies_to"] == ["3549723", "3549724"]
    manager_cards = api.messages(MGR)
    assert len(manager_cards) == 2
    old, new = manager_cards
    assert old.ts == card.ts and "superseded" in old.text and labels(old) == []
    assert new.ts != old.ts and labels(new) == ["Approve", "Return", "Withdraw"]
    assert len(api.calls_to("chat.postMessage")) > posted_before

    # 6. Approve opens the C3 form, its case note optional; submitting it approves and the
    #    item goes to business support's virtual worker (C5). amy has no supervisor configured:
    #    the card says it is for the team's managers (C2 fallback).
    assert "the managers of Under 12s" in json.dumps(new.blocks)
    approve = slack.click_payload("U0MARIA", new, button(new, "Approve"))
    assert slack.interactive(approve).status == 200
    approve_form = slack.last_view("approve")
    assert approve_form["private_metadata"] == "1"
    assert {b["block_id"] for b in approve_form["blocks"] if b["type"] == "input"} == {"note"}  # a child's case: no checklist
    assert store.request(1).state == "requested"  # opening the form writes nothing
    assert slack.submit("U0MARIA", approve_form, {"note": "Closure discussed in supervision; agreed."}).body == ""
    assert store.request(1).state == "approved"
    assert store.request(1).details["approval"] == {"by": "maria", "note": "Closure discussed in supervision; agreed."}
    queue = slack.card(BS, "Closure request 1")
    assert labels(queue) == ["Claim", "Reassign"]  # Withdraw is for the worker and manager, not here
    assert labels(slack.card(MGR, "Closure request 1 · 3549723 (LM)")) == ["Reassign", "Withdraw"]

    # 7. Sam claims; Tess's later click changes nothing and tells her who holds it. Sam's
    #    success is shown by the redrawn card alone (state, holder, buttons), not said again.
    assert slack.click("U0SAM", queue, "Claim").status == 200
    events_after_claim = store.events(1)
    assert store.request(1).holder == "sam"
    assert "held by Sam Patel" in json.dumps(slack.card(BS, "Closure request 1").blocks)
    assert slack.ephemerals("U0SAM") == []
    assert slack.click("U0TESS", queue, "Claim").status == 200
    assert "Nothing changed" in slack.ephemerals("U0TESS")[-1] and "Sam Patel" in slack.ephemerals("U0TESS")[-1]
    assert store.request(1).holder == "sam" and store.events(1) == events_after_claim

    # 8. Slack retrying the already-processed approve (X-Slack-Retry-Num) changes nothing and says nothing.
    mark, writes = api.count(), store.writes()
    retried = slack.interactive(approve, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retried.status == 200
    assert store.writes() == writes and api.since(mark) == []
    assert store.request(1).state == "claimed"

    # 9. The closure audit (C6): every box must be ticked; then the case is closed.
    queue = slack.card(BS, "Closure request 1")
    assert labels(queue) == ["Open closure audit", "Unclaim", "Reassign"]
    assert slack.click("U0SAM", queue, "Open closure audit").status == 200
    audit = slack.last_view("audit")
    assert audit["private_metadata"] == "1"
    assert store.request(1).state == "claimed"  # no open work steps: not blocked
    half = slack.submit("U0SAM", audit, {"checklist": ["closure_date", "relationships"]})
    assert half.json()["response_action"] == "errors" and "checklist" in half.json()["errors"]
    assert store.request(1).state == "claimed"
    everything = options_of(audit, "checklist")
    assert "items" in everything  # C10: legal status and registration are open on 3549723
    # C10: business support tick what this closure ends; a registration needs its end reason.
    items = options_of(audit, "end_items")
    [reason_field] = [b["block_id"] for b in audit["blocks"] if b.get("block_id", "").startswith("end_reason_")]
    no_reason = slack.submit("U0SAM", audit, {"checklist": everything, "end_items": items})
    assert no_reason.json()["response_action"] == "errors" and reason_field in no_reason.json()["errors"]
    assert store.request(1).state == "claimed" and store.open_items("3549723") == 2
    chosen = {"checklist": everything, "end_items": items, reason_field: "No longer meets the criteria"}
    assert slack.submit("U0SAM", audit, chosen).body == ""

    # The store: closed for both siblings; C9 relationships kept; C8 retention added; C10 items ended.
    assert store.request(1).state == "closed"
    assert store.events(1) == ["request", "return", "resubmit", "approve", "claim", "complete"]
    for person in ("3549723", "3549724"):
        assert store.closed_on(person) == TODAY
        workers = store.worker_relationships(person)
        assert workers["Key Worker (Childrens Social Care)"] == TODAY and workers["GP"] is None
        organisations = store.organisation_relationships(person)
        assert organisations["Key Team (Childrens Social Care)"] == TODAY
        assert organisations["School"] is None and organisations["GP Surgery"] is None
        assert store.user_groups_open(person) == 0
        assert len(store.retentions(person)) == 1
    assert store.open_items("3549723") == 0
    assert any("is closed" in m.text for m in slack.dms("U0AMY"))
    assert labels(slack.card(BS, "Closure request 1")) == []
    assert_no_client_names_in_channels(api, MGR, BS)


def test_blocked_audit_cancel_step_done_recheck_close_over_http(slack: SlackDriver, store: Store) -> None:
    """3549728 has two open work steps: #1 incomplete (Ben), #2 future (Amy). C6.1, C7."""
    api = slack.api
    slack.command("U0BEN", "close 3549728")
    assert slack.submit("U0BEN", slack.last_view("request_closure"), {"reason": "RC8", "summary": "Assessment done, NFA."}).body == ""
    assert store.requests() == [(1, "3549728", "requested")]
    manager_card = slack.card(MGR, "Closure request 1")
    assert "Cancel step #" in " ".join(labels(manager_card))  # the future step may be cancelled (C7)
    assert "Maria Lopez (supervising manager" in json.dumps(manager_card.blocks)
    # C2: ben's supervising manager gets the request in her DM too, and approves from there (no note).
    supervisor_dm = next(m for m in slack.dms("U0MARIA") if m.text.startswith("For you to audit: Closure request 1"))
    assert labels(supervisor_dm) == ["Approve", "Return"]
    supervisor_dm.channel = "D0MARIA"
    slack.click("U0MARIA", supervisor_dm, "Approve")
    assert slack.submit("U0MARIA", slack.last_view("approve"), {}).body == ""
    assert store.request(1).state == "approved"
    slack.click("U0SAM", slack.card(BS, "Closure request 1"), "Claim")
    assert store.request(1).state == "claimed"

    # Opening the audit blocks the item and DMs the step assignees, the worker and the manager (C6.1).
    slack.click("U0SAM", slack.card(BS, "Closure request 1"), "Open closure audit")
    assert store.request(1).state == "blocked"
    assert "Blocked" in slack.ephemerals("U0SAM")[-1]
    assert api.calls_to("views.open")[-1]["view"]["callback_id"] != "audit"
    for user in ("U0BEN", "U0AMY", "U0MARIA"):
        assert any("cannot progress" in m.text for m in slack.dms(user)), user
    queue = slack.card(BS, "Closure request 1")
    assert labels(queue) == ["Re-check", "Unclaim", "Reassign"]

    # The manager cancels the future step from the card, with a reason (C7).
    incomplete, future = store.step("CS Case Supervision"), store.step("CS Home Visit")
    manager_card = slack.card(MGR, "Closure request 1")
    assert f"Cancel step #{incomplete.id}" not in labels(manager_card)  # never a started step
    slack.click("U0MARIA", manager_card, f"Cancel step #{future.id}")
    cancel_form = slack.last_view("cancel_step")
    assert slack.submit("U0MARIA", cancel_form, {"reason": ""}).json()["response_action"] == "errors"
    assert store.step("CS Home Visit").status == "open"
    assert slack.submit("U0MARIA", cancel_form, {"reason": "Visit no longer needed"}).body == ""
    assert (store.step("CS Home Visit").status, store.step("CS Home Visit").cancel_reason) == ("cancelled", "Visit no longer needed")

    # Re-check while Ben's step is still open: still blocked.
    slack.click("U0SAM", slack.card(BS, "Closure request 1"), "Re-check")
    assert "Still blocked" in slack.ephemerals("U0SAM")[-1]
    assert store.request(1).state == "blocked"

    # Ben marks his step done from his DM; Re-check unblocks.
    ben_dm = next(m for m in slack.dms("U0BEN") if "cannot progress" in m.text)
    ben_dm.channel = "D0BEN"  # the click comes from the DM's channel, as on Slack
    slack.click("U0BEN", ben_dm, f"Mark #{incomplete.id} done")
    assert store.step("CS Case Supervision").status == "done"
    slack.click("U0SAM", slack.card(BS, "Closure request 1"), "Re-check")
    assert store.request(1).state == "claimed"

    # The audit modal, the checklist, closed.
    slack.click("U0SAM", slack.card(BS, "Closure request 1"), "Open closure audit")
    audit = slack.last_view("audit")
    ticks = options_of(audit, "checklist")
    assert "items" not in ticks
    assert slack.submit("U0SAM", audit, {"checklist": ticks}).body == ""
    assert store.request(1).state == "closed"
    assert store.events(1) == ["request", "approve", "claim", "block", "cancel_step", "recheck", "complete"]
    assert store.closed_on("3549728") == TODAY
    assert store.worker_relationships("3549728") == {"Key Worker (Childrens Social Care)": TODAY, "GP": None}
    assert store.organisation_relationships("3549728") == {
        "Key Team (Childrens Social Care)": TODAY, "School": None, "GP Surgery": None,
    }
    assert store.user_groups_open("3549728") == 0
    (_criteria, until), = store.retentions("3549728")
    assert until > TODAY
    assert_no_client_names_in_channels(api, MGR, BS)


def test_never_seen_face_to_face_needs_a_service_manager_over_http(slack: SlackDriver, store: Store) -> None:
    """C4: adult 4100001 was never seen face to face: the worker notes why no final visit was
    needed; the team manager cannot approve, the service manager can, with the adults' checklist (C3)."""
    slack.command("U0DAN", "close 4100001")
    form = slack.last_view("request_closure")
    reasons = options_of(form, "reason")
    assert reasons == ["A1", "A2", "A3", "A4"]  # C1, an adult's case
    refused = slack.submit("U0DAN", form, {"reason": "A1", "summary": "Objectives achieved."})
    assert list(refused.json()["errors"]) == ["no_visit_reason"] and store.writes() == (0, 0, 0)
    why = "Client declined visits; reviewed by phone with the carer."
    assert slack.submit("U0DAN", form, {"reason": "A1", "summary": "Objectives achieved.", "no_visit_reason": why}).body == ""
    assert store.request(1).details["no_visit_reason"] == why
    card = slack.card("C0ADSMGR", "Closure request 1")
    assert "service manager or head of service must agree" in json.dumps(card.blocks)
    slack.click("U0RUTH", card, "Approve")
    assert "(C4)" in slack.ephemerals("U0RUTH")[-1]
    assert store.request(1).state == "requested"
    slack.click("U0OLU", card, "Approve")
    checklist = slack.last_view("approve")
    inputs = [b["block_id"] for b in checklist["blocks"] if b["type"] == "input"]
    assert inputs[0] == "note" and len(inputs) == 1 + 2 * 18  # each item answered, each with a note field
    answers = {f"answer_{n}": "yes" for n in range(1, 19)} | {"answer_13": "no", "answer_14": "na"}
    no_note = slack.submit("U0OLU", checklist, answers)
    assert list(no_note.json()["errors"]) == ["note_13"] and store.request(1).state == "requested"
    answers["note_13"] = "No financial assessment: the client pays privately."
    assert slack.submit("U0OLU", checklist, answers).body == ""
    assert store.request(1).state == "approved"
    recorded = {a["item"]: (a["answer"], a["note"]) for a in store.request(1).details["approval"]["checklist"]}
    assert recorded["13"] == ("no", "No financial assessment: the client pays privately.") and recorded["14"] == ("na", "")
    assert labels(slack.card("C0ADSBS", "Closure request 1"))[0] == "Claim"
    assert why in json.dumps(checklist["blocks"])  # the approver sees the worker's C4 note in the modal ...
    on_cards = json.dumps([vars(m) for channel in ("C0ADSMGR", "C0ADSBS") for m in slack.api.messages(channel)])
    assert why not in on_cards and "privately" not in on_cards  # ... and typed notes stay off channel cards


# -- what must never write -----------------------------------------------------------------------------


def test_a_bad_signature_gets_401_and_writes_nothing(slack: SlackDriver, store: Store) -> None:
    mark = slack.api.count()
    answer = slack.post(urlencode({"command": "/case", "text": "close 3549723", "user_id": "U0AMY", "trigger_id": "1.2.3"}),
                        "application/x-www-form-urlencoded", secret="not-the-secret")
    assert answer.status == 401
    assert store.writes() == (0, 0, 0) and slack.api.since(mark) == []


def test_a_stale_timestamp_gets_401_and_writes_nothing(slack: SlackDriver, store: Store) -> None:
    slack.command("U0AMY", "close 3549723")
    form = slack.last_view("request_closure")
    mark = slack.api.count()
    stale = int(time.time()) - 301
    answer = slack.submit("U0AMY", form, {"reason": "RC7", "summary": "Done."}, timestamp=stale)
    assert answer.status == 401
    assert store.writes() == (0, 0, 0) and slack.api.since(mark) == []


def test_a_retried_view_submission_does_not_create_a_second_request(slack: SlackDriver, store: Store) -> None:
    slack.command("U0AMY", "close 3549723")
    payload = slack.submission_payload("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."})
    assert slack.interactive(payload).status == 200
    writes = store.writes()
    assert writes[0] == 1
    mark = slack.api.count()
    assert slack.interactive(payload, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}).status == 200
    assert store.writes() == writes
    assert slack.api.since(mark) == []  # not even a "you already asked" reply: the retry is not processed


@pytest.mark.parametrize(
    "body",
    [
        "payload=not-json",
        urlencode({"payload": json.dumps([1, 2])}),
        urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U0MARIA"}, "trigger_id": "1.2",
                                          "channel": {"id": MGR}})}),
        urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U0MARIA"}, "trigger_id": "1.2",
                                          "channel": {"id": MGR}, "actions": []})}),
        urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U0AMY"},
                                          "view": {"callback_id": "request_closure", "private_metadata": "3549723"}})}),
        urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U0AMY"},
                                          "view": {"callback_id": "request_closure", "private_metadata": "3549723",
                                                   "state": {"values": {"reason": {"reason": {"type": "static_select",
                                                                                            "selected_option": "RC7"}}}}}})}),
        urlencode({"command": "/case", "text": "close 3549723", "user_id": "U0AMY"}),  # no trigger_id
    ],
    ids=["not-json", "not-an-object", "no-actions", "empty-actions", "no-state", "bad-option", "command-without-trigger"],
)
def test_malformed_payloads_get_a_plain_answer_and_write_nothing(slack: SlackDriver, store: Store, body: str) -> None:
    answer = slack.post(body, "application/x-www-form-urlencoded")
    assert answer.status in (200, 400)
    assert "could not read" in answer.body
    assert store.writes() == (0, 0, 0)
    assert slack.api.calls_to("views.open") == []


def test_an_unreadable_body_with_a_bad_signature_is_still_401(slack: SlackDriver, store: Store) -> None:
    assert slack.post("payload=not-json", "application/x-www-form-urlencoded", secret="forged").status == 401
    assert store.writes() == (0, 0, 0)


def test_field_errors_land_on_the_views_input_blocks() -> None:
    view = View.model_validate({
        "callback_id": "request_closure", "state": {"values": {}},
        "blocks": [{"type": "section"}, {"type": "input", "block_id": "reason"}, {"type": "input", "block_id": "summary"}],
    })
    assert field_errors(view, {"summary": "Write a summary."}) == {"summary": "Write a summary."}
    # A key that is not an input of this view goes on the first input, so the modal shows it.
    assert field_errors(view, {"applies_to": "Not in this family.", "reason": "Choose."}) == {"reason": "Not in this family. Choose."}
    assert field_errors(View.model_validate({"callback_id": "x", "state": {"values": {}}}), {"a": "b"}) == {}


def test_a_malformed_click_tells_the_clicker(slack: SlackDriver, store: Store) -> None:
    payload = {"type": "block_actions", "user": {"id": "U0MARIA"}, "trigger_id": "1.2", "channel": {"id": MGR}, "actions": []}
    slack.interactive(payload)
    assert slack.ephemerals("U0MARIA") == ["worktray could not read that request; nothing changed."]


def test_a_click_by_someone_not_in_the_config_is_refused(slack: SlackDriver, store: Store) -> None:
    slack.command("U0AMY", "close 3549723")
    slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."})
    writes = store.writes()
    answer = slack.click("U0STRANGER", slack.card(MGR, "Closure request 1"), "Approve")
    assert answer.status == 200
    assert "not in worktray's organisation config" in slack.ephemerals("U0STRANGER")[-1]
    assert store.writes() == writes and store.request(1).state == "requested"


def test_a_worker_cannot_approve_even_with_the_button(slack: SlackDriver, store: Store) -> None:
    slack.command("U0AMY", "close 3549723")
    slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."})
    writes = store.writes()
    slack.click("U0BEN", slack.card(MGR, "Closure request 1"), "Approve")
    assert "cannot approve" in slack.ephemerals("U0BEN")[-1]
    assert store.writes() == writes


def test_where_an_ephemeral_is_refused_the_reply_goes_to_the_dm(slack: SlackDriver, store: Store) -> None:
    slack.command("U0AMY", "close 3549723")
    slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."})
    slack.api.fail("chat.postEphemeral", "channel_not_found")
    slack.click("U0TESS", slack.card(MGR, "Closure request 1"), "Approve")
    assert any("cannot approve" in m.text for m in slack.dms("U0TESS"))


def test_slash_command_replies_only_to_the_invoker(slack: SlackDriver, store: Store) -> None:
    status = slack.command("U0AMY", "status 3549723")
    assert status.status == 200
    assert status.json()["text"].startswith("Case 3549723 (LM)")
    assert any(b["type"] == "actions" for b in status.json()["blocks"])  # "Request closure"
    usage = slack.command("U0AMY", "shut 3549723")
    assert usage.json()["response_type"] == "ephemeral" and "Usage" in usage.json()["text"]
    typed = slack.command("U0AMY", "close <!channel>")
    assert "&lt;!channel&gt;" in typed.json()["text"] and "<!channel>" not in typed.body
    assert store.writes() == (0, 1, 0)  # the look at the case is an event (workflows.access); nothing else


def test_case_history_and_help_reply_only_to_the_invoker(slack: SlackDriver, store: Store) -> None:
    """Issue 8: /case history pages the event log (IDs, staff names, actions; no notes); /case help lists the commands."""
    slack.command("U0AMY", "close 3549723")
    slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done with thanks to Lily."})
    history = slack.command("U0MARIA", "history 3549723")
    assert history.status == 200 and history.json()["response_type"] == "ephemeral"
    assert history.json()["text"].startswith("History of case 3549723 (LM)")
    assert "Amy Brooke · requested request 1" in json.dumps(history.json()["blocks"], ensure_ascii=False)
    assert "Lily" not in history.body and "Done with thanks" not in history.body
    bad = slack.command("U0MARIA", "history 3549723 zero")
    assert bad.json()["response_type"] == "ephemeral" and "is not a page number" in bad.json()["text"]
    helped = slack.command("U0AMY", "help")
    assert "/case history" in helped.json()["text"] and "/audits" in helped.json()["text"]


def test_case_status_is_refused_to_someone_outside_the_team(slack: SlackDriver, store: Store) -> None:
    """Dan works in Adults South: he is told plainly he may not see an Under 12s case, and nothing about the child."""
    refused = slack.command("U0DAN", "status 3549723")
    assert refused.status == 200 and refused.json()["response_type"] == "ephemeral"
    assert refused.json()["text"].startswith("You may not see case 3549723")
    assert "LM" not in refused.body and "blocks" not in refused.json()
    assert store.writes() == (0, 1, 0)  # the refused look is recorded


def test_home_tab_shows_the_work_tray(slack: SlackDriver, store: Store) -> None:
    """The Home tab is the person's work tray (tests/test_worktray*.py): the manager's decision,
    with the full name, which Home may show a manager of the team (issue 8); business support
    see ID and initials only."""
    slack.command("U0AMY", "close 3549723")
    slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."})
    assert slack.home_opened("U0MARIA").status == 200
    published = slack.api.calls_to("views.publish")[-1]
    assert published["user_id"] == "U0MARIA" and published["view"]["type"] == "home"
    assert "3549723 (LM) Lily Marsh" in json.dumps(published["view"]["blocks"])
    slack.home_opened("U0SAM")
    assert "Lily" not in json.dumps(slack.api.calls_to("views.publish")[-1]["view"])
    slack.home_opened("U0STRANGER")
    assert "not in worktray's organisation config" in json.dumps(slack.api.calls_to("views.publish")[-1]["view"])


def test_healthz(slack: SlackDriver) -> None:
    answer = slack.request("GET", "/healthz")
    assert (answer.status, answer.body) == (200, "ok")
    assert slack.request("GET", "/nowhere").status == 404


def test_healthz_says_so_when_the_database_is_unreachable(slack: SlackDriver) -> None:
    def broken() -> bool:
        raise ConnectionError("database down")

    with running(make_wsgi_app(slack.bolt, broken)) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 503
        conn.close()


def test_a_press_on_an_ephemeral_reply_names_no_message_to_redraw() -> None:
    """Slack's own payload shape (tests/data/slack/block_actions_button_in_message.json):
    a press on a channel message names it (its card is redrawn first, and a success it shows is
    not said again); on an ephemeral reply (/worktray, /case status) it names none, so the
    clicker is told in words."""
    from bot.slack_app import BlockActions, parse_payload

    payload = json.loads((Path(__file__).parent / "data/slack/block_actions_button_in_message.json").read_text())
    pressed = parse_payload(payload)
    assert isinstance(pressed, BlockActions) and pressed.message is not None and pressed.message.message_id == "1678252213.679169"
    payload["container"]["is_ephemeral"] = True
    on_ephemeral = parse_payload(payload)
    assert isinstance(on_ephemeral, BlockActions) and on_ephemeral.message is None and not on_ephemeral.from_home
