"""Fan events out to subscriptions, claim due deliveries, record how each attempt went.

Each function runs inside a transaction its caller commits: a claim is committed before
the HTTP call it allows, and an outcome after it.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.config import Settings
from returns_service.models import WebhookDeliveryRow
from returns_service.outbox.events import matches
from returns_service.relay import repository
from returns_service.relay.backoff import retry_delay
from returns_service.relay.repository import CANCELLED, DELIVERED, PARKED, PENDING

GONE_REASON = "the endpoint answered 410 Gone: subscription disabled"


@dataclass(frozen=True)
class Claim:
    """One attempt this relay may make, and everything it needs to make it."""

    delivery_id: str
    shop_id: str
    claim_token: str
    attempt: int
    url: str
    secret: str
    body: str
    # The request that made the event: sent as X-Request-Id.
    request_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    error: str | None = None
    retry_after_seconds: float | None = None
    # Trying again cannot help (the URL's host is not a public address): parked at once; an
    # operator may replay it once the subscriber has fixed its DNS.
    permanent: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def lease_seconds(settings: Settings) -> float:
    """Long enough that a live relay always finishes its HTTP call within the lease."""
    return max(settings.relay_lease_seconds, settings.relay_timeout_seconds + 5)


def body_of(payload: dict[str, object]) -> str:
    """The bytes every attempt sends; key order is fixed so retries send the same body."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


async def fan_out(session: AsyncSession, now: datetime, limit: int) -> int:
    """Turn the oldest new events into one pending delivery per matching subscription.

    A subscription receives the events that happen after it was made.
    """
    events = await repository.events_to_fan_out(session, limit)
    if not events:
        return 0
    subscriptions = await repository.enabled_subscriptions_for(
        session, {event.shop_id for event in events}
    )
    deliveries = []
    for event in events:
        for subscription in subscriptions:
            if (
                subscription.shop_id in (None, event.shop_id)
                and subscription.created_at <= event.created_at
                and matches(list(subscription.events), event.type)
            ):
                deliveries.append(
                    WebhookDeliveryRow(
                        shop_id=event.shop_id,
                        id=str(uuid.uuid4()),
                        subscription_id=subscription.id,
                        event_id=event.id,
                        event_type=event.type,
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
        event.fanned_out_at = now
    await repository.add_deliveries(session, deliveries)
    return len(events)


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, settings: Settings
) -> list[Claim]:
    """Take up to `limit` due deliveries for this relay until the lease runs out.

    The attempt is counted now: a relay that dies mid-call has used an attempt, and the
    delivery is tried again once its lease lapses.
    """
    rows = await repository.due_deliveries(session, now, limit)
    if not rows:
        return []
    events = await repository.events_by_id(session, {row.event_id for row in rows})
    subscriptions = await repository.subscriptions_by_id(
        session, {row.subscription_id for row in rows}
    )
    claimed_until = now + timedelta(seconds=lease_seconds(settings))
    claims = []
    for row in rows:
        row.updated_at = now
        subscription = subscriptions.get(row.subscription_id)
        event = events.get(row.event_id)
        if subscription is None or not subscription.enabled or event is None:
            row.status = CANCELLED
            row.last_error = "the subscription is disabled"
            continue
        row.claim_token = str(uuid.uuid4())
        row.claimed_until = claimed_until
        row.attempts += 1
        row.last_attempt_at = now
        claims.append(
            Claim(
                delivery_id=row.id,
                shop_id=row.shop_id,
                claim_token=row.claim_token,
                attempt=row.attempts,
                url=subscription.url,
                secret=subscription.secret,
                body=body_of(event.payload),
                request_id=event.request_id,
            )
        )
    await session.flush()
    return claims


async def record_outcome(
    session: AsyncSession,
    claim: Claim,
    outcome: Outcome,
    settings: Settings,
    now: datetime,
    rng: random.Random | None = None,
) -> str | None:
    """Write down how the attempt went; the delivery's status after it, or None when this
    relay no longer holds the claim (its lease lapsed and another relay took over, or the
    subscription went away meanwhile)."""
    row = await repository.claimed_delivery(
        session, claim.shop_id, claim.delivery_id, claim.claim_token
    )
    if row is None:
        return None
    row.claim_token = None
    row.claimed_until = None
    row.last_status_code = outcome.status_code
    row.last_error = outcome.error[:1000] if outcome.error else None
    row.updated_at = now
    if outcome.delivered:
        row.status = DELIVERED
        row.delivered_at = now
    elif outcome.gone:
        row.status = CANCELLED
        await _disable_subscription(session, row.subscription_id, now)
    elif outcome.permanent or row.attempts >= settings.relay_max_attempts:
        row.status = PARKED
    else:
        delay = retry_delay(
            row.attempts,
            settings.relay_base_delay_seconds,
            settings.relay_max_delay_seconds,
            rng,
        )
        if outcome.retry_after_seconds is not None:
            asked = min(outcome.retry_after_seconds, settings.relay_max_retry_after_seconds)
            delay = max(delay, asked)
        row.next_attempt_at = now + timedelta(seconds=delay)
    await session.flush()
    return row.status


async def _disable_subscription(session: AsyncSession, subscription_id: str, now: datetime) -> None:
    subscription = await repository.find_subscription(session, subscription_id, for_update=True)
    if subscription is not None and subscription.enabled:
        subscription.enabled = False
        subscription.disabled_reason = GONE_REASON
        subscription.disabled_at = now
        subscription.updated_at = now
    await session.flush()
    await repository.cancel_pending(session, subscription_id, GONE_REASON, now)
