"""``worktray import``: load a case-system report export (CSV files) into the store.

All or nothing. Every file is read and every row validated (types, dates,
enums, lengths, references between files and to the store); any problem raises
``ImportError_`` naming the file, the row and the column of each problem, and
the store is left as it was. Given a row check (``workflows.importing``), team
and person keys are checked against the organisation config too. Everything is
written in one transaction, with one "import" event.

Built for a council's whole export (issue 9: 100,000 persons, 730k rows; the goal
is 15 s and 300 MB, `make bench` measures it): each file is streamed once, checked row by row and,
while nothing is wrong, written in chunks (COPY on PostgreSQL, one executemany on SQLite; no
ORM object per row, no query per row: the IDs in the store are read once). A row
is checked by plain per-column converters built once per file from the row
models (``_RowPlan``), not by a model per row; a row they cannot vouch for is
validated by its model, so every message is still pydantic's. The
first problem stops the writing and the rest is only checked, so every problem
is still reported; the transaction is then rolled back.

Re-running an import is safe: persons and family groups are matched by ID and
updated; rows of the other files are added unless the same record (same person
and natural key, see ``FileSpec.key``) is already in the store, so worktray's own
changes to those records (a step marked done, a relationship ended at closure)
are never overwritten. The column reference for councils is docs/csv.md.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin, get_type_hints

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError
from pydantic_core import PydanticCustomError
from sqlalchemy import Date as SqlDate
from sqlalchemy import Table, bindparam, insert, literal, select, update
from sqlalchemy.orm import Session

from store.models import (
    Assessment,
    Base,
    Case,
    Contact,
    FamilyGroup,
    FileRetention,
    OrganisationRelationship,
    Person,
    RecordItem,
    ServiceUserGroup,
    WorkerRelationship,
    WorkStep,
)
from store.uow import UnitOfWork, in_chunks

MAX_LISTED_ERRORS = 20
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")  # ISO, and the UK day-first form Mosaic-like systems export
IMPORT_ACTOR = "import"
NUL_MESSAGE = "contains a NUL character (0x00); remove it and export again"
WRITE_CHUNK = 5000  # rows per executemany: bounded memory, few round trips
READ_BLOCK = 1 << 20  # bytes per block of the UTF-8 check
MAX_KEPT_ERRORS = 10_000  # problems kept for the message; beyond this they are only counted


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem: which file, which row (the header is row 1) and which column."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class ImportError_(Exception):
    """The import was refused; nothing was written. ``errors`` holds every problem found."""

    def __init__(self, errors: Sequence[RowError], dropped: int = 0) -> None:
        self.errors = list(errors)
        self.dropped = dropped  # problems beyond MAX_KEPT_ERRORS: counted, not kept
        super().__init__(self._message())

    def _message(self) -> str:
        total = len(self.errors) + self.dropped
        if total == 1:
            return str(self.errors[0])
        lines = [f"{total} problems in the CSV files:"]
        lines += [f"  {e}" for e in self.errors[:MAX_LISTED_ERRORS]]
        if total > MAX_LISTED_ERRORS:
            lines.append(f"  ... and {total - MAX_LISTED_ERRORS} more")
        return "\n".join(lines)


# --------------------------------------------------------------------------
# Row models: one per file. Field names are the column names.
# --------------------------------------------------------------------------


def _parse_date(value: Any) -> Any:
    """Accept YYYY-MM-DD and DD/MM/YYYY; refuse anything else (including impossible dates).

    The two forms with ASCII digits are read without strptime (an export holds a million
    dates, issue 9); anything else is left to strptime, so nothing more is accepted."""
    if not isinstance(value, str):
        return value
    if len(value) == 10 and value.isascii():
        try:
            if value[4] == "-" and value[7] == "-":
                return _from_iso(value)
            if value[2] == "/" and value[5] == "/" and (value[:2] + value[3:5] + value[6:]).isdigit():
                return dt.date(int(value[6:]), int(value[3:5]), int(value[:2]))
        except ValueError:
            pass
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise PydanticCustomError("csv_date", "is not a date: use YYYY-MM-DD or DD/MM/YYYY")


_from_iso = dt.date.fromisoformat


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _yes_no(value: Any) -> Any:
    """yes/no/true/false/1/0 in any case; anything else is refused by name (not pydantic's wording)."""
    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    if word in ("yes", "true", "1"):
        return True
    if word in ("no", "false", "0"):
        return False
    raise PydanticCustomError("csv_yes_no", "must be yes or no (or true/false, 1/0)")


Text16 = Annotated[str, StringConstraints(max_length=16)]
Text64 = Annotated[str, StringConstraints(max_length=64)]
Text100 = Annotated[str, StringConstraints(max_length=100)]
Text200 = Annotated[str, StringConstraints(max_length=200)]
Date = Annotated[dt.date, BeforeValidator(_parse_date)]
YesNo = Annotated[bool, BeforeValidator(_yes_no)]
Id = Annotated[str, StringConstraints(max_length=32, pattern=r"^\S+$")]
StepKind = Annotated[Literal["incoming", "future", "incomplete"], BeforeValidator(_lower)]
StepStatus = Annotated[Literal["open", "done", "cancelled"], BeforeValidator(_lower)]
OrganisationKind = Annotated[Literal["team", "school", "place_of_education", "gp_surgery", "other"], BeforeValidator(_lower)]
CaseType = Annotated[Literal["CIN", "CP", "CLA", "CWD", "EH", "ADULT"], BeforeValidator(_upper)]
PrimaryNeed = Annotated[Literal["N0", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9"], BeforeValidator(_upper)]  # S2
RecordKind = Annotated[
    Literal["care_package", "legal_status", "looked_after", "placement_address", "home_address", "registration", "class"],
    BeforeValidator(_lower),
]


class Row(BaseModel):
    """A validated CSV row. ``rules`` adds the checks that span columns.

    The models say what a valid row is; the import itself checks rows with plain per-column
    converters built from them (``_RowPlan``) and asks the model only about a row those
    converters are not sure of, so pydantic still words every problem (issue 9)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @staticmethod
    def rules(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(column, message) for each rule between columns the row's values break."""
        return []

    def problems(self) -> list[tuple[str, str]]:
        return self.rules(self.__dict__)


def _not_before(later: dt.date | None, earlier: dt.date | None, later_col: str, earlier_col: str) -> list[tuple[str, str]]:
    if later is not None and earlier is not None and later < earlier:
        return [(later_col, f"{later.isoformat()} is before {earlier_col} {earlier.isoformat()}")]
    return []


class FamilyGroupRow(Row):
    id: Id
    name: Text200


class PersonRow(Row):
    id: Id
    first_name: Text100
    last_name: Text100
    date_of_birth: Date | None = None
    family_group_id: Id | None = None
    last_seen_face_to_face: Date | None = None
    last_supervision_on: Date | None = None
    restricted: YesNo = False  # issue 8: a restricted record; blank means no


class CaseRow(Row):
    person_id: Id
    team: Text64
    worker: Text64
    case_type: CaseType
    opened_on: Date
    closed_on: Date | None = None
    closure_reason: Text16 | None = None
    primary_need: PrimaryNeed | None = None  # S2; C12 compares a re-referral's reason with it

    @staticmethod
    def rules(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        found = _not_before(row["closed_on"], row["opened_on"], "closed_on", "opened_on")
        if row["closure_reason"] is not None and row["closed_on"] is None:
            found.append(("closure_reason", "a closure reason needs a closed_on date"))
        return found


class WorkStepRow(Row):
    person_id: Id
    title: Text200
    assignee: Text64
    kind: StepKind
    scheduled_on: Date | None = None
    status: StepStatus = "open"
    cancel_reason: str | None = None


class WorkerRelationshipRow(Row):
    person_id: Id
    worker: Text200
    relationship_type: Text100
    from_date: Date
    to_date: Date | None = None
    end_reason: Text200 | None = None

    @staticmethod
    def rules(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        return _not_before(row["to_date"], row["from_date"], "to_date", "from_date")


class OrganisationRelationshipRow(Row):
    person_id: Id
    organisation: Text200
    organisation_kind: OrganisationKind
    relationship_type: Text100
    from_date: Date
    to_date: Date | None = None
    end_reason: Text200 | None = None

    @staticmethod
    def rules(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        return _not_before(row["to_date"], row["from_date"], "to_date", "from_date")


class ServiceUserGroupRow(Row):
    person_id: Id
    group: Text100
    sub_group: Text100 | None = None
    start_date: Date
    end_date: Date | None = None

    @staticmethod
    def rules(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        return _not_before(row["end_date"], row["start_date"], "end_date", "start_date")


class FileRetentionRow(Row):
    person_id: Id
    criteria: Text100
    rule: Text200
    start_date: Date
    retain_until: Date

    @staticmethod
    def rules(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        return _not_before(row["retain_until"], row["start_date"], "retain_until", "start_date")


class RecordItemRow(Row):
    person_id: Id
    kind: RecordKind
    description: Text200
    from_date: Date
    to_date: Date | None = None
    end_reason: Text200 | None = None
    is_primary: bool | None = None  # addresses: the primary one (C10)
    doh_end_reason: Annotated[str, StringConstraints(max_length=8)] | None = None  # SSDA903 REC code (S3)

    @staticmethod
    def rules(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        return _not_before(row["to_date"], row["from_date"], "to_date", "from_date")


class ContactRow(Row):
    """A contact or referral [004]. Stored only: whether it is a re-referral (C12) is decided
    by the workflow (``workflows.reopen.consider_contacts``), not here."""

    person_id: Id
    contact_date: Date
    reason: PrimaryNeed


class AssessmentRow(Row):
    person_id: Id
    assessment_type: Text100
    trigger_date: Date
    completed_on: Date | None = None
    authorised_by: Text64 | None = None
    authorised_on: Date | None = None

    @staticmethod
    def rules(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        found = _not_before(row["completed_on"], row["trigger_date"], "completed_on", "trigger_date")
        found += _not_before(row["authorised_on"], row["trigger_date"], "authorised_on", "trigger_date")
        if (row["authorised_by"] is None) != (row["authorised_on"] is None):
            found.append(("authorised_on" if row["authorised_on"] is None else "authorised_by",
                          "authorised_by and authorised_on go together: give both or neither"))
        return found


# --------------------------------------------------------------------------
# The files
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    """One CSV file: its row model, the table it fills and how a re-import matches rows.

    ``key`` empty: the file is upserted by its ``id`` column (persons, family groups).
    Otherwise ``key`` is the natural key: a row whose key matches a record already
    in the store (or an earlier row of the same file) is skipped.
    """

    name: str
    row: type[Row]
    table: type[Base]
    key: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return list(self.row.model_fields)

    @property
    def required(self) -> list[str]:
        return [n for n, f in self.row.model_fields.items() if f.is_required()]


PERSONS = "persons.csv"
FAMILY_GROUPS = "family_groups.csv"

FILES: tuple[FileSpec, ...] = (
    FileSpec(FAMILY_GROUPS, FamilyGroupRow, FamilyGroup),
    FileSpec(PERSONS, PersonRow, Person),
    FileSpec("cases.csv", CaseRow, Case, ("person_id", "team", "case_type", "opened_on")),
    FileSpec("work_steps.csv", WorkStepRow, WorkStep, ("person_id", "title", "assignee", "kind", "scheduled_on")),
    FileSpec("worker_relationships.csv", WorkerRelationshipRow, WorkerRelationship,
             ("person_id", "worker", "relationship_type", "from_date")),
    FileSpec("organisation_relationships.csv", OrganisationRelationshipRow, OrganisationRelationship,
             ("person_id", "organisation", "relationship_type", "from_date")),
    FileSpec("service_user_groups.csv", ServiceUserGroupRow, ServiceUserGroup, ("person_id", "group", "sub_group", "start_date")),
    FileSpec("file_retentions.csv", FileRetentionRow, FileRetention, ("person_id", "criteria", "start_date", "retain_until")),
    FileSpec("record_items.csv", RecordItemRow, RecordItem, ("person_id", "kind", "description", "from_date")),
    FileSpec("assessments.csv", AssessmentRow, Assessment, ("person_id", "assessment_type", "trigger_date")),
    FileSpec("contacts.csv", ContactRow, Contact, ("person_id", "contact_date", "reason")),
)
SPECS = {spec.name: spec for spec in FILES}



class RowValues(dict[str, Any]):
    """A checked row: every field of its file's model by name (defaults for absent columns),
    in the model's field order, also readable as attributes (``row.person_id``) as a model is.
    A plain dict underneath, so the writer takes it as it is (no model and no dict per row)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


# A further check of each valid row, given the file name and row number (the importer knows no
# rules: workflows.importing checks team and person keys against the organisation config).
RowCheck = Callable[[str, int, RowValues], list[RowError]]


# --------------------------------------------------------------------------
# The fast check: plain converters built once per file from the row models
# --------------------------------------------------------------------------


class _Unsure(ValueError):
    """A converter cannot vouch for a cell: the row model decides, and words the problem."""


Converter = Callable[[str], Any]
_PYDANTIC_BOOL = {"0": False, "off": False, "f": False, "false": False, "n": False, "no": False,
                  "1": True, "on": True, "t": True, "true": True, "y": True, "yes": True}  # pydantic's str -> bool, any case


def _converter(hint: Any) -> Converter:
    """A plain function for one field that returns what the model would store for a (stripped,
    non-blank) cell, or raises ValueError where the model might refuse it or read it otherwise.

    It may be stricter than the model (an ID with non-ASCII characters is left to the model,
    whose pattern engine decides what a space is) but never more lenient: a row it refuses is
    validated by the model, so every message stays the model's. tests/test_import.py compares
    both on awkward values."""
    if get_origin(hint) in (Union, UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"no fast converter for {hint}")
        hint = members[0]
    base, meta = (get_args(hint)[0], get_args(hint)[1:]) if get_origin(hint) is Annotated else (hint, ())
    before = [m.func for m in meta if isinstance(m, BeforeValidator)]
    limits = [m for m in meta if isinstance(m, StringConstraints)]
    if len(before) + len(limits) != len(meta) or len(before) > 1 or len(limits) > 1:
        raise TypeError(f"no fast converter for {hint}")
    if get_origin(base) is Literal:
        return _literal(cast(Callable[[Any], Any], before[0]) if before else None, frozenset(get_args(base)))
    if base is dt.date and before == [_parse_date]:
        return _parse_date  # raises PydanticCustomError, a ValueError
    if base is bool:
        if before == [_yes_no]:
            return _yes_no
        if not before:
            return _plain_bool
    if base is str and not before:
        return _text(limits[0] if limits else None)
    raise TypeError(f"no fast converter for {hint}")


def _literal(before: Callable[[Any], Any] | None, allowed: frozenset[Any]) -> Converter:
    def literal(value: str) -> Any:
        out = before(value) if before is not None else value
        if out in allowed:
            return out
        raise _Unsure

    return literal


def _plain_bool(value: str) -> bool:
    found = _PYDANTIC_BOOL.get(value.lower()) if value.isascii() else None
    if found is None:
        raise _Unsure
    return found


def _text(limit: StringConstraints | None) -> Converter:
    if limit is None:
        return str
    known = {"min_length", "max_length", "pattern"}
    if any(getattr(limit, f) is not None for f in ("strip_whitespace", "to_upper", "to_lower", "strict", "ascii_only")) or (
        limit.min_length is not None or limit.pattern not in (None, r"^\S+$")
    ):
        raise TypeError(f"no fast converter for {limit} (known: {known})")
    longest = limit.max_length if limit.max_length is not None else float("inf")
    if limit.pattern is None:

        def text(value: str) -> str:
            if len(value) <= longest:
                return value
            raise _Unsure

        return text

    def no_spaces(value: str) -> str:  # ^\S+$: printable ASCII without a space is sure; anything else, the model says
        if len(value) <= longest and value.isascii() and value.isprintable() and " " not in value:
            return value
        raise _Unsure

    return no_spaces


@dataclass(frozen=True)
class _RowPlan:
    """How one file's rows are checked, worked out once from its header: (cell index, field,
    converter) per named column, the indexes of the required fields and every field's default."""

    spec: FileSpec
    cells: tuple[tuple[int, str, Converter], ...]
    required: tuple[int, ...]
    defaults: dict[str, Any]
    named: bool  # every header cell names a column (then a row of the header's width needs no shape check)
    rules: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None  # None: no rule spans columns

    @classmethod
    def build(cls, spec: FileSpec, columns: list[str]) -> _RowPlan:
        hints = _hints(spec.row)
        fields = spec.row.model_fields
        defaults = {name: None if f.is_required() else f.get_default(call_default_factory=True) for name, f in fields.items()}
        cells = tuple((i, c, _converter(hints[c])) for i, c in enumerate(columns) if c)
        required = tuple(i for i, c in enumerate(columns) if c and fields[c].is_required())
        rules = None if spec.row.rules is Row.rules else spec.row.rules
        return cls(spec, cells, required, defaults, all(columns), rules)

    def convert(self, cells: list[str]) -> RowValues:
        """The row's values; ValueError when a converter cannot vouch for a cell or a required
        cell is blank (the caller then asks the model)."""
        for i in self.required:
            if not cells[i]:
                raise _Unsure
        row = RowValues(self.defaults)
        for i, column, convert in self.cells:
            value = cells[i]
            if value:
                row[column] = convert(value)
        return row


_HINTS: dict[type[Row], dict[str, Any]] = {}


def _hints(model: type[Row]) -> dict[str, Any]:
    if model not in _HINTS:
        _HINTS[model] = get_type_hints(model, include_extras=True)
    return _HINTS[model]


# --------------------------------------------------------------------------
# Reading and validating
# --------------------------------------------------------------------------


def normalise_header(name: str) -> str:
    """'Person ID' and ' person-id ' both mean person_id."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def _utf8_problem(path: Path) -> RowError | None:
    """The line of the first byte that is not UTF-8, checked in blocks so a big file is not held whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            while block := f.read(READ_BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raw = path.read_bytes()  # only for a bad file: the exact line of the bad byte
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            return RowError(path.name, line, None, "is not UTF-8 text; save the file as 'CSV UTF-8'")
    return None


def _holds_nul(path: Path) -> bool:
    """Whether any byte of the file is NUL (in UTF-8 only U+0000 is): when none is, the rows
    need not be searched for one (issue 9)."""
    with path.open("rb") as f:
        return any(b"\x00" in block for block in iter(lambda: f.read(READ_BLOCK), b""))


def _records(path: Path, errors: ErrorList) -> Iterator[tuple[int, list[str]]]:
    """The file's records, streamed, numbered as a spreadsheet shows them (header = row 1).

    Accepts UTF-8 with or without the byte-order mark Excel writes.
    """
    problem = _utf8_problem(path)
    if problem is not None:
        errors.append(problem)
        return
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, strict=True)
        number = 0
        try:
            for number, record in enumerate(reader, start=1):
                yield number, record
        except csv.Error as e:
            errors.append(RowError(path.name, number + 1, None, f"is not valid CSV: {e}"))


def _header(name: str, record: list[str], spec: FileSpec) -> tuple[list[str], list[RowError]]:
    """The normalised column names; a blank header cell names a column that is ignored."""
    columns = [normalise_header(c) for c in record]
    problems: list[RowError] = []
    seen: set[str] = set()
    for column in columns:
        if not column:
            continue
        if column not in spec.columns:
            problems.append(RowError(name, 1, column, f"is not a column of {name}; expected: {', '.join(spec.columns)}"))
        elif column in seen:
            problems.append(RowError(name, 1, column, "appears twice in the header"))
        seen.add(column)
    for column in spec.required:
        if column not in seen:
            problems.append(RowError(name, 1, column, "required column is missing from the header"))
    return columns, problems


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        message = f"must be {error['ctx']['expected']}"
    elif kind == "string_too_long":
        message = f"must be at most {error['ctx']['max_length']} characters"
    elif kind == "string_pattern_mismatch":
        message = "must not contain spaces"
    else:
        message = str(error["msg"])
    value = str(error.get("input", ""))
    shown = value if len(value) <= 40 else value[:37] + "..."
    return f"{message} (got {shown!r})"


def _validate_row(spec: FileSpec, number: int, values: dict[str, str]) -> tuple[Row | None, list[RowError]]:
    try:
        row = spec.row.model_validate(values)
    except ValidationError as e:
        found = [RowError(spec.name, number, str(err["loc"][0]) if err["loc"] else None, _describe(err)) for err in e.errors()]
        return None, found
    return row, [RowError(spec.name, number, column, message) for column, message in row.problems()]


def _shape_problem(columns: list[str], cells: list[str]) -> str | None:
    if len(cells) == len(columns) and all(columns):
        return None  # the usual row, at once
    if len(cells) > len(columns) and any(cells[len(columns):]):
        return f"has {len(cells)} cells but the header has {len(columns)} columns"
    if any(v for c, v in zip(columns, cells, strict=False) if not c):
        return "has a value under a column with no name in the header"
    return None


def _present(directory: Path, errors: ErrorList) -> dict[str, Path]:
    """The known CSV files in the directory; unknown ones and a missing persons.csv are problems."""
    present = {p.name: p for p in sorted(directory.iterdir()) if p.is_file() and p.suffix.lower() == ".csv"}
    for name in present:
        if name not in SPECS:
            errors.append(RowError(name, None, None, f"is not a file worktray imports; expected: {', '.join(SPECS)}"))
    if PERSONS not in present:
        errors.append(RowError(PERSONS, None, None, f"is missing from {directory}; every import needs it"))
    return present


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


@dataclass
class FileResult:
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def written(self) -> int:
        return self.added + self.updated


class ErrorList(list[RowError]):
    """The problems found, keeping the first ``MAX_KEPT_ERRORS`` and counting the rest, so an
    export that is wrong on every one of its 730k rows does not fill memory with them."""

    dropped: int = 0

    def append(self, error: RowError) -> None:
        if len(self) < MAX_KEPT_ERRORS:
            super().append(error)
        else:
            self.dropped += 1

    def extend(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.append(error)


class _Import:
    """One import in one transaction: each file streamed once, each row checked and, while no
    problem has been found anywhere, written in chunks (COPY or executemany, ``_insert_many``; no ORM
    objects). The first problem stops the writing; the rest of the files are still checked so
    every problem is reported, and the caller rolls the transaction back: all or nothing.

    The IDs already in the store are read once, up front, for the reference checks.
    """

    def __init__(self, session: Session, check: RowCheck | None, errors: ErrorList) -> None:
        self.session = session
        self.check = check
        self.errors = errors
        self.results: dict[str, FileResult] = {}
        self.file_ids: dict[str, set[str]] = {}  # persons.csv / family_groups.csv: every ID named, valid row or not
        self.readable: dict[str, bool] = {}
        self._store_ids: dict[str, set[str]] = {}

    def store_ids(self, name: str) -> set[str]:
        if name not in self._store_ids:
            table = SPECS[name].table.__table__
            self._store_ids[name] = set(self.session.scalars(select(table.c.id)))
        return self._store_ids[name]

    def _references(self, spec: FileSpec) -> tuple[str, str] | None:
        """(column, file it refers to) for this file, or None when its references are not checked.

        References into a file that could not be read at all are not checked: that file's
        own error says what to fix, and a line per referring row would bury it."""
        if not self.readable.get(PERSONS, False):
            return None
        if spec.name == PERSONS:
            return ("family_group_id", FAMILY_GROUPS) if self.readable.get(FAMILY_GROUPS, True) else None
        return ("person_id", PERSONS) if spec.key else None

    def load(self, path: Path, spec: FileSpec) -> None:
        """Read, check and (while nothing is wrong) write one file."""
        records = _records(path, self.errors)
        first = next(records, None)
        if first is None:
            if not any(e.file == path.name for e in self.errors):
                self.errors.append(RowError(path.name, None, None, "the file is empty; it needs a header row"))
            self.readable[spec.name] = False
            return
        columns, header_problems = _header(path.name, first[1], spec)
        if header_problems:
            self.errors.extend(header_problems)
            self.readable[spec.name] = False
            return
        self.readable[spec.name] = True
        ids = self.file_ids.setdefault(spec.name, set())
        writer = _Writer(self.session, spec, [c for c in columns if c])
        reference = self._references(spec)
        known = self.file_ids.get(reference[1], set()) if reference else set()
        stored = self.store_ids(reference[1]) if reference else set()
        first_row_of: dict[str, int] = {}
        name = path.name
        plan = _RowPlan.build(spec, columns)
        id_index = columns.index("id") if not spec.key and "id" in columns else None
        check, errors, add = self.check, self.errors, writer.add
        nul = _holds_nul(path)
        for number, record in records:
            row = self._row(plan, name, number, record, columns, id_index, ids, first_row_of, nul)
            if row is None:
                continue
            if check is not None and (found := check(spec.name, number, row)):
                errors.extend(found)
            if reference is not None:
                value = row[reference[0]]
                if value is not None and value not in known and value not in stored:
                    errors.append(RowError(spec.name, number, reference[0], f"{value!r} is in neither {reference[1]} nor the store"))
            writer.read += 1
            if not errors:
                add(row)
        if not errors:
            writer.flush()
            self.results[spec.name] = writer.result()

    def _row(  # the per-file state is passed rather than looked up 730k times
        self,
        plan: _RowPlan,
        name: str,
        number: int,
        record: list[str],
        columns: list[str],
        id_index: int | None,
        ids: set[str],
        first_row_of: dict[str, int],
        nul: bool,
    ) -> RowValues | None:
        """The row checked, or None (its problems recorded, or a blank row skipped)."""
        cells = list(map(str.strip, record))
        if not any(cells):
            return None  # blank lines and Excel's trailing ",,,," rows
        width = len(columns)
        if len(cells) != width or not plan.named:
            problem = _shape_problem(columns, cells)
            if problem:
                self.errors.append(RowError(name, number, None, problem))
                return None
            cells = (cells + [""] * width)[:width]  # missing cells are blank; extra ones are blank (checked above)
        if nul and "\x00" in "".join(cells):  # PostgreSQL cannot store (or even compare) text holding NUL: refused here, on both databases
            self.errors.extend(RowError(name, number, c or None, NUL_MESSAGE) for c, v in zip(columns, cells, strict=False) if "\x00" in v)
            return None
        if id_index is not None and (key := cells[id_index]):
            if key in first_row_of:
                self.errors.append(RowError(name, number, "id", f"{key!r} is already on row {first_row_of[key]}"))
                return None
            first_row_of[key] = number
            ids.add(key)
        try:
            row = plan.convert(cells)
        except ValueError:  # a cell the converters cannot vouch for: the model decides and words it
            return self._validated(plan.spec, number, {c: v for c, v in zip(columns, cells, strict=False) if c and v})
        if plan.rules is not None and (problems := plan.rules(row)):
            self.errors.extend(RowError(name, number, column, message) for column, message in problems)
            return None
        return row

    def _validated(self, spec: FileSpec, number: int, values: dict[str, str]) -> RowValues | None:
        row, problems = _validate_row(spec, number, values)
        if problems or row is None:
            self.errors.extend(problems)
            return None
        return RowValues(row.__dict__)


class _Writer:
    """Writes one file's valid rows in chunks. Persons and family groups are upserted by ID
    (only the columns the file has are updated); the other files are appended unless the
    natural key is already in the store or earlier in the file."""

    def __init__(self, session: Session, spec: FileSpec, columns: list[str]) -> None:
        self.session = session
        self.spec = spec
        self.columns = columns
        self.table = cast(Table, spec.table.__table__)
        self.pending: list[dict[str, Any]] = []
        self.read = 0
        self.added = self.updated = self.unchanged = 0
        # An empty table needs no look-ups (a first import): asked once, before this file writes.
        self.store_empty = session.execute(select(literal(1)).select_from(self.table).limit(1)).first() is None
        self.seen: set[tuple[Any, ...]] = set()

    def add(self, row: RowValues) -> None:
        self.pending.append(row)  # every field, in the model's order
        if len(self.pending) >= WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            (self._append if self.spec.key else self._upsert)(self.pending)
            self.pending = []

    def result(self) -> FileResult:
        return FileResult(self.read, self.added, self.updated, self.unchanged)

    def _upsert(self, rows: list[dict[str, Any]]) -> None:
        table, columns = self.table, self.columns
        stored: dict[str, Any] = {}
        if not self.store_empty:
            for chunk in in_chunks([r["id"] for r in rows]):
                query = select(*(table.c[c] for c in columns)).where(table.c.id.in_(chunk))
                stored.update((r.id, r) for r in self.session.execute(query))
        new = [r for r in rows if r["id"] not in stored]
        changed = [
            {"_id": r["id"], **{c: r[c] for c in columns}}
            for r in rows
            if r["id"] in stored and any(getattr(stored[r["id"]], c) != r[c] for c in columns)
        ]
        if new:
            _insert_many(self.session, table, new)
        if changed:
            statement = update(table).where(table.c.id == bindparam("_id")).values({c: bindparam(c) for c in columns})
            self.session.execute(statement, changed)
        self.added += len(new)
        self.updated += len(changed)
        self.unchanged += len(rows) - len(new) - len(changed)

    def _append(self, rows: list[dict[str, Any]]) -> None:
        key = self.spec.key
        if not self.store_empty:
            for chunk in in_chunks(sorted({r["person_id"] for r in rows})):
                query = select(*(self.table.c[k] for k in key)).where(self.table.c.person_id.in_(chunk))
                self.seen.update(tuple(r) for r in self.session.execute(query))
        new = []
        natural_key = itemgetter(*key)
        for r in rows:
            natural = natural_key(r)
            if natural in self.seen:
                self.unchanged += 1
                continue
            self.seen.add(natural)
            new.append(r)
        if new:
            _insert_many(self.session, self.table, new)
        self.added += len(new)


def _insert_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert validated rows in the session's transaction, handed to the driver as they are:
    PostgreSQL by COPY (psycopg's ``cursor.copy``), SQLite by one executemany (dates written
    as the ISO text SQLAlchemy's Date type stores). SQLAlchemy's per-value processing of a
    Core insert was a third of the import's time at 730k rows (issue 9)."""
    connection = session.connection()
    columns = list(rows[0])
    values = itemgetter(*columns) if len(columns) > 1 else (lambda r: (r[columns[0]],))
    if connection.dialect.name == "postgresql":
        quote = connection.dialect.identifier_preparer.quote
        sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        with connection.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for r in rows:
                copy.write_row(values(r))
        return
    compiled = insert(table).values({c: bindparam(c) for c in columns}).compile(dialect=connection.dialect)
    order = compiled.positiontup or []
    assert order == columns, "SQLite's qmark parameters follow the columns"
    dates = {c for c in columns if isinstance(table.c[c].type, SqlDate)}
    if not dates:
        params: list[tuple[Any, ...]] = [values(r) for r in rows]
    else:  # column by column: one comprehension per column rather than a tuple rebuilt per row
        cells = [[r[c] for r in rows] if c not in dates else [None if (d := r[c]) is None else d.isoformat() for r in rows] for c in columns]
        params = list(zip(*cells, strict=True))
    connection.exec_driver_sql(str(compiled), params)


def _file_order(error: RowError) -> tuple[int, int]:
    """Problems in the order of the files' dependencies, then by row."""
    names = list(SPECS)
    return (names.index(error.file) if error.file in SPECS else -1, error.row or 0)


def import_directory(
    uow_factory: Callable[[], UnitOfWork],
    directory: Path,
    *,
    check: RowCheck | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> dict[str, int]:
    """Import the CSV files in directory, all or nothing.

    Returns, per file present, the number of rows written (added, or for
    persons and family groups added or changed); a re-run of the same files
    returns zeros. Raises ImportError_ (nothing written) on any problem.
    ``check``: a further check of each valid row (the storage knows no rules:
    ``workflows.importing.config_key_check`` checks keys against the organisation
    config); its problems are reported with the others and nothing is written.
    ``now`` stamps the import event (default: the system clock).
    """
    directory = Path(directory)
    errors = ErrorList()
    if not directory.is_dir():
        raise ImportError_([RowError(str(directory), None, None, "is not a directory")])
    present = _present(directory, errors)
    with uow_factory() as uow:
        run = _Import(uow.session, check, errors)
        for spec in FILES:
            if spec.name in present:
                run.load(present[spec.name], spec)
        if errors:
            raise ImportError_(sorted(errors, key=_file_order), dropped=errors.dropped)  # the block rolls back
        at = now() if now else dt.datetime.now(dt.UTC)
        detail = {"files": {name: vars(result) for name, result in run.results.items()}}
        uow.record(at=at, actor=IMPORT_ACTOR, action="import", detail=detail)
        uow.commit()
    return {name: result.written for name, result in run.results.items()}
