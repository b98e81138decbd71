"""Settings from the environment, all prefixed RETURNS_."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETURNS_", extra="ignore")

    # Unset: a SQLite file in the working folder, so a newcomer needs no server.
    database_url: str = "sqlite+aiosqlite:///./returns.db"
    jwt_secret: str = Field(default="change-me-in-production-at-least-32-bytes", min_length=16)
    logistics_secret: str = "whsec_" + "Y2hhbmdlLW1lLWxvZ2lzdGljcy1zZWNyZXQ="
    # Connections per process; PostgreSQL only (SQLite serializes writers anyway).
    database_pool_size: int = 10
    database_max_overflow: int = 20
    # Seconds a request may wait for the database before it is answered 503.
    database_timeout_seconds: float = 10.0
    max_body_bytes: int = 1024 * 1024
    # The server's own deadline sweep; 0 switches it off (for a dedicated `sweep` worker).
    sweep_interval_seconds: float = 5.0
    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    return Settings()
