"""Checks on a case-system export that need the organisation config (a workflow, not storage).

``store.importer`` parses and writes the CSV files and knows no rules; the
organisation config is the core's, so checking that every team and person key
of the export is configured happens here and is handed to the importer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from store.importer import RowCheck, RowError, RowValues
from store.uow import UnitOfWork
from workflows import audits
from workflows.org import Organisation

MAX_LISTED_KEYS = 12  # config keys shown in an "unknown key" message; a council may configure hundreds of people


# (file, column, "team" or "person"): the columns that hold organisation-config keys.
# worker_relationships.csv ``worker`` is a display name from the case system, not a key.
CONFIG_KEY_COLUMNS: tuple[tuple[str, str, Literal["team", "person"]], ...] = (
    ("cases.csv", "team", "team"),
    ("cases.csv", "worker", "person"),
    ("work_steps.csv", "assignee", "person"),
)


def _listed(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:MAX_LISTED_KEYS])
    return shown + (f", ... {len(keys) - MAX_LISTED_KEYS} more" if len(keys) > MAX_LISTED_KEYS else "")


def config_key_check(org: Organisation) -> RowCheck:
    """The importer's row check for this organisation config: every team and person key a
    row names must be in it.

    worktray routes requests, cards and direct messages by these keys, so a case
    whose team or worker is not configured could be loaded but never acted on.
    Called once per row of a 730k-row export, so the keys are gathered once here.
    """
    listed = {"team": [t.key for t in org.teams], "person": [p.key for p in org.people]}
    known = {kind: set(keys) for kind, keys in listed.items()}
    plural = {"team": "teams", "person": "people"}
    by_file: dict[str, list[tuple[str, Literal["team", "person"]]]] = {}
    for name, column, kind in CONFIG_KEY_COLUMNS:
        by_file.setdefault(name, []).append((column, kind))

    def check(name: str, number: int, row: RowValues) -> list[RowError]:
        errors: list[RowError] = []
        checked = by_file.get(name)
        if checked is None:
            return errors  # most files name no key: the usual row, at once
        for column, kind in checked:
            value = getattr(row, column)
            if value not in known[kind]:
                message = f"no {kind} {value!r} in the organisation config ({plural[kind]}: {_listed(listed[kind])})"
                errors.append(RowError(name, number, column, message))
        return errors

    return check


def after_import(uow: UnitOfWork, today: dt.date) -> int:
    """C13: every imported open case gets its next three-month audit date (the store importer
    knows no rules): three months after its last audit if the export gives one, else the first
    three-month anniversary of its opening from today (``workflows.audits.first_due``).
    Commits; returns how many cases were given a date."""
    filled = audits.fill_due_dates(uow, today)
    uow.commit()
    return filled
