"""The event log is append-only in the database, and a hash chain (issue 9)

Each event gets ``prev_hash`` and ``hash`` (store.eventlog), backfilled here in
id order; ids are made gapless first (a PostgreSQL sequence skips the ids of
rolled back transactions; nothing refers to an event's id, and the order is kept),
because from now on a gap means a removed row. Triggers then refuse UPDATE and
DELETE on ``events`` (SQLite and PostgreSQL) and TRUNCATE (PostgreSQL).

It also adds the indexes that tests/test_indexes.py found missing for the queries
the journeys make: persons.family_group_id (a family's members) and outbox.card_key
(a request's cards, by key prefix). A team's open cases use 0009's index on
(team, audit_due_on), which leads with the team.

A later migration that rebuilds ``events`` on SQLite (batch mode copies the table)
must create the triggers again: SQLite drops a table's triggers with it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.eventlog import FIELDS, GENESIS, chain_hash
from store.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

REFUSAL = "events are append-only"

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
    f"CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS events_no_update", "DROP TRIGGER IF EXISTS events_no_delete"]

POSTGRESQL_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP USING ERRCODE = 'restrict_violation';
    END
    $$""",
    "CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION events_append_only()",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()",
    # store.eventlog.seal: take the chain's advisory lock, then read the head, in one round trip.
    # VOLATILE: under READ COMMITTED the SELECT takes a new snapshot after the lock is held.
    """CREATE OR REPLACE FUNCTION events_chain_head(lock_key bigint, OUT head_id integer, OUT head_hash varchar)
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock(lock_key);
        SELECT e.id, e.hash INTO head_id, head_hash FROM events e ORDER BY e.id DESC LIMIT 1;
    END
    $$""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS events_no_truncate ON events",
    "DROP TRIGGER IF EXISTS events_no_update_delete ON events",
    "DROP FUNCTION IF EXISTS events_append_only()",
    "DROP FUNCTION IF EXISTS events_chain_head(bigint)",
]

# The events table as this migration reads it (typed, so the hash sees what the code sees).
events = sa.table(
    "events",
    sa.column("id", sa.Integer),
    sa.column("at", UTCDateTime()),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("request_id", sa.Integer),
    sa.column("person_id", sa.String),
    sa.column("from_state", sa.String),
    sa.column("to_state", sa.String),
    sa.column("source", sa.String),
    sa.column("detail", sa.JSON),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)


def _close_gaps(conn: sa.Connection) -> None:
    """Number the events 1..n in their id order (two steps, so no id collides on the way)."""
    count, top = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(events.c.id), 0))).one()
    if count == top:
        return
    ids = list(conn.scalars(sa.select(events.c.id).order_by(events.c.id)))
    for new, old in enumerate(ids, start=1):
        conn.execute(sa.update(events).where(events.c.id == old).values(id=-new))
    conn.execute(sa.update(events).where(events.c.id < 0).values(id=-events.c.id))


def _backfill(conn: sa.Connection, batch: int = 2000) -> None:
    """Chain the existing events in id order."""
    prev_hash = GENESIS
    pending: list[dict[str, str | int]] = []
    rows = conn.execute(sa.select(*[events.c[name] for name in FIELDS]).order_by(events.c.id)).all()
    for row in rows:
        values = row._asdict()
        digest = chain_hash(values, prev_hash)
        pending.append({"key": values["id"], "prev": prev_hash, "digest": digest})
        prev_hash = digest
        if len(pending) >= batch:
            _write(conn, pending)
    _write(conn, pending)


def _write(conn: sa.Connection, pending: list[dict[str, str | int]]) -> None:
    if pending:
        statement = (
            sa.update(events)
            .where(events.c.id == sa.bindparam("key"))
            .values(prev_hash=sa.bindparam("prev"), hash=sa.bindparam("digest"))
        )
        conn.execute(statement, pending)
        pending.clear()


def _create_indexes() -> None:
    op.create_index("ix_persons_family_group_id", "persons", ["family_group_id"])
    op.create_index("ix_outbox_card_key", "outbox", ["card_key"], postgresql_ops={"card_key": "varchar_pattern_ops"})


def upgrade() -> None:
    _create_indexes()
    conn = op.get_bind()
    op.add_column("events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("events", sa.Column("hash", sa.String(length=64), nullable=True))
    _close_gaps(conn)
    _backfill(conn)
    with op.batch_alter_table("events") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('events', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM events"))
    for statement in POSTGRESQL_TRIGGERS if conn.dialect.name == "postgresql" else SQLITE_TRIGGERS:
        conn.execute(sa.text(statement))


def downgrade() -> None:
    conn = op.get_bind()
    for statement in POSTGRESQL_DROP if conn.dialect.name == "postgresql" else SQLITE_DROP:
        conn.execute(sa.text(statement))
    with op.batch_alter_table("events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    op.drop_index("ix_outbox_card_key", table_name="outbox")
    op.drop_index("ix_persons_family_group_id", table_name="persons")
