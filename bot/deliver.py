"""The outbox deliverer: sends what the core queued, and remembers where.

A card is posted the first time its key is delivered, and the message's ts
is recorded in ``chat_messages`` so that every later delivery of that key
edits the same message in place. Several pending rows for one card are sent
once (the card always shows the request as it is now). A failed send stays
pending and is retried, up to ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, select, text

from bot.cards import Card
from bot.views import message_card, request_card
from store.models import ChatMessage, OutboxMessage
from store.uow import UnitOfWork
from workflows.requests import Context

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
ADVISORY_LOCK_KEY = 0x776F726B74726179  # 'worktray': the outbox deliverer's PostgreSQL advisory lock


class ChatSender(Protocol):
    """What a chat platform must do for the deliverer."""

    def post(self, channel: str, card: Card) -> str:
        """Post a card to a channel; return the message's ID (Slack: ts)."""
        ...

    def update(self, channel: str, message_id: str, card: Card) -> None: ...

    def direct(self, user: str, card: Card) -> str:
        """Send a card to one person (Slack: the app's DM with them)."""
        ...


@dataclass
class _Job:
    """One message to send, standing for one or more outbox rows of the same card."""

    row_ids: list[int]
    kind: str
    channel: str
    card_key: str | None
    card: Card | None = None
    message_id: str | None = None  # set: edit this message in place
    new_message_id: str | None = None
    error: str | None = None


class Deliverer:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], ctx: Context, sender: ChatSender) -> None:
        self._new_uow = uow_factory
        self.ctx = ctx
        self.sender = sender
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()

    def drain(self) -> int:
        """Deliver everything pending now; return how many rows were handled.

        One deliverer at a time: a lock within this process and, on PostgreSQL,
        an advisory lock across processes, so that a second worktray instance
        against the same database waits its turn instead of sending twice.
        """
        with self._lock, self._only_deliverer() as mine:
            if not mine:
                return 0
            handled = 0
            while True:
                batch = self._deliver_batch()
                if batch == 0:
                    return handled
                handled += batch

    @contextmanager
    def _only_deliverer(self) -> Iterator[bool]:
        with self._new_uow() as uow:
            engine = uow.session.get_bind()
        assert isinstance(engine, Engine)
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

    def _deliver_batch(self) -> int:
        """Render in one short transaction, send with no transaction open, record in another.

        Chat calls can be slow; holding a transaction over them would hold
        SQLite's write lock. The cost: a crash between sending and recording
        sends that message again (at least once, never lost).
        """
        jobs = self._render_pending()
        if not jobs:
            return 0
        results = [self._send(job) for job in jobs]
        self._record(results)
        return 0 if all(r.error for r in results) else len(results)

    def _render_pending(self) -> list[_Job]:
        with self._new_uow() as uow:
            rows = uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
                .order_by(OutboxMessage.id)
                .limit(100)
            ).all()
            jobs: list[_Job] = []
            by_key: dict[str, _Job] = {}
            for row in rows:
                if row.card_key and row.card_key in by_key:
                    by_key[row.card_key].row_ids.append(row.id)  # one delivery shows the card as it is now
                    continue
                job = _Job(row_ids=[row.id], kind=row.kind, channel=row.channel, card_key=row.card_key)
                try:
                    job.card = self._render(uow, row)
                except Exception as e:  # a card that cannot be drawn must not block the others
                    job.error = f"render: {type(e).__name__}: {e}"[:500]
                if row.card_key:
                    posted = uow.session.scalars(select(ChatMessage).where(ChatMessage.card_key == row.card_key)).first()
                    if posted is not None:
                        job.channel, job.message_id = posted.channel, posted.ts
                    by_key[row.card_key] = job
                jobs.append(job)
            return jobs

    def _render(self, uow: UnitOfWork, row: OutboxMessage) -> Card | None:
        body = row.body
        if row.kind == "dm":
            return message_card(uow, self.ctx, body)
        request = uow.requests.get(int(body["request_id"]))
        if request is None:
            return None
        return request_card(uow, self.ctx, request, body["audience"], int(body.get("revision", request.revision)))

    def _send(self, job: _Job) -> _Job:
        if job.error or job.card is None:
            return job
        try:
            if job.kind == "dm":
                self.sender.direct(job.channel, job.card)
            elif job.message_id is None:
                job.new_message_id = self.sender.post(job.channel, job.card)
            else:
                self.sender.update(job.channel, job.message_id, job.card)
        except Exception as e:  # a chat failure must not lose the message: it stays pending
            job.error = f"{type(e).__name__}: {e}"[:500]
            log.warning("outbox rows %s not delivered: %s", job.row_ids, type(e).__name__)
        return job

    def _record(self, jobs: list[_Job]) -> None:
        now = self.ctx.clock.now()
        with self._new_uow() as uow:
            for job in jobs:
                rows = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(job.row_ids))).all()
                for row in rows:
                    if job.error:
                        row.attempts += 1
                        row.error = job.error
                    else:
                        row.sent_at, row.error = now, None
                if job.new_message_id and job.card_key:
                    uow.session.add(ChatMessage(card_key=job.card_key, channel=job.channel, ts=job.new_message_id))
            uow.commit()

    # -- background running ---------------------------------------------------

    def kick(self) -> None:
        """Ask the background thread to deliver now (after a commit)."""
        self._wake.set()

    def run_forever(self, poll_seconds: float = 5.0) -> None:
        while not self._stop.is_set():
            self._wake.wait(poll_seconds)
            self._wake.clear()
            try:
                self.drain()
            except Exception:
                log.exception("outbox delivery failed")

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="outbox", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
