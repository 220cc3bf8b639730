"""File retention: the arithmetic of a rule and C8 (extend, never shorten).

The criteria are what *each person's own* case was open as at closure (C6.4);
the rule is the council's retention schedule, which lives in the organisation
config (``retention:`` in workflows/org.py), not here. A case type with no rule
refuses the closure: nothing falls back to another criteria.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from workflows.errors import WorkflowError


@dataclass(frozen=True)
class Criteria:
    name: str
    rule: str
    years: int
    from_birth: bool  # True: years from date of birth; False: years from closure

    def retain_until(self, date_of_birth: dt.date | None, closure_date: dt.date) -> dt.date:
        """C8 example: 25 years from a birth on 12 May 2015 is 12 May 2040."""
        start = date_of_birth if self.from_birth and date_of_birth else closure_date
        return add_years(start, self.years)


class NoRetentionRule(WorkflowError):
    """The council's retention schedule has no rule for a case type (C6.4)."""

    def __init__(self, person_id: str, case_type: str) -> None:
        super().__init__(
            f"Nothing changed: the retention schedule has no rule for case type {case_type} ({person_id}'s case), "
            "so its file retention cannot be recorded (C6.4). Ask your worktray administrator to add one to the "
            "organisation config's retention schedule."
        )
        self.person_id = person_id
        self.case_type = case_type


def add_years(day: dt.date, years: int) -> dt.date:
    """Same day and month, years later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class RetentionDecision:
    criteria: Criteria
    start_date: dt.date
    retain_until: dt.date
    existing_until: dt.date | None

    @property
    def needs_new_record(self) -> bool:
        """C8: add (or extend to) the rule's date only if nothing covers it already."""
        return self.existing_until is None or self.existing_until < self.retain_until

    def summary(self) -> str:
        if self.existing_until is None:
            return f"add {self.criteria.name}: retain until {self.retain_until:%d/%m/%Y}"
        if self.needs_new_record:
            return f"extend retention from {self.existing_until:%d/%m/%Y} to {self.retain_until:%d/%m/%Y} ({self.criteria.name})"
        return f"existing retention until {self.existing_until:%d/%m/%Y} already covers {self.criteria.name} ({self.retain_until:%d/%m/%Y}); kept"


def decide(
    criteria: Criteria, date_of_birth: dt.date | None, closure_date: dt.date, existing: Sequence[dt.date]
) -> RetentionDecision:
    """C6.4 and C8 for one person: the rule's date, and whether a record must be added."""
    return RetentionDecision(
        criteria=criteria,
        start_date=closure_date,
        retain_until=criteria.retain_until(date_of_birth, closure_date),
        existing_until=max(existing) if existing else None,
    )
