"""What each `serve` worker process runs: its logging, then the app."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from returns_service.app import create_app
from returns_service.config import get_settings
from returns_service.observability.logs import configure_logging


def create_served_app() -> FastAPI:
    """uvicorn's factory: each worker (a process of its own) configures its own logging."""
    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    # Everything built so far (modules, routes, models, validators: ~160,000 objects) lives as
    # long as the process. Out of the collector's sight, a full collection no longer walks
    # them all: under load that walk cost about 5% of an approve's CPU. Served workers only:
    # a test process builds many apps, which must stay collectable.
    gc.freeze()
    return app
