"""The outbox deliverer: sends what the core queued, and remembers where.

A card is posted the first time its key is delivered, and the message's ts
(and, for a direct message, the DM channel Slack answers with) is recorded in
``chat_messages`` so that every later delivery of that key edits the same
message in place. Several pending rows for one card are sent once (the card
always shows the request as it is now).

Nothing is given up silently: a failed send stays pending and is retried with
growing delays (``retry_delay``: 30 s doubling, each delay at most an hour),
with no cap on time or attempts. Only due rows are picked, so a failing row
never starves the rows behind it. Each failure is logged at WARNING with IDs
only (row IDs, card key, error code); ``worktray outbox`` shows the rows that
keep failing and retries or drops them (a dropped row is kept, never deleted).

Fast where people wait (issue 9): a click's commit kicks the deliverer, which
sends the due messages of different channels at once (``DELIVERY_THREADS``),
each channel's in order, one after another. Card updates, new posts and DMs of
one approve therefore go out side by side instead of one after the other.

Slack's rate limits and outages (issue 9): when the platform says "wait"
(``RateLimited``: Slack's HTTP 429 with Retry-After) or cannot be reached
(``Unavailable``: connection refused, time-out, HTTP 5xx; the sender says
which), the message stays pending and its
channel is held: nothing later in that channel is sent before it, so a backlog
drains in order per channel, at the pace the platform allows, while other
channels go on. A rate-limited message is due again after Retry-After. A
message the platform could not take is due again after ``retry_delay``; the
background loop meanwhile tries the oldest of them every ``PROBE_SECONDS``,
and the first message that goes through makes all of them due at once, so
the backlog drains as soon as the platform is back, oldest first. The stored
error says which (``RateLimited: …``, ``Unavailable: …``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from sqlalchemy import Engine, exists, func, or_, select, text, update
from sqlalchemy.orm import aliased

from bot import tray_views
from bot.cards import Card
from bot.safe_log import log_failure
from bot.views import channel_card, deputy_notice_card, digest_card, for_deputy, message_card, reminders_card
from store.models import ChatMessage, OutboxMessage, Request
from store.uow import UnitOfWork, UowFactory
from workflows.deputies import NOTICE_VIEW as DEPUTY_NOTICE_VIEW
from workflows.reminders import VIEW as REMINDERS_VIEW
from workflows.requests import Context

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x776F726B74726179  # 'worktray': the outbox deliverer's PostgreSQL advisory lock
BATCH_SIZE = 100
FIRST_RETRY_DELAY = dt.timedelta(seconds=30)
LONGEST_RETRY_DELAY = dt.timedelta(hours=1)
PROBE_SECONDS = 30.0  # while the platform is unreachable, the background loop tries one held message this often
# Homes drawn in one read-only unit of work before they are published (the morning refresh draws
# hundreds): no snapshot is held for long, nor every view at once.
HOME_CHUNK = 25
DELIVERY_THREADS = 4  # channels sent to at once; each channel's messages one after another, in order
HOLDING = ("RateLimited", "Unavailable")  # stored errors that hold their channel back (see the module docstring)
# Another instance held the advisory lock: it may have taken its last look at the outbox
# just before our rows were committed, so look again this soon, not at the next poll.
BUSY_ELSEWHERE_RETRY_SECONDS = 0.5
_ERROR_CODE = re.compile(r"[a-z0-9_.]{1,64}")


def retry_delay(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failure: 30 s, 1 min, 2 min ... at most an hour, forever."""
    doubled = FIRST_RETRY_DELAY * 2 ** min(max(attempts - 1, 0), 16)
    return min(doubled, LONGEST_RETRY_DELAY)


def failure_code(error: BaseException) -> str:
    """What is stored and logged of a failed send: the exception type and the chat
    platform's error code (Slack: ``channel_not_found``), never the exception's
    message, which may quote what was sent."""
    code: object = None
    response = getattr(error, "response", None)
    if response is not None and hasattr(response, "get"):
        try:
            code = response.get("error")
        except Exception:  # an odd response object must not hide the failure itself
            code = None
    name = type(error).__name__
    if isinstance(code, str) and _ERROR_CODE.fullmatch(code):
        return f"{name}: {code}"
    return name


