"""``worktray run`` on Slack: checks at start-up, then the Slack adapter wired to the store and the deliverer.

The adapter (``bot.slack_app``) exports its pieces; this module puts them
together, because an adapter does not wire itself:

* **Start-up checks, one clear line each** (``StartupError``; the CLI prints it
  and exits non-zero, no traceback): the database cannot be reached; it has no
  worktray schema or an old one (Slack mode never creates or changes the
  schema: ``worktray db upgrade`` does that, once, by whoever runs the
  service); Slack cannot be reached; Slack rejects the bot token
  (``auth.test``); HTTP mode without a signing secret.
* **HTTP mode** runs Bolt's WSGI adapter in waitress, a maintained WSGI server:
  a bounded pool of ``WORKTRAY_HTTP_THREADS`` worker threads, idle connections
  closed after ``CHANNEL_TIMEOUT`` seconds, bodies over 1 MB refused. The
  database pool is sized to match: one connection per HTTP thread plus the
  deliverer's and the scheduler's.
* **Socket Mode** connects over Slack's WebSocket (Bolt's builtin handler).
* **SIGTERM** (systemd, a container) stops either mode cleanly: waitress
  finishes the requests in hand, then the scheduler and the deliverer stop.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any
from urllib.error import URLError

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import make_url
from sqlalchemy import text as sql_text
from sqlalchemy.exc import SQLAlchemyError
from waitress.server import create_server

from bot.slack_app import MAX_BODY_BYTES, SlackSender, create_bolt_app, make_client, make_wsgi_app, socket_mode_handler
from store.db import make_engine
from store.migrate import alembic_config
from store.uow import UnitOfWork
from workflows.org import Organisation
from worktray.bootstrap import build, warn_about_config
from worktray.errors import StartupError
from worktray.scheduler import build_scheduler
from worktray.settings import Settings

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024  # connections the kernel queues for us (the standard library's 5 turns a burst of clicks away)
CHANNEL_TIMEOUT = 30  # seconds an HTTP connection may stay idle (Slack wants an answer within 3)
BACKGROUND_CONNECTIONS = 2  # the deliverer's and the scheduler's database connections
REJECTED_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}


# -- start-up checks ----------------------------------------------------------------------


def shown_url(url: str) -> str:
    """The database URL without its password, fit for a message."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: say only that
        return "DATABASE_URL"


def check_database(url: str) -> None:
    """The database answers and holds worktray's newest schema (Slack mode never creates it)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines would bury the one that matters
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sql_text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or type(e).__name__).strip().splitlines()[0][:200]
        raise StartupError(f"cannot reach the database at {shown_url(url)}: {reason}") from None
    finally:
        engine.dispose()
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    if current is None:
        raise StartupError(f"the database at {shown_url(url)} has no worktray schema: run `worktray db upgrade` first")
    if current not in heads:
        raise StartupError(f"the database at {shown_url(url)} has an older worktray schema ({current}): run `worktray db upgrade` first")


def check_app_token(client: WebClient, app_token: str) -> None:
    """Socket Mode: Slack accepts the app-level token (``apps.connections.open``, asked quietly once)."""
    quiet = logging.getLogger("worktray.slack.startup")
    quiet.setLevel(logging.CRITICAL)
    try:
        WebClient(base_url=client.base_url, timeout=15, logger=quiet).apps_connections_open(app_token=app_token)
    except SlackApiError as e:
        raise StartupError(f"Slack rejected SLACK_APP_TOKEN ({e.response.get('error')}): check the app-level token") from None
    except (URLError, OSError) as e:
        reason = getattr(e, "reason", None) or type(e).__name__
        raise StartupError(f"cannot reach Slack's Web API at {client.base_url} ({reason})") from None


def check_slack(client: WebClient) -> None:
    """``auth.test``: Slack can be reached and accepts the bot token.

    Asked once, without retries, through a client whose own error lines are
    not logged: the StartupError is the one line that says what is wrong.
    """
    quiet = logging.getLogger("worktray.slack.startup")
    quiet.setLevel(logging.CRITICAL)
    try:
        WebClient(token=client.token, base_url=client.base_url, timeout=15, logger=quiet).auth_test()
    except SlackApiError as e:
        error = str(e.response.get("error") or "unknown error")
        if error in REJECTED_TOKEN:
            raise StartupError(f"Slack rejected SLACK_BOT_TOKEN ({error}): check the bot token") from None
        raise StartupError(f"Slack's auth.test failed ({error})") from None
    except (URLError, OSError) as e:
        reason = getattr(e, "reason", None) or type(e).__name__
        raise StartupError(f"cannot reach Slack's Web API at {client.base_url} ({reason})") from None


def database_ok(new_uow: Callable[[], UnitOfWork]) -> bool:
    """/healthz: one round trip to the database."""
    with new_uow() as uow:
        uow.session.execute(sql_text("SELECT 1"))
    return True


# -- the HTTP server ----------------------------------------------------------------------


class HttpServer:
    """waitress serving a WSGI app with a bounded worker pool and idle-connection timeouts."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], host: str, port: int, threads: int) -> None:
        self.server: Any = create_server(
            wsgi_app,
            host=host,
            port=port,
            threads=threads,
            channel_timeout=CHANNEL_TIMEOUT,
            max_request_body_size=MAX_BODY_BYTES,
            connection_limit=max(100, threads * 4),
            backlog=LISTEN_BACKLOG,
            ident="worktray",
        )

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def run(self) -> None:
        """Serve until SystemExit or KeyboardInterrupt; waitress then finishes the requests in hand."""
        self.server.run()

    def stop(self) -> None:
        """Stop a server run in another thread (tests, bench): the pool stops, then its loop closes every socket.

        The workers finish first: a worker ending a request wakes the loop through the
        trigger, which ``close_all`` closes with the rest ("Bad file descriptor" if a
        worker was still running). The closing runs in the server's own loop thread (a
        waitress trigger thunk); with nothing left to watch the loop ends and ``run`` returns.
        """
        server = self.server

        def close_all() -> None:
            for channel in list(server._map.values()):
                with contextlib.suppress(OSError):
                    channel.close()

        server.task_dispatcher.shutdown()
        server.trigger.pull_trigger(close_all)


