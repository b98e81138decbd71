"""The shop return policy as the API reads and writes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from returns_service.durations import format_duration, parse_duration
from returns_service.fields import ReturnAddressIn, ReturnAddressOut
from returns_service.rules.facts import PLATFORM_DEFAULTS
from returns_service.shapes import ResponseShape


def _valid_duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[
    str,
    Field(
        max_length=32,
        pattern=r"^P",
        description="ISO 8601 duration of weeks, days and time, e.g. PT48H or P7D",
        examples=["PT48H"],
    ),
    AfterValidator(_valid_duration),
]
Category = Annotated[str, Field(min_length=1, max_length=64)]


class AbuseThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # strict throughout: JSON true/false or 1.5 are not counts (pydantic alone would coerce).
    returns: int = Field(
        default=PLATFORM_DEFAULTS.abuse_threshold.returns, strict=True, ge=1, le=10_000
    )
    days: int = Field(default=PLATFORM_DEFAULTS.abuse_threshold.days, strict=True, ge=1, le=3650)


class AbuseThresholdOut(ResponseShape):
    returns: int
    days: int


class ReturnPolicyIn(BaseModel):
    """A whole policy; fields left out take the platform default."""

    # Every default comes from the rules' PLATFORM_DEFAULTS: one source for the API, the
    # shops without a policy row, and the rules' own tests.

    model_config = ConfigDict(extra="forbid")

    window_days: int = Field(default=PLATFORM_DEFAULTS.window_days, strict=True, ge=0, le=3650)
    defect_window_days: int = Field(
        default=PLATFORM_DEFAULTS.defect_window_days, strict=True, ge=0, le=3650
    )
    extra_excluded_categories: list[Category] = Field(default_factory=list, max_length=100)
    restocking_fee_percent: int = Field(
        default=PLATFORM_DEFAULTS.restocking_fee_percent, strict=True, ge=0, le=100
    )
    review_timeout: Duration = format_duration(PLATFORM_DEFAULTS.review_timeout)
    ship_timeout: Duration = format_duration(PLATFORM_DEFAULTS.ship_timeout)
    receive_timeout: Duration = format_duration(PLATFORM_DEFAULTS.receive_timeout)
    escalation_timeout: Duration = format_duration(PLATFORM_DEFAULTS.escalation_timeout)
    offer_timeout: Duration = format_duration(PLATFORM_DEFAULTS.offer_timeout)
    auto_refund_unshipped: bool = Field(
        default=PLATFORM_DEFAULTS.auto_refund_unshipped, strict=True
    )
    fast_refund: bool = Field(default=PLATFORM_DEFAULTS.fast_refund, strict=True)
    abuse_threshold: AbuseThresholdIn = Field(default_factory=AbuseThresholdIn)
    return_address: ReturnAddressIn | None = Field(
        default=None,
        description="The shop's default return address: used when an approval names none, "
        "and when the review timer approves for the shop.",
    )
    legal_excluded_categories: list[Category] | None = Field(
        default=None,
        description="Read-only: may be sent back as read, never shortened.",
    )


class ReturnPolicyOut(BaseModel):
    shop_id: str
    window_days: int
    defect_window_days: int
    extra_excluded_categories: list[str]
    legal_excluded_categories: list[str]
    restocking_fee_percent: int
    review_timeout: str
    ship_timeout: str
    receive_timeout: str
    escalation_timeout: str
    offer_timeout: str
    auto_refund_unshipped: bool
    fast_refund: bool
    abuse_threshold: AbuseThresholdOut
    return_address: ReturnAddressOut | None
    version: int
    updated_at: datetime | None
