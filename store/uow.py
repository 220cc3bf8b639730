"""The unit of work and the repositories it hands to the core.

One ``with uow:`` block is one transaction. The core reads and changes records
through the repositories, writes the event log and the outbox through
``uow.record`` and ``uow.send``, and calls ``uow.commit()``; anything not
committed is rolled back when the block ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeVar, cast

from sqlalchemy import ColumnElement, Row, and_, case, event, func, or_, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from store.db import FIRST_IN_LINE, read_only_options
from store.eventlog import seal
from store.models import (
    Assessment,
    Case,
    ChatMessage,
    Deputy,
    Event,
    FileRetention,
    HomeViewer,
    JobRun,
    OrganisationRelationship,
    OutboxMessage,
    Person,
    RecordItem,
    Reminder,
    Request,
    ServiceUserGroup,
    WorkerRelationship,
    WorkStep,
)

T = TypeVar("T")
IN_CHUNK = 500  # values per "IN (...)" look-up (well under SQLite's bound-parameter limit)
PREFIXES_A_QUERY = 100  # ``posted_cards``: a UNION ALL arm each (SQLite allows 500 a compound SELECT)


def in_chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``values`` a slice at a time, for look-ups of many values by ``IN (...)``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class ConcurrentChange(Exception):
    """Another transaction changed the same request first (compare-and-set lost)."""


class DuplicateOpenRequest(Exception):
    """The database refused a second open request of the same kind for a person."""


class CaseStore:
    """Reads and writes of the case-store records."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def person(self, person_id: str) -> Person | None:
        return self.session.get(Person, person_id)

    def case(self, case_id: int) -> Case | None:
        return self.session.get(Case, case_id)

    def cases_of(self, person_id: str) -> Sequence[Case]:
        return self.session.scalars(select(Case).where(Case.person_id == person_id).order_by(Case.opened_on, Case.id)).all()

    def open_case(self, person_id: str) -> Case | None:
        """The person's open case (the newest one if, unusually, there are several)."""
        return self.session.scalars(
            select(Case).where(Case.person_id == person_id, Case.closed_on.is_(None)).order_by(Case.opened_on.desc(), Case.id.desc())
        ).first()

    def open_cases_of_team(self, team: str) -> Sequence[Case]:
        return self.session.scalars(
            select(Case).where(Case.team == team, Case.closed_on.is_(None)).order_by(Case.person_id, Case.id)
        ).all()

    def workers_of(self, case_ids: Iterable[int]) -> dict[int, str | None]:
        """The allocated worker of each of these cases (``IN_CHUNK`` a query, by the primary key)."""
        wanted = sorted(set(case_ids))
        found: dict[int, str | None] = {}
        for chunk in in_chunks(wanted):
            found.update(self.session.execute(select(Case.id, Case.worker).where(Case.id.in_(chunk))).tuples().all())
        return found

    def open_case_types(self) -> set[str]:
        """The case types of every open case (CIN, CP, ...)."""
        return set(self.session.scalars(select(Case.case_type).where(Case.closed_on.is_(None)).distinct()))

    def open_work_steps(self, person_ids: Iterable[str]) -> Sequence[WorkStep]:
        """The open steps of these people, in id order (``IN_CHUNK`` people a query)."""
        found: list[WorkStep] = []
        for chunk in in_chunks(sorted(set(person_ids))):
            found += self.session.scalars(select(WorkStep).where(WorkStep.person_id.in_(chunk), WorkStep.status == "open")).all()
        return sorted(found, key=lambda step: step.id)

    def open_work_steps_scheduled(self, kind: str, on_or_before: dt.date) -> Sequence[WorkStep]:
        """Open steps of a kind whose scheduled date is on or before a date (the caller decides which date)."""
        return self.session.scalars(
            select(WorkStep)
            .where(WorkStep.kind == kind, WorkStep.status == "open", WorkStep.scheduled_on <= on_or_before)
            .order_by(WorkStep.scheduled_on, WorkStep.id)
        ).all()

    def work_step(self, step_id: int) -> WorkStep | None:
        return self.session.get(WorkStep, step_id)

    def assessments(self, person_ids: Iterable[str]) -> Sequence[Assessment]:
        return self.session.scalars(
            select(Assessment).where(Assessment.person_id.in_(list(person_ids))).order_by(Assessment.id)
        ).all()

    def open_worker_relationships(self, person_id: str) -> Sequence[WorkerRelationship]:
        return self.session.scalars(
            select(WorkerRelationship)
            .where(WorkerRelationship.person_id == person_id, WorkerRelationship.to_date.is_(None))
            .order_by(WorkerRelationship.id)
        ).all()

    def open_organisation_relationships(self, person_id: str) -> Sequence[OrganisationRelationship]:
        return self.session.scalars(
            select(OrganisationRelationship)
            .where(OrganisationRelationship.person_id == person_id, OrganisationRelationship.to_date.is_(None))
            .order_by(OrganisationRelationship.id)
        ).all()

    def open_service_user_groups(self, person_id: str) -> Sequence[ServiceUserGroup]:
        return self.session.scalars(
            select(ServiceUserGroup)
            .where(ServiceUserGroup.person_id == person_id, ServiceUserGroup.end_date.is_(None))
            .order_by(ServiceUserGroup.id)
        ).all()

    def retentions(self, person_id: str) -> Sequence[FileRetention]:
        return self.session.scalars(
            select(FileRetention).where(FileRetention.person_id == person_id).order_by(FileRetention.id)
        ).all()

    def open_record_items(self, person_id: str) -> Sequence[RecordItem]:
        return self.session.scalars(
            select(RecordItem).where(RecordItem.person_id == person_id, RecordItem.to_date.is_(None)).order_by(RecordItem.id)
        ).all()

    def add(self, record: Any) -> None:
        self.session.add(record)


