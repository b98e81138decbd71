"""Run the relay: one pass (`relay_once`), a loop in the server, a loop in its own process.

A pass fans new events out, claims due deliveries (the claim is committed before any HTTP
call), sends them at once, and records each outcome in its own short transaction. Relays
may run side by side on one database: claims skip rows another relay holds, and a claim
whose relay died lapses and is taken again, so every attempt is made at least once and,
while its relay lives, at most once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service.config import Settings
from returns_service.models.base import utcnow
from returns_service.observability.metrics import WEBHOOK_DELIVERIES
from returns_service.observability.request_context import request_scope
from returns_service.relay import dispatch
from returns_service.relay.dispatch import Claim
from returns_service.relay.guard import public_only_transport
from returns_service.relay.repository import CANCELLED, DELIVERED, PARKED, PENDING
from returns_service.relay.sender import send

logger = logging.getLogger(__name__)

FAN_OUT_BATCH = 500


@dataclass
class RelayReport:
    fanned_out: int = 0
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        """More may be waiting right now: go again without sleeping."""
        return self.fanned_out >= FAN_OUT_BATCH or self.claimed > 0


def http_client(settings: Settings) -> httpx.AsyncClient:
    """The relay's client: no redirects, no proxies from the environment, and (unless
    RETURNS_WEBHOOK_ALLOW_PRIVATE_TARGETS) connections to public addresses only."""
    limits = httpx.Limits(max_connections=settings.relay_concurrency * 2)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.relay_timeout_seconds),
        follow_redirects=False,
        limits=limits,
        trust_env=False,
        transport=None if settings.webhook_allow_private_targets else public_only_transport(limits),
    )


async def relay_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    client: httpx.AsyncClient,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> RelayReport:
    """One pass. `now` pins the clock (tests); otherwise each step reads it afresh."""
    report = RelayReport()
    async with sessionmaker() as session, session.begin():
        report.fanned_out = await dispatch.fan_out(session, now or utcnow(), FAN_OUT_BATCH)
    async with sessionmaker() as session, session.begin():
        claims = await dispatch.claim_due(
            session, now or utcnow(), settings.relay_concurrency, settings
        )
    report.claimed = len(claims)
    statuses = await asyncio.gather(
        *(_attempt(sessionmaker, settings, client, claim, now, rng) for claim in claims),
        return_exceptions=True,
    )
    for status in statuses:
        if isinstance(status, BaseException):
            # Not written down (the database failed us): the claim lapses and is retried.
            logger.warning("could not record a delivery attempt: %r", status)
            key = "unrecorded"
        else:
            key = status or "lost"
        report.outcomes[key] = report.outcomes.get(key, 0) + 1
        WEBHOOK_DELIVERIES.labels(_OUTCOME_LABELS.get(key, key)).inc()
    return report


# The metric's outcome names for a delivery's status after an attempt (recorded, committed).
_OUTCOME_LABELS = {
    DELIVERED: "delivered",
    PENDING: "retry",
    PARKED: "parked",
    CANCELLED: "gone",
    "lost": "lost_claim",
    "unrecorded": "unrecorded",
}


async def _attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    client: httpx.AsyncClient,
    claim: Claim,
    now: datetime | None,
    rng: random.Random | None,
) -> str | None:
    # Logged under the id of the request that made the event (each attempt runs in a task
    # of its own, so this context is its alone).
    with request_scope(claim.request_id):
        outcome = await send(client, claim, settings.relay_timeout_seconds)
        async with sessionmaker() as session, session.begin():
            return await dispatch.record_outcome(
                session, claim, outcome, settings, now or utcnow(), rng
            )


async def run_relay(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: asyncio.Event,
    interval_seconds: float,
) -> None:
    """Relay until `stop` is set; a pass in progress finishes first. Database outages are
    logged and waited out."""
    async with http_client(settings) as client:
        while not stop.is_set():
            busy = False
            try:
                report = await relay_once(sessionmaker, settings, client)
                busy = report.busy
            except Exception as error:
                logger.warning("relay pass failed: %s: %s", type(error).__name__, error)
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)


class BackgroundRelay:
    """The server's own relay loop, started and stopped with the app."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._stop = asyncio.Event()
        self._grace = settings.relay_timeout_seconds + 5
        self._task = asyncio.create_task(
            run_relay(sessionmaker, settings, self._stop, settings.relay_interval_seconds),
            name="webhook-relay",
        )

    async def stop(self) -> None:
        """Let the pass in progress finish (its calls are bounded by the timeout), then end.
        Calls cut short leave claims that lapse and are retried."""
        self._stop.set()
        try:
            await asyncio.wait_for(self._task, timeout=self._grace)
        except TimeoutError:
            logger.warning("the relay did not stop in time; its claims will lapse")
        except Exception:
            logger.exception("the relay ended with an error")


def start_background_relay(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> BackgroundRelay | None:
    """The server's relay, or None when RETURNS_RELAY_INTERVAL_SECONDS is 0."""
    if settings.relay_interval_seconds <= 0:
        return None
    return BackgroundRelay(sessionmaker, settings)


# The `relay` command's pause between idle passes when the server's own interval is 0 (off).
STANDALONE_INTERVAL_SECONDS = 1.0


async def run_relay_process(settings: Settings, *, once: bool) -> RelayReport | None:
    """`returns-service relay`: relay until SIGTERM or SIGINT (a pass in progress finishes),
    or make one pass with `once` and print what it did."""
    from returns_service.db import create_engine, create_sessionmaker

    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        if once:
            async with http_client(settings) as client:
                report = await relay_once(sessionmaker, settings, client)
            print(
                f"fanned out {report.fanned_out} events, made {report.claimed} attempts: "
                + (
                    ", ".join(f"{n} {status}" for status, n in sorted(report.outcomes.items()))
                    or "nothing due"
                )
            )
            return report
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
        interval = settings.relay_interval_seconds or STANDALONE_INTERVAL_SECONDS
        logger.info("relaying webhooks every %ss until SIGTERM", interval)
        await run_relay(sessionmaker, settings, stop, interval)
        return None
    finally:
        await engine.dispose()
