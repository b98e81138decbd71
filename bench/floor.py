"""The SQL floor: pgbench runs one bare transition (../shared/floor) at 64 clients."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.pg import DATABASE_PREFIX, PG_HOST, PG_USER, drop_database, psql, recreate_database

FLOOR_DIR = Path(__file__).resolve().parents[2] / "shared" / "floor"
DATABASE = f"{DATABASE_PREFIX}_floor"


@dataclass(frozen=True)
class Floor:
    clients: int
    seconds: int
    tps: float
    mean_ms: float
    p99_ms: float


def run_floor(clients: int = 64, seconds: int = 15, threads: int = 2) -> Floor:
    """pgbench on its own database; p99 from its per-transaction log."""
    recreate_database(DATABASE)
    try:
        psql((FLOOR_DIR / "schema.sql").read_text(), DATABASE)
        with tempfile.TemporaryDirectory() as folder:
            result = subprocess.run(
                [
                    "pgbench",
                    "-h",
                    PG_HOST,
                    "-U",
                    PG_USER,
                    "-n",
                    "-c",
                    str(clients),
                    "-j",
                    str(threads),
                    "-T",
                    str(seconds),
                    "-f",
                    str(FLOOR_DIR / "transition.sql"),
                    "-l",
                    "--log-prefix",
                    f"{folder}/tx",
                    DATABASE,
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=folder,
            )
            latencies = sorted(
                int(line.split()[2])
                for log in Path(folder).glob("tx*")
                for line in log.read_text().splitlines()
                if line.strip()
            )
    finally:
        drop_database(DATABASE)
    tps = float(re.search(r"tps = ([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    mean = float(re.search(r"latency average = ([\d.]+) ms", result.stdout).group(1))  # type: ignore[union-attr]
    p99 = latencies[int(len(latencies) * 0.99)] / 1000 if latencies else float("nan")
    return Floor(clients, seconds, tps, mean, p99)
