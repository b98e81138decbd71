"""The statistics answer, as API.md ("Statistics") defines it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class GroupBy(StrEnum):
    CATEGORY = "category"
    REGION = "region"
    SKU = "sku"
    REASON = "reason"
    DAY = "day"


class RefundTotal(BaseModel):
    currency: str
    count: int
    amount: int = Field(description="Minor units of this currency")


class Durations(BaseModel):
    count: int
    median_seconds: int | None
    p90_seconds: int | None
    approximate: bool = Field(
        description="Read from histograms: within 5% of the exact nearest-rank percentile"
    )


class FirstResponse(Durations):
    within_2h_share: float | None = Field(description="Share answered within 7,200 seconds")


class ReasonShare(BaseModel):
    reason: str
    count: int
    share: float


class Group(BaseModel):
    key: str | None = Field(
        description="The category, region, sku, reason or UTC day (YYYY-MM-DD); null for "
        "orders that name no region"
    )
    orders: int | None
    orders_with_returns: int | None
    return_rate: float | None
    units_sold: int | None
    units_returned: int | None
    returns: int


class Statistics(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    shop_id: str | None
    from_: datetime = Field(alias="from")
    to: datetime
    orders: int = Field(description="Orders paid in the window")
    orders_with_returns: int
    return_rate: float | None
    units_sold: int
    units_returned: int
    returns: int = Field(description="Returns applied for in the window")
    by_status: dict[str, int]
    disputes: int
    dispute_rate: float | None
    refunds: list[RefundTotal]
    processing_time: Durations
    first_response: FirstResponse
    approximate: bool = Field(
        description="Some figure is approximate: a percentile read from histograms (within 5% "
        "of the exact one), or repurchase_impact counted over a stable sample of the buyers "
        "(a window with more orders than the service counts buyer by buyer)"
    )
    reasons: list[ReasonShare]
    automatic_actions: int
    repurchase_impact: float | None = Field(
        description="Returning buyers' repurchase rate over everyone's; over a large window, "
        "counted over a stable uniform sample of the buyers (then `approximate` is true)"
    )
    groups: list[Group]
