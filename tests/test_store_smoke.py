"""The migrated schema works on both back ends: records round-trip with aware datetimes,
and the models and the migrations describe the same schema (issue 9)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store.db import make_engine
from store.models import Base, Event
from workflows.clock import LONDON


def test_event_times_come_back_aware_and_equal(seeded):
    at = dt.datetime(2026, 6, 1, 9, 30, tzinfo=LONDON)  # British Summer Time, +01:00
    with seeded() as uow:
        uow.record(at=at, actor="amy", action="test", person_id="3549723")
        uow.commit()
    with seeded() as uow:
        event = uow.session.query(Event).one()
        assert event.at == at
        assert event.at.tzinfo is not None
        assert uow.cases.person("3549723").initials == "LM"


def schema_drift(db_url: str, metadata: sa.MetaData) -> list[Any]:
    """Alembic's autogenerate diff between the migrated database and ``metadata``:
    tables, columns, types, nullability, indexes, unique and foreign keys."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_the_models_match_the_migrations(db_url):
    """Every migration applied (db_url is migrated to head) gives exactly the models' schema."""
    assert schema_drift(db_url, Base.metadata) == []


def test_the_drift_check_sees_a_difference(db_url):
    """The comparison is not vacuous: a column, an index or a nullability the migrations lack shows up."""
    changed = sa.MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    events, persons = changed.tables["events"], changed.tables["persons"]
    events.append_column(sa.Column("signed_by", sa.String(64)))
    sa.Index("ix_persons_last_name", persons.c.last_name)
    events.c.actor.nullable = True
    kinds = {diff[0] if isinstance(diff, tuple) else diff[0][0] for diff in schema_drift(db_url, changed)}
    assert kinds == {"add_column", "add_index", "modify_nullable"}
