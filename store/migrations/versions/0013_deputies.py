"""Act-for deputies (issue 8): who acts for whom, from when until when

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deputies",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("absent", sa.String(length=64), nullable=False),
        sa.Column("deputy", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_deputies_absent_ends_at", "deputies", ["absent", "ends_at"])
    op.create_index("ix_deputies_deputy_ends_at", "deputies", ["deputy", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_deputies_deputy_ends_at", table_name="deputies")
    op.drop_index("ix_deputies_absent_ends_at", table_name="deputies")
    op.drop_table("deputies")
