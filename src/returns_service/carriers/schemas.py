"""Carrier tracking events as carriers send them, and what the service answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from returns_service.returns.schemas import Carrier, TrackingNumber
from returns_service.timestamps import Timestamp

# A literal rather than rules.parcels.ParcelEvent so that the request schema, which the route
# documents by hand (it reads the raw body to check the signature), has no $ref to resolve.
ParcelEventName = Literal[
    "picked_up", "in_transit", "delivered", "refused", "returned_to_sender", "exception"
]


class LogisticsEvent(BaseModel):
    """One tracking event of one parcel."""

    # Carriers add fields over time; a field we do not know must not make them retry forever.
    model_config = ConfigDict(extra="ignore", title="LogisticsEvent")

    carrier: Carrier = Field(examples=["SF"])
    tracking_number: TrackingNumber = Field(examples=["SF1234567890"])
    event: ParcelEventName
    occurred_at: Timestamp = Field(description="When the carrier saw it happen")


class LogisticsReceipt(BaseModel):
    """What became of a verified event."""

    webhook_id: str
    duplicate: bool = Field(
        description="This webhook-id was received before: answered again, not acted on again"
    )
    matched: bool = Field(description="The tracking number belongs to at least one return")
    matched_returns: list[str] = Field(
        description="Ids of the returns whose timelines the event joined"
    )
