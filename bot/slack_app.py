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
  Only a number of 1 or more is a retry: Bolt's Socket Mode adapter turns a
  first delivery's ``retry_attempt: 0`` into ``X-Slack-Retry-Num: 0``.
* **Ack first (issue 9).** A listener does the core's work (one short
  transaction) and returns; every call to Slack's Web API that a reply needs
  (``chat.postEphemeral``, its DM fallback, ``views.open``, ``views.publish``,
  the "something went wrong" DM) runs afterwards on a small pool of threads
  (``_Background``), with the client's 429 retries there. So the HTTP answer
  (the ack) never waits for Slack, rate-limited or not; Slack's limit is 3 s.
  The click's card itself goes through the outbox: the commit kicks the deliverer.
  ``settle_replies()`` waits for those calls (tests, before looking at them).
* **Where replies go.** Slash commands answer in the HTTP acknowledgement
  (``ack(text=…)``), which Slack shows only to the invoker in any channel or
  DM. Button clicks answer with ``chat.postEphemeral`` in the message's
  channel; where Slack refuses that (e.g. a DM or channel the bot cannot post
  in) the text goes to the person's DM with the app via ``chat.postMessage``.
  Modal results go to that DM too (a modal has no channel), and so do replies to a
  button pressed on the App Home tab (no channel either); the presser's Home is then
  redrawn (``views.publish``). The Home tab is each person's work tray
  (``bot.tray_views``), published when they open it, when they page it ("Show more",
  action ``tray_more``) and, by the deliverer, whenever a request in it changes. Reply texts are
  plain text (they may quote what someone typed) and are escaped on the way.
