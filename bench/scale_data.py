"""A big fictitious case store for the scan, start-up and memory figures of ``make bench`` (issue 9).

``generate(url, persons=100_000, events=1_000_000)`` fills a migrated, empty database
(a SQLite file or a PostgreSQL database the bench made) with the demo organisation's
teams (worktray/demo/org.yml): one open case per person across Under 12s, 12+ and
Adults South, older closed cases, closures in every state, transfers from Under 12s
to 12+ with points of transfer over the next weeks (the radar's), three-month audits
due over the next three months (a few overdue, most of those already raised), open
and completed assessments (the reminders' D1 ladder) and ``events`` event-log rows.

Everything is invented (names from two short lists, IDs from 5,000,000 up). Rows go in
by bulk inserts: PostgreSQL ``COPY``, SQLite ``executemany`` on the driver's connection.
Bench-only: the event log is written with a correct hash chain (``store.eventlog.
chain_hash``, ids 1..n without gaps), so ``worktray events verify`` passes on it and the
append-only triggers (migration 0011, which refuse UPDATE and DELETE, not INSERT) stay on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from store.db import make_engine
from store.eventlog import GENESIS, canonical
from workflows import transfer_terms as terms
from workflows.clock import LONDON, add_months

FIRST_ID = 5_000_000
FIRST_NAMES = ("Alex", "Bea", "Cal", "Dee", "Eli", "Fay", "Gus", "Hal", "Isla", "Jo", "Kit", "Lou", "Max", "Nell", "Oz", "Pip")
LAST_NAMES = ("Ash", "Birch", "Cedar", "Dale", "Elm", "Fern", "Glen", "Heath", "Ivy", "Juniper", "Kale", "Lark", "Moss", "Nash")
# Team -> (share of the open cases, its workers in the demo org, case types, ages in years)
TEAMS: dict[str, tuple[float, tuple[str, ...], tuple[str, ...], tuple[int, int]]] = {
    "u12": (0.4, ("amy", "ben"), ("CIN", "CP", "CLA"), (0, 11)),
    "12plus": (0.3, ("femi", "lena"), ("CIN", "CP", "CLA"), (12, 17)),
    "adults-south": (0.3, ("dan",), ("ADULT",), (18, 95)),
}
CLOSURE_OPEN_STATES = ("requested", "returned", "approved", "claimed", "blocked")
ACTIONS = ("request", "approve", "claim", "open_audit", "complete", "return", "resubmit", "look", "reminders_sent")


@dataclass
class Summary:
    """How many rows of each table the generator wrote (and the IDs the benches look up)."""

    rows: dict[str, int] = field(default_factory=dict)
    person_ids: list[str] = field(default_factory=list)  # a few, for ``worktray case show``

    def __str__(self) -> str:
        return ", ".join(f"{table} {count:,}" for table, count in self.rows.items())


class Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany on SQLite (values as SQLAlchemy stores them)."""

    def __init__(self, raw: Any, dialect: str) -> None:
        self.raw, self.dialect = raw, dialect

    def __call__(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        count = 0
        cursor = self.raw.cursor()
        if self.dialect == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])
                    count += 1
        else:
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(tuple(_sqlite(v) for v in row))
                if len(batch) >= 5000:
                    cursor.executemany(statement, batch)
                    count += len(batch)
                    batch.clear()
            cursor.executemany(statement, batch)
            count += len(batch)
        cursor.close()
        return count


def _sqlite(value: Any) -> Any:
    """What SQLAlchemy's SQLite types store: dates and naive UTC datetimes as text, JSON as text."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


@dataclass
class Plan:
    """What is generated, decided before writing (so requests and events can refer to cases)."""

    today: dt.date
    rnd: random.Random
    persons: list[tuple[Any, ...]] = field(default_factory=list)
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    requests: list[tuple[Any, ...]] = field(default_factory=list)
    assessments: list[tuple[Any, ...]] = field(default_factory=list)
    work_steps: list[tuple[Any, ...]] = field(default_factory=list)


PERSON_COLUMNS = ("id", "first_name", "last_name", "date_of_birth", "restricted", "last_seen_face_to_face", "last_supervision_on")
CASE_COLUMNS = ("id", "person_id", "team", "worker", "case_type", "opened_on", "closed_on", "closure_reason", "primary_need",
                "last_audited_on", "audit_due_on")
REQUEST_COLUMNS = ("id", "kind", "state", "version", "revision", "case_id", "person_id", "team", "requested_by", "requested_at",
                   "holder", "receiving_team", "details", "last_actor", "last_action", "last_action_at")
ASSESSMENT_COLUMNS = ("person_id", "assessment_type", "trigger_date", "completed_on", "authorised_by", "authorised_on")
WORK_STEP_COLUMNS = ("person_id", "title", "assignee", "kind", "scheduled_on", "status")


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    """10:00 London on ``day``, in UTC (as the store gives it back)."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=LONDON).astimezone(dt.UTC)


