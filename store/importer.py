"""``worktray import``: load a case-system report export (CSV files) into the store.

All or nothing. Every file is read and every row validated (types, dates,
enums, lengths, references between files and to the store) before anything is
written; any problem raises ``ImportError_`` naming the file, the row and the
column of each problem, and the store is left as it was. Given the organisation
config, team and person keys are checked against it too. Everything is written
in one transaction, with one "import" event.

Re-running an import is safe: persons and family groups are matched by ID and
updated; rows of the other files are added unless the same record (same person
and natural key, see ``FileSpec.key``) is already in the store, so worktray's own
changes to those records (a step marked done, a relationship ended at closure)
are never overwritten. The column reference for councils is docs/csv.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError
from pydantic_core import PydanticCustomError
from sqlalchemy import select
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
from store.uow import UnitOfWork

MAX_LISTED_ERRORS = 20
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")  # ISO, and the UK day-first form Mosaic-like systems export
IMPORT_ACTOR = "import"
NUL_MESSAGE = "contains a NUL character (0x00); remove it and export again"


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

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        super().__init__(self._message())

    def _message(self) -> str:
        if len(self.errors) == 1:
            return str(self.errors[0])
        lines = [f"{len(self.errors)} problems in the CSV files:"]
        lines += [f"  {e}" for e in self.errors[:MAX_LISTED_ERRORS]]
        if len(self.errors) > MAX_LISTED_ERRORS:
            lines.append(f"  ... and {len(self.errors) - MAX_LISTED_ERRORS} more")
        return "\n".join(lines)


# --------------------------------------------------------------------------
# Row models: one per file. Field names are the column names.
# --------------------------------------------------------------------------


def _parse_date(value: Any) -> Any:
    """Accept YYYY-MM-DD and DD/MM/YYYY; refuse anything else (including impossible dates)."""
    if not isinstance(value, str):
        return value
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise PydanticCustomError("csv_date", "is not a date: use YYYY-MM-DD or DD/MM/YYYY")


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
    """A validated CSV row. ``problems`` adds the checks that span columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def problems(self) -> list[tuple[str, str]]:
        """(column, message) for each rule between columns this row breaks."""
        return []


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

    def problems(self) -> list[tuple[str, str]]:
        found = _not_before(self.closed_on, self.opened_on, "closed_on", "opened_on")
        if self.closure_reason is not None and self.closed_on is None:
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

    def problems(self) -> list[tuple[str, str]]:
        return _not_before(self.to_date, self.from_date, "to_date", "from_date")


class OrganisationRelationshipRow(Row):
    person_id: Id
    organisation: Text200
    organisation_kind: OrganisationKind
    relationship_type: Text100
    from_date: Date
    to_date: Date | None = None
    end_reason: Text200 | None = None

    def problems(self) -> list[tuple[str, str]]:
        return _not_before(self.to_date, self.from_date, "to_date", "from_date")


class ServiceUserGroupRow(Row):
    person_id: Id
    group: Text100
    sub_group: Text100 | None = None
    start_date: Date
    end_date: Date | None = None

    def problems(self) -> list[tuple[str, str]]:
        return _not_before(self.end_date, self.start_date, "end_date", "start_date")


class FileRetentionRow(Row):
    person_id: Id
    criteria: Text100
    rule: Text200
    start_date: Date
    retain_until: Date

    def problems(self) -> list[tuple[str, str]]:
        return _not_before(self.retain_until, self.start_date, "retain_until", "start_date")


