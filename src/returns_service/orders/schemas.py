"""Orders as storefronts register them and callers read them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from returns_service.fields import Currency, Identifier, Money
from returns_service.timestamps import Timestamp

MAX_ORDER_TOTAL = 10**15


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: Identifier
    sku: str = Field(min_length=1, max_length=128)
    title: str = Field(min_length=1, max_length=500)
    category: str = Field(min_length=1, max_length=64)
    unit_price: Money
    quantity: int = Field(strict=True, ge=1, le=100_000)
    attributes: dict[
        Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=256)]
    ] = Field(default_factory=dict, max_length=50)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: Identifier
    buyer_id: Identifier
    currency: Currency
    paid_at: Timestamp | None = None
    shipped_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    shipping_fee: Money = 0
    shipping_insurance: bool = Field(default=False, strict=True)
    buyer_region: str | None = Field(default=None, max_length=32)
    carrier: str | None = Field(
        default=None, min_length=1, max_length=64, description="Carrier of the outbound parcel"
    )
    tracking_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9\-]+$",
        description="Tracking number of the outbound parcel; carrier events on it reach the "
        "order's refund-only returns",
    )
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _lines_are_unique(self) -> OrderIn:
        ids = [line.line_id for line in self.lines]
        if len(ids) != len(set(ids)):
            raise ValueError("line_id must be unique within an order")
        return self

    @model_validator(mode="after")
    def _total_fits(self) -> OrderIn:
        # Refunds and their sums are stored as 64-bit integers; each line alone may fit while
        # the order does not.
        total = sum(line.unit_price * line.quantity for line in self.lines) + self.shipping_fee
        if total > MAX_ORDER_TOTAL:
            raise ValueError(f"the order total may be at most {MAX_ORDER_TOTAL} minor units")
        return self


class OrderLineOut(BaseModel):
    line_id: str
    sku: str
    title: str
    category: str
    unit_price: int
    quantity: int
    attributes: dict[str, str]
    returnable: int = Field(description="Units not yet held by a return that has not ended")


class OrderOut(BaseModel):
    order_id: str
    shop_id: str
    buyer_id: str
    currency: str
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    shipping_fee: int
    shipping_insurance: bool
    buyer_region: str | None
    carrier: str | None
    tracking_number: str | None
    lines: list[OrderLineOut]
    created_at: datetime
    updated_at: datetime
