"""Indexes for the scans over every open case (issue 9: 100,000 cases, 1,000,000 events)

* ``persons.date_of_birth``: the radar's children reaching the age of transfer (T1) are found
  by a date-of-birth range, not by reading every open case of the sending team;
* ``cases.audit_due_on``: the daily audit job first gives every open case without a due date
  one (C13), a lookup on ``audit_due_on IS NULL`` that (team, audit_due_on) cannot serve;
* ``assessments (completed_on, trigger_date)``: the reminders' open assessments (D1), those not
  completed and triggered long enough ago.

Revision ID: 0014_scan_indexes
Revises: 0012
Create Date: 2026-11-26
"""
from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # New indexes only: no table is rebuilt, so 0011's triggers on events are untouched.
    op.create_index("ix_persons_date_of_birth", "persons", ["date_of_birth"])
    op.create_index("ix_cases_audit_due_on", "cases", ["audit_due_on"])
    op.create_index("ix_assessments_open", "assessments", ["completed_on", "trigger_date"])


def downgrade() -> None:
    op.drop_index("ix_assessments_open", table_name="assessments")
    op.drop_index("ix_cases_audit_due_on", table_name="cases")
    op.drop_index("ix_persons_date_of_birth", table_name="persons")
