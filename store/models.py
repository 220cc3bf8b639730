"""SQLAlchemy 2 typed models: the case store, the requests and the chat plumbing.

The case-store tables mirror DOMAIN.md "Records the case store holds". They are
shaped like a case-system report export (see ``worktray import``), so a council
can load them from its own system. The request tables are worktray's own: the
requests that travel through chat, the append-only event log and the outbox of
chat messages written in the same transaction as every change.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored as UTC on SQLite and PostgreSQL alike.

    SQLite keeps no offset, so values are normalised to UTC on the way in and
    marked UTC on the way out; callers always see aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# A request is open while it still waits for someone: these states, and for a transfer also the
# states in which it is still to come (T). The database allows one open request of a kind per person.
OPEN_REQUEST_STATES_SQL = (
    "state IN ('requested', 'returned', 'approved', 'claimed', 'blocked') "
    "OR (kind = 'transfer' AND state IN ('potential', 'on_duty', 'disputed', 'escalated', 'accepted'))"
)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# PostgreSQL-only index options (issue 9). Named in ``Index(...)``, a ``postgresql_*`` keyword
# makes SQLAlchemy import its whole PostgreSQL dialect to check it (about 28 ms), on SQLite
# too, so every `worktray case show` paid for it. Such an index keeps them in its ``info``
# instead, and they become dialect options when a PostgreSQL connection is first made (or
# at once if the dialect is already loaded): before anything there can create the schema.
POSTGRESQL_OPTIONS = "postgresql_options"


def postgresql_index(name: str, *columns: str, postgresql: dict[str, Any], **kwargs: Any) -> Index:
    """An ``Index`` with ``postgresql_<key>`` options that are set only once PostgreSQL is in use."""
    return Index(name, *columns, info={POSTGRESQL_OPTIONS: postgresql}, **kwargs)


def apply_postgresql_options(metadata: MetaData) -> None:
    """Turn each ``postgresql_index``'s options into its dialect options (idempotent; loads the dialect)."""
    for table in metadata.tables.values():
        for index in table.indexes:
            for key, value in index.info.get(POSTGRESQL_OPTIONS, {}).items():
                index.dialect_kwargs[f"postgresql_{key}"] = value


_postgresql_applied = False


def _apply_postgresql_options() -> None:
    global _postgresql_applied
    apply_postgresql_options(Base.metadata)
    _postgresql_applied = True


@event.listens_for(Engine, "engine_connect")
def _postgresql_connected(connection: Connection) -> None:
    """Every engine's connections: the first PostgreSQL one gives the models' indexes their options."""
    if connection.dialect.name == "postgresql" and not _postgresql_applied:
        _apply_postgresql_options()


# --------------------------------------------------------------------------
# The case store
# --------------------------------------------------------------------------


class FamilyGroup(Base):
    """Siblings worked as one; a request "applies to" some or all members [003]."""

    __tablename__ = "family_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    members: Mapped[list[Person]] = relationship(back_populates="family_group", order_by="Person.id")


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # indexed: the radar finds who reaches the age of transfer by a date-of-birth range (T1, issue 9)
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date, index=True)
    # indexed: a family's members are looked up by it (C6.4, the family card) (issue 9)
    family_group_id: Mapped[str | None] = mapped_column(ForeignKey("family_groups.id"), index=True)
    # C4 / C3: when the person was last seen face to face and when supervision was last recorded.
    last_seen_face_to_face: Mapped[dt.date | None] = mapped_column(Date)
    last_supervision_on: Mapped[dt.date | None] = mapped_column(Date)
    # Issue 8, data minimisation: a restricted record shows nothing in channels beyond
    # "a restricted record needs your action" (bot.views.channel_card).
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)

    family_group: Mapped[FamilyGroup | None] = relationship(back_populates="members")

    @property
    def initials(self) -> str:
        """What channel messages may show of a person, beside the ID (never the name)."""
        return f"{self.first_name[:1]}{self.last_name[:1]}".upper()


