"""Issue 9: the import streams and writes in chunks, and is still all or nothing.

The bench's generated export (bench/export_data.py, fictitious) at a small scale goes
through the real ``worktray import`` command as ``make bench`` runs it, on SQLite and
PostgreSQL; a bad last row, found after earlier chunks were already written in the
transaction, leaves nothing behind; the event log's chain holds after an import.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.export_data import generate_export
from bench.importing import report, run_import
from store import importer
from store.db import make_engine, make_session_factory
from store.eventlog import verify
from store.importer import ImportError_, import_directory
from store.models import Base, Event
from store.uow import UnitOfWork
from workflows.importing import config_key_check
from workflows.org import Organisation

PERSONS = 200


def counts(uow_factory: partial[UnitOfWork]) -> dict[str, int]:
    with uow_factory() as uow:
        return {t.name: uow.session.execute(select(func.count()).select_from(t)).scalar_one() for t in Base.metadata.sorted_tables}


@pytest.fixture
def export(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    directory = tmp_path / "export"
    return directory, generate_export(directory, persons=PERSONS, seed=9)


def test_the_generator_is_deterministic_and_shaped_as_documented(tmp_path: Path, export: tuple[Path, dict[str, int]]) -> None:
    directory, written = export
    again = generate_export(tmp_path / "again", persons=PERSONS, seed=9)
    assert written == again and written["persons.csv"] == PERSONS
    assert sorted(p.name for p in directory.iterdir()) == sorted(importer.SPECS)
    for name in importer.SPECS:
        assert (directory / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_the_bench_import_runs_the_command_and_stores_every_row(db_url: str, export: tuple[Path, dict[str, int]]) -> None:
    """What `make bench` measures, at 200 persons: ``worktray import`` in a child process."""
    directory, written = export
    figure = run_import(db_url, directory, sum(written.values()))
    assert figure.exit_code == 0, figure.stderr
    assert figure.stored == figure.rows == sum(written.values())
    assert figure.peak_mb > 0 and figure.cpu_seconds > 0
    assert f"{figure.rows:,} rows" in report("sqlite", figure) and "FAILED" not in report("sqlite", figure)
    engine = make_engine(db_url)
    try:
        found = verify(make_session_factory(engine))  # the import's event sealed into the chain
        assert found.ok and found.count >= 1, found.problems
    finally:
        engine.dispose()


def test_counts_per_table_match_the_export_and_a_rerun_adds_nothing(
    uow_factory: partial[UnitOfWork], org: Organisation, export: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "WRITE_CHUNK", 37)  # many chunks, and a last one part full
    directory, written = export
    assert import_directory(uow_factory, directory, check=config_key_check(org)) == written
    stored = counts(uow_factory)
    for name, rows in written.items():
        assert stored[importer.SPECS[name].table.__tablename__] == rows, name
    assert import_directory(uow_factory, directory, check=config_key_check(org)) == dict.fromkeys(written, 0)
    assert counts(uow_factory) == {**stored, "events": 2}


def test_a_bad_last_row_after_written_chunks_leaves_nothing(
    uow_factory: partial[UnitOfWork], org: Organisation, export: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other file (and most of contacts.csv) is written in chunks before the last row
    is read; its problem rolls the whole transaction back (all or nothing, on both databases)."""
    monkeypatch.setattr(importer, "WRITE_CHUNK", 50)
    directory, written = export
    with (directory / "contacts.csv").open("a", encoding="utf-8") as f:
        f.write("7000001,31/02/2026,N1\n")
    last_row = written["contacts.csv"] + 2  # the header is row 1
    before = counts(uow_factory)
    with pytest.raises(ImportError_) as caught:
        import_directory(uow_factory, directory, check=config_key_check(org))
    assert str(caught.value) == f"contacts.csv row {last_row}, column contact_date: is not a date: use YYYY-MM-DD or DD/MM/YYYY (got '31/02/2026')"
    assert counts(uow_factory) == before
    with uow_factory() as uow:
        assert uow.session.scalars(select(Event)).first() is None


def test_problems_beyond_the_kept_ones_are_counted(
    uow_factory: partial[UnitOfWork], export: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export wrong on every row does not fill memory with problems: the first are kept, the rest counted."""
    monkeypatch.setattr(importer, "MAX_KEPT_ERRORS", 30)
    directory, _ = export
    lines = (directory / "cases.csv").read_text(encoding="utf-8").splitlines()
    (directory / "cases.csv").write_text("\n".join([lines[0], *(line.replace(",CIN,", ",NOPE,") for line in lines[1:])]) + "\n")
    with pytest.raises(ImportError_) as caught:
        import_directory(uow_factory, directory)
    bad = sum(",CIN," in line for line in lines)
    assert len(caught.value.errors) == 30 and caught.value.dropped == bad - 30
    assert f"{bad} problems in the CSV files:" in str(caught.value)
    assert f"... and {bad - importer.MAX_LISTED_ERRORS} more" in str(caught.value)
