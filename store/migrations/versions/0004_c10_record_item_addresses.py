"""record items: primary address flag and DoH end reason (C10, S3)

Revision ID: 0004
Revises: 0003_outbox
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("record_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_primary", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("doh_end_reason", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("record_items", schema=None) as batch_op:
        batch_op.drop_column("doh_end_reason")
        batch_op.drop_column("is_primary")
