"""C13: three-month-interval audits: cases.last_audited_on and an indexed cases.audit_due_on

The workflow (workflows.audits) sets both whenever a case opens or an audit completes.
Existing open cases are backfilled here so that the first daily scan has a due date for
each: a migration is a frozen snapshot, so it carries its own copy of the rule as it was
written (the first three-month anniversary of opening on or after the day of the upgrade:
worktray does not know what was audited before it kept the dates), never an import of
today's workflow code. Anything left NULL is filled by the daily scan.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def _first_due(opened_on: dt.date, since: dt.date) -> dt.date:
    """The first 3-month anniversary of opening on or after ``since`` (C13, as of 0009)."""
    months = 3
    while (due := _add_months(opened_on, months)) < since:
        months += 3
    return due


def upgrade() -> None:
    op.add_column("cases", sa.Column("last_audited_on", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("audit_due_on", sa.Date(), nullable=True))
    op.create_index("ix_cases_team_audit_due_on", "cases", ["team", "audit_due_on"])
    cases = sa.table("cases", sa.column("id", sa.Integer()), sa.column("opened_on", sa.Date()),
                     sa.column("closed_on", sa.Date()), sa.column("audit_due_on", sa.Date()))
    bind = op.get_bind()
    since = dt.datetime.now(ZoneInfo("Europe/London")).date()
    rows = bind.execute(sa.select(cases.c.id, cases.c.opened_on).where(cases.c.closed_on.is_(None))).all()
    if rows:  # one executemany, not a statement per case
        update = sa.update(cases).where(cases.c.id == sa.bindparam("case_id")).values(audit_due_on=sa.bindparam("due"))
        bind.execute(update, [{"case_id": case_id, "due": _first_due(opened_on, since)} for case_id, opened_on in rows])


def downgrade() -> None:
    op.drop_index("ix_cases_team_audit_due_on", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("audit_due_on")
        batch.drop_column("last_audited_on")
