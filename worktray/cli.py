"""The ``worktray`` command: run, db upgrade, import, case show.

    worktray run [--http] [--host H] [--port N] [--script FILE]
    worktray db upgrade
    worktray import DIRECTORY          (keys checked against WORKTRAY_CONFIG when that file exists)
    worktray case show PERSON_ID [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from functools import partial
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.uow import UnitOfWork
from workflows.org import ConfigError, Organisation, load_organisation
from worktray.errors import StartupError
from worktray.settings import Settings

log = logging.getLogger("worktray")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return int(args.func(args, settings) or 0)
    except ConfigError as e:
        print(f"worktray: {e}", file=sys.stderr)
        return 2
    except StartupError as e:  # one clear line, no traceback
        print(f"worktray: {e}", file=sys.stderr)
        return e.code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="worktray", description="Case closures and transfers through chat.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot (Slack if tokens are set, otherwise the console)")
    run.add_argument("--http", action="store_true", help="Slack over HTTP (/slack/events) instead of Socket Mode")
    run.add_argument("--host", default="0.0.0.0", help="HTTP: the address to listen on (default 0.0.0.0, all)")
    run.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")
    run.add_argument("--console", action="store_true", help="the console adapter even if Slack tokens are set")
    run.add_argument("--script", type=Path, help="console: replay commands from this file, then stop")
    run.set_defaults(func=cmd_run)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(required=True, metavar="ACTION")
    db_up = db_sub.add_parser("upgrade", help="create or upgrade the schema to the newest version")
    db_up.set_defaults(func=cmd_db_upgrade)

    imp = sub.add_parser("import", help="import CSV files exported from the case system (all or nothing)")
    imp.add_argument("directory", type=Path)
    imp.set_defaults(func=cmd_import)

    case = sub.add_parser("case", help="look at a case")
    case_sub = case.add_subparsers(required=True, metavar="ACTION")
    show = case_sub.add_parser("show", help="a person's cases, requests and events")
    show.add_argument("person_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_case_show)
    return parser


def _uow_factory(settings: Settings) -> partial[UnitOfWork]:
    return partial(UnitOfWork, make_session_factory(make_engine(settings.database_url)))


def load_org(settings: Settings, fallback_to_demo: bool = False) -> Organisation:
    """The organisation config at WORKTRAY_CONFIG.

    A path that does not exist is an error when WORKTRAY_CONFIG names it. Only
    when it is not set may the console fall back to the demo organisation,
    and never on a database that holds records other than the demo's.
    """
    path = Path(settings.worktray_config)
    if path.exists():
        return load_organisation(path)
    if "worktray_config" in settings.model_fields_set:
        raise ConfigError(f"WORKTRAY_CONFIG is {path}, which does not exist")
    if not fallback_to_demo:
        raise ConfigError(f"no organisation config at {path}: write one (see the README) and set WORKTRAY_CONFIG to it")
    if holds_real_data(settings.database_url):
        raise ConfigError(
            f"no organisation config at {path}, and the database holds records that are not the demo's: "
            "set WORKTRAY_CONFIG to the council's config (the demo organisation is only for an empty or demo database)"
        )
    from worktray.demo import DEMO_ORG

    return load_organisation(DEMO_ORG)


def holds_real_data(database_url: str) -> bool:
    """Whether the database has any person who is not one of the demo's fictitious people."""
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    from store.models import Person
    from worktray.serve import shown_url

    engine = make_engine(database_url)
    try:
        if not inspect(engine).has_table(Person.__tablename__):
            return False
        with engine.connect() as conn:
            ids = set(conn.scalars(select(Person.id)))
    except SQLAlchemyError as e:
        raise StartupError(f"cannot reach the database at {shown_url(database_url)} ({type(e).__name__})") from None
    finally:
        engine.dispose()
    return bool(ids - _demo_person_ids())


def _demo_person_ids() -> set[str]:
    """The demo's person IDs, from its own seed (run in memory, so the list never drifts)."""
    from sqlalchemy import select

    from store.models import Base, Person
    from worktray import demo

    engine = make_engine("sqlite://")
    try:
        Base.metadata.create_all(engine)
        with UnitOfWork(make_session_factory(engine)) as uow:
            demo.seed(uow)
            return set(uow.session.scalars(select(Person.id)))
    finally:
        engine.dispose()


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("database schema is up to date")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    use_slack = bool(settings.slack_bot_token) and not args.console
    if use_slack:
        from worktray.serve import serve_slack

        return serve_slack(settings, load_org(settings), http=args.http, host=args.host, port=args.port)
    from bot.console import serve_console

    return serve_console(settings, load_org(settings, fallback_to_demo=True), script=args.script)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a CSV export, checking its team and person keys against the organisation config if there is one.

    The config is loaded before anything touches the database, so an invalid
    config (exit 2) changes nothing. Without a config file the import still
    runs (a first load before the config is written), with a warning.
    """
    from store.importer import ImportError_, import_directory

    org: Organisation | None = None
    if Path(settings.worktray_config).exists():
        org = load_org(settings)
    else:
        print(
            f"worktray import: warning: no organisation config at {settings.worktray_config}; "
            "team, worker and assignee keys were not checked against a config",
            file=sys.stderr,
        )
    upgrade(settings.database_url)
    try:
        report = import_directory(_uow_factory(settings), args.directory, org=org)
    except ImportError_ as e:
        print(f"worktray import: {e}", file=sys.stderr)
        print("nothing was imported", file=sys.stderr)
        return 1
    for name, count in report.items():
        print(f"{name}: {count} rows")
    return 0


def cmd_case_show(args: argparse.Namespace, settings: Settings) -> int:
    from worktray.case_report import case_report, format_report

    try:
        with _uow_factory(settings)() as uow:
            report = case_report(uow, args.person_id)
    except DBAPIError:
        print("worktray: the database has no worktray schema yet: run `worktray db upgrade`", file=sys.stderr)
        return 1
    if report is None:
        print(f"worktray: there is no person {args.person_id}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
