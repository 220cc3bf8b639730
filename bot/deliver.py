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
from typing import Protocol

from sqlalchemy import select

from bot.cards import Card
from bot.views import message_card, request_card
from store.models import ChatMessage, OutboxMessage
from store.uow import UnitOfWork
from workflows.requests import Context

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class ChatSender(Protocol):
    """What a chat platform must do for the deliverer."""

    def post(self, channel: str, card: Card) -> str:
        """Post a card to a channel; return the message's ID (Slack: ts)."""
        ...

    def update(self, channel: str, message_id: str, card: Card) -> None: ...

    def direct(self, user: str, card: Card) -> str:
        """Send a card to one person (Slack: the app's DM with them)."""
        ...


class Deliverer:
    def __init__(self, uow_factory: type[UnitOfWork] | object, ctx: Context, sender: ChatSender) -> None:
        self._new_uow = uow_factory
        self.ctx = ctx
        self.sender = sender
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()

    def drain(self) -> int:
        """Deliver everything pending now; return how many rows were handled."""
        with self._lock:
            handled = 0
            while True:
                batch = self._deliver_batch()
                if batch == 0:
                    return handled
                handled += batch

    def _deliver_batch(self) -> int:
        with self._new_uow() as uow:  # type: ignore[operator]
            rows = uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
                .order_by(OutboxMessage.id)
                .limit(100)
            ).all()
            if not rows:
                return 0
            done_keys: set[str] = set()
            for row in rows:
                if row.card_key and row.card_key in done_keys:
                    row.sent_at = self.ctx.clock.now()  # coalesced into the delivery just made
                    continue
                try:
                    self._send(uow, row)
                    row.sent_at = self.ctx.clock.now()
                    row.error = None
                    if row.card_key:
                        done_keys.add(row.card_key)
                except Exception as e:  # a chat failure must not lose the message
                    row.attempts += 1
                    row.error = f"{type(e).__name__}: {e}"[:500]
                    log.warning("outbox %s not delivered (attempt %s): %s", row.id, row.attempts, type(e).__name__)
                uow.session.flush()
            uow.commit()
            failed_only = all(r.sent_at is None for r in rows)
            return 0 if failed_only else len(rows)

    def _send(self, uow: UnitOfWork, row: OutboxMessage) -> None:
        body = row.body
        if row.kind == "dm":
            self.sender.direct(row.channel, message_card(uow, self.ctx, body))
            return
        request = uow.requests.get(int(body["request_id"]))
        if request is None:
            return
        card = request_card(uow, self.ctx, request, body["audience"], int(body.get("revision", request.revision)))
        assert row.card_key is not None
        posted = uow.session.scalars(select(ChatMessage).where(ChatMessage.card_key == row.card_key)).first()
        if posted is None:
            ts = self.sender.post(row.channel, card)
            uow.session.add(ChatMessage(card_key=row.card_key, channel=row.channel, ts=ts))
        else:
            self.sender.update(posted.channel, posted.ts, card)

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
