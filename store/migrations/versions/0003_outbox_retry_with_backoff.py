"""outbox: retried with backoff until delivered or dropped by an operator

Rows the old deliverer abandoned after 5 attempts have next_attempt_at NULL,
so they are due at once after the upgrade: nothing stays silently unsent (the
cards are drawn as their requests are now, so a late one is not out of date).

Revision ID: 0003_outbox
Revises: 0002
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0003_outbox"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("next_attempt_at", store.models.UTCDateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("dropped_at", store.models.UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_due", "outbox", ["sent_at", "dropped_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("dropped_at")
        batch.drop_column("next_attempt_at")
