"""``worktray case show``: everything the store holds about one person.

This is an administrator's command on the server, not a chat channel, so it
shows the person's name and date of birth as well as the ID and initials. The
report is plain JSON-ready data (dates as ISO strings) so ``--json`` needs no
special encoder; ``format_report`` renders the same data as readable text.

It reads the tables with SQLAlchemy Core, not through the ORM (issue 9: the
command must start in 250 ms). An ORM query first configures every mapper of
the models, about 20 ms that this read-only report does not need; the tables'
column types (``UTCDateTime`` among them) still convert the values. The few
rules it shares with ``store.uow`` (a case is open while it has no closing
date, an open work step has status "open", a family's members in ID order)
are the models' and the repositories' rules, restated here for reading only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, Select, Table, or_, select

from store.models import (
    Assessment,
    Case,
    Event,
    FamilyGroup,
    FileRetention,
    OrganisationRelationship,
    Person,
    RecordItem,
    Request,
    ServiceUserGroup,
    WorkerRelationship,
    WorkStep,
)

if TYPE_CHECKING:
    from store.uow import UnitOfWork

Report = dict[str, Any]
Row = RowMapping


def _table(model: Any) -> Table:
    """A model's table: Core selects on it leave the mappers unconfigured."""
    table: Table = model.__table__
    return table


PERSONS, FAMILIES, CASES, STEPS = _table(Person), _table(FamilyGroup), _table(Case), _table(WorkStep)
RETENTIONS, REQUESTS, EVENTS = _table(FileRetention), _table(Request), _table(Event)


