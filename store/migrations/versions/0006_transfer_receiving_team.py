"""T: a request may involve two teams: the receiving team of a transfer

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("receiving_team", sa.String(length=64), nullable=True))
    op.create_index("ix_requests_receiving_team_state", "requests", ["receiving_team", "state"])


def downgrade() -> None:
    op.drop_index("ix_requests_receiving_team_state", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("receiving_team")