class Case(Base):
    """A case (involvement) of a team with a person."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    team: Mapped[str] = mapped_column(String(64))  # a team's open cases (T2 radar): ix_cases_team_audit_due_on leads with team
    worker: Mapped[str] = mapped_column(String(64), doc="organisation-config key of the allocated worker")
    case_type: Mapped[str] = mapped_column(String(32), doc="CIN, CP, CLA, CWD, EH or ADULT")
    opened_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    closure_reason: Mapped[str | None] = mapped_column(String(16))
    # S2: the CIN census primary need (N0-N9), the concern the case was open for; C12
    # compares a re-referral's reason with it. None where not recorded (adults).
    primary_need: Mapped[str | None] = mapped_column(String(4))
    # C13: the three-month-interval audit. The workflow (workflows.audits) sets both when a
    # case opens and when an audit completes; the store only keeps them, indexed by team and
    # due date so that the daily scan over every open case is one indexed query.
    last_audited_on: Mapped[dt.date | None] = mapped_column(Date)
    audit_due_on: Mapped[dt.date | None] = mapped_column(Date)

    person: Mapped[Person] = relationship()

    __table_args__ = (
        Index("ix_cases_team_audit_due_on", "team", "audit_due_on"),
        Index("ix_cases_audit_due_on", "audit_due_on"),  # cases without a due date yet, every team (C13, issue 9)
    )

    @property
    def is_open(self) -> bool:
        return self.closed_on is None


class WorkStep(Base):
    """A work step on a person's record: *incoming*, *future* or *incomplete* (C6, C7)."""

    __tablename__ = "work_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    assignee: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), doc="incoming | future | incomplete")
    scheduled_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open", doc="open | done | cancelled")
    cancel_reason: Mapped[str | None] = mapped_column(Text)


class WorkerRelationship(Base):
    """Key worker, GP, ... (C9: GP relationships are never ended by a closure)."""

    __tablename__ = "worker_relationships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    worker: Mapped[str] = mapped_column(String(200))
    relationship_type: Mapped[str] = mapped_column(String(100))
    from_date: Mapped[dt.date] = mapped_column(Date)
    to_date: Mapped[dt.date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(200))


class OrganisationRelationship(Base):
    """Key team, school, place of education, GP surgery (C9)."""

    __tablename__ = "organisation_relationships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_kind: Mapped[str] = mapped_column(String(32), doc="team | school | place_of_education | gp_surgery | other")
    relationship_type: Mapped[str] = mapped_column(String(100))
    from_date: Mapped[dt.date] = mapped_column(Date)
    to_date: Mapped[dt.date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(200))


class ServiceUserGroup(Base):
    __tablename__ = "service_user_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    group: Mapped[str] = mapped_column(String(100))
    sub_group: Mapped[str | None] = mapped_column(String(100))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)


class FileRetention(Base):
    """How long the record is kept (C8: can be extended, never shortened)."""

    __tablename__ = "file_retentions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    criteria: Mapped[str] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[dt.date] = mapped_column(Date)
    retain_until: Mapped[dt.date] = mapped_column(Date)


