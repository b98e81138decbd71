"""The transactional outbox, and the webhook subscriptions and deliveries that drain it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from returns_service.models.base import Base, JSONType, UtcDateTime


class OutboxEventRow(Base):
    """An event for subscribers, written in the transaction of the change it tells of.

    `fanned_out_at` is null until a relay has turned it into one delivery per matching
    subscription; after that the row is kept as the body every retry sends.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_id", "id"),
        Index("ix_outbox_events_fan_out", "fanned_out_at", "created_at"),
        Index("ix_outbox_events_return", "shop_id", "return_id"),
    )

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    return_id: Mapped[str] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The X-Request-Id of the request (or sweep pass) that made the change; every delivery of
    # the event carries it, so a receiver's question leads to the request's log lines.
    request_id: Mapped[str | None] = mapped_column(String(64))


class WebhookSubscriptionRow(Base):
    """An endpoint that wants events. `shop_id` null: every shop (platform subscriptions only).

    The key is the id alone because a subscription to every shop has no shop; `shop_id` is
    still on every row and indexed.
    """

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_shop", "shop_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    shop_id: Mapped[str | None] = mapped_column(String(64))
    owner_role: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2083))
    # Glob patterns over event types: "return.*", "return.refunded".
    events: Mapped[list[str]] = mapped_column(JSONType)
    description: Mapped[str | None] = mapped_column(String(500))
    # "whsec_" + base64 of random bytes; the relay signs with it, so it is kept as given.
    secret: Mapped[str] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebhookDeliveryRow(Base):
    """One event to one subscription: its attempts, its next try, its fate.

    Its id is the `webhook-id` of every attempt, so receivers can tell a retry from a new
    event. A relay claims it by setting `claimed_until` and `claim_token` and committing
    before the HTTP call; only the holder of the token may record the outcome.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(["subscription_id"], ["webhook_subscriptions.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["shop_id", "event_id"],
            ["outbox_events.shop_id", "outbox_events.id"],
            ondelete="CASCADE",
        ),
        # shop_id first: Citus enforces a unique key only when it holds the distribution column.
        UniqueConstraint("shop_id", "event_id", "subscription_id"),
        Index("ix_webhook_deliveries_id", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_status_created", "status", "created_at", "id"),
        Index("ix_webhook_deliveries_subscription", "subscription_id", "status"),
    )

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    # pending, delivered, parked (out of attempts), cancelled (the endpoint is gone)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
