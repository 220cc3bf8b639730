"""The organisation config: teams, their channels and their people with roles.

Teams, channels and people are configuration, not code (DOMAIN.md). The file
is YAML (``WORKTRAY_CONFIG``, default ``worktray.yml``); errors name the line.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workflows.clock import DAY_ENDS, DAY_STARTS, WorkingCalendar
from workflows.errors import ConfigError
from workflows.retention import Criteria


class Role(StrEnum):
    WORKER = "worker"
    MANAGER = "manager"
    BUSINESS_SUPPORT = "business_support"
    GROUP_MANAGER = "group_manager"
    SERVICE_MANAGER = "service_manager"
    HEAD_OF_SERVICE = "head_of_service"  # C4: may agree an adult's closure never seen face to face
    PRACTICE_SUPERVISOR = "practice_supervisor"  # C11, C12: reopens a closed case, decides on re-referrals


# The words `/worktray` reads as its own sub-commands (commands.worktray), not as a team key:
# a team keyed with one could never be shown with `/worktray <team>`, so the config refuses it.
# They live here, not in commands/, because the config is checked at start-up and workflows
# import nothing from commands (commands.worktray takes them from here).
WORKTRAY_SUBCOMMANDS = ("deputy",)

CRONTAB = r"^\S+ \S+ \S+ \S+ \S+$"  # minute hour day month day-of-week, e.g. "0 12 * * fri"


class TeamSchedule(BaseModel):
    """When a team's scheduled messages go out (crontab, Europe/London, D4): T2's radar
    to its manager channel and T3's Transfer Meeting agenda. ``null`` turns one off."""

    model_config = ConfigDict(extra="forbid")

    radar: str | None = Field("0 12 * * fri", pattern=CRONTAB, description="T2: the two-week radar (default Friday 12:00)")
    agenda: str | None = Field("0 9 * * mon", pattern=CRONTAB, description="T3: the Transfer Meeting agenda (default Monday 09:00)")

    @field_validator("radar", "agenda")
    @classmethod
    def _a_crontab_apscheduler_reads(cls, value: str | None) -> str | None:
        """Refuse at load (naming the line) what the scheduler could not plan later."""
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            CronTrigger.from_crontab(value, timezone="Europe/London")  # raises ValueError, e.g. hour 25
        return value


class WorkingTime(BaseModel):
    """D4: the council's working days and hours, beyond England's bank holidays (which are built in)."""

    model_config = ConfigDict(extra="forbid")

    closure_days: list[dt.date] = Field(default_factory=list, description="extra days the council is closed, e.g. a Christmas shutdown")
    day_starts: dt.time = Field(DAY_STARTS, description="working hours start (London): no reminders before")
    day_ends: dt.time = Field(DAY_ENDS, description="working hours end (London): no reminders from then")

    @model_validator(mode="after")
    def _a_day_of_some_length(self) -> WorkingTime:
        if self.day_starts >= self.day_ends:
            raise ValueError("working_time: day_starts must be before day_ends")
        return self

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(frozenset(self.closure_days), self.day_starts, self.day_ends)


class WorkSteps(BaseModel):
    """D3: when future work steps on a person's record become incoming work."""

    model_config = ConfigDict(extra="forbid")

    incoming_days_before: int = Field(
        5, ge=0, le=60,
        description="D3: a future step becomes incoming (and blocks a closure, C6.1) this many working days before its date",
    )


