"""Each shop's return policy; a shop without a row has the platform defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from returns_service.models.base import Base, JSONType, UtcDateTime


class ShopPolicyRow(Base):
    __tablename__ = "shop_policies"

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_days: Mapped[int] = mapped_column(Integer)
    defect_window_days: Mapped[int] = mapped_column(Integer)
    extra_excluded_categories: Mapped[list[str]] = mapped_column(JSONType)
    restocking_fee_percent: Mapped[int] = mapped_column(Integer)
    # ISO 8601 durations, kept as the shop wrote them.
    review_timeout: Mapped[str] = mapped_column(String(32))
    ship_timeout: Mapped[str] = mapped_column(String(32))
    receive_timeout: Mapped[str] = mapped_column(String(32))
    escalation_timeout: Mapped[str] = mapped_column(String(32))
    offer_timeout: Mapped[str] = mapped_column(String(32))
    auto_refund_unshipped: Mapped[bool] = mapped_column(Boolean)
    fast_refund: Mapped[bool] = mapped_column(Boolean)
    abuse_threshold_returns: Mapped[int] = mapped_column(Integer)
    abuse_threshold_days: Mapped[int] = mapped_column(Integer)
    # Where goods go back when the review timer approves for a merchant who never answered.
    return_address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