def _team_of(i: int, persons: int) -> str:
    share = i / persons
    return "u12" if share < 0.4 else "12plus" if share < 0.7 else "adults-south"


def plan(persons: int, today: dt.date, seed: int) -> Plan:
    rnd = random.Random(seed)
    p = Plan(today=today, rnd=rnd)
    case_id = request_id = 0
    for i in range(persons):
        pid = str(FIRST_ID + i)
        team = _team_of(i, persons)
        _, workers, types, (youngest, oldest) = TEAMS[team]
        born = today - dt.timedelta(days=rnd.randint(youngest * 365, oldest * 365 + 364))
        if team == "u12" and i % 97 == 0:  # T1: a few more reach 11 years 6 months in the radar's two weeks
            born = add_months(today + dt.timedelta(days=rnd.randint(0, 13)), -138)
        p.persons.append((pid, rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES), born, rnd.random() < 0.01,
                          today - dt.timedelta(days=rnd.randint(1, 90)), today - dt.timedelta(days=rnd.randint(1, 60))))
        if i % 5 == 0:  # an older, closed case with its closure (every fifth person)
            case_id += 1
            opened = today - dt.timedelta(days=rnd.randint(900, 2000))
            closed = opened + dt.timedelta(days=rnd.randint(60, 400))
            p.cases.append((case_id, pid, team, workers[0], types[0], opened, closed, "RC7", None, None, None))
            request_id += 1
            p.requests.append(_request(request_id, "closure", "closed", case_id, pid, team, workers[0], _at(closed), {"reason": "RC7"}))
        case_id += 1
        opened = today - dt.timedelta(days=rnd.randint(30, 1100))
        # C13: due over the next three months; one in fifty overdue by up to two weeks
        due = today + dt.timedelta(days=rnd.randint(-14, -1) if i % 50 == 7 else rnd.randint(0, 92))
        last = add_months(due, -3)
        worker = rnd.choice(workers)
        p.cases.append((case_id, pid, team, worker, rnd.choice(types), opened, None, None,
                        None if team == "adults-south" else f"N{rnd.randint(0, 9)}", last if last >= opened else None, due))
        request_id = _requests_for(p, i, pid, case_id, team, worker, due, request_id)
        if i % 10 == 0:  # D1: an assessment, one in four still open (triggered up to 60 days ago)
            trigger = today - dt.timedelta(days=rnd.randint(0, 60) if i % 40 == 0 else rnd.randint(60, 900))
            done = None if i % 40 == 0 else trigger + dt.timedelta(days=20)
            p.assessments.append((pid, "Single Assessment", trigger, done, "maria" if done else None, done))
    return p


def _request(rid: int, kind: str, state: str, case_id: int, pid: str, team: str, by: str, at: dt.datetime,
             details: dict[str, Any], holder: str | None = None, receiving: str | None = None) -> tuple[Any, ...]:
    return (rid, kind, state, 1, 1, case_id, pid, team, by, at, holder, receiving, details, by, "request", at)