def _exit_on_sigterm() -> None:
    """SIGTERM ends ``run`` the way Ctrl-C does (waitress and our ``finally`` clean up)."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


# -- running ---------------------------------------------------------------------------------


def serve_slack(settings: Settings, org: Organisation, *, http: bool, host: str, port: int) -> int:
    """``worktray run`` with Slack tokens: Socket Mode when SLACK_APP_TOKEN is set (and not --http), else HTTP."""
    socket_mode = bool(settings.slack_app_token) and not http
    if not socket_mode and not settings.slack_signing_secret:
        raise StartupError("HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)", code=2)
    check_database(settings.database_url)
    client = make_client(settings.slack_bot_token, settings.slack_api_base_url)
    check_slack(client)
    if socket_mode:
        check_app_token(client, settings.slack_app_token or "")
    threads = settings.worktray_http_threads
    app = build(settings.database_url, org, SlackSender(client), migrate=False, pool_size=threads + BACKGROUND_CONNECTIONS)
    warn_about_config(app)
    bolt = create_bolt_app(app.interactions, app.uow, org, client, settings.slack_signing_secret or "")
    handler = _connect_socket_mode(bolt, settings.slack_app_token or "") if socket_mode else None
    app.deliverer.start()
    app.deliverer.kick()  # anything left in the outbox from before a restart
    scheduler = build_scheduler(app)  # outbox retries, T2/T3 digests, T7 moves, the morning round (D3, C6.1)
    scheduler.start()
    try:
        if handler is not None:
            log.info("worktray on Slack, Socket Mode")
            _wait_for_sigterm()
            handler.close()
        else:
            server = HttpServer(make_wsgi_app(bolt, lambda: database_ok(app.uow)), host, port, threads)
            _exit_on_sigterm()
            log.info("worktray on Slack, HTTP on %s:%s (/slack/events, /healthz), %s threads", host, server.port, threads)
            server.run()
        return 0
    finally:
        scheduler.shutdown(wait=False)
        app.deliverer.stop()


def _connect_socket_mode(bolt: Any, app_token: str) -> Any:
    """Open the WebSocket before the deliverer and the scheduler start."""
    handler = socket_mode_handler(bolt, app_token)
    try:
        handler.connect()
    except SlackApiError as e:  # the token was accepted a moment ago (check_app_token): say what Slack said
        raise StartupError(f"Slack refused a Socket Mode connection ({e.response.get('error')})") from None
    return handler


def _wait_for_sigterm() -> None:
    stopped = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
