"""Alembic, driven from code: ``worktray db upgrade`` and the tests call ``upgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text

from store.db import make_engine, normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at url up to the newest schema (idempotent)."""
    command.upgrade(alembic_config(url), revision)


def recreate(url: str) -> None:
    """Drop every table and migrate from nothing: the one way to empty a database.

    The event log refuses DELETE and TRUNCATE (migration 0009), so a store is
    never emptied row by row; dropping the tables takes their triggers with them.
    Only the demo does this (``worktray demo reset``), never a council's store.
    """
    engine = make_engine(url)
    try:
        tables = MetaData()
        tables.reflect(engine)
        with engine.begin() as conn:
            tables.drop_all(conn)
            if conn.dialect.name == "postgresql":
                conn.execute(text("DROP FUNCTION IF EXISTS events_append_only()"))
                conn.execute(text("DROP FUNCTION IF EXISTS events_chain_head(bigint)"))
    finally:
        engine.dispose()
    upgrade(url)
