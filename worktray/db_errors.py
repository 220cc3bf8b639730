"""Why a ``worktray`` command could not use the database, in one line an IT team can act on.

A command that reads or writes the store (``case show``, ``events verify``, ``outbox``,
``person restrict``) gets a DBAPI error for quite different reasons, each with its own
remedy, and saying "run `worktray db upgrade`" for all of them sent people the wrong way:

* the database server cannot be reached (not running, wrong host or port, refused
  credentials): no statement was ever run. The message names the host and port;
* the database has no worktray schema (no ``alembic_version`` table) or an older one:
  ``worktray db upgrade`` is the remedy;
* the schema is worktray's newest and the database still answered with an error (a table
  changed outside worktray, a missing permission): the message says so, and not to upgrade.

The last two are told apart by asking the database again once the command has failed
(connect, read ``alembic_version``): only on the error path, so a command that succeeds pays
nothing, and alembic is imported only to compare an existing revision with the newest.

Messages carry the error's class only: never the password, the SQL or its parameters (which
can name people), nor the driver's own text.

Before any of that, ``check_url`` refuses a DATABASE_URL that SQLAlchemy cannot read at all
(``worktray.cli.main`` asks it for every command, each of which uses the database), or one
whose driver is not installed (MySQL, SQL Server, Oracle: worktray supports SQLite and PostgreSQL
with psycopg 3): one line naming the setting, never the URL itself, which may hold a password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from worktray.errors import StartupError

DEFAULT_PORTS = {"postgresql": 5432}


@contextmanager
def database_errors(database_url: str) -> Iterator[None]:
    """Turn a DBAPI error inside the block into a ``StartupError`` saying which of the three it is.

    ``worktray.cli.main`` prints it as one line and exits 1, as for any other failure that
    is not a config error (exit 2)."""
    try:
        yield
    except DBAPIError as e:
        raise StartupError(explain(database_url, e)) from None


URL_FORM = "postgresql://USER:PASSWORD@HOST:PORT/NAME or sqlite:///PATH"
SUPPORTED = "SQLite and PostgreSQL (postgresql://... with psycopg 3)"


def check_url(database_url: str) -> None:
    """A ``StartupError`` (exit 2, a setting to correct) unless ``database_url`` is a URL SQLAlchemy
    can read, names a kind of database it knows and a driver that is installed; what was wrong,
    never the URL itself."""
    from store.db import normalise_url  # postgres:// is read as worktray reads it (psycopg 3)

    remedy = f"write it as {URL_FORM}"
    try:
        url = make_url(normalise_url(database_url))
    except ArgumentError:  # not NAME://… at all
        problem = "is not a database URL"
    except ValueError:  # SQLAlchemy reads the port with int()
        problem = "is not a database URL (its port is not a number)"
    else:
        try:
            url.get_dialect().import_dbapi()  # the driver too, as create_engine imports it
        except NoSuchModuleError:  # its name is letters, digits and "+" only: nothing secret
            problem = f"names a kind of database SQLAlchemy does not know ({url.drivername})"
        except ImportError:  # mysql://, mssql://, oracle://, postgresql+psycopg2://: a driver worktray does not install
            problem = f"names {url.drivername}, whose driver is not installed"
            remedy = f"worktray supports {SUPPORTED}; {remedy}"
        else:
            return
    raise StartupError(f"DATABASE_URL {problem}: {remedy}", code=2)


class _Unreachable(Exception):
    """The probe could not connect either."""


def explain(database_url: str, error: DBAPIError) -> str:
    """The one line for ``error``, raised by a command using the database at ``database_url``."""
    if error.statement is None:  # raised while connecting: no statement was run
        return unreachable(database_url, kind_of(error))
    try:
        revision = _schema_revision(database_url)
    except _Unreachable as e:
        return unreachable(database_url, str(e))
    except DBAPIError:  # connected, yet cannot even read alembic_version: say what the command met
        revision = _UNKNOWN
    where = place(database_url)
    if revision is None:
        return f"the database {where} has no worktray schema yet: run `worktray db upgrade`"
    if revision != _UNKNOWN and revision not in _newest_revisions(database_url):
        return f"the database {where} has an older worktray schema ({revision}): run `worktray db upgrade`"
    return (
        f"the database {where} answered with an error ({kind_of(error)}) although its worktray schema is the newest: "
        "a table may have been changed outside worktray, or the database user lacks a permission"
    )


_UNKNOWN = "?"


def unreachable(database_url: str, kind: str) -> str:
    """Could not connect: where to (host and port, or the SQLite file), never the password."""
    if _backend(database_url) == "sqlite":
        return f"could not open the database {place(database_url)} ({kind}): check the path in DATABASE_URL and its permissions"
    return (
        f"could not connect to the database {place(database_url)} ({kind}): "
        "check that the server is running and that DATABASE_URL names its host, port and credentials"
    )


def place(database_url: str) -> str:
    """Where the database is, fit for a message: ``NAME on HOST:PORT``, or ``file PATH`` on SQLite."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return "named by DATABASE_URL"
    backend = url.get_backend_name()
    if backend == "sqlite":
        return f"file {url.database}" if url.database not in (None, "", ":memory:") else "in memory"
    host = url.host or "localhost"
    port = url.port or DEFAULT_PORTS.get(backend)
    return f"{url.database or '(default)'} on {host}" + (f":{port}" if port else "")


def kind_of(error: DBAPIError) -> str:
    """The driver's error class (e.g. ``UndefinedColumn``), else SQLAlchemy's: no message text."""
    return type(error.orig).__name__ if error.orig is not None else type(error).__name__


def _backend(database_url: str) -> str:
    try:
        return make_url(database_url).get_backend_name()
    except ArgumentError:
        return ""


def _schema_revision(database_url: str) -> str | None:
    """The revision in ``alembic_version`` (None without that table); ``_Unreachable`` if no connection."""
    from sqlalchemy import inspect, text

    from store.db import READ_ONLY, make_engine

    engine = make_engine(database_url)
    try:
        try:
            conn = engine.connect().execution_options(**{READ_ONLY: True})  # SQLite: wait for no writer
        except DBAPIError as e:
            raise _Unreachable(kind_of(e)) from None
        with conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
            return str(revision) if revision is not None else None
    finally:
        engine.dispose()


def _newest_revisions(database_url: str) -> set[str]:
    from alembic.script import ScriptDirectory

    from store.migrate import alembic_config

    return set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
