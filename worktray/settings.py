"""Settings from the environment (and a .env file), validated with pydantic-settings.

Short commands read the database URL and log level through ``worktray.quick_settings``
instead (issue 9: no pydantic import); its defaults are these fields' defaults.

``load_settings`` is how the ``worktray`` command reads them: a value pydantic refuses is
one line per setting, naming its environment variable (exit 2, a setting to correct), never
pydantic's traceback, and never the value of a setting that can hold a secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import DEFAULT_DATABASE_URL
from worktray.errors import StartupError
from worktray.quick_settings import DEFAULT_LOG_LEVEL, ENV_FILE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    worktray_config: str = "worktray.yml"
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None  # set: Socket Mode
    slack_api_base_url: str | None = None  # a local mock of Slack's Web API, in tests
    log_level: str = DEFAULT_LOG_LEVEL
    # HTTP mode: worker threads answering Slack; the PostgreSQL pool is sized to match (threads + 2).
    worktray_http_threads: int = Field(default=8, ge=1, le=64)


# A setting whose name holds one of these may hold a secret (a token, a signing secret, a URL
# with a password in it): a message about it never shows its value.
SECRET_WORDS = ("token", "secret", "password", "url", "key")


def load_settings(**values: Any) -> Settings:
    """``Settings()``, or a ``StartupError`` (exit 2) with one line per setting pydantic refused
    or named in .env without a value."""
    valueless = valueless_in_env_file()
    if valueless:
        raise StartupError("\n".join(f"{name} in {ENV_FILE} has no value: write {name}=... or remove the line" for name in valueless), code=2)
    try:
        return Settings(**values)
    except ValidationError as e:
        raise StartupError(settings_problems(e), code=2) from None


def valueless_in_env_file() -> list[str]:
    """The settings named alone on a line of .env (``DATABASE_URL`` with no ``=``). python-dotenv
    reads such a line as no value, and pydantic-settings then uses the default as if the line were
    not there: a deployment that meant PostgreSQL would quietly run on a SQLite file in the
    working directory."""
    if not Path(ENV_FILE).is_file():
        return []
    from dotenv import dotenv_values  # pydantic-settings' own .env reader

    fields = {name.upper() for name in Settings.model_fields}
    return sorted({key.upper() for key, value in dotenv_values(ENV_FILE).items() if value is None and key.upper() in fields})


def settings_problems(error: ValidationError) -> str:
    """One line per refused setting: its environment variable, pydantic's message and, unless
    the setting may be secret, the value it was given."""
    problems: dict[str, list[str]] = {}
    given: dict[str, Any] = {}
    for err in error.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else ""
        problems.setdefault(field, [])
        if err["msg"] not in problems[field]:
            problems[field].append(err["msg"])
        given[field] = err.get("input")
    lines = []
    for field, messages in problems.items():
        name = field.upper() or "a setting"
        secret = any(word in field for word in SECRET_WORDS)
        shown = "" if secret or given[field] is None else f" (it is {_short(given[field])})"
        lines.append(f"{name}: {'; '.join(messages)}{shown}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