class RecordItem(Base):
    """The other things a closure may need to end (C10), one table for all kinds.

    kind: care_package | legal_status | looked_after | placement_address | home_address | registration | class

    Addresses are record items too (C10: a child in care has a home address and a
    primary placement address); ``is_primary`` marks the primary address. A
    looked-after period ends with a local ``end_reason`` and a DoH one
    (``doh_end_reason``, the SSDA903 REC code, S3).
    """

    __tablename__ = "record_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200))
    from_date: Mapped[dt.date] = mapped_column(Date)
    to_date: Mapped[dt.date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    is_primary: Mapped[bool | None] = mapped_column(Boolean, doc="addresses: the primary address (C10)")
    doh_end_reason: Mapped[str | None] = mapped_column(String(8), doc="looked-after period: SSDA903 REC code (S3)")


class Contact(Base):
    """A contact or referral about a person (date, reason) [004]. ``reason`` is the S2
    primary need code the contact is about; C12 decides whether it is a re-referral."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    contact_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(4))


class Assessment(Base):
    """C3: the manager checks that all assessments are authorised."""

    __tablename__ = "assessments"
    # the reminders' open assessments (D1): not completed, triggered long enough ago (issue 9)
    __table_args__ = (Index("ix_assessments_open", "completed_on", "trigger_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    assessment_type: Mapped[str] = mapped_column(String(100))
    trigger_date: Mapped[dt.date] = mapped_column(Date)
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    authorised_by: Mapped[str | None] = mapped_column(String(64))
    authorised_on: Mapped[dt.date | None] = mapped_column(Date)


# --------------------------------------------------------------------------
# Requests, the event log and the outbox
# --------------------------------------------------------------------------


class Request(Base):
    """A request travelling through chat: closure now, transfer and audit later.

    While approved, claimed or blocked it is an item in its team's virtual-worker
    queue; ``holder`` is the business-support member who claimed it. ``version``
    increases on every transition so that a compare-and-set update can tell a
    concurrent change apart (exactly one claimer wins).
    """

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_team_state", "team", "state"),
        Index("ix_requests_receiving_team_state", "receiving_team", "state"),
        # The requests whose cards name a person, newest first (act-for periods, migration 0017).
        Index("ix_requests_holder_state_last_action", "holder", "state", "last_action_at"),
        Index("ix_requests_requested_by_state_last_action", "requested_by", "state", "last_action_at"),
        # One open request of a kind per person, enforced by the database so that
        # two workers asking at the same moment cannot both succeed.
        postgresql_index(
            "uq_requests_one_open_per_person",
            "person_id",
            "kind",
            unique=True,
            sqlite_where=text(OPEN_REQUEST_STATES_SQL),
            postgresql={"where": text(OPEN_REQUEST_STATES_SQL)},
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), doc="closure | transfer | audit")
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    revision: Mapped[int] = mapped_column(Integer, default=1, doc="bumped on resubmit: a fresh manager card")
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    team: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    holder: Mapped[str | None] = mapped_column(String(64))
    # A request may involve two teams: ``team`` is the sending (or only) team, and a transfer's
    # ``receiving_team`` is the team the case moves to (T).
    receiving_team: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_actor: Mapped[str | None] = mapped_column(String(64))
    last_action: Mapped[str | None] = mapped_column(String(32))
    last_action_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text, doc="the latest return/cancel note")

    case: Mapped[Case] = relationship()
    person: Mapped[Person] = relationship()

    @property
    def applies_to(self) -> list[str]:
        """The people the request is for: the person, and chosen family-group members [003]."""
        return applies_to(self.details, self.person_id)

    # Compare-and-set: every UPDATE carries "WHERE version = <what we read>";
    # a concurrent change makes it match no row and SQLAlchemy raises StaleDataError.
    __mapper_args__ = {"version_id_col": version}


def applies_to(details: dict[str, Any], person_id: str) -> list[str]:
    """``Request.applies_to`` from a request's two columns (read without loading the request)."""
    return list(details.get("applies_to") or [person_id])


class Event(Base):
    """Append-only: who did what, when, from which chat action.

    The database refuses UPDATE and DELETE on it (triggers, migration 0009), and
    each event carries the hash of the one before (``store.eventlog``): ``id``,
    ``prev_hash`` and ``hash`` are given by ``store.eventlog.seal`` at commit.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    person_id: Mapped[str | None] = mapped_column(String(32), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(200), doc="chat platform and action reference")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), doc="the hash of the event before (zeros for the first)")
    hash: Mapped[str] = mapped_column(String(64), doc="SHA-256 of prev_hash and this event's canonical fields")


class OutboxMessage(Base):
    """A chat message to send, written in the same transaction as the change.

    ``card_key`` names the card: the first delivery posts it and records where
    (``chat_messages``); later deliveries of the same key edit it in place.
    Direct messages have card keys too (``dm:<request>:...``), so that they are
    redrawn when their request moves on.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "id"),
        Index("ix_outbox_due", "sent_at", "dropped_at", "next_attempt_at"),
        # A request's cards and DMs are found by key prefix (``posted_cards``: card_key LIKE 'dm:1:%');
        # on PostgreSQL only a pattern operator class serves LIKE whatever the collation (issue 9).
        postgresql_index("ix_outbox_card_key", "card_key", postgresql={"ops": {"card_key": "varchar_pattern_ops"}}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16), doc="card | dm | ephemeral")
    channel: Mapped[str] = mapped_column(String(64), doc="channel ID, or the person key for a DM")
    card_key: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text, doc="the last failure: exception type and chat error code, no message text")
    # A failed send is retried with growing delays and never given up (bot.deliver);
    # NULL means due now. Only an operator stops it (`worktray outbox drop`): the row is kept.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    dropped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ChatMessage(Base):
    """Where a card was posted, so later updates edit the same message."""

    __tablename__ = "chat_messages"
    __table_args__ = (UniqueConstraint("card_key", name="uq_chat_messages_card_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    card_key: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(64))


class JobRun(Base):
    """A scheduled job's run for one team and period (the radar of a week, ...).

    The unique key is what makes a job exactly-once: its body first claims the run
    (INSERT ... ON CONFLICT DO NOTHING RETURNING, in the transaction that does the
    work), so a second bot instance or a restart finds the period taken.
    """

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "team", "period", name="uq_job_runs_job_team_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(32))
    team: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(32), doc="the scheduled time the run stands for, ISO, Europe/London")
    ran_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Reminder(Base):
    """A reminder sent (or being sent) by the chasing engine (``workflows.reminders``).

    ``key`` names what, about which subject, for whom and which step of its ladder
    (and, for a repeating reminder, which period). The unique key is what makes a
    reminder exactly-once: a run claims each key (INSERT ... ON CONFLICT DO NOTHING
    RETURNING) in the transaction that queues its message, so a restart, a second
    instance or a second run finds it taken.
    """

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("key", name="uq_reminders_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(64), doc="person key (a DM) or channel ID (a team nudge)")
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Deputy(Base):
    """An act-for period (issue 8): while ``starts_at <= now < ends_at`` the ``deputy`` may act
    as the ``absent`` person and gets what is addressed to them (``workflows.deputies``).

    Periods of one absent person never overlap (checked when one is set up). Ending a period
    early moves ``ends_at`` to that moment; the set-up and the ending are events in the log.
    """

    __tablename__ = "deputies"
    __table_args__ = (
        Index("ix_deputies_absent_ends_at", "absent", "ends_at"),
        Index("ix_deputies_deputy_ends_at", "deputy", "ends_at"),
        Index("ix_deputies_ends_at", "ends_at"),  # the periods that ended overnight (the morning, migration 0017)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    absent: Mapped[str] = mapped_column(String(64), doc="person key of the one who is away")
    deputy: Mapped[str] = mapped_column(String(64), doc="person key of the one who acts for them")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), doc="exclusive: the end of the named day, Europe/London")
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class HomeViewer(Base):
    """A chat user who has opened the bot's Home tab (issue 8's work tray, issue 9's cost).

    Slack shows Home only when it is opened, and ``app_home_opened`` publishes it then; so after
    a delivery the deliverer redraws the trays of these people only, not of everyone a request
    touches (drawing a tray is the cost). Kept in the store so that two bot instances on one
    PostgreSQL share it. Chat user ID only: no personal data.
    """

    __tablename__ = "home_viewers"

    chat_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Indexed: the morning refresh redraws the Homes opened since a moment (migration 0016).
    last_opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


if "sqlalchemy.dialects.postgresql" in sys.modules:  # a PostgreSQL connection may be open already
    _apply_postgresql_options()
