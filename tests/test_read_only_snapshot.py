"""A read-only unit of work reads one snapshot on both databases (store.db.read_only_options).

SQLite's deferred BEGIN in WAL mode does so by itself; PostgreSQL's default (read committed)
would let each statement see what was committed since the one before, so a Home's counts and
its lines, or a card's facts and its request, could disagree. The deliverer, the Home tabs and
the scheduled scans draw in read-only units of work and rely on it (``UnitOfWork.memo`` keeps
what they derive for the whole unit of work)."""

from __future__ import annotations

import datetime as dt
from functools import partial

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from bot.actions import Interactions
from store import db as store_db
from store.models import Deputy
from store.uow import UnitOfWork
from workflows.requests import Context

AT = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


def _count(uow: UnitOfWork) -> int:
    return int(uow.session.scalar(select(func.count()).select_from(Deputy)) or 0)


def _add_period(uow_factory: partial[UnitOfWork], absent: str) -> None:
    with uow_factory() as uow:
        uow.deputies.add(Deputy(absent=absent, deputy="pia", starts_at=AT, ends_at=AT + dt.timedelta(days=1), set_by=absent, set_at=AT))
        uow.commit()


def test_what_another_transaction_commits_meanwhile_is_not_seen(seeded: partial[UnitOfWork]) -> None:
    _add_period(seeded, "maria")
    with seeded(readonly=True) as reading:
        before = _count(reading)
        _add_period(seeded, "ruth")  # committed between two statements of the reading unit of work
        assert _count(reading) == before
    with seeded(readonly=True) as later:
        assert _count(later) == before + 1


def test_a_read_only_unit_of_work_cannot_write(seeded: partial[UnitOfWork], db_url: str) -> None:
    """PostgreSQL refuses the write itself (READ ONLY); on SQLite ``commit`` refuses (store.uow)."""
    period = Deputy(absent="nadia", deputy="rafe", starts_at=AT, ends_at=AT, set_by="nadia", set_at=AT)
    with seeded(readonly=True) as uow:
        if db_url.startswith("postgresql"):
            with pytest.raises(DBAPIError, match="read-only transaction"):
                uow.deputies.add(period)  # it flushes
        else:
            uow.deputies.add(period)
            with pytest.raises(RuntimeError, match="read-only"):
                uow.commit()
    with seeded(readonly=True) as uow:
        assert _count(uow) == 0


def test_looks_at_a_tray_the_radar_the_audits_and_home_do_not_wait_for_a_writer(
    seeded: partial[UnitOfWork], ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/worktray, /radar, /audits and the Home tab only read: while a writing transaction is
    open (on SQLite the bot's writers take turns, store.db._WriterTurns), they are answered at
    once instead of waiting for it, and a long draw of theirs holds no click up."""
    monkeypatch.setattr(store_db, "BUSY_SECONDS", 1)  # a look that waited for the turn would fail in 1 s
    interactions = Interactions(seeded, ctx)
    with seeded() as writer:
        writer.session.connection()  # the writing transaction has begun (SQLite: BEGIN IMMEDIATE, the turn taken)
        assert "My work tray" in (interactions.worktray("U0MARIA", "").cards[0].fallback_text)
        assert interactions.radar("U0MARIA", "").card is not None
        assert interactions.audits("U0MARIA", "").card is not None
        assert interactions.home("U0SAM")
