"""File retention criteria and their rules (C6.4, C8).

The criteria are what the case was open as at closure; the retain-until date
follows from the criteria's rule. A council adjusts this table to its own
retention schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass


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


CRITERIA_BY_CASE_TYPE: dict[str, Criteria] = {
    "CIN": Criteria("CS Child in Need", "File to be retained for 25 years from date of birth", 25, True),
    "CP": Criteria("CS Child Protection", "File to be retained for 35 years from closure", 35, False),
    "CLA": Criteria("CS Looked After Child", "File to be retained for 75 years from date of birth", 75, True),
    "CWD": Criteria("CS Children with Disabilities", "File to be retained for 25 years from date of birth", 25, True),
    "EH": Criteria("CS Early Help", "File to be retained for 25 years from date of birth", 25, True),
    "ADULT": Criteria("AS Adult Social Care", "File to be retained for 8 years from closure", 8, False),
}


def criteria_for(case_type: str) -> Criteria:
    return CRITERIA_BY_CASE_TYPE.get(case_type, CRITERIA_BY_CASE_TYPE["CIN"])


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
    case_type: str, date_of_birth: dt.date | None, closure_date: dt.date, existing: Sequence[dt.date]
) -> RetentionDecision:
    criteria = criteria_for(case_type)
    return RetentionDecision(
        criteria=criteria,
        start_date=closure_date,
        retain_until=criteria.retain_until(date_of_birth, closure_date),
        existing_until=max(existing) if existing else None,
    )
