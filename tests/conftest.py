"""Real databases for every test: built by the real migrations, clean for each test.

Every API test runs twice: on SQLite (the embedded default) and on PostgreSQL. PostgreSQL
tests skip with a clear message when no server answers, unless REQUIRE_POSTGRES=1 (set by
.ci/run), where they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from returns_service.migrations import upgrade_to_head
from returns_service.models import Base
from tests.shop_scoping import Unpinned, origin_of_statement, violations

ADMIN_URL = os.environ.get(
    "RETURNS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgresql")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(ADMIN_URL), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _postgres_answers() -> str | None:
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    return None


class Database:
    """A migrated database of one backend, emptied before each test."""

    def __init__(self, backend: str, url: str, template: Path | None = None) -> None:
        self.backend = backend
        self.url = url
        self.template = template

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    backend: str = request.param
    if backend == "sqlite":
        template = tmp_path_factory.mktemp("sqlite") / "template.db"
        url = f"sqlite+aiosqlite:///{template}"
        upgrade_to_head(url)
        yield Database(backend, url, template)
        return
    failure = _postgres_answers()
    if failure is not None:
        message = f"PostgreSQL is not reachable at {ADMIN_URL} ({failure})"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " and REQUIRE_POSTGRES=1", pytrace=False)
        pytest.skip(message + "; set REQUIRE_POSTGRES=1 to make this a failure")
    name = f"returns_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_to_head(url)
        yield Database(backend, url)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Children before parents, so that no foreign key is in the way.
_EMPTY_EVERY_TABLE = "; ".join(
    f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)
)


async def _empty_all(url: str) -> None:
    """Delete every row in one transaction. A TRUNCATE of every table (no table has a
    sequence to restart) took 0.1-0.4 s a test, some 4 minutes of a CI run: new files for
    each table and a commit that waits on them; the few rows a test leaves delete in ms."""
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        async with connection.transaction():
            await connection.execute(_EMPTY_EVERY_TABLE)
    finally:
        await connection.close()


@pytest.fixture
async def database(migrated_database: Database, tmp_path: Path) -> AsyncIterator[Database]:
    """A clean database for this test, with the schema the migrations built."""
    if migrated_database.is_postgres:
        await _empty_all(migrated_database.url)
        yield migrated_database
        return
    assert migrated_database.template is not None
    copy = tmp_path / "returns.db"
    shutil.copyfile(migrated_database.template, copy)
    yield Database("sqlite", f"sqlite+aiosqlite:///{copy}", copy)


@pytest.fixture(autouse=True)
def sql_names_its_shop() -> Iterator[None]:
    """Fail a test whose scenario made the service issue SQL that would fan out across every
    shard under Citus without being listed as platform-wide (see tests/shop_scoping.py)."""
    found: list[Unpinned] = []

    def check(
        _connection: object,
        _cursor: object,
        statement: str,
        _parameters: object,
        context: object,
        _executemany: bool,
    ) -> None:
        compiled = getattr(context, "compiled", None)
        if compiled is None:
            return
        origin = origin_of_statement(sys._getframe(1))
        if origin is not None:
            parameters = getattr(context, "compiled_parameters", [])
            sql = " ".join(statement.split())
            found.extend(violations(origin, compiled.statement, sql, parameters))

    event.listen(Engine, "before_cursor_execute", check)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", check)
    unique = list(dict.fromkeys(str(unpinned) for unpinned in found))
    assert not unique, "\n".join(unique)


_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave as soon as the last report is written. The whole suite leaves some 2 GB of
    objects behind (apps, engines, hypothesis data), and the interpreter's tear-down freed
    them one by one for a minute and a half after the summary, in CI's time. Nothing is
    left to run by then: every fixture is torn down and every report printed."""
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