class RecordItemRow(Row):
    person_id: Id
    kind: RecordKind
    description: Text200
    from_date: Date
    to_date: Date | None = None
    end_reason: Text200 | None = None
    is_primary: bool | None = None  # addresses: the primary one (C10)
    doh_end_reason: Annotated[str, StringConstraints(max_length=8)] | None = None  # SSDA903 REC code (S3)

    def problems(self) -> list[tuple[str, str]]:
        return _not_before(self.to_date, self.from_date, "to_date", "from_date")


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

    def problems(self) -> list[tuple[str, str]]:
        found = _not_before(self.completed_on, self.trigger_date, "completed_on", "trigger_date")
        found += _not_before(self.authorised_on, self.trigger_date, "authorised_on", "trigger_date")
        if (self.authorised_by is None) != (self.authorised_on is None):
            found.append(("authorised_on" if self.authorised_on is None else "authorised_by",
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


@dataclass
class ParsedFile:
    """A file's valid rows (with their row numbers) and every ID it names, valid row or not.

    ``ids`` lets a reference to a person whose own row was bad be reported once
    (on that row), not again on every row that refers to it.
    """

    spec: FileSpec
    columns: list[str]
    rows: list[tuple[int, Row]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    readable: bool = True  # False: no usable header, so no rows and no IDs are known


# --------------------------------------------------------------------------
# Reading and validating
# --------------------------------------------------------------------------


def normalise_header(name: str) -> str:
    """'Person ID' and ' person-id ' both mean person_id."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def _records(path: Path, errors: list[RowError]) -> Iterator[tuple[int, list[str]]]:
    """The file's records numbered as a spreadsheet shows them (header = row 1).

    Accepts UTF-8 with or without the byte-order mark Excel writes.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        errors.append(RowError(path.name, line, None, "is not UTF-8 text; save the file as 'CSV UTF-8'"))
        return
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
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


def parse_file(path: Path, spec: FileSpec, errors: list[RowError]) -> ParsedFile:
    """Read and validate one file, appending its problems to errors."""
    records = _records(path, errors)
    first = next(records, None)
    if first is None:
        if not any(e.file == path.name for e in errors):
            errors.append(RowError(path.name, None, None, "the file is empty; it needs a header row"))
        return ParsedFile(spec, [], readable=False)
    columns, header_problems = _header(path.name, first[1], spec)
    if header_problems:
        errors.extend(header_problems)
        return ParsedFile(spec, [], readable=False)
    parsed = ParsedFile(spec, [c for c in columns if c])
    first_row_of: dict[str, int] = {}
    for number, record in records:
        cells = [c.strip() for c in record]
        if not any(cells):
            continue  # blank lines and Excel's trailing ",,,," rows
        problem = _shape_problem(columns, cells)
        if problem:
            errors.append(RowError(path.name, number, None, problem))
            continue
        nul = [RowError(path.name, number, c or None, NUL_MESSAGE) for c, v in zip(columns, cells, strict=False) if "\x00" in v]
        if nul:  # PostgreSQL cannot store (or even compare) text holding NUL: refused here, on both databases
            errors.extend(nul)
            continue
        values = {c: v for c, v in zip(columns, cells, strict=False) if c and v != ""}
        if not spec.key and "id" in values:
            if values["id"] in first_row_of:
                errors.append(RowError(path.name, number, "id", f"{values['id']!r} is already on row {first_row_of[values['id']]}"))
                continue
            first_row_of[values["id"]] = number
            parsed.ids.add(values["id"])
        row, problems = _validate_row(spec, number, values)
        errors.extend(problems)
        if row is not None and not problems:
            parsed.rows.append((number, row))
    return parsed


def _shape_problem(columns: list[str], cells: list[str]) -> str | None:
    if len(cells) > len(columns) and any(cells[len(columns):]):
        return f"has {len(cells)} cells but the header has {len(columns)} columns"
    if any(v for c, v in zip(columns, cells, strict=False) if not c):
        return "has a value under a column with no name in the header"
    return None


def parse_directory(directory: Path) -> tuple[dict[str, ParsedFile], list[RowError]]:
    """Every known file in the directory, validated row by row, and the problems found."""
    if not directory.is_dir():
        return {}, [RowError(str(directory), None, None, "is not a directory")]
    errors: list[RowError] = []
    present = {p.name: p for p in sorted(directory.iterdir()) if p.is_file() and p.suffix.lower() == ".csv"}
    for name in present:
        if name not in SPECS:
            errors.append(RowError(name, None, None, f"is not a file worktray imports; expected: {', '.join(SPECS)}"))
    if PERSONS not in present:
        errors.append(RowError(PERSONS, None, None, f"is missing from {directory}; every import needs it"))
    parsed = {spec.name: parse_file(present[spec.name], spec, errors) for spec in FILES if spec.name in present}
    return parsed, errors


# --------------------------------------------------------------------------
# References to other files and to the store
# --------------------------------------------------------------------------


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _existing_ids(session: Session, column: Any, wanted: Iterable[str]) -> set[str]:
    found: set[str] = set()
    wanted = sorted(set(wanted))
    for chunk in _chunks(wanted):
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found


def check_references(session: Session, parsed: dict[str, ParsedFile]) -> list[RowError]:
    """Every person_id must be in persons.csv or the store; every family_group_id likewise.

    References into a file that could not be read at all are not checked: that
    file's own error says what to fix, and a line per referring row would bury it.
    """
    persons = parsed.get(PERSONS)
    groups = parsed.get(FAMILY_GROUPS, ParsedFile(SPECS[FAMILY_GROUPS], []))
    errors: list[RowError] = []
    if persons is None or not persons.readable:
        return errors
    if groups.readable:
        errors += _check(session, persons, "family_group_id", FamilyGroup.id, groups.ids, FAMILY_GROUPS)
    for spec in FILES:
        if spec.key and spec.name in parsed:
            errors += _check(session, parsed[spec.name], "person_id", Person.id, persons.ids, PERSONS)
    return errors


def _check(session: Session, file: ParsedFile | None, column: str, id_column: Any, in_file: set[str], source: str) -> list[RowError]:
    if file is None:
        return []
    wanted = {getattr(row, column) for _, row in file.rows} - in_file - {None}
    known = in_file | _existing_ids(session, id_column, wanted)
    return [
        RowError(file.spec.name, number, column, f"{getattr(row, column)!r} is in neither {source} nor the store")
        for number, row in file.rows
        if getattr(row, column) is not None and getattr(row, column) not in known
    ]


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


def _upsert(session: Session, file: ParsedFile) -> FileResult:
    """Persons and family groups: insert, or update the columns the file has."""
    result = FileResult(read=len(file.rows))
    table = file.spec.table
    ids = [row.id for _, row in file.rows]  # type: ignore[attr-defined]
    stored: dict[str, Any] = {}
    for chunk in _chunks(ids):
        stored.update((r.id, r) for r in session.scalars(select(table).where(table.id.in_(chunk))))  # type: ignore[attr-defined]
    for _, row in file.rows:
        values = {c: getattr(row, c) for c in file.columns}
        record = stored.get(row.id)  # type: ignore[attr-defined]
        if record is None:
            session.add(table(**row.model_dump()))
            result.added += 1
        elif any(getattr(record, c) != v for c, v in values.items()):
            for c, v in values.items():
                setattr(record, c, v)
            result.updated += 1
        else:
            result.unchanged += 1
    session.flush()
    return result


def _append(session: Session, file: ParsedFile) -> FileResult:
    """Other files: add each row unless its natural key is already there."""
    result = FileResult(read=len(file.rows))
    table, key = file.spec.table, file.spec.key
    person_ids = sorted({row.person_id for _, row in file.rows})  # type: ignore[attr-defined]
    existing: set[tuple[Any, ...]] = set()
    for chunk in _chunks(person_ids):
        for record in session.scalars(select(table).where(table.person_id.in_(chunk))):  # type: ignore[attr-defined]
            existing.add(tuple(getattr(record, k) for k in key))
    for _, row in file.rows:
        natural = tuple(getattr(row, k) for k in key)
        if natural in existing:
            result.unchanged += 1
            continue
        existing.add(natural)
        session.add(table(**row.model_dump()))
        result.added += 1
    session.flush()
    return result


def write(session: Session, parsed: dict[str, ParsedFile]) -> dict[str, FileResult]:
    """Write in dependency order (groups, persons, then the rest), flushing between."""
    results: dict[str, FileResult] = {}
    for spec in FILES:
        if spec.name in parsed:
            apply: Callable[[Session, ParsedFile], FileResult] = _append if spec.key else _upsert
            results[spec.name] = apply(session, parsed[spec.name])
    return results


def _file_order(error: RowError) -> tuple[int, int]:
    """Problems in the order of the files' dependencies, then by row."""
    names = list(SPECS)
    return (names.index(error.file) if error.file in SPECS else -1, error.row or 0)


def import_directory(
    uow_factory: Callable[[], UnitOfWork],
    directory: Path,
    *,
    check: Callable[[dict[str, ParsedFile]], list[RowError]] | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> dict[str, int]:
    """Import the CSV files in directory, all or nothing.

    Returns, per file present, the number of rows written (added, or for
    persons and family groups added or changed); a re-run of the same files
    returns zeros. Raises ImportError_ (nothing written) on any problem.
    ``check``: a further check of the parsed files (the storage knows no rules:
    ``workflows.importing.config_key_check`` checks keys against the organisation
    config); its problems are reported with the others and nothing is written.
    ``now`` stamps the import event (default: the system clock).
    """
    directory = Path(directory)
    parsed, errors = parse_directory(directory)
    if check is not None:
        errors += check(parsed)
    with uow_factory() as uow:
        if directory.is_dir():
            errors += check_references(uow.session, parsed)
        if errors:
            raise ImportError_(sorted(errors, key=_file_order))
        results = write(uow.session, parsed)
        at = now() if now else dt.datetime.now(dt.UTC)
        detail = {"files": {name: vars(result) for name, result in results.items()}}
        uow.record(at=at, actor=IMPORT_ACTOR, action="import", detail=detail)
        uow.commit()
    return {name: result.written for name, result in results.items()}
