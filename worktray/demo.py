"""A fictitious organisation's case store for the demo and the tests.

Every name, date of birth and ID here is invented. The cases are chosen to
show each rule: a family group (applies to), open work steps that block the
audit (C6.1) and can be cancelled (C7), GP and school relationships that must
stay open (C9), a short existing retention to extend (C8), open C10 items and
an adult never seen face to face (C4).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from store.models import (
    Assessment,
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

DEMO_ORG = Path(__file__).parent / "demo" / "org.yml"
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
        ]
    )
    for pid, worker in (("3549723", "Amy Brooke"), ("3549724", "Amy Brooke"), ("3549728", "Ben Okafor"), ("3501779", "Amy Brooke")):
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
            WorkStep(person_id="3549728", title="CS Home Visit", assignee="amy", kind="future", scheduled_on=D(2026, 12, 10)),
            Assessment(person_id="3549728", assessment_type="CIN Review", trigger_date=D(2026, 9, 1), completed_on=D(2026, 9, 20)),
            FileRetention(person_id="3501779", criteria="CS Early Help", rule="File to be retained for 15 years from date of birth",
                          start_date=D(2015, 5, 12), retain_until=D(2030, 5, 12)),
            WorkerRelationship(person_id="4100001", worker="Dan Reid", relationship_type="Key Worker (Adults)", from_date=D(2025, 6, 1)),
            OrganisationRelationship(person_id="4100001", organisation="Adults South", organisation_kind="team",
                                     relationship_type="Key Team (Adults)", from_date=D(2025, 6, 1)),
            RecordItem(person_id="4100001", kind="care_package", description="Home care, 7 hours a week", from_date=D(2025, 7, 1)),
        ]
    )
    uow.commit()