* **Logs** carry IDs only (Slack user IDs, request and person IDs), never
  names or text a user typed. Bolt and slack_sdk log request and response
  bodies (a bad signature's body at INFO, payloads at DEBUG, an unhandled
  request's body at WARNING): every logger they are given is ``slack_logger()``,
  whose filter keeps the start of such a message and withholds the rest.
  Unhandled errors go to one error handler that logs IDs and the exception
  type and tells the person in plain words.
* **This module does not wire itself.** It exports the pieces
  (``make_client``, ``SlackSender``, ``create_bolt_app``, ``make_wsgi_app``,
  ``socket_mode_handler``) taking plain parameters; ``worktray.serve`` puts
  them together with the store, the deliverer and the scheduler.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_bolt import App as BoltApp
from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.actions import FORMS, Interactions, Reply, id_number
from bot.blockkit import button_action, card_blocks, escape, form_view, home_view, read_values, tray_blocks
from bot.cards import Card, Form, FormValues
from bot.deliver import Posted, RateLimited, Unavailable
from bot.tray_views import MORE
from store.uow import UnitOfWork
from workflows.org import Organisation

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000
SOURCE_MAX = 200  # events.source
UNREADABLE = "worktray could not read that request; nothing changed."
SORRY = "Something went wrong in worktray and your request may not have been done. Please try again; if it keeps failing, tell your administrator."


# -- the Web API side: what the deliverer uses ----------------------------------------


def make_client(token: str | None, base_url: str | None = None) -> WebClient:
    """A WebClient that waits out rate limits (Retry-After) instead of failing.

    ``base_url``: another address for Slack's Web API (a local mock in tests).
    Its logger is ``slack_logger()``: slack_sdk logs request bodies at DEBUG.
    """
    kwargs: dict[str, Any] = {}
    if base_url:
        kwargs["base_url"] = base_url  # WebClient adds the trailing "/"
    handlers = [*default_retry_handlers(), RateLimitErrorRetryHandler(max_retry_count=3)]
    return WebClient(token=token, retry_handlers=handlers, logger=slack_logger("web"), **kwargs)


# -- logs: IDs only, whatever Bolt and slack_sdk would say ------------------------------------


class WithholdPayloads(logging.Filter):
    """Keeps the start of a Slack library's log message and withholds the rest.

    Bolt and slack_sdk put request and response bodies into their messages
    ("Invalid request signature detected (signature: …, body: …)", "Unhandled
    request ({…})", "Sending a request - url: …, json_body: {…}") and
    tracebacks whose text may quote a database row. A body may carry a name, a
    date of birth or a typed note, so everything from the first ``(``, ``{``,
    ``:`` or line break on is withheld, and an exception is reduced to its type.
    """

    CUT = re.compile(r"[({:\n\[]")
    # Bolt reads SLACK_BOT_TOKEN itself and warns that the client we give it wins: it is the same token.
    NOT_NEWS = frozenset({warning_client_prioritized_and_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: its template alone, never its arguments
            message = str(record.msg)
        if message in self.NOT_NEWS:
            return False
        head = self.CUT.split(message, maxsplit=1)[0].rstrip(" -,")
        withheld = head != message
        if record.exc_info and record.exc_info[1] is not None:
            head = f"{head} ({type(record.exc_info[1]).__name__})"
            withheld = True
        if withheld:
            record.msg, record.args = f"{head} [details withheld]", None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def slack_logger(part: str) -> logging.Logger:
    """The logger handed to Bolt, WebClient and the Socket Mode client (``worktray.slack.<part>``).

    Bolt copies a given logger's filters onto the loggers of its middleware and
    listener runner, so the filter reaches them too.
    """
    logger = logging.getLogger(f"worktray.slack.{part}")
    if not any(isinstance(f, WithholdPayloads) for f in logger.filters):
        logger.addFilter(WithholdPayloads())
    return logger


class SlackSender:
    """``bot.deliver.ChatSender`` for Slack: cards as Block Kit, the title as notification text.

    Rate limits are the deliverer's to wait out, channel by channel: this
    sender's client does not sleep on a 429 (``make_client``'s does) but raises
    ``RateLimited`` with Slack's Retry-After, so a rate-limited channel holds no
    delivery thread and the other channels go on.
    """

    def __init__(self, client: WebClient) -> None:
        handlers = [h for h in client.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)]
        self.client = WebClient(
            token=client.token, base_url=client.base_url, timeout=client.timeout, retry_handlers=handlers, logger=client.logger
        )

    def post(self, channel: str, card: Card) -> str:
        with _failures_told_apart():
            response = self.client.chat_postMessage(channel=channel, text=escape(card.fallback_text), blocks=card_blocks(card))
        return str(response["ts"])

    def update(self, channel: str, message_id: str, card: Card) -> None:
        with _failures_told_apart():
            self.client.chat_update(channel=channel, ts=message_id, text=escape(card.fallback_text), blocks=card_blocks(card))

    def direct(self, user: str, card: Card) -> Posted:
        """chat.postMessage with a user ID as channel posts in the app's DM with them.

        Slack answers with the DM channel's ID (D...): chat.update needs that one,
        not the user ID, to redraw the DM later."""
        with _failures_told_apart():
            response = self.client.chat_postMessage(channel=user, text=escape(card.fallback_text), blocks=card_blocks(card))
        return Posted(str(response.get("channel") or user), str(response["ts"]))

    def publish_home(self, user: str, cards: list[Card]) -> None:
        """views.publish: the person's App Home tab is replaced by their work tray as it is now."""
        self.client.views_publish(user_id=user, view=home_view(cards))


@contextlib.contextmanager
def _failures_told_apart() -> Iterator[None]:
    """What the deliverer waits out, told apart from what is wrong with one message:
    HTTP 429 is ``RateLimited`` (with Retry-After); Slack unreachable (connection
    refused, a time-out, a broken answer) or failing on its side (HTTP 5xx) is
    ``Unavailable``. Anything else (``channel_not_found``...) goes on as it is."""
    try:
        yield
    except SlackApiError as e:
        status = getattr(e.response, "status_code", None)
        if status == 429:
            raise RateLimited(retry_after(getattr(e.response, "headers", None) or {})) from None
        if isinstance(status, int) and status >= 500:
            raise Unavailable() from e
        raise
    except (OSError, http.client.HTTPException) as e:  # URLError, ConnectionRefusedError, TimeoutError
        raise Unavailable() from e


def retry_after(headers: dict[str, Any]) -> float:
    """Slack's Retry-After header (seconds); 1 when it is absent or unreadable."""
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            first = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(first))
            except (TypeError, ValueError):
                break
    return 1.0


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
    message_ts: str | None = None
    is_ephemeral: bool = False  # a reply only the clicker saw (/worktray, /case status): never redrawn


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

    @property
    def message(self) -> Posted | None:
        """The channel message whose button was pressed, if it was one (not an ephemeral reply:
        the deliverer never redraws those)."""
        channel, ts = self.channel_id, self.container.message_ts if self.container else None
        ephemeral = self.container is not None and self.container.is_ephemeral
        return Posted(channel, ts) if channel and ts and not self.from_home and not ephemeral else None

    @property
    def from_home(self) -> bool:
        """Pressed on a view (the App Home tab), not a message: there is no channel to answer in."""
        return self.container is not None and self.container.type == "view"


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
    if _has_nul(body):  # Slack sends none; PostgreSQL refuses NUL in text (a DataError, not a refusal)
        raise ValueError("the request carries a NUL character")
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


def _has_nul(value: Any) -> bool:
    """A NUL character in any string of the payload, keys included."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


# -- the Bolt app --------------------------------------------------------------------------


def create_bolt_app(
    interactions: Interactions, uow: Callable[[], UnitOfWork], org: Organisation, client: WebClient, signing_secret: str
) -> BoltApp:
    """Bolt with worktray's listeners; each parses, calls the core and replies.

    ``client`` carries the bot token and the Web API address; ``signing_secret``
    verifies HTTP requests (Socket Mode needs none: its envelopes come over the
    app's own WebSocket).
    """
    bolt = BoltApp(
        client=client,
        signing_secret=signing_secret,
        process_before_response=True,  # finish the work before answering Slack (see module docstring)
        name="worktray",
        logger=slack_logger("bolt"),  # its filter withholds bodies (see WithholdPayloads)
    )
    background = _Background()
    bolt.use(_Guard(client, background))
    errors = _ErrorHandler(client, background)
    replies = _Replies(client, background)

    @bolt.error
    def on_error(error: Exception, body: Any) -> BoltResponse:
        return errors.handle(error, body)

    def on_command(name: str, method: str) -> Callable[..., None]:
        def listener(ack: Callable[..., None], context: dict[str, Any]) -> None:
            cmd: SlashCommand = context["wt"]
            handle: Callable[..., Reply] = getattr(interactions, method)  # looked up per call, as a method call would
            reply = handle(cmd.user_id, cmd.text, source=_source("command", cmd.trigger_id))
            log.info("slack %s by %s", name, cmd.user_id)
            replies.to_command(ack, cmd, reply)

        return listener

    # One listener per slash command (manifest.yml), each: parse, call the core, reply ephemerally.
    for name, method in (("/case", "command"), ("/radar", "radar"), ("/audits", "audits"), ("/worktray", "worktray")):
        bolt.command(name)(on_command(name, method))

    def publish_home(user: str, page: int = 1, *, opened: bool = False) -> None:
        """Best effort: the person's Home tab redrawn from the store now (their work tray).
        ``opened``: they have just opened it, so they are noted as a Home viewer first (a write)."""
        cards = interactions.home_opened(user) if opened else interactions.home(user, page)
        try:
            client.views_publish(user_id=user, view=home_view(cards))
        except SlackApiError as e:
            log.warning("views.publish for %s failed: %s", user, e.response.get("error"))

    def publish_opened_home(user: str) -> None:
        publish_home(user, opened=True)

    @bolt.block_action(re.compile(r"^wt:"))
    def on_button(ack: Callable[..., None], context: dict[str, Any]) -> None:
        ack()
        click: BlockActions = context["wt"]
        action = click.actions[0]
        name = button_action(action.action_id)
        log.info("slack button %s by %s value %s", name, click.user.id, action.value[:40])
        if name == MORE:  # the Home tab's "Show more": the same tray, another page
            background.run(publish_home, click.user.id, id_number(action.value) or 1)  # past the last page: the last
            return
        reply = interactions.press(click.user.id, name, action.value, source=_source(action.action_ts), clicked=click.message)
        background.run(replies.to_click, click, reply)  # the ack goes now; the reply once Slack takes it
        if click.from_home:  # pressed on the Home tab: the clicker sees their tray as it now is
            background.run(publish_home, click.user.id)

    @bolt.view_submission(re.compile("^(" + "|".join(re.escape(c) for c in FORMS) + ")$"))
    def on_submit(ack: Callable[..., None], context: dict[str, Any]) -> None:
        sub: ViewSubmission = context["wt"]
        log.info("slack form %s by %s", sub.view.callback_id, sub.user.id)
        view = sub.view
        reply = interactions.submit(sub.user.id, view.callback_id, view.private_metadata, view.values(), source=_source("view", view.id))
        replies.to_submission(ack, sub, reply)

    @bolt.event("app_home_opened")
    def on_home(ack: Callable[..., None], context: dict[str, Any]) -> None:
        ack()
        event = context["wt"].event
        if event.tab == "home":  # noted and drawn off the ack path: the note is a write transaction
            background.run(publish_opened_home, event.user)

    return bolt


def _source(*parts: str) -> str:
    """The event's ``source`` ("slack:…"), cut to its column (``events.source``, 200 characters):
    Slack's IDs are short, but a longer one must not fail the step it records."""
    return ":".join(("slack", *parts))[:SOURCE_MAX]


class _Background:
    """Slack calls made after the answer to Slack: a few threads, so that the ack never waits.

    A failure is logged with the exception type only (its text may quote a payload).
    """

    THREADS = 4
    _all: ClassVar[weakref.WeakSet[_Background]] = weakref.WeakSet()

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.THREADS, thread_name_prefix="slack-reply")
        self._pending = 0
        self._idle = threading.Condition()
        _Background._all.add(self)

    def run(self, work: Callable[..., object], *args: Any) -> None:
        with self._idle:
            self._pending += 1
        try:
            self._pool.submit(self._do, work, *args)
        except RuntimeError:  # the pool is shut down (the process is ending): do it here
            self._do(work, *args)

    def _do(self, work: Callable[..., object], *args: Any) -> None:
        try:
            work(*args)
        except Exception as e:
            log.warning("a reply to slack failed after the ack: %s", type(e).__name__)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def settle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


def settle_replies(timeout: float = 30.0) -> bool:
    """Wait until every reply started after an ack has been made (tests); False on time-out."""
    return all(background.settle(timeout) for background in list(_Background._all))


class _Guard(Middleware):
    """Global middleware: skip Slack's retries, refuse malformed payloads, parse the rest.

    A ``Middleware`` subclass rather than a decorated function: Bolt builds a
    function middleware's arguments eagerly (``action`` = ``body["actions"][0]``),
    which would raise on the very payloads this is here to refuse.
    """

    def __init__(self, client: WebClient, background: _Background) -> None:
        self.client = client
        self.background = background

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        if is_retry(req):
            retry = req.headers.get("x-slack-retry-num", ["?"])[0]
            reason = req.headers.get("x-slack-retry-reason", ["?"])[0]
            log.info("slack retry %s (%s) acknowledged, not processed again", retry, reason[:40])
            return BoltResponse(status=200, body="")
        if req.context.get("wt_unreadable"):
            log.warning("slack request body could not be parsed; refused")
            return BoltResponse(status=400, body=UNREADABLE)
        body = req.body
        try:
            req.context["wt"] = parse_payload(body)
        except (ValidationError, ValueError, RecursionError) as e:  # RecursionError: nested too deep to walk
            kind = (body.get("type") or body.get("command")) if isinstance(body, dict) else None
            log.warning("malformed slack %s payload refused (%s)", str(kind)[:30], type(e).__name__)
            self.background.run(_tell_unreadable, self.client, body)
            return BoltResponse(status=200, body=UNREADABLE)
        return next()


def is_retry(req: BoltRequest) -> bool:
    """Slack's retry of an earlier delivery: ``X-Slack-Retry-Num`` of 1 or more.

    Over Socket Mode Bolt sets the header from the envelope's ``retry_attempt``
    even on a first delivery (``0``), so the header alone is not a retry.
    """
    value = req.headers.get("x-slack-retry-num", [""])[0]
    try:
        return int(value) >= 1
    except ValueError:
        return False


class _ErrorHandler:
    """Bolt's global error handler: IDs and the exception type in the log, plain words to the person.

    The exception's text is not logged: a database error can quote a row (a
    name, a date of birth). The person is told in the command's answer, or
    in their DM with the app for a click or a form (the form then closes).
    """

    def __init__(self, client: WebClient, background: _Background) -> None:
        self.client = client
        self.background = background

    def handle(self, error: Exception, body: Any) -> BoltResponse:
        body = body if isinstance(body, dict) else {}
        user = _user_id(body)
        what = body.get("command") or body.get("type") or "request"
        log.error("unhandled %s in slack %s from %s", type(error).__name__, str(what)[:40], user or "unknown user")
        if "command" in body:
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": SORRY})
        if user and body.get("type") in ("block_actions", "view_submission"):
            self.background.run(self._tell, user)
        return BoltResponse(status=200, body="")

    def _tell(self, user: str) -> None:
        try:
            self.client.chat_postMessage(channel=user, text=SORRY)
        except Exception as e:  # Slack itself may be what failed
            log.warning("could not tell %s about an error: %s", user, type(e).__name__)


def _user_id(body: dict[str, Any]) -> str | None:
    user = body.get("user_id") or body.get("user") or (body.get("event") or {}).get("user")
    if isinstance(user, dict):
        user = user.get("id")
    return str(user)[:40] if user else None


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

    def __init__(self, client: WebClient, background: _Background) -> None:
        self.client = client
        self.background = background

    def to_command(self, ack: Callable[..., None], cmd: SlashCommand, reply: Reply) -> None:
        if reply.form is not None:
            ack()
            self.background.run(self.open_form, cmd.trigger_id, reply.form, cmd.user_id)
        elif reply.cards:  # the work tray
            ack(text=escape(reply.cards[0].fallback_text), blocks=tray_blocks(reply.cards), response_type="ephemeral")
        elif reply.card is not None:
            ack(text=escape(reply.card.fallback_text), blocks=card_blocks(reply.card), response_type="ephemeral")
        else:
            ack(text=escape(reply.text or "Done."), response_type="ephemeral")

    def to_click(self, click: BlockActions, reply: Reply) -> None:
        if reply.form is not None:
            self.open_form(click.trigger_id, reply.form, click.user.id)
        elif reply.card is not None:
            self.ephemeral(click.channel_id, click.user.id, reply.card.fallback_text, card_blocks(reply.card))
        elif reply.text and not (reply.shown_on_card and (click.message is not None or click.from_home)):
            # A success the redrawn card (or the republished Home tab) shows is not said twice:
            # business support claiming all day would get a reply per click, and on the Home
            # tab, which has no channel, a permanent DM each time.
            self.ephemeral(click.channel_id, click.user.id, reply.text)

    def to_submission(self, ack: Callable[..., None], sub: ViewSubmission, reply: Reply) -> None:
        errors = field_errors(sub.view, reply.errors) if reply.errors else {}
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        if reply.text:
            self.background.run(self.direct, sub.user.id, reply.text)

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


# -- HTTP: a WSGI app for a real server (worktray.serve runs it in waitress) ---------------


def make_wsgi_app(bolt: BoltApp, healthcheck: Callable[[], bool]) -> Callable[..., Iterable[bytes]]:
    """POST /slack/events goes to Bolt (signature checked there); GET /healthz checks the database."""
    return _WsgiApp(bolt, healthcheck)


class _WsgiApp(SlackRequestHandler):
    """Bolt's WSGI adapter plus /healthz and a 400 (not a 500) for an unreadable body."""

    def __init__(self, bolt: BoltApp, healthcheck: Callable[[], bool]) -> None:
        super().__init__(bolt, EVENTS_PATH)
        self.healthcheck = healthcheck

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == "/healthz":
            ok = self._healthy()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain;charset=utf-8")])
            return [b"ok" if ok else b"database unavailable"]
        return super().__call__(environ, start_response)

    def _healthy(self) -> bool:
        try:
            return self.healthcheck()
        except Exception as e:  # a health check reports, it does not crash
            log.warning("health check failed: %s", type(e).__name__)
            return False

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        headers = request.get_headers()
        if not _integer_timestamp(headers):
            # Bolt's signature check would raise on int(timestamp) and its error handler
            # answer 200 (and DM the "user" the forged body names): refuse it as unsigned.
            log.info("slack request with a malformed timestamp refused")
            return BoltResponse(status=401, body={"error": "invalid request"})
        try:
            raw = request.get_body()
        except UnicodeDecodeError:  # Slack sends UTF-8 only; Bolt's adapter would raise (a 500)
            log.warning("slack request body is not UTF-8; refused")
            return BoltResponse(status=400, body=UNREADABLE)
        return self.app.dispatch(_bolt_request(raw, request.query_string, headers))


def _integer_timestamp(headers: dict[str, str | Sequence[str]]) -> bool:
    """X-Slack-Request-Timestamp is absent (Bolt refuses that itself) or an integer, as Bolt needs it."""
    value = headers.get("x-slack-request-timestamp")
    if value is None:
        return True
    try:
        int(value if isinstance(value, str) else value[0])
    except (ValueError, IndexError):
        return False
    return True


def _bolt_request(raw: str, query: str, headers: dict[str, str | Sequence[str]]) -> BoltRequest:
    """A BoltRequest; an unparseable body still goes through Bolt's signature check.

    Bolt parses the body in BoltRequest's constructor and would raise on
    ``payload=not-json``; its own middleware trips on an ``event`` that is not an
    object (``_bolt_can_read``). Such a request is rebuilt empty but keeps its raw
    body, so a forged one still gets 401 and a signed one gets a plain 400
    from the guard middleware.
    """
    try:
        request = BoltRequest(body=raw, query=query, headers=headers)
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError):  # RecursionError: JSON nested too deep
        request = None
    if request is None or not _bolt_can_read(request.body):
        request = BoltRequest(body="", query=query, headers=headers, context={"wt_unreadable": True})
        request.raw_body = raw
    return request


def _bolt_can_read(body: Any) -> bool:
    """The envelope as Bolt's own middleware reads it, before ours can refuse it.

    Its authorization and self-event checks call ``body.get("event", {}).get(…)``
    and ``"type" in body["event"]``: an ``event`` that is not an object (null, a
    string) raised there, and a null one again in Bolt's error handling (a 500).
    Its log line for a request no listener takes reads ``body["view"].get(…)``.
    """
    return isinstance(body, dict) and all(key not in body or isinstance(body[key], dict) for key in ("event", "view"))


# -- Socket Mode -------------------------------------------------------------------------------


def socket_mode_handler(bolt: BoltApp, app_token: str) -> SocketModeHandler:
    """Bolt's Socket Mode handler (slack_sdk's builtin client), logging through ``slack_logger``.

    ``apps.connections.open`` goes through the app's WebClient, so its base URL
    (a local mock in tests) is where the WebSocket address comes from.
    """
    return SocketModeHandler(bolt, app_token, logger=slack_logger("socket"))
