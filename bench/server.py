"""A real `returns-service serve --workers N` process, and the CPU and memory its processes
use, read from /proc so that the load generator's own CPU never counts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
SERVE = str(Path(sys.executable).parent / "returns-service")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.extend(int(child) for child in children)
    return found


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids.extend(_tree(child))
    return pids


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / TICKS


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    workers: int

    def pids(self) -> list[int]:
        return _tree(self.process.pid)

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (uvicorn's workers; the server itself with one)."""
        pids = self.pids()
        return pids[1:] if len(pids) > 1 else pids

    def cpu_seconds(self) -> float:
        """CPU (user + system) used so far by every process of the server."""
        total = 0.0
        for pid in self.pids():
            with suppress(FileNotFoundError):
                total += _cpu_seconds(pid)
        return total

    def peak_rss_mb(self) -> list[float]:
        return [_peak_rss_mb(pid) for pid in self.worker_pids()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve(database_url: str, secret: str, workers: int) -> Iterator[Server]:
    """Serve on a free port until the block ends; no background sweep or relay (their work
    would count as the requests' CPU), and no access log."""
    port = _free_port()
    env = {
        **os.environ,
        "RETURNS_DATABASE_URL": database_url,
        "RETURNS_JWT_SECRET": secret,
        "RETURNS_SWEEP_INTERVAL_SECONDS": "0",
        "RETURNS_RELAY_INTERVAL_SECONDS": "0",
        "RETURNS_LOG_LEVEL": "warning",
    }
    # A process group of its own: the server, its workers and their helpers end together.
    process = subprocess.Popen(
        [SERVE, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        start_new_session=True,
    )
    server = Server(process, f"http://127.0.0.1:{port}", workers)
    try:
        _wait_until_answering(server, port, workers)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_answering(server: Server, port: int, workers: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("the server stopped while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                if workers == 1 or len(server.pids()) > workers:
                    time.sleep(1.0)  # every worker through its lifespan
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer in time")
