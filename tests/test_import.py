"""``worktray import``: the CSV export is validated whole and imported all or nothing.

Runs on SQLite and PostgreSQL (the ``db_url`` fixture). The example export is
worktray/demo/csv (fictitious people, IDs 36...), documented in docs/csv.md.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import String, func, select

import worktray
from store import importer
from store.importer import ImportError_, import_directory
from store.models import Base, Event, FileRetention, Person, WorkerRelationship, WorkStep
from workflows.importing import config_key_check
from workflows.org import parse_organisation

DEMO_CSV = Path(worktray.__file__).parent / "demo" / "csv"
EXPECTED = {
    "family_groups.csv": 1,
    "persons.csv": 6,
    "cases.csv": 7,
    "work_steps.csv": 4,
    "worker_relationships.csv": 10,
    "organisation_relationships.csv": 11,
    "service_user_groups.csv": 6,
    "file_retentions.csv": 1,
    "record_items.csv": 6,
    "assessments.csv": 6,
    "contacts.csv": 2,
}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A writable copy of the example export."""
    target = tmp_path / "export"
    shutil.copytree(DEMO_CSV, target)
    return target


def append(path: Path, *lines: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def table_counts(uow_factory) -> dict[str, int]:
    with uow_factory() as uow:
        return {
            t.name: uow.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def test_example_export_imports_with_expected_counts(uow_factory):
    assert import_directory(uow_factory, DEMO_CSV) == EXPECTED
    counts = table_counts(uow_factory)
    assert counts["persons"] == 6 and counts["cases"] == 7 and counts["record_items"] == 6
    with uow_factory() as uow:
        mia = uow.cases.person("3600101")
        assert mia.date_of_birth == dt.date(2016, 4, 3)  # exported as 03/04/2016: day first
        assert [m.id for m in mia.family_group.members] == ["3600101", "3600102"]
        assert uow.cases.open_case("3600530").case_type == "CIN"  # the closed EH case is history
        event = uow.session.scalars(select(Event)).one()
        assert (event.actor, event.action) == ("import", "import")
        assert event.detail["files"]["persons.csv"] == {"read": 6, "added": 6, "updated": 0, "unchanged": 0}


def test_example_export_sits_beside_the_demo_seed(seeded):
    """The demo seed (IDs 35..., 41...) and the CSV example (36...) do not collide."""
    assert import_directory(seeded, DEMO_CSV) == EXPECTED
    with seeded() as uow:
        assert uow.session.execute(select(func.count()).select_from(Person)).scalar_one() == 10 + 6  # 10: the seed, with the transfer demo child 3549750 (T1)


@pytest.mark.parametrize(
    ("file", "line", "where", "says"),
    [
        # A bad date (31 February) in day-first form.
        ("persons.csv", "3600999,Zed,Quill,31/02/2016,,,", "persons.csv row 8, column date_of_birth", "not a date"),
        ("work_steps.csv", "3600205,CS Visit,ben,incoming,2026-13-01,open", "work_steps.csv row 6, column scheduled_on", "not a date"),
        # Bad enums.
        ("work_steps.csv", "3600205,CS Visit,ben,started,,open", "work_steps.csv row 6, column kind", "'incoming', 'future' or 'incomplete'"),
        ("cases.csv", "3600205,u12,ben,XYZ,2026-01-01,,", "cases.csv row 9, column case_type", "'CIN'"),
        ("organisation_relationships.csv", "3600205,Hill Farm,farm,Other,2020-01-01,,",
         "organisation_relationships.csv row 13, column organisation_kind", "'gp_surgery'"),
        ("record_items.csv", "3600205,pet,Dog,2020-01-01,,", "record_items.csv row 8, column kind", "'care_package'"),
        # References to persons and family groups that exist nowhere.
        ("cases.csv", "3699999,u12,amy,CIN,2026-01-01,,", "cases.csv row 9, column person_id", "neither persons.csv nor the store"),
        ("persons.csv", "3600999,Zed,Quill,2016-02-01,F0000000,,", "persons.csv row 8, column family_group_id", "neither family_groups.csv"),
        # Rules between columns, a required cell left empty, a too-long value.
        ("cases.csv", "3600205,u12,ben,CP,2026-01-01,2025-01-01,RC8", "cases.csv row 9, column closed_on", "before opened_on"),
        ("assessments.csv", "3600205,Review,2026-01-01,,maria,", "assessments.csv row 8, column authorised_on", "both or neither"),
        ("work_steps.csv", "3600205,,ben,future,,open", "work_steps.csv row 6, column title", "is required"),
        ("work_steps.csv", "3600205," + "x" * 201 + ",ben,future,,open", "work_steps.csv row 6, column title", "at most 200"),
        # A duplicate ID.
        ("persons.csv", "3600101,Mia,Ashdown,03/04/2016,F3600100,,", "persons.csv row 8, column id", "already on row 2"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_imported(seeded, export, file, line, where, says):
    # A valid new person and a valid new step ride along: they must not be imported either.
    if file != "persons.csv":
        append(export / "persons.csv", "3600777,Val,Ide,2015-01-01,,,")
    append(export / file, line)
    before = table_counts(seeded)
    with pytest.raises(ImportError_) as raised:
        import_directory(seeded, export)
    message = str(raised.value)
    assert where in message and says in message, message
    assert table_counts(seeded) == before
    with seeded() as uow:
        assert uow.cases.person("3600777") is None and uow.cases.person("3600101") is None


def test_a_missing_required_column_is_named(seeded, export):
    steps = export / "work_steps.csv"
    steps.write_text("person_id,assignee,kind\n3600205,ben,incoming\n", encoding="utf-8")
    before = table_counts(seeded)
    with pytest.raises(ImportError_) as raised:
        import_directory(seeded, export)
    assert "work_steps.csv row 1, column title: required column is missing" in str(raised.value)
    assert table_counts(seeded) == before


def test_every_problem_is_reported_at_once_in_file_order(uow_factory, export):
    """A case of the person whose own row is bad (3600999) is not reported again."""
    append(export / "cases.csv", "3699999,u12,amy,CIN,2026-01-01,,", "3600999,u12,amy,CIN,2026-01-01,,")
    append(export / "persons.csv", "3600999,Zed,Quill,not-a-date,,,")
    with pytest.raises(ImportError_) as raised:
        import_directory(uow_factory, export)
    errors = raised.value.errors
    assert [(e.file, e.row, e.column) for e in errors] == [
        ("persons.csv", 8, "date_of_birth"),
        ("cases.csv", 9, "person_id"),
    ]


def test_the_message_lists_twenty_problems_and_counts_the_rest(uow_factory, export):
    append(export / "work_steps.csv", *[f"3600205,Step {n},ben,someday,,open" for n in range(25)])
    with pytest.raises(ImportError_) as raised:
        import_directory(uow_factory, export)
    assert len(raised.value.errors) == 25
    lines = str(raised.value).splitlines()
    assert lines[0] == "25 problems in the CSV files:"
    assert len(lines) == 1 + 20 + 1 and lines[-1].strip() == "... and 5 more"
    assert table_counts(uow_factory)["persons"] == 0


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        (lambda d: (d / "persons.csv").unlink(), "persons.csv: is missing"),
        (lambda d: (d / "workstep.csv").write_text("person_id\n", encoding="utf-8"), "workstep.csv: is not a file worktray imports"),
        (lambda d: (d / "cases.csv").write_text("", encoding="utf-8"), "cases.csv: the file is empty"),
        (lambda d: (d / "persons.csv").write_bytes((d / "persons.csv").read_bytes() + "3600999,Zo\xeb,Q,,,,\n".encode("cp1252")),
         "persons.csv row 8: is not UTF-8 text"),
        (lambda d: append(d / "cases.csv", "3600205,u12,ben,CP,2026-01-01,,,extra"), "cases.csv row 9: has 8 cells"),
        (lambda d: append(d / "cases.csv", '3600205,u12,"ben'), "cases.csv row 9: is not valid CSV"),
        (lambda d: (d / "cases.csv").write_text("person_id,team,worker,case_type,opened_on,colour\n", encoding="utf-8"),
         "cases.csv row 1, column colour: is not a column of cases.csv"),
        (lambda d: (d / "cases.csv").write_text("person_id,team,worker,case_type,opened_on,\n3600101,u12,amy,CIN,2025-03-10,oops\n",
                                                encoding="utf-8"),
         "cases.csv row 2: has a value under a column with no name"),
        # Excel's trailing empty column: ignored.
        (lambda d: (d / "cases.csv").write_text("person_id,team,worker,case_type,opened_on,\n3600101,u12,amy,CIN,2025-03-10,\n",
                                                encoding="utf-8"), None),
    ],
)
def test_whole_file_problems(uow_factory, export, setup, says):
    setup(export)
    if says is None:
        assert import_directory(uow_factory, export)["cases.csv"] == 1
        return
    with pytest.raises(ImportError_) as raised:
        import_directory(uow_factory, export)
    assert says in str(raised.value)
    assert table_counts(uow_factory)["persons"] == 0


def test_utf8_text_round_trips(uow_factory, export):
    append(export / "persons.csv", "3600999,Zoë,Quïll,,,,")
    assert import_directory(uow_factory, export)["persons.csv"] == 7
    with uow_factory() as uow:
        assert (uow.cases.person("3600999").first_name, uow.cases.person("3600999").initials) == ("Zoë", "ZQ")


def test_not_a_directory(uow_factory, tmp_path):
    with pytest.raises(ImportError_, match="is not a directory"):
        import_directory(uow_factory, tmp_path / "nowhere")


def test_reimport_is_idempotent(uow_factory):
    import_directory(uow_factory, DEMO_CSV)
    after_first = table_counts(uow_factory)
    assert import_directory(uow_factory, DEMO_CSV) == dict.fromkeys(EXPECTED, 0)
    after_second = table_counts(uow_factory)
    assert after_second == {**after_first, "events": after_first["events"] + 1}  # only the second import's event


def test_reimport_never_undoes_worktrays_own_changes(uow_factory):
    """A step marked done and a key worker ended at closure stay so; no duplicates appear."""
    import_directory(uow_factory, DEMO_CSV)
    with uow_factory() as uow:
        step = uow.session.scalars(select(WorkStep).where(WorkStep.title == "CS Core Group Meeting")).one()
        step.status = "done"
        rel = uow.session.scalars(select(WorkerRelationship).where(WorkerRelationship.person_id == "3600205")).one()
        rel.to_date, rel.end_reason = dt.date(2026, 11, 26), "Case closed"
        uow.commit()
    import_directory(uow_factory, DEMO_CSV)
    with uow_factory() as uow:
        steps = uow.session.scalars(select(WorkStep).where(WorkStep.title == "CS Core Group Meeting")).all()
        assert [s.status for s in steps] == ["done"]
        rels = uow.session.scalars(select(WorkerRelationship).where(WorkerRelationship.person_id == "3600205")).all()
        assert [(r.to_date, r.end_reason) for r in rels] == [(dt.date(2026, 11, 26), "Case closed")]


def test_persons_are_updated_by_id_and_absent_columns_left_alone(uow_factory, tmp_path):
    import_directory(uow_factory, DEMO_CSV)
    update = tmp_path / "update"
    update.mkdir()
    # No date_of_birth column: Mia's stays. A changed surname: updated, not a second person.
    (update / "persons.csv").write_text("id,first_name,last_name\n3600101,Mia,Ashdown-Reyes\n3600102,Leo,Ashdown\n", encoding="utf-8")
    assert import_directory(uow_factory, update) == {"persons.csv": 1}
    with uow_factory() as uow:
        mia = uow.cases.person("3600101")
        assert (mia.last_name, mia.date_of_birth, mia.family_group_id) == ("Ashdown-Reyes", dt.date(2016, 4, 3), "F3600100")
        assert uow.session.execute(select(func.count()).select_from(Person)).scalar_one() == 6


def test_a_later_export_may_add_records_for_people_already_in_the_store(uow_factory, tmp_path):
    import_directory(uow_factory, DEMO_CSV)
    later = tmp_path / "later"
    later.mkdir()
    (later / "persons.csv").write_text("id,first_name,last_name\n", encoding="utf-8")
    (later / "file_retentions.csv").write_text(
        "person_id,criteria,rule,start_date,retain_until\n3600205,CS Child Protection,35 years from closure,2026-01-01,2061-01-01\n",
        encoding="utf-8",
    )
    assert import_directory(uow_factory, later) == {"persons.csv": 0, "file_retentions.csv": 1}
    with uow_factory() as uow:
        assert [r.retain_until for r in uow.cases.retentions("3600205")] == [dt.date(2061, 1, 1)]


def test_excel_bom_spreadsheet_headers_and_day_first_dates(uow_factory, tmp_path):
    export = tmp_path / "excel"
    export.mkdir()
    text = "ID,First Name,Last Name,Date of Birth,last-seen-face-to-face\r\n3600888,Ada,Frost,07/11/2014,2026-11-02\r\n"
    (export / "persons.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (export / "cases.csv").write_bytes(
        b"\xef\xbb\xbf" + b"person_id,team,worker,case_type,opened_on\r\n3600888,u12,amy,cin,01/09/2025\r\n,,,,\r\n"
    )
    assert import_directory(uow_factory, export) == {"persons.csv": 1, "cases.csv": 1}
    with uow_factory() as uow:
        ada = uow.cases.person("3600888")
        assert (ada.date_of_birth, ada.last_seen_face_to_face) == (dt.date(2014, 11, 7), dt.date(2026, 11, 2))
        case = uow.cases.open_case("3600888")
        assert (case.case_type, case.opened_on) == ("CIN", dt.date(2025, 9, 1))  # case type upper-cased


def test_the_import_event_carries_the_given_time(uow_factory):
    at = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
    import_directory(uow_factory, DEMO_CSV, now=lambda: at)
    with uow_factory() as uow:
        assert uow.session.scalars(select(Event.at)).one() == at


def _first_row(spec: importer.FileSpec) -> dict[str, str]:
    with (DEMO_CSV / spec.name).open(encoding="utf-8") as f:
        header, first = f.readline().strip().split(","), f.readline().strip().split(",")
    return {c: v for c, v in zip(header, first, strict=False) if v}


@pytest.mark.parametrize("spec", importer.FILES, ids=lambda s: s.name)
def test_row_models_fit_the_tables(spec):
    """Every column of a file is a column of its table, and text longer than the table allows is refused.

    PostgreSQL refuses an over-long VARCHAR and SQLite does not; validating the
    length up front makes both back ends behave the same.
    """
    table = spec.table.__table__
    assert set(spec.row.model_fields) <= set(table.columns.keys())
    assert set(spec.key) <= set(spec.row.model_fields)
    valid = _first_row(spec)
    spec.row.model_validate(valid)
    for name in spec.row.model_fields:
        column_type = table.columns[name].type
        if isinstance(column_type, String) and column_type.length:
            with pytest.raises(ValidationError) as raised:
                spec.row.model_validate({**valid, name: "x" * (column_type.length + 1)})
            assert [e["loc"][0] for e in raised.value.errors()] == [name]


def test_retention_file_round_trips(uow_factory):
    import_directory(uow_factory, DEMO_CSV)
    with uow_factory() as uow:
        (retention,) = uow.session.scalars(select(FileRetention)).all()
        assert (retention.person_id, retention.retain_until) == ("3600530", dt.date(2037, 8, 30))


# -- Organisation-config keys ------------------------------------------------------------------


def test_example_export_imports_cleanly_against_the_demo_org(uow_factory, org):
    """Every team, worker and assignee in the example export is configured in worktray/demo/org.yml."""
    assert import_directory(uow_factory, DEMO_CSV, check=config_key_check(org)) == EXPECTED


@pytest.mark.parametrize(
    ("file", "line", "message"),
    [
        ("cases.csv", "3600205,u13,ben,CP,2026-01-01,,",
         "cases.csv row 9, column team: no team 'u13' in the organisation config (teams: u12, adults-south, 12plus)"),
        ("cases.csv", "3600205,u12,zoe,CP,2026-01-01,,",
         "cases.csv row 9, column worker: no person 'zoe' in the organisation config "
         "(people: amy, ben, maria, sam, tess, gita, olu, dan, ruth, hana, pia, femi, ... 4 more)"),
        ("work_steps.csv", "3600205,CS Visit,Ben Okafor,incoming,,open",
         "work_steps.csv row 6, column assignee: no person 'Ben Okafor' in the organisation config"),
    ],
)
def test_a_key_not_in_the_config_is_refused_and_nothing_is_imported(seeded, org, export, file, line, message):
    append(export / "persons.csv", "3600777,Val,Ide,2015-01-01,,,")  # a valid row riding along: not imported either
    append(export / file, line)
    before = table_counts(seeded)
    with pytest.raises(ImportError_) as raised:
        import_directory(seeded, export, check=config_key_check(org))
    assert str(raised.value).startswith(message), str(raised.value)
    assert [(e.file, e.row) for e in raised.value.errors] == [(file, 6 if file == "work_steps.csv" else 9)]
    assert table_counts(seeded) == before
    with seeded() as uow:
        assert uow.cases.person("3600777") is None and uow.cases.person("3600101") is None


def test_without_a_config_keys_are_not_checked(uow_factory, export):
    append(export / "cases.csv", "3600205,u13,zoe,CP,2026-01-01,,")
    assert import_directory(uow_factory, export)["cases.csv"] == 8


def test_every_unknown_key_is_reported_with_the_other_problems(uow_factory, org, export):
    """Config-key problems join the rest in file and row order; a row already bad is not checked for keys."""
    append(export / "cases.csv", "3600205,u13,zoe,CP,2026-01-01,,", "3600205,u13,ben,XYZ,2026-01-01,,")
    append(export / "persons.csv", "3600999,Zed,Quill,not-a-date,,,")
    with pytest.raises(ImportError_) as raised:
        import_directory(uow_factory, export, check=config_key_check(org))
    assert [(e.file, e.row, e.column) for e in raised.value.errors] == [
        ("persons.csv", 8, "date_of_birth"),
        ("cases.csv", 9, "team"),
        ("cases.csv", 9, "worker"),
        ("cases.csv", 10, "case_type"),
    ]
    assert table_counts(uow_factory)["persons"] == 0


def test_a_long_people_list_is_cut_short(uow_factory, export):
    people = "".join(
        f"  - {{key: p{n:02d}, name: P {n}, chat_user_id: U{n:02d}, roles: [{{team: t, role: worker}}]}}\n" for n in range(30)
    )
    big = parse_organisation(
        "name: Big\nteams:\n  - {key: t, name: T, manager_channel: C1, business_support_channel: C2}\npeople:\n" + people
    )
    (export / "cases.csv").write_text("person_id,team,worker,case_type,opened_on\n3600101,t,amy,CIN,2025-03-10\n", encoding="utf-8")
    (export / "work_steps.csv").unlink()
    with pytest.raises(ImportError_) as raised:
        import_directory(uow_factory, export, check=config_key_check(big))
    assert str(raised.value) == (
        "cases.csv row 2, column worker: no person 'amy' in the organisation config "
        "(people: p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, ... 18 more)"
    )


@pytest.mark.parametrize("value", ["M\x00ia", "\x00"])
def test_a_nul_character_is_named_and_nothing_is_imported(seeded, export, value):
    """Found by tests/test_fuzz_import.py: PostgreSQL raised a DataError (no file, no row) on a NUL in a cell."""
    rows = (export / "persons.csv").read_text(encoding="utf-8").splitlines()
    rows[1] = rows[1].replace("Mia", value, 1) if value != "\x00" else value + rows[1][7:]
    (export / "persons.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = table_counts(seeded)
    with pytest.raises(ImportError_) as raised:
        import_directory(seeded, export)
    assert "persons.csv row 2, column" in str(raised.value) and "NUL character" in str(raised.value), str(raised.value)
    assert table_counts(seeded) == before


# -- issue 8, data minimisation: the restricted flag ----------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("yes", True), ("YES", True), ("true", True), ("1", True), ("no", False), ("False", False), ("0", False), ("", False)],
)
def test_the_restricted_column_takes_yes_no_and_blank_means_no(uow_factory, tmp_path, cell, expected):
    export = tmp_path / "restricted"
    export.mkdir()
    (export / "persons.csv").write_text(f"id,first_name,last_name,restricted\n3600901,Ada,Vell,{cell}\n", encoding="utf-8")
    import_directory(uow_factory, export)
    with uow_factory() as uow:
        assert uow.cases.person("3600901").restricted is expected


def test_without_the_restricted_column_a_person_is_not_restricted_and_a_flag_stays(uow_factory, tmp_path):
    import_directory(uow_factory, DEMO_CSV)  # the demo has the column, every row "no"
    with uow_factory() as uow:
        assert not any(p.restricted for p in uow.session.scalars(select(Person)))
    flag = tmp_path / "flag"
    flag.mkdir()
    (flag / "persons.csv").write_text("id,first_name,last_name,restricted\n3600101,Mia,Ashdown,yes\n", encoding="utf-8")
    assert import_directory(uow_factory, flag) == {"persons.csv": 1}
    later = tmp_path / "later"
    later.mkdir()
    (later / "persons.csv").write_text("id,first_name,last_name\n3600101,Mia,Ashdown\n", encoding="utf-8")
    import_directory(uow_factory, later)
    with uow_factory() as uow:
        assert uow.cases.person("3600101").restricted is True  # an absent column leaves the flag alone


@pytest.mark.parametrize("cell", ["maybe", "y", "2", "restricted"])
def test_a_bad_restricted_value_is_named_and_nothing_is_imported(uow_factory, export, cell):
    before = table_counts(uow_factory)
    lines = (export / "persons.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + "," + cell
    (export / "persons.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImportError_) as refused:
        import_directory(uow_factory, export)
    assert str(refused.value.errors[0]).startswith("persons.csv row 4, column restricted: must be yes or no")
    assert refused.value.errors[0].column == "restricted"
    assert "must be yes or no" in str(refused.value)
    assert repr(cell) in str(refused.value)
    assert table_counts(uow_factory) == before


# Issue 9: rows are checked by plain converters built from the row models; the model is asked only
# about a row they cannot vouch for. A converter may be stricter than its model, never more lenient
# and never reading a value otherwise, or a message (or a stored value) would change.
AWKWARD = [
    "x", "X1", "ab cd", "a\tb", "a\u00a0b", "a\x1fb", "\u2003", "é", "ÉCOLE", "İ", "ß", "K", "0", "1", "2", "-1",
    "yes", "YES", "No", "y", "N", "on", "OFF", "t", "F", "true", "False", "maybe", " yes", "yes ",
    "2024-02-29", "2023-02-29", "2024-13-01", "29/02/2024", "31/04/2024", "1/2/2024", "2024-1-02", "20240101",
    "2024-01-01T00:00", "+024-01-01", "２０２４-01-01", "2024/01/01", "01-02-2024",
    "cin", "Cin", "CP", "adult", "n0", "N9", "N10", "incoming", "INCOMING", "Done", "cancelled",
    "team", "GP_SURGERY", "place_of_education", "class", "Class", "home_address",
    "x" * 8, "x" * 9, "x" * 16, "x" * 17, "x" * 32, "x" * 33, "x" * 64, "x" * 65, "x" * 100, "x" * 101, "x" * 200, "x" * 201,
    "é" * 32, "é" * 33,
]


def _model_says(spec: importer.FileSpec, field: str, value: str) -> object:
    try:
        return getattr(spec.row.model_validate({**_first_row(spec), field: value}), field)
    except ValidationError:
        return ValidationError


@pytest.mark.parametrize("spec", importer.FILES, ids=lambda s: s.name)
def test_the_fast_checks_never_accept_more_than_the_row_models(spec):
    hints = importer._hints(spec.row)
    for field in spec.row.model_fields:
        convert = importer._converter(hints[field])
        for value in AWKWARD:
            try:
                fast = convert(value)
            except ValueError:
                continue  # the model decides (and words the problem)
            assert _model_says(spec, field, value) == fast, (field, value, fast)
            assert type(fast) is type(_model_says(spec, field, value)), (field, value)


@pytest.mark.parametrize("spec", importer.FILES, ids=lambda s: s.name)
def test_the_fast_checks_read_the_example_export_as_the_models_do(spec):
    with (DEMO_CSV / spec.name).open(encoding="utf-8") as f:
        header, *records = [line.rstrip("\n").split(",") for line in f if line.strip()]
    plan = importer._RowPlan.build(spec, header)
    for record in records:
        cells = [c.strip() for c in record]
        model = spec.row.model_validate({c: v for c, v in zip(header, cells, strict=False) if v})
        assert plan.convert(cells) == model.__dict__
        assert list(plan.convert(cells)) == list(model.__dict__)  # the same fields in the same order: the writer's columns
        assert spec.row.rules(plan.convert(cells)) == model.problems()
