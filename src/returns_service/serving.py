"""What each `serve` worker process runs: its logging, then the app."""

from __future__ import annotations

from fastapi import FastAPI

from returns_service.app import create_app
from returns_service.config import get_settings
from returns_service.observability.logs import configure_logging


def create_served_app() -> FastAPI:
    """uvicorn's factory: each worker (a process of its own) configures its own logging."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
