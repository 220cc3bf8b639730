"""The Slack adapter: slack-bolt listeners that parse, call ``Interactions``, reply.

Every listener is a few lines: parse the payload (pydantic), call the
platform-neutral core (``bot.actions.Interactions``), show the ``Reply`` to the
person who acted. Cards in channels are never sent from here: the core writes
them to the outbox and ``Deliverer`` posts them through ``SlackSender``.

Decisions worth knowing:

* **Parsing.** A global middleware (after Bolt's signature check) validates
  every payload we handle with the small models below and puts the result in
  ``context["wt"]``. A malformed payload gets a plain reply ("could not read
  that request; nothing changed") and never reaches a listener, so nothing is
  written and Bolt's own matchers never trip over it (no 500).
* **Retries.** A request carrying ``X-Slack-Retry-Num`` is acknowledged and not
  processed again. Slack retries when our first answer failed or took longer
  than 3 s; listeners finish their work before answering
  (``process_before_response=True``), so the original has normally been
  handled. Buttons would be safe anyway (the core is state-based: a second
  approve says "Nothing changed"), but a retried slash command or view
  submission must not create a second request. Skipping can at worst drop an
  event whose first delivery failed outright; the only event handled here,
  ``app_home_opened``, is sent again the next time the Home tab is opened.
  (Socket Mode has no such header: its envelopes are acknowledged by Bolt.)
* **Where replies go.** Slash commands answer in the HTTP acknowledgement
  (``ack(text=…)``), which Slack shows only to the invoker in any channel or
  DM. Button clicks answer with ``chat.postEphemeral`` in the message's
  channel; where Slack refuses that (e.g. a DM or channel the bot cannot post
  in) the text goes to the person's DM with the app via ``chat.postMessage``.
  Modal results go to that DM too (a modal has no channel). Reply texts are
  plain text (they may quote what someone typed) and are escaped on the way.
* **Logs** carry IDs only (Slack user IDs, request and person IDs), never
  names or text a user typed.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_bolt import App as BoltApp
from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import text as sql_text

from bot.actions import FORMS, Reply
from bot.blockkit import card_blocks, escape, form_view, read_values
from bot.cards import Card, Form, FormValues, Section
from bot.views import STATE_LABELS
from workflows.org import Organisation
from workflows.requests import OPEN_STATES
from worktray.bootstrap import App, build
from worktray.scheduler import build_scheduler
from worktray.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000
UNREADABLE = "worktray could not read that request; nothing changed."
HOME_HELP = [
    "/case close <person-id>: ask for a case to be closed",
    "/case status <person-id>: the case and its requests, shown to you only",
    "/case reopen <person-id>: reopen a finished closure as a new involvement (managers, practice supervisors)",
    "/case rereferral <person-id> <N-code>: a contact within 3 months of closure goes back to the previous team",
]


# -- the Web API side: what the deliverer uses ----------------------------------------


def make_client(settings: Settings) -> WebClient:
    """A WebClient that waits out rate limits (Retry-After) instead of failing."""
    kwargs: dict[str, Any] = {}
    if settings.slack_api_base_url:
        kwargs["base_url"] = settings.slack_api_base_url  # WebClient adds the trailing "/"
    handlers = [*default_retry_handlers(), RateLimitErrorRetryHandler(max_retry_count=3)]
    return WebClient(token=settings.slack_bot_token, retry_handlers=handlers, **kwargs)


class SlackSender:
    """``bot.deliver.ChatSender`` for Slack: cards as Block Kit, the title as notification text."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, channel: str, card: Card) -> str:
        response = self.client.chat_postMessage(channel=channel, text=escape(card.fallback_text), blocks=card_blocks(card))
        return str(response["ts"])

    def update(self, channel: str, message_id: str, card: Card) -> None:
        self.client.chat_update(channel=channel, ts=message_id, text=escape(card.fallback_text), blocks=card_blocks(card))

    def direct(self, user: str, card: Card) -> str:
        """chat.postMessage with a user ID as channel posts in the app's DM with them."""
        response = self.client.chat_postMessage(channel=user, text=escape(card.fallback_text), blocks=card_blocks(card))
        return str(response["ts"])


# -- payload models: only the parts we read ----------------------------------------------


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SlackUser(_Part):
    id: str = Field(min_length=1)


class Channel(_Part):
    id: str = Field(min_length=1)


class Container(_Part):
    type: str | None = None
    channel_id: str | None = None


class Action(_Part):
    action_id: str = Field(min_length=1)
    value: str = ""
    action_ts: str = ""