class RateLimited(Exception):
    """The chat platform asked to wait before sending to this channel again (Slack: HTTP 429, Retry-After)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:g} s")
        self.retry_after = retry_after


class Unavailable(Exception):
    """The chat platform could not be reached or failed on its side (connection refused,
    a time-out, HTTP 5xx): the sender raises it ``from`` the original error."""


class Posted(NamedTuple):
    """Where a direct message landed: Slack answers a post to a user ID with the DM channel (D...)."""

    channel: str
    message_id: str


class ChatSender(Protocol):
    """What a chat platform must do for the deliverer."""

    def post(self, channel: str, card: Card) -> str:
        """Post a card to a channel; return the message's ID (Slack: ts)."""
        ...

    def update(self, channel: str, message_id: str, card: Card) -> None: ...

    def direct(self, user: str, card: Card) -> Posted | str:
        """Send a card to one person (Slack: the app's DM with them).

        Return where it landed; a platform that can edit a DM through the
        user's ID may return only the message ID.
        """
        ...


@dataclass
class _Job:
    """One message to send, standing for one or more outbox rows of the same card."""

    row_ids: list[int]
    kind: str
    channel: str
    card_key: str | None
    lane: str = ""  # the outbox row's channel: one lane's messages are sent in order
    card: Card | None = None
    message_id: str | None = None  # set: edit this message in place
    new_message_id: str | None = None
    error: str | None = None  # exception type and error code only (no personal data)
    wait_until: dt.datetime | None = None  # rate-limited or unreachable: the channel is held until then
    skipped: bool = False  # not tried: an earlier message of its channel is being held
    request_id: int | None = None  # the request the message is about: whose Home trays it may change
    recorded: list[int] | None = None  # a new post's rows, recorded as sent the moment the platform took it


