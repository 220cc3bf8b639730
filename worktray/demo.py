"""A fictitious organisation's case store for the demo and the tests.

Every name, date of birth and ID here is invented. The cases are chosen to
show each rule: a family group (applies to), open work steps that block the
audit (C6.1) and can be cancelled (C7), GP and school relationships that must
stay open (C9), a short existing retention to extend (C8), open C10 items, a
child in care with a looked-after period, a placement and a home address (C10),
an adult never seen face to face with a care package (C4, C10), and a family
whose children are open as CIN, CP and CLA, each retained under their own case
type (C6.4), with service user groups of two services, of which only the
closing team's end (C6.3).
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select

from store.db import make_engine, make_session_factory
from store.migrate import recreate
from store.models import (
    Assessment,
    Base,
    Case,
    FamilyGroup,
    FileRetention,
    OrganisationRelationship,
    Person,
    RecordItem,
    ServiceUserGroup,
    WorkerRelationship,
    WorkStep,
)
from store.uow import UnitOfWork
from workflows import audits

DEMO_ORG = Path(__file__).parent / "demo" / "org.yml"
DEMO_CSV = Path(__file__).parent / "demo" / "csv"
D = dt.date


def seed(uow: UnitOfWork) -> None:
    """Load the demo records (once: does nothing if they are already there)."""
    if uow.cases.person("3549723") is not None:
        return
    add = uow.session.add_all
    add([FamilyGroup(id="F3492471", name="Family Marsh")])
    add(
        [
            Person(id="3549723", first_name="Lily", last_name="Marsh", date_of_birth=D(2015, 6, 14), family_group_id="F3492471",
                   last_seen_face_to_face=D(2026, 11, 2), last_supervision_on=D(2026, 10, 20)),
            Person(id="3549724", first_name="Noah", last_name="Marsh", date_of_birth=D(2017, 3, 2), family_group_id="F3492471",
                   last_seen_face_to_face=D(2026, 11, 2), last_supervision_on=D(2026, 10, 20)),
            Person(id="3549728", first_name="Kai", last_name="Ellison", date_of_birth=D(2016, 11, 28),
                   last_seen_face_to_face=D(2026, 10, 15), last_supervision_on=D(2026, 10, 1)),
            Person(id="3501779", first_name="Eve", last_name="Sutton", date_of_birth=D(2015, 5, 12),
                   last_seen_face_to_face=D(2026, 9, 30), last_supervision_on=D(2026, 9, 1)),
            Person(id="4100001", first_name="Pat", last_name="Greene", date_of_birth=D(1950, 1, 1)),
            Person(id="3549735", first_name="Mia", last_name="Thorne", date_of_birth=D(2015, 3, 6),
                   last_seen_face_to_face=D(2026, 11, 9), last_supervision_on=D(2026, 10, 28)),
        ]
    )
    uow.session.flush()
    add(
        [
            Case(person_id="3549723", team="u12", worker="amy", case_type="CIN", opened_on=D(2022, 10, 4), primary_need="N1"),
            Case(person_id="3549724", team="u12", worker="amy", case_type="CIN", opened_on=D(2022, 10, 4), primary_need="N1"),
            Case(person_id="3549728", team="u12", worker="ben", case_type="CIN", opened_on=D(2023, 2, 1)),
            Case(person_id="3501779", team="u12", worker="amy", case_type="CIN", opened_on=D(2024, 1, 15)),
            Case(person_id="4100001", team="adults-south", worker="dan", case_type="ADULT", opened_on=D(2025, 6, 1)),
            Case(person_id="3549735", team="u12", worker="amy", case_type="CLA", opened_on=D(2025, 3, 6)),
        ]
    )
    for pid, worker in (("3549723", "Amy Brooke"), ("3549724", "Amy Brooke"), ("3549728", "Ben Okafor"), ("3501779", "Amy Brooke"), ("3549735", "Amy Brooke")):
        add(
            [
                WorkerRelationship(person_id=pid, worker=worker, relationship_type="Key Worker (Childrens Social Care)", from_date=D(2022, 10, 4)),
                WorkerRelationship(person_id=pid, worker="Dr Iris Vale", relationship_type="GP", from_date=D(2016, 1, 1)),
                OrganisationRelationship(person_id=pid, organisation="Under 12s", organisation_kind="team",
                                         relationship_type="Key Team (Childrens Social Care)", from_date=D(2022, 10, 4)),
                OrganisationRelationship(person_id=pid, organisation="Fenbridge Primary School", organisation_kind="school",
                                         relationship_type="School", from_date=D(2020, 9, 1)),
                OrganisationRelationship(person_id=pid, organisation="Fenbridge Surgery", organisation_kind="gp_surgery",
                                         relationship_type="GP Surgery", from_date=D(2016, 1, 1)),
                ServiceUserGroup(person_id=pid, group="CS Abuse or Neglect", sub_group="Neglect", start_date=D(2022, 10, 4)),
                Assessment(person_id=pid, assessment_type="Single Assessment", trigger_date=D(2022, 10, 4),
                           completed_on=D(2022, 11, 10), authorised_by="maria", authorised_on=D(2022, 11, 12)),
            ]
        )
    add(
        [
            RecordItem(person_id="3549723", kind="legal_status", description="C: Section 17 Child in Need", from_date=D(2022, 11, 17)),
            RecordItem(person_id="3549723", kind="registration", description="Sensory Impairment Register: Hard of hearing", from_date=D(2022, 12, 7)),
            WorkStep(person_id="3549728", title="CS Case Supervision", assignee="ben", kind="incomplete"),
            # D3: the 5th working day after the demo's 26 Nov 2026: it blocks a closure from then (C6.1); the morning job marks it incoming
            WorkStep(person_id="3549728", title="CS Home Visit", assignee="amy", kind="future", scheduled_on=D(2026, 12, 3)),
            Assessment(person_id="3549728", assessment_type="CIN Review", trigger_date=D(2026, 9, 1), completed_on=D(2026, 9, 20)),
            FileRetention(person_id="3501779", criteria="CS Early Help", rule="File to be retained for 15 years from date of birth",
                          start_date=D(2015, 5, 12), retain_until=D(2030, 5, 12)),
            WorkerRelationship(person_id="4100001", worker="Dan Reid", relationship_type="Key Worker (Adults)", from_date=D(2025, 6, 1)),
            OrganisationRelationship(person_id="4100001", organisation="Adults South", organisation_kind="team",
                                     relationship_type="Key Team (Adults)", from_date=D(2025, 6, 1)),
            RecordItem(person_id="4100001", kind="care_package", description="Home care, 7 hours a week", from_date=D(2025, 7, 1)),
            # A child in care (CLA): the looked-after period, and two addresses (C10; fictitious).
            RecordItem(person_id="3549735", kind="looked_after", from_date=D(2025, 3, 6),
                       description="V2 Section 20 single period of accommodation; U3 foster placement with a relative"),
            RecordItem(person_id="3549735", kind="placement_address", description="17 Sedge Close, Fenbridge FB2 2AH",
                       from_date=D(2025, 3, 6), is_primary=True),
            RecordItem(person_id="3549735", kind="home_address", description="105 Wharf Row, Fenbridge FB5 7DH",
                       from_date=D(2019, 2, 22), is_primary=False),
            ServiceUserGroup(person_id="4100001", group="AS Physical Support", sub_group="Personal care", start_date=D(2025, 6, 1)),
        ]
    )
    _seed_thorne_family(uow)
    _seed_transfer_child(uow)
    _seed_audit_dates(uow)
    uow.commit()


class NotADemoStore(Exception):
    """The database holds people who are not in the demo: it is never reset."""


@lru_cache(maxsize=1)
def seed_person_ids() -> frozenset[str]:
    """The people ``seed`` adds, found by running it on an in-memory database (so the list never drifts)."""
    engine = make_engine("sqlite://")
    try:
        Base.metadata.create_all(engine)
        with UnitOfWork(make_session_factory(engine)) as uow:
            seed(uow)
            return frozenset(uow.session.scalars(select(Person.id)))
    finally:
        engine.dispose()


def demo_person_ids() -> frozenset[str]:
    """The demo's fictitious people: those ``seed`` adds and those of the example CSV export."""
    with (DEMO_CSV / "persons.csv").open(encoding="utf-8", newline="") as f:
        return seed_person_ids() | {row["id"] for row in csv.DictReader(f)}