class BlockActions(_Part):
    type: Literal["block_actions"]
    user: SlackUser
    trigger_id: str = Field(min_length=1)
    actions: list[Action] = Field(min_length=1)
    channel: Channel | None = None
    container: Container | None = None

    @property
    def channel_id(self) -> str | None:
        if self.channel is not None:
            return self.channel.id
        return self.container.channel_id if self.container else None


class SelectedOption(_Part):
    value: str


class ElementState(_Part):
    """One element's value in ``view.state.values``, whatever its type."""

    type: str
    value: str | None = None
    selected_option: SelectedOption | None = None
    selected_options: list[SelectedOption] | None = None
    selected_date: str | None = None


class ViewState(_Part):
    values: dict[str, dict[str, ElementState]]


class ViewBlock(_Part):
    type: str
    block_id: str | None = None


class View(_Part):
    id: str = ""
    callback_id: str
    private_metadata: str = ""
    state: ViewState
    blocks: list[ViewBlock] = Field(default_factory=list)

    def values(self) -> FormValues:
        """{field key: value}, read by the same code for every element type."""
        return read_values(
            {block: {action: e.model_dump(exclude_none=True) for action, e in elements.items()} for block, elements in self.state.values.items()}
        )


class ViewSubmission(_Part):
    type: Literal["view_submission"]
    user: SlackUser
    view: View


class SlashCommand(_Part):
    command: str
    user_id: str = Field(min_length=1)
    channel_id: str = ""
    text: str = ""
    trigger_id: str = Field(min_length=1)


class HomeOpened(_Part):
    type: Literal["app_home_opened"]
    user: str = Field(min_length=1)
    tab: str = "home"


class HomeOpenedEnvelope(_Part):
    type: Literal["event_callback"]
    event: HomeOpened


Payload = BlockActions | ViewSubmission | SlashCommand | HomeOpenedEnvelope


def parse_payload(body: Any) -> Payload | None:
    """Validate the payloads worktray handles; None for anything else (Bolt decides).

    Raises ValidationError when a payload of a kind we handle is malformed.
    """
    if not isinstance(body, dict):
        raise ValueError("the request body is not an object")
    if "command" in body:
        return SlashCommand.model_validate(body)
    kind = body.get("type")
    if kind == "block_actions":
        return BlockActions.model_validate(body)
    if kind == "view_submission":
        return ViewSubmission.model_validate(body)
    event = body.get("event")
    if kind == "event_callback" and isinstance(event, dict) and event.get("type") == "app_home_opened":
        return HomeOpenedEnvelope.model_validate(body)
    return None


# -- the Bolt app --------------------------------------------------------------------------


def create_bolt_app(app: App, settings: Settings, client: WebClient) -> BoltApp:
    """Bolt with worktray's listeners; each parses, calls the core and replies."""
    bolt = BoltApp(
        client=client,  # carries the bot token and the Web API base URL
        signing_secret=settings.slack_signing_secret or "",
        process_before_response=True,  # finish the work before answering Slack (see module docstring)
        name="worktray",
    )
    bolt.use(_Guard(client))
    replies = _Replies(client)
    interactions = app.interactions

    @bolt.command("/case")
    def on_case(ack: Callable[..., None], context: dict[str, Any]) -> None:
        cmd: SlashCommand = context["wt"]
        reply = interactions.command(cmd.user_id, cmd.text, source=f"slack:command:{cmd.trigger_id}"[:200])
        log.info("slack /case by %s", cmd.user_id)
        replies.to_command(ack, cmd, reply)

    @bolt.block_action(re.compile(r"^wt:"))
    def on_button(ack: Callable[..., None], context: dict[str, Any]) -> None:
        ack()
        click: BlockActions = context["wt"]
        action = click.actions[0]
        name = action.action_id.removeprefix("wt:")
        log.info("slack button %s by %s value %s", name, click.user.id, action.value[:40])
        reply = interactions.press(click.user.id, name, action.value, source=f"slack:{action.action_ts}")
        replies.to_click(click, reply)

    @bolt.view_submission(re.compile("^(" + "|".join(re.escape(c) for c in FORMS) + ")$"))
    def on_submit(ack: Callable[..., None], context: dict[str, Any]) -> None:
        sub: ViewSubmission = context["wt"]
        log.info("slack form %s by %s", sub.view.callback_id, sub.user.id)
        view = sub.view
        reply = interactions.submit(sub.user.id, view.callback_id, view.private_metadata, view.values(), source=f"slack:view:{view.id}")
        replies.to_submission(ack, sub, reply)

    @bolt.event("app_home_opened")
    def on_home(ack: Callable[..., None], context: dict[str, Any]) -> None:
        ack()
        event = context["wt"].event
        if event.tab == "home":
            client.views_publish(user_id=event.user, view=home_view(app, event.user))

    return bolt


