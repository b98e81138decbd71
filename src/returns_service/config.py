"""Settings from the environment, all prefixed RETURNS_."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Settled outbox events older than this are removed by the sweep.
DEFAULT_OUTBOX_RETENTION_DAYS = 30


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETURNS_", extra="ignore")

    # Unset: a SQLite file in the working folder, so a newcomer needs no server.
    database_url: str = "sqlite+aiosqlite:///./returns.db"
    jwt_secret: str = Field(default="change-me-in-production-at-least-32-bytes", min_length=16)
    logistics_secret: str = "whsec_" + "Y2hhbmdlLW1lLWxvZ2lzdGljcy1zZWNyZXQ="
    # A streaming replica of the PostgreSQL database: lists and other pure reads go to it
    # while its lag stays within replica_max_lag_seconds (checked every
    # replica_check_interval_seconds), otherwise to the primary. Unset: everything on the primary.
    database_replica_url: str | None = None
    replica_max_lag_seconds: float = Field(default=5.0, ge=0)
    replica_check_interval_seconds: float = Field(default=1.0, gt=0)
    # Connections per process; PostgreSQL only (SQLite serializes writers anyway). No overflow
    # by default: under load, connections opened beyond the pool and closed again right after
    # cost more CPU (TCP, startup) than the requests they serve; requests beyond the pool
    # wait for a connection instead (at most database_timeout_seconds, then 503).
    database_pool_size: int = 20
    database_max_overflow: int = 0
    # Seconds a request may wait for the database before it is answered 503.
    database_timeout_seconds: float = 10.0
    max_body_bytes: int = 1024 * 1024
    # A client gets this long to send each request's headers, and then its body; stalled
    # longer, it is cut off (no route, lock or connection is held while it stalls).
    client_timeout_seconds: float = Field(default=30.0, gt=0)
    # One header value longer than this is refused as problem+json (431); far longer ones
    # never reach the application (the HTTP parser answers 400 itself).
    max_header_bytes: int = Field(default=8192, ge=1024)
    # How long an Idempotency-Key answers with its first response; the sweep then removes it.
    idempotency_ttl_seconds: int = Field(default=86400, ge=1)
    # How long a claimed key is held for its running request before another may take it over:
    # longer than any request runs (and the stored answer is fenced by the claim anyway).
    idempotency_lease_seconds: float = Field(default=60.0, gt=0)
    # Each sweep removes outbox events older than this that are settled (fanned out, every
    # delivery delivered or cancelled), with their deliveries; parked ones stay for replay.
    outbox_retention_days: int = Field(default=DEFAULT_OUTBOX_RETENTION_DAYS, ge=1)
    # The server's own deadline sweep; 0 switches it off (for a dedicated `sweep` worker).
    sweep_interval_seconds: float = 5.0
    # Outbound webhooks. The server relays on its own every few seconds; 0 switches it off
    # (for a dedicated `relay` worker). Retries back off exponentially with full jitter from
    # the base delay, capped at the max delay; after max attempts a delivery is parked.
    relay_interval_seconds: float = 1.0
    relay_base_delay_seconds: float = 1.0
    relay_max_delay_seconds: float = 3600.0
    relay_max_attempts: int = Field(default=12, ge=1)
    # One delivery's HTTP call, start to end.
    relay_timeout_seconds: float = Field(default=10.0, gt=0)
    # A claimed delivery is the claimer's for this long; longer than the timeout, so a live
    # relay always finishes first, and a killed relay's claim lapses and is retried.
    relay_lease_seconds: float = Field(default=30.0, gt=0)
    # Deliveries one relay sends at once (and claims per pass).
    relay_concurrency: int = Field(default=16, ge=1)
    # Retry-After beyond this is not waited for longer than this.
    relay_max_retry_after_seconds: float = 86400.0
    # Webhooks go to public addresses only: URLs on loopback, private, link-local, ... hosts
    # are refused when subscribed, and the relay refuses to connect to a host that resolves to
    # one. True only for tests and local development against a receiver on 127.0.0.1.
    webhook_allow_private_targets: bool = False
    # Repurchase impact is counted over every buyer of a window while the window holds at most
    # this many orders; beyond, over a stable sample of buyers (rules.sampling) holding about
    # this many, and the answer says "approximate": its cost stays bounded however big the shop.
    repurchase_sample_orders: int = Field(default=4000, ge=1)
    log_level: str = "INFO"
    # Worker processes of `returns-service serve`; unset: one per CPU.
    workers: int | None = Field(default=None, ge=1)
    # When set, GET /metrics requires it as a bearer token.
    metrics_token: str | None = None
    # How long `serve` keeps an idle client connection open: longer than the load balancer in
    # front keeps its own (often 60 s), or a request it sends on one may meet the close.
    keep_alive_seconds: int = Field(default=75, ge=1)
    # On SIGTERM, `serve` stops accepting and gives requests in flight this long to finish.
    shutdown_grace_seconds: int = Field(default=30, ge=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