def _plain(value: Any) -> Any:
    """Dates and datetimes as ISO strings; everything else as it is."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _fields(record: Row, names: Iterable[str]) -> dict[str, Any]:
    return {name: _plain(record[name]) for name in names}


def _rows(uow: UnitOfWork, statement: Select[Any]) -> list[Row]:
    return [row._mapping for row in uow.session.execute(statement)]


def _initials(person: Row) -> str:
    """As ``Person.initials``: what channels may show beside the ID."""
    return f"{person['first_name'][:1]}{person['last_name'][:1]}".upper()


def _person(person: Row) -> dict[str, Any]:
    data = _fields(person, ("id", "first_name", "last_name", "date_of_birth", "last_seen_face_to_face", "last_supervision_on"))
    data = {"id": data.pop("id"), "initials": _initials(person), **data}
    data["name"] = f"{person['first_name']} {person['last_name']}"
    return data


def _members(uow: UnitOfWork, person: Row) -> list[Row]:
    """The person's family group's members in ID order (``FamilyGroup.members``); none without a group."""
    if person["family_group_id"] is None:
        return []
    return _rows(uow, select(PERSONS).where(PERSONS.c.family_group_id == person["family_group_id"]).order_by(PERSONS.c.id))


def _family(uow: UnitOfWork, person: Row, members: list[Row]) -> dict[str, Any] | None:
    if person["family_group_id"] is None:
        return None
    group = _rows(uow, select(FAMILIES).where(FAMILIES.c.id == person["family_group_id"]))[0]
    shown = [{"id": m["id"], "initials": _initials(m), "name": f"{m['first_name']} {m['last_name']}"} for m in members]
    return {"id": group["id"], "name": group["name"], "members": shown}


def _all(uow: UnitOfWork, model: Any, person_id: str) -> list[Row]:
    table = _table(model)
    return _rows(uow, select(table).where(table.c.person_id == person_id).order_by(table.c.id))


def _dated(records: list[Row], names: tuple[str, ...], end: str = "to_date") -> list[dict[str, Any]]:
    """Open and ended records alike, each marked open or not (ended ones matter after a closure)."""
    return [{**_fields(r, names), "open": r[end] is None} for r in records]


def _requests(uow: UnitOfWork, person: Row, members: list[Row]) -> list[Row]:
    """The person's own requests, and family members' requests that apply to them too."""
    ids = [m["id"] for m in members] or [person["id"]]
    found = _rows(uow, select(REQUESTS).where(REQUESTS.c.person_id.in_(ids)).order_by(REQUESTS.c.id))
    return [r for r in found if r["person_id"] == person["id"] or person["id"] in (r["details"] or {}).get("applies_to", [])]


def _request(request: Row) -> dict[str, Any]:
    data = _fields(
        request,
        ("id", "kind", "state", "holder", "team", "person_id", "case_id", "requested_by", "requested_at",
         "last_action", "last_actor", "last_action_at", "note", "revision"),
    )
    data["details"] = request["details"] or {}
    return data


def _events(uow: UnitOfWork, person_id: str, request_ids: list[int]) -> list[dict[str, Any]]:
    condition = EVENTS.c.person_id == person_id
    if request_ids:
        condition = or_(condition, EVENTS.c.request_id.in_(request_ids))
    events = _rows(uow, select(EVENTS).where(condition).order_by(EVENTS.c.at, EVENTS.c.id))
    names = ("id", "at", "actor", "action", "request_id", "person_id", "from_state", "to_state", "source", "detail")
    return [_fields(e, names) for e in events]


def case_report(uow: UnitOfWork, person_id: str) -> Report | None:
    """All the store knows about one person, JSON-serialisable; None if there is no such person."""
    found = _rows(uow, select(PERSONS).where(PERSONS.c.id == person_id))
    if not found:
        return None
    person = found[0]
    members = _members(uow, person)
    requests = _requests(uow, person, members)
    cases = _rows(uow, select(CASES).where(CASES.c.person_id == person_id).order_by(CASES.c.opened_on, CASES.c.id))
    steps = _rows(uow, select(STEPS).where(STEPS.c.person_id == person_id, STEPS.c.status == "open").order_by(STEPS.c.id))
    retentions = _rows(uow, select(RETENTIONS).where(RETENTIONS.c.person_id == person_id).order_by(RETENTIONS.c.id))
    return {
        "person": _person(person),
        "family_group": _family(uow, person, members),
        "cases": [
            {**_fields(c, ("id", "team", "worker", "case_type", "opened_on", "closed_on", "closure_reason")), "open": c["closed_on"] is None}
            for c in cases
        ],
        "open_work_steps": [_fields(s, ("id", "title", "assignee", "kind", "scheduled_on", "status")) for s in steps],
        "worker_relationships": _dated(
            _all(uow, WorkerRelationship, person_id), ("id", "worker", "relationship_type", "from_date", "to_date", "end_reason")
        ),
        "organisation_relationships": _dated(
            _all(uow, OrganisationRelationship, person_id),
            ("id", "organisation", "organisation_kind", "relationship_type", "from_date", "to_date", "end_reason"),
        ),
        "service_user_groups": _dated(
            _all(uow, ServiceUserGroup, person_id), ("id", "group", "sub_group", "start_date", "end_date"), end="end_date"
        ),
        "file_retentions": [_fields(r, ("id", "criteria", "rule", "start_date", "retain_until")) for r in retentions],
        "record_items": _dated(
            _all(uow, RecordItem, person_id),
            ("id", "kind", "description", "from_date", "to_date", "end_reason", "doh_end_reason", "is_primary"),
        ),
        "assessments": [
            {**_fields(a, ("id", "assessment_type", "trigger_date", "completed_on", "authorised_by", "authorised_on")),
             "authorised": a["authorised_on"] is not None}
            for a in _all(uow, Assessment, person_id)
        ],
        "requests": [_request(r) for r in requests],
        "events": _events(uow, person_id, [r["id"] for r in requests]),
    }


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------


def _period(start: str | None, end: str | None) -> str:
    return f"{start or '?'} to {end}" if end else f"from {start or '?'} (open)"


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", f"{title}:"] + ([f"  {line}" for line in lines] or ["  none"])


def format_report(report: Report) -> str:
    """The report as text for a terminal."""
    p = report["person"]
    out = [
        f"Person {p['id']} ({p['initials']}): {p['name']}, born {p['date_of_birth'] or 'unknown'}",
        f"  last seen face to face: {p['last_seen_face_to_face'] or 'never'}; last supervision: {p['last_supervision_on'] or 'none recorded'}",
    ]
    family = report["family_group"]
    if family:
        members = ", ".join(f"{m['id']} ({m['initials']})" for m in family["members"])
        out.append(f"  family group {family['id']} {family['name']}: {members}")
    out += _section("Cases", [
        f"#{c['id']} {c['case_type']} team {c['team']}, worker {c['worker']}, "
        + (f"opened {c['opened_on']}, open" if c["open"] else f"{c['opened_on']} to {c['closed_on']}, closed ({c['closure_reason'] or 'no reason'})")
        for c in report["cases"]
    ])
    out += _section("Open work steps", [
        f"#{s['id']} {s['title']} ({s['kind']}), assigned {s['assignee']}" + (f", scheduled {s['scheduled_on']}" if s["scheduled_on"] else "")
        for s in report["open_work_steps"]
    ])
    out += _section("Worker relationships", [
        f"{r['relationship_type']}: {r['worker']}, {_period(r['from_date'], r['to_date'])}" + (f" ({r['end_reason']})" if r["end_reason"] else "")
        for r in report["worker_relationships"]
    ])
    out += _section("Organisation relationships", [
        f"{r['relationship_type']}: {r['organisation']} [{r['organisation_kind']}], {_period(r['from_date'], r['to_date'])}"
        + (f" ({r['end_reason']})" if r["end_reason"] else "")
        for r in report["organisation_relationships"]
    ])
    out += _section("Service user groups", [
        f"{g['group']}" + (f" / {g['sub_group']}" if g["sub_group"] else "") + f", {_period(g['start_date'], g['end_date'])}"
        for g in report["service_user_groups"]
    ])
    out += _section("File retention", [
        f"{r['criteria']}: retain until {r['retain_until']} (from {r['start_date']}; {r['rule']})" for r in report["file_retentions"]
    ])
    out += _section("Record items", [
        f"{i['kind']}{' (primary)' if i['is_primary'] else ''}: {i['description']}, {_period(i['from_date'], i['to_date'])}"
        + (f" ({i['end_reason']})" if i["end_reason"] else "") + (f" (REC {i['doh_end_reason']})" if i["doh_end_reason"] else "")
        for i in report["record_items"]
    ])
    out += _section("Assessments", [
        f"{a['assessment_type']} triggered {a['trigger_date']}, completed {a['completed_on'] or 'no'}, "
        + (f"authorised by {a['authorised_by']} on {a['authorised_on']}" if a["authorised"] else "NOT authorised")
        for a in report["assessments"]
    ])
    out += _section("Requests", [_request_line(r) for r in report["requests"]])
    out += _section("Events", [_event_line(e) for e in report["events"]])
    return "\n".join(out)


def _request_line(r: dict[str, Any]) -> str:
    line = f"#{r['id']} {r['kind']} for {r['person_id']}: {r['state']}, requested by {r['requested_by']} at {r['requested_at']}"
    if r["holder"]:
        line += f", held by {r['holder']}"
    if r["last_action"]:
        line += f"; last: {r['last_action']} by {r['last_actor']} at {r['last_action_at']}"
    if r["note"]:
        line += f"; note: {r['note']}"
    return line


def _event_line(e: dict[str, Any]) -> str:
    line = f"{e['at']} {e['actor']} {e['action']}"
    if e["request_id"] is not None:
        line += f" request #{e['request_id']}"
    if e["from_state"] or e["to_state"]:
        line += f" {e['from_state'] or '-'} -> {e['to_state'] or '-'}"
    if e["source"]:
        line += f" via {e['source']}"
    return line