class _Guard(Middleware):
    """Global middleware: skip Slack's retries, refuse malformed payloads, parse the rest.

    A ``Middleware`` subclass rather than a decorated function: Bolt builds a
    function middleware's arguments eagerly (``action`` = ``body["actions"][0]``),
    which would raise on the very payloads this is here to refuse.
    """

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        retry = req.headers.get("x-slack-retry-num", [None])[0]
        if retry is not None:
            reason = req.headers.get("x-slack-retry-reason", ["?"])[0]
            log.info("slack retry %s (%s) acknowledged, not processed again", retry, reason[:40])
            return BoltResponse(status=200, body="")
        if req.context.get("wt_unreadable"):
            log.warning("slack request body could not be parsed; refused")
            return BoltResponse(status=400, body=UNREADABLE)
        body = req.body
        try:
            req.context["wt"] = parse_payload(body)
        except (ValidationError, ValueError) as e:
            kind = (body.get("type") or body.get("command")) if isinstance(body, dict) else None
            log.warning("malformed slack %s payload refused (%s)", str(kind)[:30], type(e).__name__)
            _tell_unreadable(self.client, body)
            return BoltResponse(status=200, body=UNREADABLE)
        return next()


class _Someone(_Part):
    """Just enough of a malformed payload to tell the person it failed."""

    user: SlackUser
    channel: Channel | None = None


def _tell_unreadable(client: WebClient, body: Any) -> None:
    """Best effort: an ephemeral note to whoever clicked, if the payload says who and where."""
    try:
        someone = _Someone.model_validate(body)
    except ValidationError:
        return
    if someone.channel is None:
        return
    try:
        client.chat_postEphemeral(channel=someone.channel.id, user=someone.user.id, text=UNREADABLE)
    except SlackApiError as e:
        log.warning("could not tell %s about an unreadable payload: %s", someone.user.id, e.response.get("error"))


