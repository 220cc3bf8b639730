"""T: at most one transfer to come per person, enforced by the database

A transfer stays "to come" in states the closure-shaped index did not cover
(potential, on duty, disputed, escalated, accepted), so two people raising a
transfer at the same moment could both succeed. The partial unique index now
counts those states too, for transfers only (an accepted re-referral is finished).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BEFORE = "state IN ('requested', 'returned', 'approved', 'claimed', 'blocked')"
AFTER = (
    "state IN ('requested', 'returned', 'approved', 'claimed', 'blocked') "
    "OR (kind = 'transfer' AND state IN ('potential', 'on_duty', 'disputed', 'escalated', 'accepted'))"
)


def _index(where: str) -> None:
    op.create_index(
        "uq_requests_one_open_per_person",
        "requests",
        ["person_id", "kind"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index("uq_requests_one_open_per_person", table_name="requests")
    _index(AFTER)


def downgrade() -> None:
    op.drop_index("uq_requests_one_open_per_person", table_name="requests")
    _index(BEFORE)
