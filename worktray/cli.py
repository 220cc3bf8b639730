"""The ``worktray`` command: run, db upgrade, import, case show.

    worktray run [--http] [--port N] [--script FILE]
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="worktray", description="Case closures and transfers through chat.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot (Slack if tokens are set, otherwise the console)")
    run.add_argument("--http", action="store_true", help="Slack over HTTP (/slack/events) instead of Socket Mode")
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
    path = Path(settings.worktray_config)
    if not path.exists() and fallback_to_demo:
        from worktray.demo import DEMO_ORG

        return load_organisation(DEMO_ORG)
    return load_organisation(path)


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("database schema is up to date")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    use_slack = bool(settings.slack_bot_token) and not args.console
    if use_slack:
        from bot.slack_app import serve

        return serve(settings, load_org(settings), http=args.http, port=args.port)
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
    if org is not None and "contacts.csv" in report:
        _consider_contacts(settings, org)
    return 0


def _consider_contacts(settings: Settings, org: Organisation) -> None:
    """C12: imported contacts within 3 months of a closure go to the previous team's managers."""
    from workflows import reopen
    from workflows.clock import SystemClock
    from workflows.requests import Context

    with _uow_factory(settings)() as uow:
        for line in reopen.consider_contacts(uow, Context(org=org, clock=SystemClock())):
            print(line)


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