def _requests_for(p: Plan, i: int, pid: str, case_id: int, team: str, worker: str, due: dt.date, request_id: int) -> int:
    rnd, today = p.rnd, p.today
    asked = _at(today - dt.timedelta(days=rnd.randint(0, 20)))
    if i % 33 == 1:  # a closure on its way, in each open state in turn
        request_id += 1
        state = CLOSURE_OPEN_STATES[(i // 33) % len(CLOSURE_OPEN_STATES)]
        holder = "sam" if state in ("claimed", "blocked") else None
        form = {"reason": "RC7", "closure_date": asked.date().isoformat(), "summary": "Objectives met.", "applies_to": [pid]}
        p.requests.append(_request(request_id, "closure", state, case_id, pid, team, worker, asked, form, holder))  # as request_closure
        if state == "blocked":
            p.work_steps.append((pid, "CS Home Visit", worker, "incomplete", None, "open"))
    elif team == "u12" and i % 100 == 3:  # T1-T3: a transfer to 12+ still to come (planned over the next four weeks)
        request_id += 1
        state = terms.RADAR_STATES[(i // 100) % len(terms.RADAR_STATES)]
        point = list(terms.POINTS_OF_TRANSFER)[(i // 100) % len(terms.POINTS_OF_TRANSFER)]
        planned = None if state == terms.POTENTIAL and i % 3 == 0 else today + dt.timedelta(days=rnd.randint(-3, 28))
        standards = {key: {"status": rnd.choice(terms.STANDARD_STATUSES), "why": ""} for key in terms.STANDARDS}
        details = {"point_of_transfer": point, "planned_date": planned.isoformat() if planned else None, "reason": "Moves on.",
                   "standards": standards}
        if state == terms.ACCEPTED:  # T6: as workflows.transfer's accept leaves it (the worker the case moves to)
            details |= {"allocated_worker": "femi", "accepted_by": "lena", "accepted_on": asked.date().isoformat()}
        p.requests.append(_request(request_id, "transfer", state, case_id, pid, team, worker, asked, details, receiving="12plus"))
    if due <= today + dt.timedelta(days=14) and i % 5 != 4:  # C13: most audits due soon are raised already
        request_id += 1
        holder = "ivy" if team == "12plus" and i % 2 else ("sam" if i % 2 else None)
        p.requests.append(_request(request_id, "audit", "claimed" if holder else "approved", case_id, pid, team, "worktray",
                                   asked, {"due_on": due.isoformat(), "applies_to": [pid]}, holder))
    elif i % 3 == 0:  # last quarter's audit, recorded
        request_id += 1
        p.requests.append(_request(request_id, "audit", "closed", case_id, pid, team, "worktray", _at(add_months(due, -3)),
                                   {"due_on": add_months(due, -3).isoformat(), "audit": {"outcome": "compliant"}}, "sam"))
    return request_id


def _canonical(v: dict[str, Any]) -> bytes:
    """``store.eventlog.canonical`` for the generator's plain ASCII values, without a JSON round trip
    per event (about ten times faster; ``_events`` checks it against the real one)."""
    def s(x: Any) -> str:
        return "null" if x is None else f'"{x}"' if isinstance(x, str) else str(x)
    detail = '{"why":"bench"}' if v["detail"] else "{}"
    return (
        f'{{"action":{s(v["action"])},"actor":{s(v["actor"])},"at":"{v["at"].isoformat(timespec="microseconds")}",'
        f'"detail":{detail},"from_state":{s(v["from_state"])},"id":{v["id"]},"person_id":{s(v["person_id"])},'
        f'"request_id":{s(v["request_id"])},"source":{s(v["source"])},"to_state":{s(v["to_state"])}}}'
    ).encode()


def _events(p: Plan, count: int) -> Iterator[tuple[Any, ...]]:
    """``count`` events with a correct hash chain: each request's story, then looks at people."""
    prev = GENESIS
    start = _at(p.today - dt.timedelta(days=1000))
    rnd = p.rnd
    requests = p.requests
    for event_id in range(1, count + 1):
        at = start + dt.timedelta(seconds=event_id * 80 + rnd.randint(0, 60))
        r = requests[event_id % len(requests)]
        if event_id % 4:
            values = {"id": event_id, "at": at, "actor": r[8], "action": ACTIONS[event_id % 6], "request_id": r[0], "person_id": r[6],
                      "from_state": "requested", "to_state": r[2], "source": "slack:bench", "detail": {}}
        else:
            values = {"id": event_id, "at": at, "actor": "amy", "action": "look", "request_id": None, "person_id": r[6],
                      "from_state": None, "to_state": None, "source": "slack:bench", "detail": {"why": "bench"}}
        if event_id <= 8:  # the fast form is the real one (else verify would fail on the bench's log)
            assert _canonical(values) == canonical(values), (_canonical(values), canonical(values))
        digest = hashlib.sha256(prev.encode("ascii") + b"\n" + _canonical(values)).hexdigest()
        yield (*values.values(), prev, digest)
        prev = digest


EVENT_COLUMNS = ("id", "at", "actor", "action", "request_id", "person_id", "from_state", "to_state", "source", "detail", "prev_hash", "hash")


def generate(url: str, persons: int = 100_000, events: int = 1_000_000, today: dt.date = dt.date(2026, 11, 26), seed: int = 9) -> Summary:
    """Fill the migrated, empty database at ``url`` (see the module's docstring); returns the row counts."""
    p = plan(persons, today, seed)
    engine = make_engine(url)
    summary = Summary(person_ids=[row[0] for row in p.persons[:: max(1, persons // 10)]])
    try:
        raw = engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            write = Writer(driver, engine.dialect.name)
            if engine.dialect.name == "sqlite":  # store.db turns pysqlite's own BEGIN off: one transaction here
                driver.execute("BEGIN IMMEDIATE")
            summary.rows["persons"] = write("persons", PERSON_COLUMNS, p.persons)
            summary.rows["cases"] = write("cases", CASE_COLUMNS, p.cases)
            summary.rows["requests"] = write("requests", REQUEST_COLUMNS, p.requests)
            summary.rows["assessments"] = write("assessments", ASSESSMENT_COLUMNS, p.assessments)
            summary.rows["work_steps"] = write("work_steps", WORK_STEP_COLUMNS, p.work_steps)
            summary.rows["events"] = write("events", EVENT_COLUMNS, _events(p, events))
            raw.commit()
        finally:
            raw.close()
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # the sequences carry on after the explicit ids
                for table in ("cases", "requests", "events"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"))
                conn.execute(text("ANALYZE"))
            else:
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return summary
