"""PostgreSQL for the bench: its own databases, plain psql, and the server's statement log."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
# The server's own log (Debian's pg_ctlcluster), where log_statement writes.
PG_LOG = Path(os.environ.get("BENCH_PG_LOG", "/var/log/postgresql/postgresql-15-main.log"))
# Every database the bench makes (and drops) is named after this: two benches on one
# PostgreSQL (people sharing a machine) each set their own, or they drop each other's data.
DATABASE_PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "returns_bench")


def psql(sql: str, database: str = "postgres", *, quiet: bool = True) -> str:
    """Run SQL through psql (stops at the first error); answer its unaligned output."""
    result = subprocess.run(
        ["psql", "-h", PG_HOST, "-U", PG_USER, "-d", database, "-v", "ON_ERROR_STOP=1", "-Atq"],
        input=sql,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr.strip()}")
    return result.stdout if quiet else result.stdout + result.stderr


def recreate_database(name: str) -> str:
    """A fresh, empty database of this name; answer its asyncpg URL."""
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:5432/{name}"


def drop_database(name: str) -> None:
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class StatementLog:
    """Count the statements PostgreSQL runs for one database, from its own log.

    `log_statement = all` is set on the database (sessions opened afterwards log every
    statement they run: simple queries as `statement:`, prepared ones as `execute`), and the
    lines written for it between `start` and `count` are counted.
    """

    database: str
    _offset: int = 0

    def switch_on(self) -> None:
        psql(f"ALTER DATABASE {self.database} SET log_statement = 'all'")

    def switch_off(self) -> None:
        psql(f"ALTER DATABASE {self.database} RESET log_statement")

    def start(self) -> None:
        self._offset = PG_LOG.stat().st_size

    def lines(self) -> list[str]:
        with PG_LOG.open("rb") as log:
            log.seek(self._offset)
            text = log.read().decode("utf-8", "replace")
        marker = f"@{self.database} LOG:  "
        return [
            line.split(marker, 1)[1]
            for line in text.splitlines()
            if marker in line
            and (
                line.split(marker, 1)[1].startswith("statement: ")
                or line.split(marker, 1)[1].startswith("execute ")
            )
        ]

    def count(self) -> int:
        return len(self.lines())
