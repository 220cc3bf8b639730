"""The organisation config: teams, their channels and their people with roles.

Teams, channels and people are configuration, not code (DOMAIN.md). The file
is YAML (``WORKTRAY_CONFIG``, default ``worktray.yml``); errors name the line.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Role(StrEnum):
    WORKER = "worker"
    MANAGER = "manager"
    BUSINESS_SUPPORT = "business_support"
    GROUP_MANAGER = "group_manager"
    SERVICE_MANAGER = "service_manager"
    PRACTICE_SUPERVISOR = "practice_supervisor"  # C11, C12: reopens a closed case, decides on re-referrals


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    manager_channel: str = Field(description="channel ID where requests to managers are posted")
    business_support_channel: str = Field(description="channel ID of the team's virtual-worker queue")


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


class Organisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    teams: list[Team] = Field(min_length=1)
    people: list[Person] = Field(min_length=1)

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
        return self

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

    def teams_of(self, person_key: str) -> list[str]:
        person = self.person(person_key)
        return sorted({m.team for m in person.roles}) if person else []


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


class ConfigError(Exception):
    """The organisation config is invalid; the message names the file and line."""


def load_organisation(path: str | Path) -> Organisation:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the organisation config: {e.strerror}") from e
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
