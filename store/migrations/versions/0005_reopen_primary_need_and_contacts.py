"""C12: a case's primary need (S2) and the contacts store

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("primary_need", sa.String(length=4), nullable=True))
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(length=32), sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("contact_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=4), nullable=False),
    )
    op.create_index("ix_contacts_person_id", "contacts", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_contacts_person_id", table_name="contacts")
    op.drop_table("contacts")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("primary_need")
