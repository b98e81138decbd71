"""The folder `serve`'s workers share for their metrics (prometheus-client multiprocess mode).

Standard library only: the parent process sets the folder up before anything imports
prometheus-client, which picks its mode from the environment when first imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """One folder where every worker of this `serve` keeps its metrics, empty at the start.

    prometheus-client picks its multiprocess mode when it is first imported, from the
    environment, so this must run before any worker imports the app. An operator's own
    PROMETHEUS_MULTIPROC_DIR is used (and emptied: counters restart with the server, as
    Prometheus expects); otherwise a temporary folder is made and removed at the end.
    """
    configured = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield directory
        return
    directory = Path(tempfile.mkdtemp(prefix="returns-metrics-"))
    os.environ[MULTIPROCESS_DIR_VARIABLE] = str(directory)
    try:
        yield directory
    finally:
        del os.environ[MULTIPROCESS_DIR_VARIABLE]
        shutil.rmtree(directory, ignore_errors=True)
