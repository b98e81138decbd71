"""Webhook subscriptions as the API speaks them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from returns_service.fields import Identifier
from returns_service.outbox.events import EVENT_TYPES, matches_some_event

EventPattern = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z_.*?\[\]]+$",
        description="An event type or a glob over event types: " + ", ".join(EVENT_TYPES),
        examples=["return.*", "return.refunded"],
    ),
]


class WebhookSubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(
        description="Where events are POSTed (http or https). Public hosts only: localhost "
        "and loopback, private, link-local, multicast, reserved or unspecified IP addresses "
        "(IPv4, IPv6, IPv4-mapped) are refused with 422 validation_error; a name that "
        "resolves to one is refused when the event is sent (the delivery is parked)."
    )
    events: list[EventPattern] = Field(min_length=1, max_length=32, examples=[["return.*"]])
    shop_id: Identifier | None = Field(
        default=None,
        description="A merchant's subscriptions are for its own shop (this may be left out). "
        "The platform names a shop, or leaves it null for every shop.",
    )
    description: str | None = Field(default=None, max_length=500)

    @field_validator("events")
    @classmethod
    def _each_pattern_names_some_event(cls, events: list[str]) -> list[str]:
        unknown = [pattern for pattern in events if not matches_some_event(pattern)]
        if unknown:
            raise ValueError(f"no event type matches {', '.join(unknown)}")
        return list(dict.fromkeys(events))


class WebhookSubscriptionOut(BaseModel):
    id: str
    shop_id: str | None = Field(description="null: every shop")
    url: str
    events: list[str]
    description: str | None
    enabled: bool = Field(description="false once the endpoint answered 410 Gone")
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookSubscriptionCreated(WebhookSubscriptionOut):
    secret: str = Field(
        description="The whsec_ signing secret (Standard Webhooks). Shown in this answer only."
    )


class WebhookSubscriptionPage(BaseModel):
    items: list[WebhookSubscriptionOut]
    next_cursor: str | None
