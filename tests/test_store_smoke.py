"""The migrated schema works on both back ends: records round-trip with aware datetimes,
and the models and the migrations describe the same schema (issue 9)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store.db import make_engine
from store.models import Base, Event
from workflows.clock import LONDON

REPO = Path(__file__).resolve().parent.parent


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


# Issue 9: the PostgreSQL-only index options (store.models.postgresql_index) are not dialect
# options until PostgreSQL is in use, so SQLite never imports SQLAlchemy's PostgreSQL dialect.
INDEX_DDL = (
    "from sqlalchemy.schema import CreateIndex\n"
    "indexes = {i.name: i for t in models.Base.metadata.tables.values() for i in t.indexes}\n"
    "print(CreateIndex(indexes['uq_requests_one_open_per_person']).compile(dialect=engine.dialect))\n"
    "print(CreateIndex(indexes['ix_outbox_card_key']).compile(dialect=engine.dialect))\n"
)
MODELS_FIRST = "import sys\nimport store.models as models\nfrom store.db import make_engine\nengine = make_engine(URL)\nwith engine.connect():\n    pass\n"
ENGINE_FIRST = "import sys\nfrom store.db import make_engine\nengine = make_engine(URL)\nwith engine.connect():\n    pass\nimport store.models as models\n"


def index_ddl(url: str, probe: str) -> str:
    """What a fresh interpreter's models would create for the two indexes, and whether it loaded the PostgreSQL dialect."""
    code = probe.replace("URL", repr(url)) + INDEX_DDL + "print('sqlalchemy.dialects.postgresql' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    return done.stdout


@pytest.mark.postgres
@pytest.mark.parametrize("probe", [MODELS_FIRST, ENGINE_FIRST], ids=["models-then-connect", "connect-then-models"])
def test_postgresql_gets_its_index_options_whichever_comes_first(postgres_url, probe):
    ddl = index_ddl(postgres_url, probe)
    assert "ON requests (person_id, kind) WHERE state IN ('requested'" in ddl
    assert "ON outbox (card_key varchar_pattern_ops)" in ddl


def test_sqlite_keeps_the_postgresql_dialect_unloaded(tmp_path):
    ddl = index_ddl(f"sqlite:///{tmp_path / 'x.db'}", MODELS_FIRST)
    assert "ON requests (person_id, kind) WHERE state IN ('requested'" in ddl  # sqlite_where
    assert "ON outbox (card_key)\n" in ddl
    assert ddl.endswith("False\n")
