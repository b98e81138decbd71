"""Run Alembic from the service itself: `returns-service migrate`, readiness, the tests."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def migrations_dir() -> Path:
    """Where the migration scripts are: set explicitly, beside the source tree, or in ./"""
    configured = os.environ.get("RETURNS_MIGRATIONS_DIR")
    candidates = [Path(configured)] if configured else []
    candidates += [Path(__file__).resolve().parents[2] / "migrations", Path.cwd() / "migrations"]
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("no migrations folder found; set RETURNS_MIGRATIONS_DIR")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade_to_head(database_url: str) -> None:
    """Bring the database to the newest schema. Runs its own event loop: call it from sync code."""
    command.upgrade(alembic_config(database_url), "head")


@lru_cache
def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory(str(migrations_dir())).get_heads())


def _current_revisions(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def current_and_head(engine: AsyncEngine) -> tuple[frozenset[str], frozenset[str]]:
    """The revisions the database is at, and the newest ones this code knows."""
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_revisions)
    return current, head_revisions()