def reset(database_url: str) -> None:
    """Start the demo again: drop and recreate the schema, and seed the demo cases afresh.

    Only a database that holds demo people and nobody else is reset; any other
    person in it (a council's case store) makes this refuse, changing nothing.
    The schema is recreated rather than emptied because the event log refuses
    DELETE and TRUNCATE (migration 0009).
    """
    engine = make_engine(database_url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            strangers = set(uow.session.scalars(select(Person.id))) - demo_person_ids()
    finally:
        engine.dispose()
    if strangers:
        raise NotADemoStore(
            f"the database holds {len(strangers)} people who are not in the demo: it is not a demo database, "
            "so nothing was reset"
        )
    recreate(database_url)
    engine = make_engine(database_url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            seed(uow)  # commits
    finally:
        engine.dispose()
def _seed_thorne_family(uow: UnitOfWork) -> None:
    """Three children in one family group, open to Under 12s as CIN, CP and CLA (C6.4);
    Mia also has a service user group of the Children with Disabilities service (not
    one Under 12s owns), which Under 12s' closure must leave open (C6.3)."""
    add = uow.session.add_all
    add([FamilyGroup(id="F3492490", name="Family Thorne")])
    seen, supervised = D(2026, 11, 9), D(2026, 11, 3)
    add(
        [
            Person(id="3549740", first_name="Mia", last_name="Thorne", date_of_birth=D(2014, 8, 3), family_group_id="F3492490",
                   last_seen_face_to_face=seen, last_supervision_on=supervised),
            Person(id="3549741", first_name="Leo", last_name="Thorne", date_of_birth=D(2016, 4, 21), family_group_id="F3492490",
                   last_seen_face_to_face=seen, last_supervision_on=supervised),
            Person(id="3549742", first_name="Ava", last_name="Thorne", date_of_birth=D(2019, 1, 30), family_group_id="F3492490",
                   last_seen_face_to_face=seen, last_supervision_on=supervised),
        ]
    )
    uow.session.flush()
    for pid, case_type, group in (
        ("3549740", "CIN", "CS Child in Need"),
        ("3549741", "CP", "CS Child Protection"),
        ("3549742", "CLA", "CS Looked After Child"),
    ):
        add(
            [
                Case(person_id=pid, team="u12", worker="amy", case_type=case_type, opened_on=D(2024, 3, 11)),
                WorkerRelationship(person_id=pid, worker="Amy Brooke", relationship_type="Key Worker (Childrens Social Care)",
                                   from_date=D(2024, 3, 11)),
                OrganisationRelationship(person_id=pid, organisation="Under 12s", organisation_kind="team",
                                         relationship_type="Key Team (Childrens Social Care)", from_date=D(2024, 3, 11)),
                ServiceUserGroup(person_id=pid, group=group, start_date=D(2024, 3, 11)),
            ]
        )
    add([ServiceUserGroup(person_id="3549740", group="CWD Physical Disability", sub_group="Mobility", start_date=D(2023, 5, 2))])


def _seed_transfer_child(uow: UnitOfWork) -> None:
    """T1: a child of Under 12s who reaches 11 years 6 months on 3 December 2026 (the demo's
    week after 26 November), so Under 12s -> 12+ shows on the radar and the transfer journey
    has someone to move. Fictitious."""
    add = uow.session.add_all
    add([Person(id="3549750", first_name="Jay", last_name="Corrin", date_of_birth=D(2015, 6, 3),
                last_seen_face_to_face=D(2026, 11, 16), last_supervision_on=D(2026, 11, 2))])
    uow.session.flush()
    add(
        [
            Case(person_id="3549750", team="u12", worker="ben", case_type="CIN", opened_on=D(2024, 9, 2), primary_need="N4"),
            WorkerRelationship(person_id="3549750", worker="Ben Okafor", relationship_type="Key Worker (Childrens Social Care)",
                               from_date=D(2024, 9, 2)),
            WorkerRelationship(person_id="3549750", worker="Dr Iris Vale", relationship_type="GP", from_date=D(2015, 7, 1)),
            OrganisationRelationship(person_id="3549750", organisation="Under 12s", organisation_kind="team",
                                     relationship_type="Key Team (Childrens Social Care)", from_date=D(2024, 9, 2)),
            ServiceUserGroup(person_id="3549750", group="CS Child in Need", start_date=D(2024, 9, 2)),
        ]
    )


# C13: when each demo case was last audited by business support. As of the demo's 26 November
# 2026, Eve Sutton's audit (due 17 November) is overdue and Mia Thorne's (CLA, due 7 December)
# falls within Under 12s' notice of 10 working days; the others are due from mid December on.
LAST_AUDITED: dict[str, dt.date] = {
    "3549723": D(2026, 10, 5),
    "3549724": D(2026, 10, 5),
    "3549728": D(2026, 11, 2),
    "3501779": D(2026, 8, 17),  # overdue
    "4100001": D(2026, 10, 1),
    "3549735": D(2026, 9, 7),  # due soon
    "3549740": D(2026, 9, 14),
    "3549741": D(2026, 9, 14),
    "3549742": D(2026, 9, 14),
    "3549750": D(2026, 10, 12),
}


def _seed_audit_dates(uow: UnitOfWork) -> None:
    uow.session.flush()
    for case in uow.session.scalars(select(Case).where(Case.person_id.in_(list(LAST_AUDITED)))):
        audits.mark_audited(case, LAST_AUDITED[case.person_id])
