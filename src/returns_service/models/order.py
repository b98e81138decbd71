"""Orders registered by storefronts, and their lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from returns_service.models.base import Base, JSONType, UtcDateTime


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_id", "id"),
        Index("ix_orders_tracking_number", "tracking_number"),
        # Statistics: orders paid in a window, and each buyer's orders in time.
        Index("ix_orders_shop_paid", "shop_id", "paid_at", "buyer_id"),
        Index("ix_orders_shop_buyer_paid", "shop_id", "buyer_id", "paid_at"),
        # Repurchase impact over a sample of buyers: a window's orders bucket by bucket.
        Index("ix_orders_shop_bucket_paid", "shop_id", "buyer_bucket", "paid_at", "buyer_id"),
    )

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    buyer_id: Mapped[str] = mapped_column(String(64), index=True)
    # rules.sampling.buyer_bucket(buyer_id): which sample of buyers the buyer belongs to.
    buyer_bucket: Mapped[int] = mapped_column(SmallInteger)
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    shipping_fee: Mapped[int] = mapped_column(BigInteger)
    shipping_insurance: Mapped[bool] = mapped_column(Boolean)
    buyer_region: Mapped[str | None] = mapped_column(String(32))
    # The outbound parcel, so a carrier's "refused" can settle a refund-only return.
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    lines: Mapped[list[OrderLineRow]] = relationship(
        lazy="raise",
        order_by="OrderLineRow.position",
        cascade="all, delete-orphan",
    )


class OrderLineRow(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "order_id"], ["orders.shop_id", "orders.id"], ondelete="CASCADE"
        ),
    )

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(64))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType)
