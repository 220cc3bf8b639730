"""A fictitious case-system export for the import benchmark (issue 9): 100,000 persons, ~730k rows.

``generate_export(directory, persons=100_000, seed=9)`` writes the eleven CSV files of
docs/csv.md, shaped as a council's export: families of siblings, restricted records,
day-first dates beside ISO ones, closed cases with closure reasons, GP relationships
and schools that a closure never ends, and so on. Team, worker and assignee keys are the
demo organisation's (worktray/demo/org.yml), so the export imports cleanly with the
config's key checks on. Deterministic for a seed; every name and ID is invented (IDs
start at 7000000, away from the demo's 35.../36.../41...).

About 7.3 rows per person: 0.2 family groups, 1 person, 1.1 cases, 1 work step,
1.2 worker relationships, 1 organisation relationship, 0.6 service user groups,
0.2 file retentions, 0.6 record items, 0.3 assessments, 0.1 contacts.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FIRST_ID = 7_000_000
TODAY = dt.date(2026, 11, 26)

FIRST_NAMES = ["Ada", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hal", "Isla", "Jay", "Kit", "Lola", "Max", "Nia", "Oli", "Pip",
               "Quin", "Rae", "Sol", "Tia", "Uma", "Vic", "Wyn", "Xan", "Yas", "Zed"]
LAST_NAMES = ["Ashdown", "Brightwater", "Coldharbour", "Dunmere", "Eastwick", "Fernhill", "Greystone", "Hollowmead", "Ivybridge",
              "Juniper", "Kestrel", "Larkspur", "Millbrook", "Northcote", "Oakridge", "Pennyfield", "Quarrydown", "Rookwood"]
# (team, case types, workers, primary needs): the demo organisation's keys.
TEAMS = [
    ("u12", ["CIN", "CIN", "CP", "CLA", "CWD", "EH"], ["amy", "ben"]),
    ("12plus", ["CIN", "CP", "CLA", "EH"], ["femi", "lena"]),
    ("adults-south", ["ADULT"], ["dan"]),
]
STEP_TITLES = ["CS Home Visit", "CS Child Protection Visit", "CS Review", "AS Care Review", "CS Statutory Visit"]
SCHOOLS = ["Millbrook Primary School", "Fernhill Academy", "Oakridge High School", "Rookwood College"]
SUGS = {"u12": "CS Child in Need", "12plus": "CS Abuse or Neglect", "adults-south": "AS Physical Support"}
RETENTIONS = {
    "CIN": ("CS Child in Need", "File to be retained for 25 years from date of birth", 25),
    "CP": ("CS Child Protection", "File to be retained for 35 years from closure", 35),
    "CLA": ("CS Looked After Child", "File to be retained for 75 years from date of birth", 75),
    "CWD": ("CS Children with Disabilities", "File to be retained for 25 years from date of birth", 25),
    "EH": ("CS Early Help", "File to be retained for 25 years from date of birth", 25),
    "ADULT": ("AS Adult Social Care", "File to be retained for 8 years from closure", 8),
}
ITEMS = [
    ("legal_status", "C: Section 17 Child in Need"),
    ("registration", "Child Protection Plan: Neglect"),
    ("class", "Young Carer"),
    ("care_package", "Domiciliary care, 7 hours a week"),
    ("home_address", "1 Example Lane, Fenshire"),
]

HEADERS = {
    "family_groups.csv": ["id", "name"],
    "persons.csv": ["id", "first_name", "last_name", "date_of_birth", "family_group_id", "last_seen_face_to_face",
                    "last_supervision_on", "restricted"],
    "cases.csv": ["person_id", "team", "worker", "case_type", "opened_on", "closed_on", "closure_reason", "primary_need"],
    "work_steps.csv": ["person_id", "title", "assignee", "kind", "scheduled_on", "status", "cancel_reason"],
    "worker_relationships.csv": ["person_id", "worker", "relationship_type", "from_date", "to_date", "end_reason"],
    "organisation_relationships.csv": ["person_id", "organisation", "organisation_kind", "relationship_type", "from_date",
                                       "to_date", "end_reason"],
    "service_user_groups.csv": ["person_id", "group", "sub_group", "start_date", "end_date"],
    "file_retentions.csv": ["person_id", "criteria", "rule", "start_date", "retain_until"],
    "record_items.csv": ["person_id", "kind", "description", "from_date", "to_date", "end_reason", "is_primary",
                         "doh_end_reason"],
    "assessments.csv": ["person_id", "assessment_type", "trigger_date", "completed_on", "authorised_by", "authorised_on"],
    "contacts.csv": ["person_id", "contact_date", "reason"],
}


def _iso(day: dt.date | None) -> str:
    return "" if day is None else day.isoformat()


def _uk(day: dt.date | None) -> str:
    """Day first, as Mosaic-like systems export (docs/csv.md accepts both)."""
    return "" if day is None else day.strftime("%d/%m/%Y")


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(max(1, (end - start).days)))


def _years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _person_rows(rng: random.Random, number: int, pid: str, family: str | None) -> dict[str, list[list[str]]]:
    """Every row one fictitious person contributes, per file."""
    team, case_types, workers = TEAMS[0] if number % 10 < 6 else TEAMS[1] if number % 10 < 8 else TEAMS[2]
    adult = team == "adults-south"
    born = _day(rng, dt.date(1940, 1, 1), dt.date(1990, 1, 1)) if adult else _day(rng, dt.date(2009, 1, 1), dt.date(2024, 1, 1))
    worker = rng.choice(workers)
    case_type = rng.choice(case_types)
    opened = _day(rng, max(born, dt.date(2021, 1, 1)), dt.date(2026, 10, 1))
    need = f"N{rng.randrange(10)}"
    out: dict[str, list[list[str]]] = {name: [] for name in HEADERS}
    seen = _day(rng, opened, TODAY) if rng.random() < 0.9 else None
    out["persons.csv"].append([
        pid, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), _uk(born) if number % 2 else _iso(born), family or "",
        _uk(seen), _iso(_day(rng, opened, TODAY)) if rng.random() < 0.7 else "", "yes" if number % 50 == 0 else "no",
    ])
    cases = out["cases.csv"]
    cases.append([pid, team, worker, case_type, _iso(opened), "", "", need])
    if number % 10 == 3:  # an earlier, closed involvement (history; C12 compares a contact with it)
        old_open = _day(rng, dt.date(2018, 1, 1), dt.date(2020, 6, 1))
        old_close = old_open + dt.timedelta(days=rng.randrange(60, 400))
        cases.append([pid, team, worker, case_type, _uk(old_open), _uk(old_close), "A1" if adult else "RC8", need])
    kind = ("incoming", "future", "incomplete")[number % 3]
    status = ("open", "open", "done", "cancelled")[number % 4]
    out["work_steps.csv"].append([pid, rng.choice(STEP_TITLES), worker, kind, _iso(_day(rng, opened, TODAY)), status,
                                  "No longer needed" if status == "cancelled" else ""])
    wr = out["worker_relationships.csv"]
    wr.append([pid, f"Worker {worker.title()}", "Key Worker (Childrens Social Care)" if not adult else "Key Worker (Adult Social Care)",
               _iso(opened), "", ""])
    if number % 5 == 0:
        wr.append([pid, f"Dr {rng.choice(LAST_NAMES)}", "GP", _iso(born), "", ""])
    if adult or number % 3:
        out["organisation_relationships.csv"].append([
            pid, {"u12": "Under 12s", "12plus": "12+", "adults-south": "Adults South"}[team], "team",
            "Key Team", _iso(opened), "", ""])
    else:
        out["organisation_relationships.csv"].append([
            pid, rng.choice(SCHOOLS), "school", "School", _iso(_day(rng, born, TODAY)), "", ""])
    if number % 5 < 3:
        out["service_user_groups.csv"].append([pid, SUGS[team], "Neglect" if number % 2 else "", _iso(opened), ""])
    if number % 5 == 1:
        criteria, rule, years = RETENTIONS[case_type]
        out["file_retentions.csv"].append([pid, criteria, rule, _iso(opened), _iso(_years(born if "birth" in rule else opened, years))])
    if number % 5 < 3:
        item_kind, description = ITEMS[number % len(ITEMS)]
        out["record_items.csv"].append([pid, item_kind, description, _iso(opened), "", "",
                                        "true" if item_kind == "home_address" else "", ""])
    if number % 10 < 3:
        completed = opened + dt.timedelta(days=rng.randrange(10, 60))
        authorised = number % 2 == 0
        out["assessments.csv"].append([pid, "Single Assessment", _iso(opened), _iso(completed),
                                       "maria" if authorised else "", _iso(completed) if authorised else ""])
    if number % 10 == 7:
        out["contacts.csv"].append([pid, _iso(_day(rng, opened, TODAY)), f"N{rng.randrange(10)}"])
    return out


def generate_export(directory: Path | str, persons: int = 100_000, seed: int = 9) -> dict[str, int]:
    """Write the export's CSV files into directory (created); return the rows written per file.

    Streams: one person's rows at a time, so memory does not grow with ``persons``.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    counts = dict.fromkeys(HEADERS, 0)
    handles = {name: (target / name).open("w", encoding="utf-8", newline="") for name in HEADERS}
    try:
        writers = {name: csv.writer(f) for name, f in handles.items()}
        for name, header in HEADERS.items():
            writers[name].writerow(header)
        for number, pid, family in _people(persons):
            if family is not None and family[1]:
                writers["family_groups.csv"].writerow([family[0], f"Family {rng.choice(LAST_NAMES)}"])
                counts["family_groups.csv"] += 1
            for name, rows in _person_rows(rng, number, pid, family[0] if family else None).items():
                writers[name].writerows(rows)
                counts[name] += len(rows)
    finally:
        for f in handles.values():
            f.close()
    return counts


def _people(persons: int) -> Iterator[tuple[int, str, Any]]:
    """(number, person ID, (family ID, first of the family?) or None): 40% are pairs of siblings."""
    for number in range(persons):
        pid = str(FIRST_ID + number)
        if (number % 5 < 2 and number + 1 < persons) or number % 5 == 1:
            first = number % 5 == 0
            base = number if first else number - 1
            yield number, pid, (f"F{FIRST_ID + base}", first)
        else:
            yield number, pid, None


if __name__ == "__main__":
    import sys

    print(generate_export(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 100_000))