class _Replies:
    """How a ``Reply`` is shown on Slack, per kind of interaction."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def to_command(self, ack: Callable[..., None], cmd: SlashCommand, reply: Reply) -> None:
        if reply.form is not None:
            ack()
            self.open_form(cmd.trigger_id, reply.form, cmd.user_id)
        elif reply.card is not None:
            ack(text=escape(reply.card.fallback_text), blocks=card_blocks(reply.card), response_type="ephemeral")
        else:
            ack(text=escape(reply.text or "Done."), response_type="ephemeral")

    def to_click(self, click: BlockActions, reply: Reply) -> None:
        if reply.form is not None:
            self.open_form(click.trigger_id, reply.form, click.user.id)
        elif reply.card is not None:
            self.ephemeral(click.channel_id, click.user.id, reply.card.fallback_text, card_blocks(reply.card))
        elif reply.text:
            self.ephemeral(click.channel_id, click.user.id, reply.text)

    def to_submission(self, ack: Callable[..., None], sub: ViewSubmission, reply: Reply) -> None:
        errors = field_errors(sub.view, reply.errors) if reply.errors else {}
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        if reply.text:
            self.direct(sub.user.id, reply.text)

    def open_form(self, trigger_id: str, form: Form, user_id: str) -> None:
        try:
            self.client.views_open(trigger_id=trigger_id, view=form_view(form))
        except SlackApiError as e:  # e.g. the trigger expired (3 s): say so rather than fail silently
            log.warning("views.open for %s failed: %s", user_id, e.response.get("error"))
            self.direct(user_id, "The form could not be opened in time; please try again.")

    def ephemeral(self, channel: str | None, user: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Only ``user`` sees it; where Slack refuses an ephemeral, the app's DM instead.

        ``text`` is plain text (it may quote what someone typed): escaped here.
        """
        if channel is not None:
            try:
                self.client.chat_postEphemeral(channel=channel, user=user, text=escape(text), blocks=blocks)
                return
            except SlackApiError as e:
                log.info("ephemeral to %s in %s refused (%s); sending a DM", user, channel, e.response.get("error"))
        self.direct(user, text, blocks)

    def direct(self, user: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        try:
            self.client.chat_postMessage(channel=user, text=escape(text), blocks=blocks)
        except SlackApiError as e:
            log.warning("DM to %s failed: %s", user, e.response.get("error"))


def field_errors(view: View, errors: dict[str, str]) -> dict[str, str]:
    """Form field errors keyed by the view's input block_ids (our field keys).

    An error whose key is not an input of this view goes on the first input,
    so the person still sees it and the modal stays open. Empty when the view
    has no input at all (the caller then closes the modal and sends the text).
    """
    inputs = [b.block_id for b in view.blocks if b.type == "input" and b.block_id]
    if not inputs:
        return {}
    shown: dict[str, str] = {}
    for key, message in errors.items():
        block = key if key in inputs else inputs[0]
        shown[block] = f"{shown[block]} {message}" if block in shown else message
    return shown


def home_view(app: App, user_id: str) -> dict[str, Any]:
    """The Home tab: the open requests of the person's teams (IDs and initials only) and help."""
    org: Organisation = app.ctx.org
    person = org.person_by_chat_id(user_id)
    sections: list[Section] = []
    if person is None:
        sections.append(Section("Not set up", ["You are not in worktray's organisation config; ask your administrator to add you."]))
    else:
        with app.uow() as uow:
            for team in org.teams_of(person.key):
                lines = [
                    f"{r.id} {r.kind} · {r.person_id} ({r.person.initials}) · {STATE_LABELS.get(r.state, r.state)}"
                    for r in uow.requests.in_states(team, OPEN_STATES)
                ]
                sections.append(Section(f"Open requests in {org.team(team).name}", lines[:40] or ["none"]))
    sections.append(Section("Commands", HOME_HELP))
    card = Card(title="worktray", sections=sections[:45])
    return {"type": "home", "blocks": card_blocks(card)}


# -- HTTP ----------------------------------------------------------------------------------


def make_http_server(
    bolt_app: BoltApp, healthcheck: Callable[[], bool], host: str = "0.0.0.0", port: int = 3000
) -> ThreadingHTTPServer:
    """POST /slack/events goes to Bolt (signature checked there); GET /healthz checks the database.

    Only the standard library: no web framework is needed for two endpoints.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s", format % args)

        def do_GET(self) -> None:
            if self.path.partition("?")[0] != "/healthz":
                self._send(404, "not found")
                return
            try:
                ok = healthcheck()
            except Exception as e:  # a health check reports, it does not crash
                log.warning("health check failed: %s", type(e).__name__)
                ok = False
            self._send(200 if ok else 503, "ok" if ok else "database unavailable")

        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            if path != EVENTS_PATH:
                self._send(404, "not found")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY_BYTES:
                self._send(413, "request body too large")
                return
            raw = self.rfile.read(length).decode("utf-8", errors="replace")
            headers: dict[str, str | Sequence[str]] = {k.lower(): v for k, v in self.headers.items()}
            response = bolt_app.dispatch(_bolt_request(raw, query, headers))
            self._send(response.status, response.body, response.headers)

        def _send(self, status: int, body: str, headers: dict[str, Any] | None = None) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            for name, values in (headers or {"content-type": ["text/plain;charset=utf-8"]}).items():
                for value in values:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _bolt_request(raw: str, query: str, headers: dict[str, str | Sequence[str]]) -> BoltRequest:
    """A BoltRequest; an unparseable body still goes through Bolt's signature check.

    Bolt parses the body in BoltRequest's constructor and would raise on
    ``payload=not-json``. Such a request is rebuilt empty but keeps its raw
    body, so a forged one still gets 401 and a signed one gets a plain 400
    from the guard middleware.
    """
    try:
        return BoltRequest(body=raw, query=query, headers=headers)
    except (ValueError, TypeError, AttributeError, KeyError):
        request = BoltRequest(body="", query=query, headers=headers, context={"wt_unreadable": True})
        request.raw_body = raw
        return request


# -- running ---------------------------------------------------------------------------------


def serve(settings: Settings, org: Organisation, http: bool, port: int) -> int:
    """``worktray run``: Socket Mode when SLACK_APP_TOKEN is set (and not --http), else HTTP."""
    socket_mode = bool(settings.slack_app_token) and not http
    if not socket_mode and not settings.slack_signing_secret:
        log.error("HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)")
        return 2
    client = make_client(settings)
    app = build(settings.database_url, org, SlackSender(client))
    bolt = create_bolt_app(app, settings, client)
    app.deliverer.start()
    app.deliverer.kick()  # anything left in the outbox from before a restart
    scheduler = build_scheduler(app)  # outbox retries, C11 card refreshes
    scheduler.start()
    try:
        if socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            log.info("worktray on Slack, Socket Mode")
            SocketModeHandler(bolt, settings.slack_app_token).start()
            return 0
        server = make_http_server(bolt, lambda: database_ok(app), "0.0.0.0", port)
        _stop_on_sigterm(server)
        log.info("worktray on Slack, HTTP on port %s (%s, /healthz)", port, EVENTS_PATH)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return 0
    finally:
        scheduler.shutdown(wait=False)
        app.deliverer.stop()


def database_ok(app: App) -> bool:
    with app.uow() as uow:
        uow.session.execute(sql_text("SELECT 1"))
    return True


def _stop_on_sigterm(server: ThreadingHTTPServer) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
