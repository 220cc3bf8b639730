"""The event log's hash chain: every event carries the hash of the one before it (issue 9).

The log is append-only in the database (migration 0009: triggers refuse UPDATE and
DELETE, and TRUNCATE on PostgreSQL). The chain is what shows a change made by
someone who could drop those triggers: each event's ``hash`` is SHA-256 over a
canonical serialisation of its fields and the previous event's hash
(``prev_hash``), and ids run without gaps, so ``worktray events verify`` names
any event that was changed, and where one was removed or moved.

A chain can be rewritten from the point of tampering to its end by someone who
recomputes every later hash; ``verify`` prints the head hash so that an operator
can note it elsewhere (a ticket, a report) and compare later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from store.models import Event

GENESIS = "0" * 64  # the prev_hash of the first event
# The chain's PostgreSQL advisory lock (transaction level): 'evntlog1'. Not bot.deliver's key.
CHAIN_LOCK_KEY = 0x65766E746C6F6731

FIELDS = ("id", "at", "actor", "action", "request_id", "person_id", "from_state", "to_state", "source", "detail")


def canonical(values: dict[str, Any]) -> bytes:
    """The event's fields as sorted-key JSON; ``at`` in UTC to the microsecond.

    ``detail`` goes through JSON once first, so the form is the one the database
    gives back (tuples become lists, non-string keys become strings).
    """
    at = values["at"]
    fields = {name: values[name] for name in FIELDS}
    fields["at"] = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    fields["detail"] = json.loads(json.dumps(values["detail"] if values["detail"] is not None else {}))
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(values: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of the previous hash and the event's canonical form."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(values)).hexdigest()


def _values(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in FIELDS}


def seal(session: Session, events: Sequence[Event]) -> None:
    """Number, chain and add the unit of work's events: the last step before COMMIT.

    A single chain in id order needs one writer at a time between reading the
    last event and committing the next ones. On PostgreSQL that is a
    transaction-level advisory lock (``pg_advisory_xact_lock``), released by the
    COMMIT or ROLLBACK that follows; under READ COMMITTED the head read after
    taking it sees every chain committed before. On SQLite every unit of work
    already holds the database's one write lock (``BEGIN IMMEDIATE``, store.db),
    so no lock is taken here.

    The lock is taken as late as possible: ``UnitOfWork.commit`` flushes the
    transaction's other changes (compare-and-set updates, outbox rows) first, so
    row locks and lost races happen before it, and it is held only for three
    round trips: the lock with the head read (one call, ``events_chain_head``,
    migration 0009), the INSERT of these events, and the COMMIT. Event ids
    are given here (head id + 1, ...), not by the sequence, so a rolled back
    transaction leaves no gap and a gap in the log means a removed row.
    """
    if not events:
        return
    last_id, prev_hash = _locked_head(session)
    for offset, event in enumerate(events, start=1):
        event.id = last_id + offset
        event.detail = event.detail if event.detail is not None else {}
        event.prev_hash = prev_hash
        event.hash = prev_hash = chain_hash(_values(event), prev_hash)
    session.add_all(events)
    session.flush()


def _locked_head(session: Session) -> tuple[int, str]:
    """The last event's id and hash, read once this transaction may append (see ``seal``)."""
    if session.get_bind().dialect.name == "postgresql":
        head = session.execute(text("SELECT head_id, head_hash FROM events_chain_head(:key)"), {"key": CHAIN_LOCK_KEY}).one()
        return (head.head_id, head.head_hash) if head.head_id is not None else (0, GENESIS)
    last = session.execute(select(Event.id, Event.hash).order_by(Event.id.desc()).limit(1)).first()
    return (last.id, last.hash) if last is not None else (0, GENESIS)


@dataclass
class Verification:
    """What ``verify`` found: how many events, the head hash and each broken link (IDs only)."""

    count: int = 0
    head: str = GENESIS
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(sessions: sessionmaker[Session], batch: int) -> Iterator[Any]:
    """Every event in id order, a batch per short transaction (keyset on id).

    Short transactions, not one long read: on SQLite each holds the write lock
    (store.db), and the bot must not wait for a walk over a million events. The
    log is append-only, so batches read at different moments still form one chain.
    """
    columns = [getattr(Event, name) for name in FIELDS] + [Event.prev_hash, Event.hash]
    after = 0
    while True:
        with sessions() as session, session.begin():
            rows = session.execute(select(*columns).where(Event.id > after).order_by(Event.id).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id


def verify(sessions: sessionmaker[Session], expect_head: str | None = None, batch: int = 2000) -> Verification:
    """Walk the chain in id order, recomputing each hash (one batch in memory at a time).

    "changed": the event's hash does not match its fields. "removed or
    reordered": its id does not follow the one before, or its prev_hash is not
    the hash of the event before it (an event was deleted, moved, or rewritten
    with its hash recomputed). ``expect_head``: a head hash noted from an earlier
    verify; if no event carries it now, the log was truncated or rewritten up to its end.
    """
    found = Verification()
    prev_id, prev_hash = 0, GENESIS
    seen_expected = expect_head is None
    for row in _rows(sessions, batch):
        values = row._asdict()
        found.count += 1
        if chain_hash(values, values["prev_hash"]) != values["hash"]:
            found.problems.append((row.id, "changed: its hash does not match its content"))
        if row.id != prev_id + 1 or values["prev_hash"] != prev_hash:
            found.problems.append((row.id, f"removed or reordered before event {row.id}"))
        prev_id, prev_hash = row.id, values["hash"]
        seen_expected = seen_expected or values["hash"] == expect_head
    found.head = prev_hash
    if not seen_expected:
        found.problems.append((prev_id, "the noted head hash is no longer in the chain: events were removed or rewritten up to here"))
    return found
