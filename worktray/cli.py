"""The ``worktray`` command: run, db upgrade, import, case show.

    worktray run [--http] [--host H] [--port N] [--script FILE]
    worktray db upgrade
    worktray import DIRECTORY          (keys checked against WORKTRAY_CONFIG when that file exists)
    worktray demo reset                (a demo database only: empty it and load the demo cases again)
    worktray case show PERSON_ID [--json]
    worktray person restrict PERSON_ID [--off]   restrict a record (or lift it); its open requests' cards turn neutral
    worktray events verify [--head H]  check the event log's hash chain: any event changed or removed (exit 1)
    worktray outbox                    undelivered chat messages: pending and failing, with the last error
    worktray outbox retry ID|--all     try again now
    worktray outbox drop ID            stop retrying (the row is kept for the record, not deleted)
    worktray jobs [list]               every scheduled job: its schedule, next run and last recorded run
    worktray jobs run radar|agenda [--team T] [--at ISO] [--redraw]
                                       run one now for its period (idempotent: a period already run is left alone)
    worktray jobs run audits [--team T] [--at ISO]
                                       raise the three-month audits due now (C13; idempotent: one open audit per case)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worktray.frozen_imports import frozen_imports

with frozen_imports():  # issue 9: SQLAlchemy's import without garbage-collector passes (worktray.frozen_imports)
    from sqlalchemy.exc import DBAPIError

    from workflows.errors import ConfigError
    from worktray.db_errors import check_url, database_errors, kind_of, unreachable
    from worktray.errors import StartupError
    from worktray.quick_settings import ENV_FILE, QuickSettings, quick_settings

# Issue 9: `worktray case show` starts in well under a second. Each command imports what it
# needs (alembic only to migrate, Slack and the scheduler only to run), so a short command
# does not pay for the others; tests/test_cli.py checks that importing this module stays light.
# `case show` reads its settings without pydantic-settings (worktray.quick_settings).
if TYPE_CHECKING:
    from bot.cards import Card
    from store.uow import UnitOfWork
    from workflows.org import Organisation
    from worktray.settings import Settings

log = logging.getLogger("worktray")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args.func)  # a value pydantic refuses: one line per setting (exit 2)
        logging.basicConfig(level=_log_level(settings.log_level), format="%(asctime)s %(levelname)s %(name)s %(message)s")
        # alembic is imported lazily now, after logging is set up: its import-time plugin notes stay quiet, as before
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        check_url(settings.database_url)  # every command uses the database: an unreadable URL is one line, not a traceback
        return int(args.func(args, settings) or 0)
    except (ConfigError, StartupError) as e:  # a line per problem (per refused setting, per config line), no traceback
        for line in str(e).splitlines() or [""]:
            print(f"worktray: {line}", file=sys.stderr)
        return e.code if isinstance(e, StartupError) else 2


def _log_level(value: str) -> str:
    """LOG_LEVEL as logging names it (in any case: `info` is INFO); else a ``StartupError``
    (exit 2) naming the setting, not logging's ValueError traceback."""
    level = value.strip().upper()
    if level not in logging.getLevelNamesMapping():
        shown = repr(value) if len(value) <= 40 else repr(value[:37] + "...")
        raise StartupError(f"LOG_LEVEL: not a log level; use DEBUG, INFO, WARNING, ERROR or CRITICAL (it is {shown})", code=2)
    return level


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

    demo_cmd = sub.add_parser("demo", help="the fictitious demo organisation")
    demo_sub = demo_cmd.add_subparsers(required=True, metavar="ACTION")
    reset = demo_sub.add_parser("reset", help="empty a demo database and load the demo cases again (refuses any other)")
    reset.set_defaults(func=cmd_demo_reset)

    case = sub.add_parser("case", help="look at a case")
    case_sub = case.add_subparsers(required=True, metavar="ACTION")
    show = case_sub.add_parser("show", help="a person's cases, requests and events")
    show.add_argument("person_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_case_show)

    person = sub.add_parser("person", help="a person's record")
    person_sub = person.add_subparsers(required=True, metavar="ACTION")
    restrict = person_sub.add_parser("restrict", help="mark a record restricted (channels show only 'a restricted record needs your action')")
    restrict.add_argument("person_id")
    restrict.add_argument("--off", action="store_true", help="lift the restriction")
    restrict.set_defaults(func=cmd_person_restrict)

    events = sub.add_parser("events", help="the append-only event log")
    events_sub = events.add_subparsers(required=True, metavar="ACTION")
    verify = events_sub.add_parser("verify", help="walk the hash chain: name any event changed, removed or reordered")
    verify.add_argument("--head", help="a head hash noted from an earlier verify: it must still be in the chain")
    verify.set_defaults(func=cmd_events_verify)

    outbox = sub.add_parser("outbox", help="chat messages not delivered yet: list, retry, drop")
    outbox.set_defaults(func=cmd_outbox_list)
    outbox_sub = outbox.add_subparsers(metavar="ACTION")
    outbox_sub.add_parser("list", help="pending and failing messages (the default)").set_defaults(func=cmd_outbox_list)
    retry = outbox_sub.add_parser("retry", help="make a message (or --all) due now")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("id", type=int, nargs="?", help="the outbox row's ID (see `worktray outbox`)")
    which.add_argument("--all", action="store_true", help="every undelivered message")
    retry.set_defaults(func=cmd_outbox_retry)
    drop = outbox_sub.add_parser("drop", help="stop retrying a message; it is kept for the record, not deleted")
    drop.add_argument("id", type=int)
    drop.set_defaults(func=cmd_outbox_drop)

    jobs = sub.add_parser("jobs", help="the scheduled jobs: list them, run one now")
    jobs.set_defaults(func=cmd_jobs_list)
    jobs_sub = jobs.add_subparsers(metavar="ACTION")
    jobs_sub.add_parser("list", help="every scheduled job, its schedule, next and last run (the default)").set_defaults(func=cmd_jobs_list)
    run_job = jobs_sub.add_parser("run", help="run a job now for its period; a period already run is not posted again")
    run_job.add_argument("job", choices=["radar", "agenda", "audits"])
    run_job.add_argument("--team", help="one team (default: every team with the job scheduled)")
    run_job.add_argument("--at", type=_aware, help="as if now were this time (ISO; no offset: Europe/London)")
    run_job.add_argument("--redraw", action="store_true", help="a period already posted: draw its card again, in place")
    run_job.set_defaults(func=cmd_jobs_run)
    return parser


def _settings(command: Any) -> Settings | QuickSettings:
    """Full, validated settings; a command that needs only the database and the log level gets
    them without pydantic-settings (issue 9), unless the .env file leaves one without a value.
    A .env file that is not text in the locale's encoding is one line (exit 2), not a traceback."""
    try:
        if command in _QUICK and (quick := quick_settings()) is not None:
            return quick
        from worktray.settings import load_settings

        return load_settings()
    except UnicodeDecodeError as e:  # only the .env file is decoded (python-dotenv, the locale's encoding)
        raise StartupError(f"{ENV_FILE}{_first_undecodable_line(Path(ENV_FILE), e.encoding)}: not {e.encoding} text: "
                           f"save the .env file as {e.encoding}", code=2) from None


NEWLINE = b"\n"


def _first_undecodable_line(path: Path, encoding: str) -> str:
    """", line N" where ``path`` stops decoding (python-dotenv decodes it in chunks, so the error's
    own offset may be a chunk's), or "" if it cannot be told."""
    try:
        path.read_bytes().decode(encoding)
    except UnicodeDecodeError as e:
        return f", line {e.object[: e.start].count(NEWLINE) + 1}"
    except (OSError, LookupError):
        pass
    return ""


def _uow_factory(settings: Settings | QuickSettings) -> partial[UnitOfWork]:
    from store.db import make_engine, make_session_factory
    from store.uow import UnitOfWork

    return partial(UnitOfWork, make_session_factory(make_engine(settings.database_url)))


def upgrade(database_url: str) -> None:
    """Migrate the schema (alembic is imported only by the commands that migrate).

    A database that cannot be reached (wrong host, port or password in DATABASE_URL, a SQLite
    path that cannot be opened) is one line naming where, as for the other commands
    (``worktray.db_errors``); a migration step's own failure keeps its traceback."""
    from store.migrate import upgrade as migrate

    try:
        migrate(database_url)
    except DBAPIError as e:
        if e.statement is not None:  # connected, and a step of a migration failed
            raise
        raise StartupError(unreachable(database_url, kind_of(e))) from None


def make_engine(database_url: str) -> Any:
    from store.db import make_engine as engine

    return engine(database_url)


def load_organisation(path: str | Path) -> Organisation:
    from workflows.org import load_organisation as load

    return load(path)


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
    from worktray import demo
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
    return bool(ids - demo.demo_person_ids())


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("database schema is up to date")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    use_slack = bool(settings.slack_bot_token) and not args.console
    if use_slack:
        from worktray.serve import serve_slack

        return serve_slack(settings, load_org(settings), http=args.http, host=args.host, port=args.port)
    from worktray.console_main import serve_console

    return serve_console(settings, load_org(settings, fallback_to_demo=True), script=args.script)


def cmd_demo_reset(args: argparse.Namespace, settings: Settings) -> int:
    """Start the console demo again. Safe by construction: it needs the demo organisation
    (no WORKTRAY_CONFIG of a council) and a database holding demo people only."""
    from worktray import demo
    from worktray.console_main import is_demo

    configured = Path(settings.worktray_config).exists() or "worktray_config" in settings.model_fields_set
    org = load_org(settings) if configured else load_organisation(demo.DEMO_ORG)  # demo.reset checks the people
    if not is_demo(org):
        print(f"worktray demo reset: {settings.worktray_config} is not the demo organisation; nothing was reset", file=sys.stderr)
        return 1
    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(settings.database_url)
    try:
        demo.reset(settings.database_url)
    except demo.NotADemoStore as e:
        print(f"worktray demo reset: {e}", file=sys.stderr)
        return 1
    print("the demo is reset: its cases are open again and nothing has been requested")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a CSV export, checking its team and person keys against the organisation config if there is one.

    The config is loaded before anything touches the database, so an invalid
    config (exit 2) changes nothing. Without a config file the import still
    runs (a first load before the config is written), with a warning.
    """
    from store.importer import ImportError_, import_directory
    from workflows.importing import config_key_check

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
        check = config_key_check(org) if org is not None else None
        report = import_directory(_uow_factory(settings), args.directory, check=check)
    except ImportError_ as e:
        print(f"worktray import: {e}", file=sys.stderr)
        print("nothing was imported", file=sys.stderr)
        return 1
    for name, count in report.items():
        print(f"{name}: {count} rows")
    _after_import(settings)
    if org is not None and "contacts.csv" in report:
        _consider_contacts(settings, org)
    return 0


def _after_import(settings: Settings) -> None:
    """C13: the imported open cases get their three-month audit due dates."""
    from workflows.clock import SystemClock, local_today
    from workflows.importing import after_import

    with _uow_factory(settings)() as uow:
        filled = after_import(uow, local_today(SystemClock()))
    if filled:
        print(f"three-month audits: due dates set for {filled} open cases")


def _consider_contacts(settings: Settings, org: Organisation) -> None:
    """C12: imported contacts within 3 months of a closure go to the previous team's managers."""
    from workflows import reopen
    from workflows.clock import SystemClock
    from workflows.requests import Context

    with _uow_factory(settings)() as uow:
        for line in reopen.consider_contacts(uow, Context(org=org, clock=SystemClock())):
            print(line)


def cmd_case_show(args: argparse.Namespace, settings: Settings | QuickSettings) -> int:
    with frozen_imports():  # the models: SQLAlchemy's declarative classes and tables
        from worktray.case_report import case_report, format_report

    with database_errors(settings.database_url), _uow_factory(settings)(readonly=True) as uow:  # SQLite: no wait for a writer's lock
        report = case_report(uow, args.person_id)
    if report is None:
        print(f"worktray: there is no person {args.person_id}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0


def cmd_person_restrict(args: argparse.Namespace, settings: Settings) -> int:
    """Issue 8: restrict a record (or lift it, ``--off``) without a CSV import; the event log says so."""
    from workflows import access
    from workflows.clock import SystemClock
    from workflows.errors import WorkflowError
    from workflows.requests import Context

    ctx = Context(org=load_org(settings, fallback_to_demo=True), clock=SystemClock())
    try:
        with database_errors(settings.database_url), _uow_factory(settings)() as uow:
            said = access.set_restricted(uow, ctx, args.person_id, not args.off, source="cli:person restrict")
    except WorkflowError as e:
        print(f"worktray: {e}", file=sys.stderr)
        return 1
    print(said)
    return 0


# -- the event log, for an operator ----------------------------------------------------


def cmd_events_verify(args: argparse.Namespace, settings: Settings | QuickSettings) -> int:
    """Walk the event log's hash chain (store.eventlog): OK with the count, or each broken link.

    Event IDs only, never an event's content (it can name people). Exit 1 when broken.
    """
    from store.db import make_session_factory
    from store.eventlog import verify

    engine = make_engine(settings.database_url)
    try:
        with database_errors(settings.database_url):
            found = verify(make_session_factory(engine), expect_head=args.head)
    finally:
        engine.dispose()
    if found.ok:
        print(f"OK: {found.count} event(s), the hash chain is unbroken. Head hash: {found.head}")
        print("Note it outside worktray; `worktray events verify --head HASH` later checks the log still holds it.")
        return 0
    for event_id, problem in found.problems:
        print(f"event {event_id}: {problem}")
    print(f"BROKEN: {len(found.problems)} problem(s) in {found.count} event(s); the log was changed outside worktray.")
    return 1


# -- the outbox, for an operator -------------------------------------------------------


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "now"


def cmd_outbox_list(args: argparse.Namespace, settings: Settings | QuickSettings) -> int:
    """The messages the deliverer has not delivered: IDs, places and error codes only (no message text)."""
    from bot.deliver import dropped_count, undelivered

    with database_errors(settings.database_url), _uow_factory(settings)() as uow:
        rows = undelivered(uow)
        dropped = dropped_count(uow)
        failing = sum(1 for r in rows if r.attempts)
        lines = [
            f"{r.id:>6}  {r.kind:<5} {r.channel:<12} {r.card_key or '-':<36} {r.attempts:>8}  {_when(r.next_attempt_at):<23}  {r.error or '-'}"
            for r in rows
        ]
    if not lines:
        print("The outbox is empty: every message has been delivered.")
    else:
        print(f"{len(lines)} message(s) not delivered yet, {failing} of them failing:")
        print(f"{'ID':>6}  {'KIND':<5} {'CHANNEL':<12} {'CARD':<36} {'ATTEMPTS':>8}  {'NEXT ATTEMPT':<23}  LAST ERROR")
        print("\n".join(lines))
        print("Retry now with `worktray outbox retry ID` (or --all); stop one with `worktray outbox drop ID`.")
    if dropped:
        print(f"{dropped} dropped message(s) are kept for the record and not retried.")
    return 0


def cmd_outbox_retry(args: argparse.Namespace, settings: Settings | QuickSettings) -> int:
    from bot.deliver import retry_now

    with database_errors(settings.database_url), _uow_factory(settings)() as uow:
        ids = retry_now(uow, None if args.all else args.id)
    if not ids:
        what = "no undelivered messages" if args.all else f"no undelivered message {args.id}"
        print(f"worktray: there {'are' if args.all else 'is'} {what}", file=sys.stderr)
        return 0 if args.all else 1
    print(f"{len(ids)} message(s) due now: {', '.join(map(str, ids))}. The running bot sends them within a minute.")
    return 0


def cmd_outbox_drop(args: argparse.Namespace, settings: Settings | QuickSettings) -> int:
    from bot.deliver import drop

    with database_errors(settings.database_url), _uow_factory(settings)() as uow:
        row = drop(uow, args.id, _now())
    if row is None:
        print(f"worktray: there is no undelivered message {args.id}", file=sys.stderr)
        return 1
    print(f"Dropped message {args.id}: it will not be retried. It is kept in the outbox for the record, not deleted.")
    return 0




# -- scheduled jobs (T2 radar, T3 agenda) ----------------------------------------------------------


def _now() -> dt.datetime:
    from workflows.clock import SystemClock

    return SystemClock().now()


def _aware(value: str) -> dt.datetime:
    """An ISO time for --at; without an offset it is London time (D4)."""
    from workflows.clock import LONDON

    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {value!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=LONDON)


def cmd_jobs_list(args: argparse.Namespace, settings: Settings) -> int:
    """Every job of the scheduler (built as `worktray run` builds it, not started): its schedule,
    its next run (London time) and its last recorded run ("—" for a job that keeps none)."""
    from worktray.bootstrap import build
    from worktray.scheduler import build_scheduler, job_lines

    org = load_org(settings, fallback_to_demo=True)
    now = _now()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # "adding job tentatively", once per job
    app = build(settings.database_url, org, _NoChat(), migrate=False)
    lines = job_lines(build_scheduler(app), now)
    last = _last_runs(app.uow, [line.record for line in lines])
    width = max(len(line.id) for line in lines) + 2
    print(f"{'JOB':<{width}} {'SCHEDULE (Europe/London)':<36} {'NEXT RUN':<22} LAST RUN")
    for line, ran in zip(lines, last, strict=True):
        print(f"{line.id:<{width}} {line.schedule:<36} {line.next_run:<22} {ran}")
    print("Run one now with `worktray jobs run radar|agenda|audits [--team T] [--at ISO]`.")
    return 0


class _NoChat:
    """Listing jobs sends nothing: the scheduler is built, never started."""

    def post(self, channel: str, card: Card) -> str:
        raise RuntimeError("`worktray jobs list` sends no chat")

    def update(self, channel: str, message_id: str, card: Card) -> None:
        raise RuntimeError("`worktray jobs list` sends no chat")

    def direct(self, user: str, card: Card) -> str:
        raise RuntimeError("`worktray jobs list` sends no chat")


def _last_runs(uow_factory: partial[UnitOfWork], records: list[tuple[tuple[str, str], ...] | None]) -> list[str]:
    """Each job's latest recorded run, London time, with the period it stood for; "never" if none
    yet, "—" for a job that keeps no record, "?" where the database cannot say (no schema yet)."""
    from workflows.clock import LONDON

    shown = []
    try:
        with uow_factory() as uow:
            for keys in records:
                run = uow.latest_run(keys) if keys is not None else None
                if keys is None:
                    shown.append("—")
                elif run is None:
                    shown.append("never")
                else:
                    shown.append(f"{run.ran_at.astimezone(LONDON):%a %Y-%m-%d %H:%M} (for {run.period})")
    except DBAPIError:
        return ["—" if keys is None else "?" for keys in records]
    return shown


def cmd_jobs_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run a digest now for the period due at --at (default now); the running bot delivers it."""
    from workflows.clock import SystemClock
    from workflows.requests import Context
    from worktray.scheduler import run_digest, scheduled_jobs

    org = load_org(settings, fallback_to_demo=True)
    if args.team is not None:
        try:
            org.team(args.team)
        except KeyError:
            print(f"worktray: there is no team {args.team!r}; teams: {', '.join(t.key for t in org.teams)}", file=sys.stderr)
            return 1
        teams = [args.team]
    else:
        teams = [p.team for p in scheduled_jobs(org) if p.job == args.job]
    ctx = Context(org=org, clock=SystemClock())
    uow = _uow_factory(settings)
    if args.job == "audits":
        return _run_audits(uow, org, args.team, args.at)
    for team in teams:
        outcome = run_digest(uow, ctx, args.job, team, args.at, redraw=args.redraw)
        print(f"{args.job} for {team}: {outcome}")
    return 0


def _run_audits(uow_factory: partial[UnitOfWork], org: Organisation, team: str | None, at: dt.datetime | None) -> int:
    """C13: raise the audits due within each team's notice, as of --at (default now); the running bot delivers the cards."""
    from workflows import audits
    from workflows.clock import FixedClock, SystemClock
    from workflows.requests import Context

    ctx = Context(org=org, clock=FixedClock(at) if at is not None else SystemClock())
    with uow_factory() as uow:
        raised = audits.raise_due_audits(uow, ctx, [team] if team is not None else None)
    print(f"audits: {raised} raised" + (f" for {team}" if team else ""))
    return 0

# Commands that read no setting but the database URL and the log level: main() gives them
# worktray.quick_settings, without importing pydantic-settings (issue 9).
_QUICK = (cmd_case_show, cmd_events_verify, cmd_outbox_list, cmd_outbox_retry, cmd_outbox_drop)


if __name__ == "__main__":
    sys.exit(main())

