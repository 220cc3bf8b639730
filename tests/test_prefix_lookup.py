"""Card keys looked up by prefix (``store.uow.starts_with``): exactly the prefix, on both
databases, and through the index on SQLite (issue 9: every transition looks up the DMs
already posted about its request, ``UnitOfWork.posted_cards``, in an outbox that only grows)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text

from store.models import ChatMessage, OutboxMessage
from store.uow import starts_with

AT = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
KEYS = ["dm:1:v1:U0AMY:approved", "dm:1:v2:U0BEN:returned", "dm:10:v1:U0AMY:approved", "dm:1;odd", "dm:1_x", "dm:2:v1:U0AMY:approved"]


def test_a_prefix_finds_its_keys_and_no_others(seeded) -> None:
    with seeded() as uow:
        for n, key in enumerate(KEYS):
            uow.send(at=AT, kind="dm", channel="U0AMY", card_key=key, body={})
            uow.session.add(ChatMessage(card_key=key, channel="D0AMY", ts=f"100.{n}"))
        uow.commit()
    with seeded() as uow:
        found = [row.card_key for row, _posted in uow.posted_cards("dm:1:")]
        underscore = uow.session.scalars(select(OutboxMessage.card_key).where(starts_with(uow.session, OutboxMessage.card_key, "dm:1_"))).all()
    assert found == ["dm:1:v1:U0AMY:approved", "dm:1:v2:U0BEN:returned"]  # not dm:10:, dm:1;, dm:1_
    assert underscore == ["dm:1_x"]  # "_" is a character here, not LIKE's wildcard


def test_on_sqlite_the_prefix_is_searched_in_the_index_not_scanned(tmp_path) -> None:
    from store.db import make_engine, make_session_factory
    from store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        query = select(func.min(OutboxMessage.id)).where(starts_with(session, OutboxMessage.card_key, "dm:7:")).group_by(OutboxMessage.card_key)
        compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    engine.dispose()
    assert "SEARCH" in plan and "ix_outbox_card_key" in plan, plan
