"""Settings from the environment (and a .env file), validated with pydantic-settings.

Short commands read the database URL and log level through ``worktray.quick_settings``
instead (issue 9: no pydantic import); its defaults are these fields' defaults.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import DEFAULT_DATABASE_URL
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
