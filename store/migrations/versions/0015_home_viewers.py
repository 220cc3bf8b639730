"""Home viewers: the chat users who have opened the bot's Home tab

The deliverer republishes the Home tabs of these people only after a delivery (issue 8's work
tray at issue 9's cost): drawing a tray for everyone a request touches, most of whom never open
Home, halved the click throughput and spent Slack's views.publish rate limit.

Revision ID: 0015_home_viewers
Revises: 0014
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new table only: nothing is rebuilt, so 0011's triggers on events are untouched.
    op.create_table(
        "home_viewers",
        sa.Column("chat_user_id", sa.String(length=64), primary_key=True),
        sa.Column("first_opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_opened_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("home_viewers")