class Deliverer:
    def __init__(self, uow_factory: UowFactory, ctx: Context, sender: ChatSender, threads: int = DELIVERY_THREADS) -> None:
        self._new_uow = uow_factory
        self.ctx = ctx
        self.sender = sender
        # A sender may take fewer at once: the console prints one transcript, in the outbox's order.
        self.threads = min(threads, getattr(sender, "delivery_threads", threads))
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._outage_seen = True  # rows held by an outage may be waiting (from before a restart): look once
        self._deferred = True  # rows may be waiting for a retry time: the loop asks when the next is due
        self.busy_elsewhere = False  # the last drain found another instance delivering (PostgreSQL)
        # Home tabs to redraw (request IDs), drawn on a thread of their own once started, so that
        # drawing trays never holds up the next card a person waits for (issue 9).
        self._homes_pending: set[int] = set()
        self._home_users_pending: set[str] = set()  # and people whose Home is redrawn as it is (the morning refresh)
        self._homes_wake = threading.Event()
        self._homes_thread: threading.Thread | None = None
        self._homes_guard = threading.Lock()
        # Messages a person has just clicked on: their edits are drawn and sent first in the next
        # batch (issue 9: what a person waits for). (channel, message ID) -> the batch it was noted in.
        self._awaited: dict[tuple[str, str], int] = {}
        self._batches = 0
        self._guard = threading.Lock()
        self._engine: Engine | None = None

    def drain(self) -> int:
        """Deliver every row that is due now; return how many messages were delivered.

        One deliverer at a time: a lock within this process and, on PostgreSQL,
        an advisory lock across processes, so that a second worktray instance
        against the same database waits its turn instead of sending twice.
        A failed row is put off (``retry_delay``), so the loop ends once
        nothing more is due.
        """
        with self._lock, self._only_deliverer() as mine:
            self.busy_elsewhere = not mine
            if not mine:
                return 0
            delivered = 0
            while True:
                more, sent = self._deliver_batch()
                delivered += sent
                if not more:
                    return delivered

    @contextmanager
    def _only_deliverer(self) -> Iterator[bool]:
        if self._engine is None:
            with self._new_uow(readonly=True) as uow:
                bind = uow.session.get_bind()
            assert isinstance(bind, Engine)
            self._engine = bind
        engine = self._engine
        if engine.dialect.name != "postgresql":
            yield True  # SQLite: one host, one process (README: run one instance)
            return
        # A connection of its own, held for the whole drain: the lock belongs to it.
        with engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}).scalar())
            conn.commit()  # no transaction stays open while delivering
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                    conn.commit()

    def _deliver_batch(self) -> tuple[bool, int]:
        """Render in one read-only transaction, each message sent as soon as it is drawn
        (the edits of messages a person just clicked on first); a new post is recorded as
        sent in a short writing transaction of its own as soon as the platform takes it,
        edits, failures and holds at the end of the batch, in one.

        Chat calls can be slow; holding a writing transaction over them would hold
        SQLite's write lock (a read-only one holds no lock: a snapshot). The cost: a
        crash (kill -9) between sending a message and recording it sends that one
        message again (at least once, never lost). For an edit that is harmless (the
        same card drawn again); for a first post it is a second copy of the card, and
        only of the posts in flight (one per lane at most): recording the whole batch at its end would repost
        every card the batch had posted (tests/test_crash_restart.py). Slack has no
        idempotency key for chat.postMessage, and finding the lost post again
        (conversations.history) would need read scopes the app does not ask for
        (manifest.yml: chat:write only).
        Returns (whether more may be due now, messages delivered): more when the
        batch was full, or when the platform came back and held rows are due again
        (a click's kick needs one batch, not a second query that finds nothing).
        """
        now = self.ctx.clock.now()
        if self.threads > 1 and self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="outbox-send")
        lanes = _Lanes(lambda job: self._send_and_record(job, now), self._pool if self.threads > 1 else None)
        jobs, full = self._render_due(now, lanes.add)
        lanes.wait()
        if not jobs:
            return False, 0
        released = self._record(jobs, now)
        tried = [j for j in jobs if not j.skipped]
        self._publish_homes({j.request_id for j in tried if j.request_id is not None and not j.error})
        return full or released, sum(1 for j in tried if not j.error)

    def _render_due(self, now: dt.datetime, send: Callable[[_Job], None]) -> tuple[list[_Job], bool]:
        """The due rows' messages, each handed to ``send`` once drawn, and whether the
        batch was full (more may be due)."""
        earlier = aliased(OutboxMessage)
        held_back = exists().where(  # an earlier message of the channel waits out a rate limit or an outage
            earlier.sent_at.is_(None),
            earlier.dropped_at.is_(None),
            earlier.next_attempt_at > now,
            earlier.channel == OutboxMessage.channel,
            earlier.id < OutboxMessage.id,
            or_(*(earlier.error.startswith(f"{code}:") for code in HOLDING)),
        )
        with self._new_uow(readonly=True) as uow:
            rows = uow.session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.dropped_at.is_(None),
                    or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
                    ~held_back,
                )
                .order_by(OutboxMessage.id)
                .limit(BATCH_SIZE)
            ).all()
            jobs: list[_Job] = []
            by_key: dict[str, _Job] = {}
            held: dict[int, Request | None] = {}  # the batch's requests, loaded once for all their cards
            keys = {row.card_key for row in rows if row.card_key}
            where = {m.card_key: m for m in uow.session.scalars(select(ChatMessage).where(ChatMessage.card_key.in_(keys)))} if keys else {}
            # Looked up in the batch's snapshot (a read-only unit of work reads one, on both
            # databases: store.db.read_only_options), before any card is drawn: a row committed
            # after it is not seen, so it is not marked sent with a card that does not show it.
            waiting = self._waiting_rows_of_the_same_cards(uow, keys, {row.id for row in rows})
            for row in self._awaited_first(rows, where):
                if row.card_key and row.card_key in by_key:
                    by_key[row.card_key].row_ids.append(row.id)  # one delivery shows the card as it is now
                    continue
                job = _Job(row_ids=[row.id], kind=row.kind, channel=row.channel, card_key=row.card_key, lane=row.channel, request_id=_request_id(row))
                try:
                    job.card = self._render(uow, row, held)
                except Exception as e:  # a card that cannot be drawn must not block the others
                    job.error = f"render: {failure_code(e)}"
                if row.card_key:
                    posted = where.get(row.card_key)  # one card key, one message (uq_chat_messages_card_key)
                    if posted is not None:
                        job.channel, job.message_id = posted.channel, posted.ts
                    by_key[row.card_key] = job
                jobs.append(job)
                send(job)  # rows of the same card further on join it before it is recorded
            for row_id, key in waiting:
                by_key[key].row_ids.append(row_id)
            return jobs, len(rows) == BATCH_SIZE

    def _awaited_first(self, rows: Sequence[OutboxMessage], where: dict[str, ChatMessage]) -> list[OutboxMessage]:
        """The rows in the outbox's order, but the edits of messages a person has just clicked
        on first: a burst of clicks sees each clicked card redrawn before the other cards and
        DMs those clicks changed. Only edits move ahead (a new post keeps its place in its
        channel); the awaited messages this batch did not find are forgotten a batch later."""
        with self._guard:
            self._batches += 1
            awaited = dict(self._awaited)
        first: list[OutboxMessage] = []
        rest: list[OutboxMessage] = []
        for row in rows:
            posted = where.get(row.card_key) if row.card_key else None
            clicked = posted is not None and (posted.channel, posted.ts) in awaited
            (first if clicked else rest).append(row)
            if clicked and posted is not None:
                awaited[(posted.channel, posted.ts)] = -1
        with self._guard:
            for message, noted in awaited.items():
                if noted == -1 or noted < self._batches - 1:
                    self._awaited.pop(message, None)
        return first + rest

    @staticmethod
    def _waiting_rows_of_the_same_cards(uow: UnitOfWork, keys: set[str], picked: set[int]) -> list[tuple[int, str]]:
        """Rows of a card being delivered that are still waiting out a retry delay
        go with it: the delivery shows the card as it is now, which covers them.
        (row ID, card key) of each, not among ``picked``."""
        if not keys:
            return []
        waiting = uow.session.execute(
            select(OutboxMessage.id, OutboxMessage.card_key).where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.dropped_at.is_(None),
                OutboxMessage.card_key.in_(list(keys)),
            )
        ).all()
        return [(row_id, key) for row_id, key in waiting if row_id not in picked and key is not None]

    def _render(self, uow: UnitOfWork, row: OutboxMessage, held: dict[int, Request | None]) -> Card | None:
        """Draw a row's card. ``held`` keeps the batch's requests (and so their person and case)
        alive: the session only holds loaded objects weakly, and a request's manager card, queue
        card and DMs are usually drawn in one batch."""
        body = row.body
        if "digest" in body:  # T2, T3: a scheduled digest (workflows.radar)
            return digest_card(uow, self.ctx, body)
        if body.get("view") == REMINDERS_VIEW:  # the chasing engine's batch (workflows.reminders)
            return for_deputy(self.ctx, reminders_card(body), body)
        if body.get("view") == DEPUTY_NOTICE_VIEW:  # act-for: more cards name someone than were redrawn
            return deputy_notice_card(self.ctx, body)
        request_id = int(body["request_id"]) if "request_id" in body else None
        if request_id is not None and request_id not in held:
            held[request_id] = uow.requests.get(request_id)
        if request_id is not None and held[request_id] is None:
            return None  # nothing left to show
        if row.kind == "dm":
            return message_card(uow, self.ctx, body)
        request = held[int(body["request_id"])]
        assert request is not None
        # Issue 8: a channel sees a restricted record only as "a restricted record needs your action"
        return channel_card(uow, self.ctx, request, body["audience"], int(body.get("revision", request.revision)))

    def _send(self, job: _Job) -> _Job:
        if job.error or job.card is None:
            return job
        try:
            if job.message_id is not None:
                self.sender.update(job.channel, job.message_id, job.card)
            elif job.kind == "dm":
                posted = self.sender.direct(job.channel, job.card)
                if isinstance(posted, str):
                    posted = Posted(job.channel, posted)
                job.channel, job.new_message_id = posted.channel, posted.message_id
            else:
                job.new_message_id = self.sender.post(job.channel, job.card)
        except RateLimited as e:  # the channel waits as long as the platform asks (at least a second)
            job.error = "RateLimited: ratelimited"
            job.wait_until = self.ctx.clock.now() + dt.timedelta(seconds=max(1.0, e.retry_after))
        except Unavailable as e:
            job.error = f"Unavailable: {failure_code(e.__cause__) if e.__cause__ else 'unreachable'}"
            job.wait_until = self.ctx.clock.now() + retry_delay(self._attempts_after_this(job))
        except Exception as e:  # a chat failure must not lose the message: it stays pending
            job.error = failure_code(e)
        return job

    def _send_and_record(self, job: _Job, now: dt.datetime) -> None:
        """Send, and if the platform took a new message, record it at once (a crash re-sends
        only what is in flight: one message per lane at most). An edit is recorded with the
        batch (``_record``): sending it again after a crash only redraws the same card, and
        one write per batch instead of one per edit leaves SQLite's write lock to the clicks."""
        self._send(job)
        if job.error or job.card is None or job.message_id is not None:
            return
        ids = list(job.row_ids)  # rows of the same card drawn later join at the batch's end
        with self._new_uow(first_in_line=True) as uow:
            uow.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(sent_at=now, error=None, next_attempt_at=None))
            if job.new_message_id and job.card_key:
                uow.session.add(ChatMessage(card_key=job.card_key, channel=job.channel, ts=job.new_message_id))
            uow.commit()
        job.recorded = ids

    def _attempts_after_this(self, job: _Job) -> int:
        with self._new_uow(readonly=True) as uow:
            attempts = uow.session.scalar(select(func.max(OutboxMessage.attempts)).where(OutboxMessage.id.in_(job.row_ids)))
        return int(attempts or 0) + 1

    def _record(self, jobs: list[_Job], now: dt.datetime) -> bool:
        """Store what happened; True when rows held by an outage became due again."""
        released = False
        with self._new_uow(first_in_line=True) as uow:  # the next batch waits for this: before the clicks queued
            ok = [job for job in jobs if not job.skipped and not job.error]
            sent = [row_id for job in ok for row_id in job.row_ids]
            late = [row_id for job in ok for row_id in job.row_ids if row_id not in (job.recorded or ())]
            if late:  # nothing drawn (a finished request), or rows of the card that joined it after it went
                uow.session.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(late)).values(sent_at=now, error=None, next_attempt_at=None)
                )
            for job in jobs:
                if job.skipped or not job.error:
                    continue  # skipped: still due, held back until the message before it has gone
                rows = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(job.row_ids))).all()
                for row in rows:
                    row.attempts += 1
                    row.error = job.error
                    row.next_attempt_at = _next_attempt(job, row.attempts, now)
                _log_failure(job, rows)
                self._deferred = True
            if any(job.error and job.error.startswith("Unavailable:") for job in jobs):
                self._outage_seen = True
            elif sent and self._outage_seen:
                released = self._platform_is_back(uow, now)
                self._outage_seen = False
            uow.commit()
        return released

    @staticmethod
    def _platform_is_back(uow: UnitOfWork, now: dt.datetime) -> bool:
        """A message went through: the ones held by an outage are due now (oldest first, as always)."""
        result = uow.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.dropped_at.is_(None),
                OutboxMessage.next_attempt_at > now,
                OutboxMessage.error.startswith("Unavailable:"),
            )
            .values(next_attempt_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    def _probe(self) -> None:
        """While the platform is unreachable, make the oldest message it could not take due now:
        if it goes through, ``_platform_is_back`` releases the rest."""
        if not self._outage_seen:
            return
        now = self.ctx.clock.now()
        with self._new_uow() as uow:
            oldest = uow.session.scalar(
                select(func.min(OutboxMessage.id)).where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.dropped_at.is_(None),
                    OutboxMessage.next_attempt_at > now,
                    OutboxMessage.error.startswith("Unavailable:"),
                )
            )
            if oldest is None:
                self._outage_seen = False
                return
            uow.session.execute(update(OutboxMessage).where(OutboxMessage.id == oldest).values(next_attempt_at=now))
            uow.commit()
        self.kick()

    @property
    def has_home(self) -> bool:
        """Whether the chat platform has a Home tab to publish (the sender's ``publish_home``)."""
        return getattr(self.sender, "publish_home", None) is not None

    def republish_homes(self, chat_user_ids: Iterable[str]) -> None:
        """The morning refresh (``worktray.scheduler.refresh_homes``): these people's Home tabs
        redrawn as they are now, though nothing in them moved (ages and overdue marks move with
        the working days), as ``_publish_homes`` draws them: best effort, on the Home thread."""
        self._publish_homes(set(), set(chat_user_ids))

    def _publish_homes(self, request_ids: set[int], chat_user_ids: AbstractSet[str] = frozenset()) -> None:
        """Issue 8: the Home tabs of the people whose work tray these requests are in are
        republished (once each however many of their requests moved), and those of
        ``chat_user_ids``, when the platform has a Home (``publish_home``). Best effort, after
        the batch is recorded: a failed publish is logged and the next change or opening of the
        tab redraws it. Once ``start``-ed, on the Home thread (batches that come meanwhile are
        drawn together); else here."""
        if not self.has_home or not (request_ids or chat_user_ids):
            return
        if self._homes_thread is not None:
            with self._homes_guard:
                self._homes_pending |= request_ids
                self._home_users_pending |= chat_user_ids
            self._homes_wake.set()
            return
        self._draw_and_publish_homes(request_ids, chat_user_ids)

    def _run_homes(self) -> None:
        while not self._stop.is_set():
            self._homes_wake.wait(5.0)
            self._homes_wake.clear()
            with self._homes_guard:
                ids, self._homes_pending = self._homes_pending, set()
                users, self._home_users_pending = self._home_users_pending, set()
            if ids or users:
                self._draw_and_publish_homes(ids, users)

    def _draw_and_publish_homes(self, request_ids: set[int], chat_user_ids: AbstractSet[str] = frozenset()) -> None:
        publish = getattr(self.sender, "publish_home", None)
        if publish is None:
            return
        try:
            for homes in self._drawn_homes(request_ids, chat_user_ids):
                for user, cards in homes:
                    try:
                        publish(user, cards)
                    except Exception as e:
                        log.warning("home of %s not published: %s", user, failure_code(e))
        except Exception as e:  # a tray that cannot be drawn must not stop the deliveries
            log_failure(log, "home trays not drawn", e)

    def _drawn_homes(self, request_ids: set[int], chat_user_ids: AbstractSet[str]) -> Iterator[list[tuple[str, list[Card]]]]:
        """The Homes to publish, ``HOME_CHUNK`` people at a time, each chunk drawn in a read-only
        unit of work of its own and handed over after it ends: no transaction is held over the
        chat calls, nor over a morning refresh of hundreds. Who: the viewers these requests
        touch (``tray_views.affected_viewers``) and ``chat_user_ids``, each once, sorted. A tray
        that cannot be drawn is logged (the chat ID only) and the others are still drawn."""
        todo: list[str] | None = None
        while todo is None or todo:
            with self._new_uow(readonly=True) as uow:
                if todo is None:
                    todo = sorted(set(chat_user_ids) | tray_views.affected_viewers(uow, self.ctx, request_ids))
                chunk, todo = todo[:HOME_CHUNK], todo[HOME_CHUNK:]
                drawn = []
                for user in chunk:
                    try:
                        drawn.append((user, tray_views.home_cards(uow, self.ctx, user)))
                    except Exception as e:
                        log_failure(log, f"home of {user} not drawn", e)
            yield drawn

    # -- background running ---------------------------------------------------

    def kick(self, awaited: Posted | None = None) -> None:
        """Ask the background thread to deliver now (after a commit). ``awaited``: the message
        the person clicked on, whose redrawn card is then sent before the rest."""
        if awaited is not None:
            with self._guard:
                self._awaited[(awaited.channel, awaited.message_id)] = self._batches
        self._wake.set()

    def run_forever(self, poll_seconds: float = 5.0) -> None:
        """Deliver when kicked, when a held message is due again, and every ``poll_seconds``."""
        wait, probed = poll_seconds, self.ctx.clock.now()
        while not self._stop.is_set():
            self._wake.wait(BUSY_ELSEWHERE_RETRY_SECONDS if self.busy_elsewhere else wait)
            self._wake.clear()
            try:
                self.drain()
                wait = self._seconds_to_next_due(poll_seconds) if self._deferred else poll_seconds
                if (self.ctx.clock.now() - probed).total_seconds() >= PROBE_SECONDS:
                    probed = self.ctx.clock.now()
                    self._probe()
            except Exception as e:
                log_failure(log, "outbox delivery failed", e)
                wait = poll_seconds

    def _seconds_to_next_due(self, longest: float) -> float:
        """Until the earliest pending row is due again (a rate limit lifts), at most ``longest``."""
        with self._new_uow(readonly=True) as uow:
            due = uow.session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.sent_at.is_(None), OutboxMessage.dropped_at.is_(None)
                )
            )
        if due is None:
            self._deferred = False
            return longest
        if due.tzinfo is None:  # SQLite hands back naive datetimes (stored as UTC)
            due = due.replace(tzinfo=dt.UTC)
        return min(longest, max(0.01, (due - self.ctx.clock.now()).total_seconds()))

    def start(self) -> threading.Thread:
        if getattr(self.sender, "publish_home", None) is not None:
            self._homes_thread = threading.Thread(target=self._run_homes, name="outbox-homes", daemon=True)
            self._homes_thread.start()
        thread = threading.Thread(target=self.run_forever, name="outbox", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._homes_wake.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


class _Lanes:
    """Sends messages as they are drawn: each channel's one after another, in order,
    different channels side by side on ``pool`` (None: here, at once). Once a
    message of a channel is held (rate limit, outage), the ones after it are skipped."""

    def __init__(self, send: Callable[[_Job], object], pool: ThreadPoolExecutor | None) -> None:
        self._send = send
        self._pool = pool
        self._last: dict[str, tuple[Future[None] | None, _Job]] = {}
        self._running: list[Future[None]] = []

    def add(self, job: _Job) -> None:
        before = self._last.get(job.lane)
        if self._pool is None:
            self._after(job, before)
            self._last[job.lane] = (None, job)
            return
        try:
            future = self._pool.submit(self._after, job, before)
        except RuntimeError:  # the deliverer is stopping (its pool shut down): send here instead
            self._pool = None
            self.add(job)
            return
        self._last[job.lane] = (future, job)
        self._running.append(future)

    def _after(self, job: _Job, before: tuple[Future[None] | None, _Job] | None) -> None:
        if before is not None:
            future, previous = before
            if future is not None:
                future.result()  # submitted earlier, so already running or done: no deadlock
            if previous.skipped or previous.wait_until is not None:
                job.skipped = True
                return
        self._send(job)

    def wait(self) -> None:
        for future in self._running:
            future.result()


def _next_attempt(job: _Job, attempts: int, now: dt.datetime) -> dt.datetime:
    """Rate-limited or unreachable: when ``_send`` said (Retry-After, or ``retry_delay``
    from the moment it failed); any other failure: ``retry_delay`` from the batch's start."""
    return job.wait_until if job.wait_until is not None else now + retry_delay(attempts)


def _log_failure(job: _Job, rows: Sequence[OutboxMessage]) -> None:
    """The operator's alert: IDs, the card key and the error code only, never message text."""
    attempts = max((r.attempts for r in rows), default=0)
    due = min((r.next_attempt_at for r in rows if r.next_attempt_at), default=None)
    log.warning(
        "outbox rows %s (card %s) not delivered, attempt %d: %s; next attempt at %s (see `worktray outbox`)",
        job.row_ids,
        job.card_key or "-",
        attempts,
        job.error,
        due.isoformat(timespec="seconds") if due else "-",
    )


# -- what an operator does (`worktray outbox`) ---------------------------------------------


def undelivered(uow: UnitOfWork) -> Sequence[OutboxMessage]:
    """Rows not delivered yet and not dropped, oldest first: the pending and the failing."""
    return uow.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.dropped_at.is_(None))
        .order_by(OutboxMessage.id)
    ).all()


def dropped_count(uow: UnitOfWork) -> int:
    return len(uow.session.scalars(select(OutboxMessage.id).where(OutboxMessage.dropped_at.is_not(None))).all())


def retry_now(uow: UnitOfWork, row_id: int | None) -> list[int]:
    """Make a row (or, with None, every undelivered row) due now; returns the row IDs.

    The next delivery run (within a minute, or at once in the console) sends them.
    """
    rows = [r for r in undelivered(uow) if row_id is None or r.id == row_id]
    for row in rows:
        row.next_attempt_at = None
    uow.commit()
    return [r.id for r in rows]


def drop(uow: UnitOfWork, row_id: int, now: dt.datetime) -> OutboxMessage | None:
    """Stop retrying a row. It is kept, marked dropped, for the record; None if no such undelivered row."""
    row = uow.session.get(OutboxMessage, row_id)
    if row is None or row.sent_at is not None or row.dropped_at is not None:
        return None
    row.dropped_at = now
    uow.commit()
    return row


def _request_id(row: OutboxMessage) -> int | None:
    value = row.body.get("request_id") if isinstance(row.body, dict) else None
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else None
