"""Home viewers by when they last opened Home

The morning refresh (``worktray.scheduler.refresh_homes``) redraws the Home tabs of the people
who opened it within the last 30 days (``workflows.tray.RECENT_HOME_VIEWERS``): a lookup on
``last_opened_at``, indexed like every column a query filters on (issue 9, tests/test_indexes.py).

Revision ID: 0016_home_viewers_last_opened
Revises: 0015
Create Date: 2026-11-26
"""
from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new index only: no table is rebuilt, so 0011's triggers on events are untouched.
    op.create_index("ix_home_viewers_last_opened_at", "home_viewers", ["last_opened_at"])


def downgrade() -> None:
    op.drop_index("ix_home_viewers_last_opened_at", table_name="home_viewers")