class AgeTransfer(BaseModel):
    """T1: the team's children move to another team at an age (Under 12s to 12+ at 11 years 6 months)."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="the key of the team the children move to")
    at_months: int = Field(ge=1, le=300, description="the age in months, e.g. 138 (11 years 6 months)")


class ReminderSettings(BaseModel):
    """How long things may wait before the chasing engine (``workflows.reminders``) reminds
    someone: working days (D4, ``Organisation.calendar``) unless it says calendar days (D1).
    Per team; every key has a default, so a team without a ``reminders:`` block gets them all."""

    model_config = ConfigDict(extra="forbid")

    manager_after: int = Field(2, ge=1, description="working days a closure/transfer waits for its deciding manager(s) before they get a DM")
    group_manager_after: int = Field(5, ge=1, description="working days before the team's group manager(s) get a DM about it")
    unclaimed_after: int = Field(1, ge=1, description="working days an item waits unclaimed in the virtual worker before a nudge in the BS channel")
    untouched_holder_after: int = Field(3, ge=1, description="working days a claimed item may sit untouched before its holder gets a DM")
    untouched_manager_after: int = Field(5, ge=1, description="working days a claimed item may sit untouched before the team manager(s) get a DM")
    blocked_every: int = Field(2, ge=1, description="C6.1: a blocked closure's step assignees are reminded every this many working days")
    duty_review_every: int = Field(5, ge=1, description="T6: a transfer held on duty: review reminder to the receiving manager every this many working days")
    assessment_reminders: list[int] = Field(
        default_factory=lambda: [20, 35], description="D1: calendar days from an open assessment's trigger date at which the worker and manager are reminded"
    )
    audit_overdue_every: int = Field(
        5, ge=1, description="C13: an overdue three-month audit comes back to the team manager(s) every this many working days (weekly)"
    )
    assessment_overdue_after: int = Field(45, ge=1, description="D1: calendar days after which an open assessment is overdue (an alert past it)")

    @field_validator("assessment_reminders")
    @classmethod
    def _positive_and_in_order(cls, value: list[int]) -> list[int]:
        if any(d < 1 for d in value):
            raise ValueError("assessment_reminders: days must be 1 or more")
        return sorted(set(value))


class TeamAudits(BaseModel):
    """C13: the team's three-month-interval audits. Business support get the audit this
    many working days (D4) before it falls due."""

    model_config = ConfigDict(extra="forbid")

    notice_working_days: int = Field(10, ge=0, le=60, description="C13: raise the audit this many working days before it is due")


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: TeamSchedule = Field(default_factory=lambda: TeamSchedule.model_validate({}))
    reminders: ReminderSettings = Field(default_factory=lambda: ReminderSettings.model_validate({}), description="chasing thresholds")


    audits: TeamAudits = Field(default_factory=lambda: TeamAudits.model_validate({}), description="C13: three-month audits")
    age_transfer: AgeTransfer | None = Field(None, description="T1: children of this team move to another at an age")

    key: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    manager_channel: str = Field(description="channel ID where requests to managers are posted")
    business_support_channel: str = Field(description="channel ID of the team's virtual-worker queue")
    purchasing_channel: str | None = Field(None, description="C10: where authorised End Purchased Service requests go (else the top-level one)")
    service_user_groups: list[str] = Field(
        default_factory=list, description="C6.3: the service user groups this team's service adds, and so ends at closure"
    )


# Who may agree a request (C3), and so may be someone's supervisor.
APPROVING_ROLES = (Role.MANAGER, Role.SERVICE_MANAGER, Role.HEAD_OF_SERVICE)


class Membership(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str
    role: Role


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9_.-]+$")
    name: str
    chat_user_id: str = Field(description="Slack user ID, e.g. U0123ABCD")
    roles: list[Membership] = Field(min_length=1)
    supervisor: str | None = Field(default=None, description="C2: the key of the manager who supervises this person")


class RetentionRule(BaseModel):
    """One line of the council's file retention schedule (C6.4): what a case type is retained as."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    case_type: str = Field(min_length=1)
    criteria: str = Field(min_length=1, description="the file retention criteria, e.g. CS Child in Need")
    rule: str = Field(min_length=1, description="the rule as the case system shows it")
    years: int = Field(ge=1, le=150)
    start: Literal["birth", "closure"] = Field(alias="from", description="count the years from the date of birth or the closure")

    def criteria_of(self) -> Criteria:
        return Criteria(self.criteria, self.rule, self.years, from_birth=self.start == "birth")


class Organisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    teams: list[Team] = Field(min_length=1)
    people: list[Person] = Field(min_length=1)
    purchasing_channel: str | None = Field(None, description="C10: the purchasing team's channel, for teams without their own")
    retention: list[RetentionRule] = Field(default_factory=list, description="C6.4: the council's retention schedule")
    working_time: WorkingTime = Field(default_factory=lambda: WorkingTime.model_validate({}), description="D4: closure days and hours")
    work_steps: WorkSteps = Field(default_factory=lambda: WorkSteps.model_validate({}), description="D3: future steps' lead time")

    @cached_property
    def calendar(self) -> WorkingCalendar:
        """The one working-day clock (D4) every deadline of this organisation uses."""
        return self.working_time.calendar()

    @model_validator(mode="after")
    def _check_references(self) -> Organisation:
        team_keys = [t.key for t in self.teams]
        _no_duplicates("team key", [(("teams", i, "key"), t.key) for i, t in enumerate(self.teams)])
        _no_duplicates("person key", [(("people", i, "key"), p.key) for i, p in enumerate(self.people)])
        _no_duplicates("chat_user_id", [(("people", i, "chat_user_id"), p.chat_user_id) for i, p in enumerate(self.people)])
        for i, person in enumerate(self.people):
            for j, m in enumerate(person.roles):
                if m.team not in team_keys:
                    raise _Misplaced(("people", i, "roles", j, "team"), f"person {person.key!r} has a role in unknown team {m.team!r}")
        for i, t in enumerate(self.teams):
            if t.key in WORKTRAY_SUBCOMMANDS:
                raise _Misplaced(
                    ("teams", i, "key"),
                    f"team {t.name!r} has the key {t.key!r}, which /worktray reads as a sub-command "
                    f"(/worktray {t.key} ...), so `/worktray {t.key}` could never show its tray: give the team another key",
                )
            if t.age_transfer is not None and t.age_transfer.to not in team_keys:
                raise _Misplaced(("teams", i, "age_transfer", "to"), f"team {t.key!r} transfers to unknown team {t.age_transfer.to!r}")
        _no_duplicates("retention case_type", [(("retention", i, "case_type"), r.case_type) for i, r in enumerate(self.retention)])
        self._check_supervisors()
        return self

    def _check_supervisors(self) -> None:
        """C2: a supervisor is a manager in one of the teams the person works in."""
        for i, person in enumerate(self.people):
            if person.supervisor is None:
                continue
            supervisor = self.person(person.supervisor)
            if supervisor is None:
                raise _Misplaced(("people", i, "supervisor"), f"person {person.key!r} has unknown supervisor {person.supervisor!r}")
            if supervisor.key == person.key:
                raise _Misplaced(("people", i, "supervisor"), f"person {person.key!r} cannot supervise themself")
            teams = {m.team for m in person.roles}
            if not any(m.team in teams and m.role in APPROVING_ROLES for m in supervisor.roles):
                raise _Misplaced(
                    ("people", i, "supervisor"),
                    f"supervisor {supervisor.key!r} of {person.key!r} is not a manager in any of {person.key!r}'s teams",
                )

    # -- look-ups -----------------------------------------------------------

    def team(self, key: str) -> Team:
        for t in self.teams:
            if t.key == key:
                return t
        raise KeyError(f"unknown team {key!r}")

    def person(self, key: str) -> Person | None:
        return next((p for p in self.people if p.key == key), None)

    def person_by_chat_id(self, chat_user_id: str) -> Person | None:
        return next((p for p in self.people if p.chat_user_id == chat_user_id), None)

    def name_of(self, key: str | None) -> str:
        """A display name for a config key; keys not in the config are shown as they are."""
        if key is None:
            return "nobody"
        person = self.person(key)
        return person.name if person else key

    def chat_id_of(self, key: str) -> str | None:
        person = self.person(key)
        return person.chat_user_id if person else None

    def has_role(self, person_key: str, team: str, *roles: Role) -> bool:
        person = self.person(person_key)
        if person is None:
            return False
        return any(m.team == team and m.role in roles for m in person.roles)

    def members(self, team: str, role: Role) -> list[Person]:
        return [p for p in self.people if any(m.team == team and m.role == role for m in p.roles)]

    def purchasing_channel_of(self, team: str) -> str | None:
        """C10: where a team's authorised End Purchased Service requests go (its own, else the organisation's)."""
        return self.team(team).purchasing_channel or self.purchasing_channel

    def teams_of(self, person_key: str) -> list[str]:
        person = self.person(person_key)
        return sorted({m.team for m in person.roles}) if person else []

    def supervisor_of(self, person_key: str, team: str) -> Person | None:
        """C2: the person's configured supervisor, if they may approve in this team."""
        person = self.person(person_key)
        if person is None or person.supervisor is None or person.supervisor == person_key:
            return None
        supervisor = self.person(person.supervisor)
        if supervisor is None or not self.has_role(supervisor.key, team, *APPROVING_ROLES):
            return None
        return supervisor

    def supervisors_for(self, person_key: str, team: str) -> list[Person]:
        """C2: who a request by this person goes to: their supervisor, else the team's
        managers (the fallback; never the person themself, C3 four eyes)."""
        supervisor = self.supervisor_of(person_key, team)
        if supervisor is not None:
            return [supervisor]
        return [p for p in self.members(team, Role.MANAGER) if p.key != person_key]

    def retention_criteria(self, case_type: str) -> Criteria | None:
        """C6.4: what the council's schedule retains this case type as; None when it has no rule."""
        rule = next((r for r in self.retention if r.case_type == case_type), None)
        return rule.criteria_of() if rule else None

    def owns_group(self, team: str, group: str) -> bool:
        """C6.3: the team's service added this service user group (so its closure ends it)."""
        return group.casefold() in {g.casefold() for g in self.team(team).service_user_groups}


class _Misplaced(ValueError):
    """A check across entries that knows which entry is at fault, so the error can name its line."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _no_duplicates(what: str, values: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Refuse the second of two equal values, pointing at it."""
    seen: set[str] = set()
    for loc, v in values:
        if v in seen:
            raise _Misplaced(loc, f"duplicate {what} {v!r}")
        seen.add(v)


def load_organisation(path: str | Path) -> Organisation:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the organisation config: {e.strerror}") from e
    except UnicodeDecodeError as e:  # e.g. saved as Windows-1252: a line to correct, not a traceback
        line = e.object.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{path}, line {line}: not UTF-8 text: save the organisation config as UTF-8") from e
    return parse_organisation(text, str(path))


def parse_organisation(text: str, filename: str = "<config>") -> Organisation:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{filename}: not valid YAML: {e}") from e
    try:
        return Organisation.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            cause = (err.get("ctx") or {}).get("error")
            loc = tuple(err["loc"]) + (cause.loc if isinstance(cause, _Misplaced) else ())
            line = _line_of(node, loc)
            where = ".".join(str(p) for p in loc) or "(top level)"
            lines.append(f"{filename}, line {line}: {where}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from e


def _line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (as deep as it exists)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line
