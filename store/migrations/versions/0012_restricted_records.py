"""Restricted records: a flag on the person (issue 8, data minimisation)

A restricted person's requests show nothing in channels beyond "a restricted
record needs your action" and the request number (bot.views.channel_card);
details go only to people whose role and team allow them. Existing persons
are not restricted (server default false).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding a column on SQLite needs no table rebuild, so 0011's triggers on events are untouched.
    op.add_column("persons", sa.Column("restricted", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("persons") as batch:
        batch.drop_column("restricted")
