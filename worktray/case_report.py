"""``worktray case show``: everything the store holds about one person.

This is an administrator's command on the server, not a chat channel, so it
shows the person's name and date of birth as well as the ID and initials. The
report is plain JSON-ready data (dates as ISO strings) so ``--json`` needs no
special encoder; ``format_report`` renders the same data as readable text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select

from store.models import (
    Assessment,
    Event,
    OrganisationRelationship,
    Person,
    RecordItem,
    Request,
    ServiceUserGroup,
    WorkerRelationship,
)
from store.uow import UnitOfWork

Report = dict[str, Any]


def _plain(value: Any) -> Any:
    """Dates and datetimes as ISO strings; everything else as it is."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _fields(record: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: _plain(getattr(record, name)) for name in names}


def _person(person: Person) -> dict[str, Any]:
    data = _fields(person, ("id", "initials", "first_name", "last_name", "date_of_birth", "last_seen_face_to_face", "last_supervision_on"))
    data["name"] = f"{person.first_name} {person.last_name}"
    return data


def _family(person: Person) -> dict[str, Any] | None:
    group = person.family_group
    if group is None:
        return None
    members = [{"id": m.id, "initials": m.initials, "name": f"{m.first_name} {m.last_name}"} for m in group.members]
    return {"id": group.id, "name": group.name, "members": members}


def _all(uow: UnitOfWork, table: Any, person_id: str) -> list[Any]:
    return list(uow.session.scalars(select(table).where(table.person_id == person_id).order_by(table.id)))


def _dated(records: list[Any], names: tuple[str, ...], end: str = "to_date") -> list[dict[str, Any]]:
    """Open and ended records alike, each marked open or not (ended ones matter after a closure)."""
    return [{**_fields(r, names), "open": getattr(r, end) is None} for r in records]


def _requests(uow: UnitOfWork, person: Person) -> list[Request]:
    """The person's own requests, and family members' requests that apply to them too."""
    members = [m.id for m in person.family_group.members] if person.family_group else [person.id]
    found = uow.session.scalars(select(Request).where(Request.person_id.in_(members)).order_by(Request.id))
    return [r for r in found if r.person_id == person.id or person.id in (r.details or {}).get("applies_to", [])]


def _request(request: Request) -> dict[str, Any]:
    data = _fields(
        request,
        ("id", "kind", "state", "holder", "team", "person_id", "case_id", "requested_by", "requested_at",
         "last_action", "last_actor", "last_action_at", "note", "revision"),
    )
    data["details"] = request.details or {}
    return data


def _events(uow: UnitOfWork, person_id: str, request_ids: list[int]) -> list[dict[str, Any]]:
    condition = Event.person_id == person_id
    if request_ids:
        condition = or_(condition, Event.request_id.in_(request_ids))
    events = uow.session.scalars(select(Event).where(condition).order_by(Event.at, Event.id))
    names = ("id", "at", "actor", "action", "request_id", "person_id", "from_state", "to_state", "source", "detail")
    return [_fields(e, names) for e in events]


def case_report(uow: UnitOfWork, person_id: str) -> Report | None:
    """All the store knows about one person, JSON-serialisable; None if there is no such person."""
    person = uow.cases.person(person_id)
    if person is None:
        return None
    requests = _requests(uow, person)
    return {
        "person": _person(person),
        "family_group": _family(person),
        "cases": [
            {**_fields(c, ("id", "team", "worker", "case_type", "opened_on", "closed_on", "closure_reason")), "open": c.is_open}
            for c in uow.cases.cases_of(person_id)
        ],
        "open_work_steps": [
            _fields(s, ("id", "title", "assignee", "kind", "scheduled_on", "status"))
            for s in uow.cases.open_work_steps([person_id])
        ],
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
        "file_retentions": [
            _fields(r, ("id", "criteria", "rule", "start_date", "retain_until")) for r in uow.cases.retentions(person_id)
        ],
        "record_items": _dated(
            _all(uow, RecordItem, person_id),
            ("id", "kind", "description", "from_date", "to_date", "end_reason", "doh_end_reason", "is_primary"),
        ),
        "assessments": [
            {**_fields(a, ("id", "assessment_type", "trigger_date", "completed_on", "authorised_by", "authorised_on")),
             "authorised": a.authorised_on is not None}
            for a in _all(uow, Assessment, person_id)
        ],
        "requests": [_request(r) for r in requests],
        "events": _events(uow, person_id, [r.id for r in requests]),
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
