"""Carrier webhooks as they were received: each webhook-id is acted on once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from returns_service.models.base import Base, JSONType, UtcDateTime


class CarrierDeliveryRow(Base):
    """One verified logistics webhook.

    The primary key is the sender's webhook-id, so a second delivery of the same webhook finds
    its receipt and is answered without acting again. `shop_id` is the shop of the returns it
    matched, or null while the tracking number belongs to no return (or to several shops).
    """

    __tablename__ = "carrier_deliveries"
    __table_args__ = (
        Index("ix_carrier_deliveries_tracking_number", "tracking_number"),
        Index("ix_carrier_deliveries_shop_received", "shop_id", "received_at"),
    )

    webhook_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    shop_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    matched: Mapped[bool] = mapped_column(Boolean)
    # Ids of the returns whose timelines the event joined, in the order they were acted on.
    matched_returns: Mapped[list[str]] = mapped_column(JSONType)
