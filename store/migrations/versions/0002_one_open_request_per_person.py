"""one open request of a kind per person

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN = "state IN ('requested', 'returned', 'approved', 'claimed', 'blocked')"


def upgrade() -> None:
    op.create_index(
        "uq_requests_one_open_per_person",
        "requests",
        ["person_id", "kind"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_requests_one_open_per_person", table_name="requests")
