"""Real processes for the failure drills: the service, and a private PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx

PG_BIN = Path(os.environ.get("RETURNS_DRILL_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVICE = Path(sys.executable).parent / "returns-service"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServiceProcess:
    """`returns-service serve` on a port of its own, logging to a file."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = {**os.environ, **env}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log: IO[bytes] | None = None
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, startup_seconds: float = 30.0) -> None:
        self._log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            str(SERVICE),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + startup_seconds
        async with httpx.AsyncClient() as client:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"the service exited while starting: {self.log()}")
                try:
                    if (await client.get(f"{self.url}/healthz", timeout=1)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    # Not left running (its workers with it) for the rest of the suite.
                    self.kill()
                    await self.wait()
                    raise RuntimeError(f"the service did not start in time: {self.log()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def wait(self) -> None:
        assert self.process is not None
        await self.process.wait()
        if self._log is not None:
            self._log.close()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=20)
        except TimeoutError:
            self.kill()
        await self.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a port of its own.

    initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="returns-drill-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self._as_user: list[str] = []
        self._owned()

    @staticmethod
    def unavailable_reason() -> str | None:
        if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
            return f"no initdb/pg_ctl under {PG_BIN} (set RETURNS_DRILL_PG_BIN)"
        if os.geteuid() == 0 and (shutil.which("runuser") is None or not _user_exists("postgres")):
            return "running as root without runuser or a postgres user: initdb refuses root"
        return None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/returns"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_user, *command], check=True, capture_output=True, timeout=120)

    def _owned(self) -> None:
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o755)

    def create(self) -> None:
        # wal_level=replica (the default, said out loud) lets a streaming replica follow it;
        # initdb's pg_hba.conf trusts replication connections from 127.0.0.1.
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N"
        )
        self.start()
        self.sql("CREATE DATABASE returns", database="postgres")

    def replica(self) -> PostgresCluster:
        """A hot standby of this cluster on a port of its own, streaming from it: a base
        backup taken with `pg_basebackup -R` (which writes standby.signal and the
        primary_conninfo), then started."""
        replica = PostgresCluster()
        replica._run(
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-D",
            str(replica.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        replica.start()
        return replica

    def sql(self, statement: str, database: str = "returns") -> str:
        """Run one statement with psql; its unaligned, tuples-only output."""
        completed = subprocess.run(
            [
                *self._as_user,
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-Atc",
                statement,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return completed.stdout.strip()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c wal_level=replica"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.logfile),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
