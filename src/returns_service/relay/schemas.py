"""Webhook deliveries as the operator API speaks them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

DeliveryStatus = Literal["pending", "delivered", "parked", "cancelled"]


class WebhookDeliveryOut(BaseModel):
    id: str = Field(description="Also the webhook-id header of every attempt.")
    shop_id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus = Field(
        description="pending (to be tried), delivered, parked (out of attempts: an operator "
        "may replay it), cancelled (the endpoint answered 410 Gone)"
    )
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None
