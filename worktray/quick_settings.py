"""The settings a short command needs (database URL, log level), read without pydantic-settings.

Issue 9: ``worktray case show`` should start in a fraction of a second, and
importing pydantic-settings (with pydantic and its core schema) costs about as
much as the rest of the command's imports bar SQLAlchemy. A command that needs
only the database and the log level reads them here, the way
``worktray.settings.Settings`` reads them: the environment first (names in any
case, as pydantic-settings matches them), then the ``.env`` file in the current
directory (parsed by python-dotenv, as pydantic-settings parses it), then the
defaults below, which ``Settings`` uses too (one source of names and defaults).
tests/test_cli.py checks both readers agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from store.db import DEFAULT_DATABASE_URL

ENV_FILE = ".env"
DEFAULT_LOG_LEVEL = "INFO"


@dataclass(frozen=True)
class QuickSettings:
    """What ``Settings`` would hold for these two fields (the rest is not read)."""

    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = DEFAULT_LOG_LEVEL


def quick_settings() -> QuickSettings | None:
    """The two fields as ``Settings()`` would read them; None where only ``Settings`` can say
    (a ``.env`` line that names a field without a value: ``Settings`` refuses it with its message)."""
    found: dict[str, str] = {}
    sources = [_environment()]
    if Path(ENV_FILE).is_file():
        sources.append(_env_file(Path(ENV_FILE)))
    for name in ("database_url", "log_level"):
        for source in sources:
            if name in source:
                value = source[name]
                if value is None:
                    return None
                found[name] = value
                break
    return QuickSettings(**found)


def _environment() -> dict[str, str | None]:
    return {key.lower(): value for key, value in os.environ.items()}  # pydantic-settings: case_sensitive=False


def _env_file(path: Path) -> dict[str, str | None]:
    from dotenv import dotenv_values  # what pydantic-settings reads .env with; only when there is one

    # encoding=None: as pydantic-settings calls it when env_file_encoding is not set (the locale's)
    return {key.lower(): value for key, value in dotenv_values(path, encoding=None).items()}
