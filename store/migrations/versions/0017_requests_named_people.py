"""Requests by the person their cards name: the holder, and who asked

When an act-for period starts or ends (``workflows.deputies``), the cards that name the absent
person (held by them; awaiting them as the asker's supervising manager, C2) are redrawn, the
most recently active first and at most ``deputies.REDRAW_CAP`` of them, and counted: a range of
``(holder, state, last_action_at)`` or ``(requested_by, state, last_action_at)``, read from its
newest end, so the command reads a bounded number of rows however many items the person holds
(issue 9: 7,000 at the bench's scale), and the count reads index entries only. And the
periods by their end: the morning redraws the cards of those that ended overnight.

Revision ID: 0017_requests_named_people
Revises: 0016
Create Date: 2026-11-26
"""
from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # New indexes only: no table is rebuilt, so 0011's triggers on events are untouched.
    op.create_index("ix_requests_holder_state_last_action", "requests", ["holder", "state", "last_action_at"])
    op.create_index("ix_requests_requested_by_state_last_action", "requests", ["requested_by", "state", "last_action_at"])
    op.create_index("ix_deputies_ends_at", "deputies", ["ends_at"])


def downgrade() -> None:
    op.drop_index("ix_deputies_ends_at", table_name="deputies")
    op.drop_index("ix_requests_requested_by_state_last_action", table_name="requests")
    op.drop_index("ix_requests_holder_state_last_action", table_name="requests")