# When a request entered its present state: its last transition, else when it was made
# (``workflows.reminders.entered_at``), for counting and ordering in the database.
entered_at = func.coalesce(Request.last_action_at, Request.requested_at)


class Requests:
    """The requests and, while approved/claimed/blocked, the virtual-worker queue."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, request_id: int) -> Request | None:
        return self.session.get(Request, request_id)

    def add(self, request: Request) -> None:
        self.session.add(request)
        try:
            self.session.flush()
        except IntegrityError as e:
            if "uq_requests_one_open_per_person" in str(e.orig) or "requests.person_id, requests.kind" in str(e.orig):
                raise DuplicateOpenRequest(str(e.orig)) from e
            raise

    def for_person(self, person_id: str) -> Sequence[Request]:
        return self.session.scalars(select(Request).where(Request.person_id == person_id).order_by(Request.id)).all()

    def in_states(self, team: str, states: Iterable[str]) -> Sequence[Request]:
        """A team's requests in these states, their people and cases loaded with them (one query,
        not one each: issue 9; the work tray reads both of every request). In id order."""
        return by_id(self.session.scalars(
            select(Request).where(Request.team == team, Request.state.in_(list(states)))
            .options(joinedload(Request.person), joinedload(Request.case))
        ).all())

    def summaries(self, teams: Iterable[str], states: Iterable[str], *, with_details: bool = False) -> Sequence[Row[Any]]:
        """Requests of ``teams`` in ``states`` as plain rows, none loaded as a ``Request``: ``id``,
        ``kind``, ``state``, ``team``, ``receiving_team``, ``holder``, ``requested_by``, ``person_id``,
        ``case_id``, ``requested_at``, ``last_action_at`` (and ``details``). The work tray picks from
        these the few blocked and returned requests it loads (issue 9). In id order."""
        columns: list[Any] = [
            Request.id, Request.kind, Request.state, Request.team, Request.receiving_team, Request.holder,
            Request.requested_by, Request.person_id, Request.case_id, Request.requested_at, Request.last_action_at,
        ]
        query = select(*columns, *([Request.details] if with_details else []))
        return by_id(self.session.execute(self._where(query, teams, states, (), None, None)).all())

    def _where(
        self, query: Any, teams: Iterable[str], states: Iterable[str], kinds_not: Iterable[str], holders: Iterable[str] | None, touching: str | None
    ) -> Any:
        query = query.where(Request.team.in_(list(teams)), Request.state.in_(list(states)))
        if kinds_not := list(kinds_not):
            query = query.where(Request.kind.not_in(kinds_not))
        if holders is not None:
            query = query.where(Request.holder.in_(list(holders)))
        if touching is not None:
            query = query.where(or_(Request.team == touching, Request.receiving_team == touching))
        return query

    def entered_counts(
        self,
        teams: Iterable[str],
        states: Iterable[str],
        before: Mapping[tuple[str, str], dt.datetime],
        *,
        kinds_not: Iterable[str] = (),
        holders: Iterable[str] | None = None,
        touching: str | None = None,
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """(team, state) -> how many requests of ``teams`` in ``states`` there are (not of
        ``kinds_not``; held by one of ``holders``, if given; whose sending or receiving team is
        ``touching``, if given), and how many of them entered their state (``entered_at``) before
        ``before[(team, state)]``. Counted in the database, none read (issue 9)."""
        early = case(
            *[(and_(Request.team == team, Request.state == state, entered_at < at), 1) for (team, state), at in before.items()], else_=0
        )
        query = self._where(select(Request.team, Request.state, func.count(), func.sum(early)), teams, states, kinds_not, holders, touching)
        return {(team, state): (n, int(e or 0)) for team, state, n, e in self.session.execute(query.group_by(Request.team, Request.state))}

    def entered_first(
        self,
        team: str,
        state: str,
        limit: int,
        *,
        kinds_not: Iterable[str] = (),
        holders: Iterable[str] | None = None,
        touching: str | None = None,
        entered: tuple[dt.datetime, dt.datetime] | None = None,
    ) -> Sequence[Row[Any]]:
        """Up to ``limit`` requests of ``team`` in ``state`` (filtered as ``entered_counts``) as
        plain rows (``id``, ``team``, ``state``, ``entered_at``): those that entered their state
        first (then by id); or, given ``entered`` (from, before), those that entered it within
        that window, by id. A page of a work tray of thousands of lines, without reading them all (issue 9)."""
        query = self._where(
            select(Request.id, Request.team, Request.state, entered_at.label("entered_at")), [team], [state], kinds_not, holders, touching
        )
        if entered is None:
            query = query.order_by(entered_at, Request.id)
        else:
            query = query.where(entered_at >= entered[0], entered_at < entered[1]).order_by(Request.id)
        return self.session.execute(query.limit(limit)).all()

    def with_people(self, request_ids: Iterable[int]) -> list[Request]:
        """These requests with their people and cases, in id order (``IN_CHUNK`` a query)."""
        wanted = sorted(set(request_ids))
        found: list[Request] = []
        for chunk in in_chunks(wanted):
            found += self.session.scalars(
                select(Request).where(Request.id.in_(chunk)).order_by(Request.id)
                .options(joinedload(Request.person), joinedload(Request.case))
            ).all()
        return found

    def of_kind_touching(self, kind: str, states: Iterable[str], *, teams: Iterable[str], touching: Iterable[str]) -> Sequence[Request]:
        """Requests of ``kind`` of ``teams`` in ``states`` whose sending or receiving team is one of
        ``touching``; with their people and cases, in id order."""
        touching = list(touching)
        return by_id(self.session.scalars(
            select(Request)
            .where(
                Request.kind == kind,
                Request.team.in_(list(teams)),
                Request.state.in_(list(states)),
                or_(Request.team.in_(touching), Request.receiving_team.in_(touching)),
            )
            .options(joinedload(Request.person), joinedload(Request.case))
        ).all())

    def in_states_involving(
        self, states: Iterable[str], *, teams: Iterable[str], receiving: Iterable[str], people: Iterable[str], any_with: Iterable[str]
    ) -> Sequence[Request]:
        """Requests of ``teams`` in ``states`` that a transfer brings to one of ``receiving``, that
        one of ``people`` holds, asked for or is the allocated worker of, or that are in one of
        ``any_with`` (a subset of ``states``); with their people and cases, in id order."""
        people = list(people)
        return by_id(self.session.scalars(
            select(Request)
            .join(Case, Case.id == Request.case_id)
            .where(
                Request.team.in_(list(teams)),
                Request.state.in_(list(states)),
                or_(
                    Request.receiving_team.in_(list(receiving)),
                    Request.holder.in_(people),
                    Request.requested_by.in_(people),
                    Case.worker.in_(people),
                    Request.state.in_(list(any_with)),
                ),
            )
            .options(joinedload(Request.person), joinedload(Request.case))
        ).all())

    def latest_naming(
        self, by: Literal["holder", "requested_by"], people: Iterable[str], states: Iterable[str], *, limit: int,
        teams: Iterable[str] | None = None,
    ) -> tuple[list[Request], int]:
        """The requests in ``states`` whose ``by`` (holder, or who asked) is one of ``people`` (of
        ``teams`` only, if given): the ``limit`` most recently active (``last_action_at``, newest
        first, then the highest ID), and how many there are in all.

        Bounded reads however many match (issue 9: a person may hold thousands): each (person,
        state) is a range of the index ``(by, state, last_action_at)`` (migration 0017) read from
        its newest end for at most ``limit`` rows; without ``teams``, the count reads index
        entries only."""
        column = Request.holder if by == "holder" else Request.requested_by
        states, teams = sorted(set(states)), (None if teams is None else sorted(set(teams)))
        found: dict[int, Request] = {}
        total = 0
        for person in sorted(set(people)):
            for state in states:
                where = [column == person, Request.state == state]
                if teams is not None:
                    where.append(Request.team.in_(teams))
                newest = select(Request).where(*where).order_by(Request.last_action_at.desc(), Request.id.desc()).limit(limit)
                found.update((r.id, r) for r in self.session.scalars(newest))
                total += self.session.scalar(select(func.count()).select_from(Request).where(*where)) or 0
        latest = sorted(found.values(), key=lambda r: (r.last_action_at or r.requested_at, r.id), reverse=True)
        return latest[:limit], total

    def in_states_everywhere(self, states: Iterable[str]) -> Sequence[Request]:
        """Requests in these states, in every team (also teams no longer in the config)."""
        return self.session.scalars(select(Request).where(Request.state.in_(list(states))).order_by(Request.id)).all()

    def coming_to(self, kind: str, receiving_team: str, states: Iterable[str]) -> Sequence[Request]:
        """Requests of a kind whose receiving team is ``receiving_team`` (a transfer's), in these states."""
        return self.session.scalars(
            select(Request)
            .where(Request.kind == kind, Request.receiving_team == receiving_team, Request.state.in_(list(states)))
            .order_by(Request.id)
            .options(selectinload(Request.person))  # the radar's and agenda's initials: one query (issue 9)
        ).all()

    def open_requested_before(self, cutoff: dt.datetime, states: Iterable[str]) -> Sequence[Request]:
        return self.session.scalars(
            select(Request).where(Request.requested_at < cutoff, Request.state.in_(list(states))).order_by(Request.id)
        ).all()

    def save(self) -> None:
        """Flush pending changes; a lost compare-and-set becomes ConcurrentChange."""
        try:
            self.session.flush()
        except StaleDataError as e:
            raise ConcurrentChange(str(e)) from e


class Deputies:
    """Act-for periods (issue 8, ``workflows.deputies``); ``ends_at`` is exclusive."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, deputy: Deputy) -> None:
        self.session.add(deputy)
        self.session.flush()

    def of(self, absent: str, after: dt.datetime) -> Sequence[Deputy]:
        """The absent person's periods not over at ``after`` (current and future), earliest first."""
        return self.session.scalars(
            select(Deputy).where(Deputy.absent == absent, Deputy.ends_at > after).order_by(Deputy.starts_at, Deputy.id)
        ).all()

    def ended_between(self, after: dt.datetime, until: dt.datetime) -> Sequence[Deputy]:
        """The periods whose end is after ``after`` and at or before ``until``, in order of ending."""
        return self.session.scalars(
            select(Deputy).where(Deputy.ends_at > after, Deputy.ends_at <= until).order_by(Deputy.ends_at, Deputy.id)
        ).all()

    def active(self, at: dt.datetime, *, absent: str | None = None, deputy: str | None = None) -> Sequence[Deputy]:
        """The periods running at ``at`` (for one absent person, or one deputy)."""
        query = select(Deputy).where(Deputy.starts_at <= at, Deputy.ends_at > at)
        if absent is not None:
            query = query.where(Deputy.absent == absent)
        if deputy is not None:
            query = query.where(Deputy.deputy == deputy)
        return self.session.scalars(query.order_by(Deputy.id)).all()


class HomeViewers:
    """The chat users who have opened the bot's Home tab (``HomeViewer``): only their Home tabs
    are republished when something in them changes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def opened(self, chat_user_id: str, at: dt.datetime) -> None:
        """Note that ``chat_user_id`` opened Home at ``at``: one upsert (INSERT ... ON CONFLICT
        DO UPDATE), so a first opening by two instances at once is not a unique-key error."""
        insert = upsert_insert(self.session)
        statement = insert(HomeViewer).values(chat_user_id=chat_user_id, first_opened_at=at, last_opened_at=at)
        statement = statement.on_conflict_do_update(
            index_elements=["chat_user_id"], set_={"last_opened_at": statement.excluded.last_opened_at}
        )
        self.session.execute(statement)

    def among(self, chat_user_ids: Iterable[str]) -> set[str]:
        """Those of ``chat_user_ids`` who have opened Home (looked up by the primary key)."""
        wanted = sorted(set(chat_user_ids))
        found: set[str] = set()
        for chunk in in_chunks(wanted):
            found.update(self.session.scalars(select(HomeViewer.chat_user_id).where(HomeViewer.chat_user_id.in_(chunk))))
        return found

    def opened_since(self, at: dt.datetime) -> list[str]:
        """The chat users who opened Home at or after ``at`` (``last_opened_at``, indexed), sorted."""
        return list(
            self.session.scalars(
                select(HomeViewer.chat_user_id).where(HomeViewer.last_opened_at >= at).order_by(HomeViewer.chat_user_id)
            )
        )


_MEMO = "worktray_memo"  # session.info: what UnitOfWork.memo keeps


@event.listens_for(Session, "after_flush")
def _forget_memo(session: Session, flush_context: object) -> None:
    """A flush wrote something: what ``UnitOfWork.memo`` kept may no longer be true.
    One listener on the class, not one added to each unit of work's session."""
    session.info.pop(_MEMO, None)


class UowFactory(Protocol):
    """What opens a unit of work: ``partial(UnitOfWork, session_factory)``."""

    def __call__(self, *, readonly: bool = False, first_in_line: bool = False) -> UnitOfWork: ...


class UnitOfWork:
    """One transaction over the case store, the requests, the event log and the outbox."""

    def __init__(self, session_factory: sessionmaker[Session], *, readonly: bool = False, first_in_line: bool = False) -> None:
        """``readonly``: this unit of work only reads, from one snapshot. On SQLite it then
        starts with a plain ``BEGIN`` (no wait for the write lock, and no writer waits for
        it) instead of ``BEGIN IMMEDIATE``; on PostgreSQL it is ``REPEATABLE READ READ ONLY``
        (``store.db.read_only_options``); ``commit`` refuses. ``first_in_line``: a short
        write that others wait on (the deliverer noting what it sent): on SQLite it is served
        before the other writers waiting in this process (``store.db._WriterTurns``)."""
        self.session_factory = session_factory
        self.readonly = readonly
        self.first_in_line = first_in_line

    def __enter__(self) -> UnitOfWork:
        self.session = self.session_factory()
        if self.readonly:
            self.session.connection(execution_options=read_only_options(self.session.get_bind()))
        elif self.first_in_line:
            self.session.connection(execution_options={FIRST_IN_LINE: True})
        self._events: list[Event] = []  # recorded, chained and inserted by commit()
        self.cases = CaseStore(self.session)
        self.requests = Requests(self.session)
        self.deputies = Deputies(self.session)
        self.home_viewers = HomeViewers(self.session)
        return self

    def __exit__(self, *exc: object) -> None:
        self._events.clear()
        self.session.rollback()
        self.session.close()

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, kept under ``key`` until this unit of work next writes (a flush),
        commits or rolls back. A read-only unit of work never writes: it reads one snapshot, so
        what was derived from it stays true for its whole length (the deliverer draws a
        request's manager card, queue card and DMs in one). A writing one keeps it between its
        checks and its change (the act-for periods an action is checked against, in its precheck
        and its transition). A change not flushed yet counts as written: ``compute()`` is asked
        again (its query flushes the change first)."""
        if self.session.new or self.session.dirty or self.session.deleted:
            return compute()
        kept = self.session.info.setdefault(_MEMO, {})  # emptied by _forget_memo
        if key not in kept:
            kept[key] = compute()
        return cast(T, kept[key])

    def commit(self) -> None:
        """Commit; the recorded events join the hash chain last (``store.eventlog.seal``).

        The other changes are flushed first, so a lost compare-and-set fails
        before the chain's lock is taken, and the lock is held only for the
        events' INSERT and the COMMIT.
        """
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot commit")
        try:
            if self._events:
                self.session.flush()
                seal(self.session, self._events)
            self.session.commit()
        except StaleDataError as e:
            self.rollback()
            raise ConcurrentChange(str(e)) from e
        finally:
            self._events.clear()
            self.session.info.pop(_MEMO, None)

    def rollback(self) -> None:
        self._events.clear()
        self.session.info.pop(_MEMO, None)
        self.session.rollback()

    def history(self, person_id: str, request_ids: Iterable[int]) -> list[Event]:
        """A person's events: those of these requests, and those about the person with no
        request (a look, a reopen ...), newest first (committed events only)."""
        return list(self.session.scalars(
            select(Event)
            .where(or_(Event.request_id.in_(list(request_ids)), and_(Event.person_id == person_id, Event.request_id.is_(None))))
            .order_by(Event.id.desc())
        ))

    def record(
        self,
        *,
        at: dt.datetime,
        actor: str,
        action: str,
        request: Request | None = None,
        person_id: str | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
        source: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append to the event log (never updated, never deleted) when this unit of work commits."""
        self._events.append(
            Event(
                at=at,
                actor=actor,
                action=action,
                request_id=request.id if request else None,
                person_id=person_id or (request.person_id if request else None),
                from_state=from_state,
                to_state=to_state,
                source=source,
                detail=detail or {},
            )
        )

    def send(self, *, at: dt.datetime, kind: str, channel: str, body: dict[str, Any], card_key: str | None = None) -> None:
        """Queue a chat message in the outbox, inside this transaction."""
        self.session.add(OutboxMessage(created_at=at, kind=kind, channel=channel, card_key=card_key, body=body))

    def posted_message(self, card_key: str) -> ChatMessage | None:
        return self.session.scalars(select(ChatMessage).where(ChatMessage.card_key == card_key)).first()

    def posted_cards(self, key_prefix: str | Sequence[str], channel: str | None = None) -> list[tuple[OutboxMessage, ChatMessage]]:
        """Each card already posted under a key starting with ``key_prefix`` (or with one of
        several: one query for up to ``PREFIXES_A_QUERY`` of them) and, if given, queued to ``channel``: its first outbox
        row and where it was posted, oldest first."""
        prefixes = [key_prefix] if isinstance(key_prefix, str) else list(key_prefix)
        found: list[tuple[OutboxMessage, ChatMessage]] = []
        for chunk in in_chunks(prefixes, PREFIXES_A_QUERY):
            found += self._posted_cards(chunk, channel)
        return sorted(found, key=lambda pair: pair[0].id)

    def _posted_cards(self, prefixes: Sequence[str], channel: str | None) -> list[tuple[OutboxMessage, ChatMessage]]:
        arms = []
        for prefix in prefixes:  # one range of the card-key index each (under an OR of them SQLite reads all of it)
            first_rows = select(func.min(OutboxMessage.id)).where(starts_with(self.session, OutboxMessage.card_key, prefix))
            if channel is not None:
                first_rows = first_rows.where(OutboxMessage.channel == channel)
            arms.append(first_rows.group_by(OutboxMessage.card_key))
        query = (
            select(OutboxMessage, ChatMessage)
            .join(ChatMessage, ChatMessage.card_key == OutboxMessage.card_key)
            .where(OutboxMessage.id.in_(arms[0] if len(arms) == 1 else union_all(*arms)))
            .order_by(OutboxMessage.id)
        )
        # Posted cards are committed ones; no flush here, so that a lost compare-and-set
        # still surfaces where the caller saves (``Requests.save``), not in this read.
        with self.session.no_autoflush:
            rows = self.session.execute(query).all()
        return [(row, posted) for row, posted in rows]

    def _upsert_insert(self) -> Any:
        return upsert_insert(self.session)

    def claim_run(self, *, job: str, team: str, period: str, at: dt.datetime) -> bool:
        """Claim a scheduled job's run for (job, team, period) in this transaction.

        INSERT ... ON CONFLICT DO NOTHING RETURNING: a row comes back only to the
        one transaction that inserted it (psycopg 3 reports rowcount -1 here, so the
        answer is the returned row, never the rowcount). On PostgreSQL a concurrent
        claimer waits on the unique key until the first commits, then gets nothing;
        if the first rolls back, the second takes the run.
        """
        values = {"job": job, "team": team, "period": period, "ran_at": at}
        insert = self._upsert_insert()
        statement = insert(JobRun).values(**values).on_conflict_do_nothing(
            index_elements=["job", "team", "period"]
        ).returning(JobRun.id)
        return self.session.execute(statement).first() is not None

    def latest_run(self, keys: Iterable[tuple[str, str]]) -> JobRun | None:
        """The latest recorded run (by when it ran) among these (job, team) keys."""
        pairs = [and_(JobRun.job == job, JobRun.team == team) for job, team in keys]
        if not pairs:
            return None
        return self.session.scalars(select(JobRun).where(or_(*pairs)).order_by(JobRun.ran_at.desc(), JobRun.id.desc())).first()

    def job_run(self, *, job: str, team: str, period: str) -> JobRun | None:
        return self.session.scalars(
            select(JobRun).where(JobRun.job == job, JobRun.team == team, JobRun.period == period)
        ).first()

    def claim_reminder(self, *, key: str, recipient: str, at: dt.datetime) -> bool:
        """Claim a reminder's key in this transaction (as ``claim_run``): True only to the one
        transaction that inserted it; a concurrent claimer on PostgreSQL waits on the unique
        key until the first commits, then gets nothing (or the key, if the first rolled back)."""
        insert = self._upsert_insert()
        statement = insert(Reminder).values(key=key, recipient=recipient, sent_at=at).on_conflict_do_nothing(
            index_elements=["key"]
        ).returning(Reminder.id)
        return self.session.execute(statement).first() is not None

    def claim_reminders(self, claims: Sequence[tuple[str, str]], *, at: dt.datetime) -> set[str]:
        """``claim_reminder`` for many (key, recipient) pairs at once: the keys this transaction
        claimed. Multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING statements, not one per key
        (issue 9: a run over a big store may owe tens of thousands of keys)."""
        if not claims:
            return set()
        table = Reminder.__table__
        statement = self._upsert_insert()(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
        rows = [{"key": key, "recipient": recipient, "sent_at": at} for key, recipient in claims]
        # One statement compiled once and sent as multi-row VALUES pages (SQLAlchemy's insertmanyvalues),
        # in the callers' order: compiling a 500-row VALUES per batch cost ~1 s for 27k keys (issue 9).
        return set(self.session.scalars(statement, rows))

    def reminders_claimed(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` claimed already (looked up on the unique key, 500 at a time).

        Read in the chasing engine's read-only unit of work, so that its writing one claims only
        the keys owed for the first time (issue 9: in steady state, a few, not tens of thousands)."""
        wanted = sorted(set(keys))
        found: set[str] = set()
        for chunk in in_chunks(wanted):
            found.update(self.session.scalars(select(Reminder.key).where(Reminder.key.in_(chunk))))
        return found

    def reminders_sent(self, key_prefix: str = "") -> Sequence[Reminder]:
        """The reminders claimed so far (under a key prefix), oldest first."""
        return self.session.scalars(
            select(Reminder).where(starts_with(self.session, Reminder.key, key_prefix)).order_by(Reminder.id)
        ).all()


R = TypeVar("R", Request, Row[Any])


def by_id(found: Sequence[R]) -> list[R]:
    """Rows in id order, sorted here: on SQLite an ``ORDER BY id`` over several teams or states
    reads the whole table in id order instead of searching ``ix_requests_team_state`` (issue 9:
    the bench store's 66,513 requests read for every work tray drawn)."""
    return sorted(found, key=lambda r: r.id)


def starts_with(session: Session, column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, in a form the database finds through an index.

    PostgreSQL serves the LIKE from a ``varchar_pattern_ops`` index. SQLite cannot use an
    index for a LIKE with ESCAPE and reads the whole one (the outbox's card keys: every
    transition looks up its request's posted DMs, issue 9), so there the prefix is also given
    as a range, which it searches: SQLite compares text byte by byte, so the range is exactly
    the prefix (PostgreSQL's collations need not, so it keeps the LIKE alone)."""
    like = column.startswith(prefix, autoescape=True)
    if not prefix or session.get_bind().dialect.name != "sqlite":
        return like
    return and_(like, column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1))


def upsert_insert(session: Session) -> Any:
    """The dialect's INSERT (it has ON CONFLICT); imported here, not at the top, because the
    PostgreSQL dialect brings asyncio with it and short commands never insert (issue 9)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert
