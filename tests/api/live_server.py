"""The real app served by uvicorn over TCP, for tests that need truly parallel requests.

ASGITransport runs every request in the test's own event loop; a real server accepts each
connection on its own, so simultaneous requests race on the database as they would in
production: PostgreSQL row locks, SQLite's BEGIN IMMEDIATE queue.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from returns_service.app import create_app
from returns_service.config import Settings
from returns_service.slow_clients import with_header_deadline

STARTUP_TIMEOUT_SECONDS = 20.0


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Serve the app with these settings on a free local port; yield its base URL."""
    app = create_app(settings)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=5,
        # Many simultaneous connections queue in the kernel, not in an error.
        backlog=512,
        http=with_header_deadline(settings.client_timeout_seconds),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the test server stopped while starting; see its log")
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start in time")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listener.close()
