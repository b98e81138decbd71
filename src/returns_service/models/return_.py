"""Returns, the items they name, and their timelines."""

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
    Text,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from returns_service.models.base import Base, JSONType, UtcDateTime

# Which returns wait on the platform: its timer, or arbitration (which has none).
PLATFORM_QUEUE = "deadline_actor = 'platform' OR status = 'arbitration'"


class ReturnRow(Base):
    __tablename__ = "returns"
    __table_args__ = (
        ForeignKeyConstraint(["shop_id", "order_id"], ["orders.shop_id", "orders.id"]),
        Index("ix_returns_id", "id"),
        Index("ix_returns_shop_created", "shop_id", "created_at", "id"),
        Index("ix_returns_buyer_created", "buyer_id", "created_at", "id"),
        Index("ix_returns_order", "shop_id", "order_id"),
        Index("ix_returns_deadline_due_at", "deadline_due_at"),
        Index("ix_returns_tracking_number", "shipment_tracking_number"),
        # Keyset walks for the merchant's list by state and the work queue (revision 0007).
        Index("ix_returns_shop_status_created", "shop_id", "status", "created_at", "id"),
        Index("ix_returns_shop_actor_due", "shop_id", "deadline_actor", "deadline_due_at", "id"),
        # The platform's work queue across shops, most urgent first (revision 0019): only the
        # returns waiting on the platform are in it.
        Index(
            "ix_returns_platform_queue",
            "deadline_due_at",
            "id",
            postgresql_where=text(PLATFORM_QUEUE),
            sqlite_where=text(PLATFORM_QUEUE),
        ),
        # Repurchase impact over a sample of buyers (revision 0017).
        Index(
            "ix_returns_shop_bucket_created", "shop_id", "buyer_bucket", "created_at", "buyer_id"
        ),
    )

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    buyer_id: Mapped[str] = mapped_column(String(64))
    # rules.sampling.buyer_bucket(buyer_id), as on the order.
    buyer_bucket: Mapped[int] = mapped_column(SmallInteger)
    type: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    fault: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)

    currency: Mapped[str] = mapped_column(String(3))
    # What this return may still refund, after deductions: the ceiling of a refund action.
    refund_amount: Mapped[int] = mapped_column(BigInteger)
    deductions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    return_shipping_paid_by: Mapped[str] = mapped_column(String(16))
    buyer_flagged: Mapped[bool] = mapped_column(Boolean)

    description: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(JSONType)
    return_address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    instructions: Mapped[str | None] = mapped_column(Text)
    inspection: Mapped[str | None] = mapped_column(String(16))
    rejection: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # A returnless refund: approved (or an offer accepted) with the goods staying with the buyer.
    keep_goods: Mapped[bool] = mapped_column(Boolean)
    # Offers the return took so far (at most rules.offers.MAX_OFFERS), and the one standing.
    offers_made: Mapped[int] = mapped_column(Integer)
    offer: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # What became of each returned unit at inspection: [{line_id, quantity, disposition}].
    dispositions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)

    shipment_carrier: Mapped[str | None] = mapped_column(String(64))
    shipment_tracking_number: Mapped[str | None] = mapped_column(String(128))
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    shipment_status: Mapped[str | None] = mapped_column(String(32))
    shipment_delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    receive_extensions: Mapped[int] = mapped_column(Integer)

    replacement_carrier: Mapped[str | None] = mapped_column(String(64))
    replacement_tracking_number: Mapped[str | None] = mapped_column(String(128))
    replacement_shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    refunded_amount: Mapped[int | None] = mapped_column(BigInteger)
    refund_reference: Mapped[str | None] = mapped_column(String(64))
    refunded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    deadline_action: Mapped[str | None] = mapped_column(String(32))
    deadline_actor: Mapped[str | None] = mapped_column(String(16))
    deadline_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The seq of the newest timeline event: the next one takes this + 1 under the row lock.
    last_event_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    # What the timeline tells statistics, kept with the row (revision 0016) so that counting a
    # change reads nothing: ever escalated to arbitration; state changes the system made; the
    # first thing a merchant or the platform did on it.
    escalated: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    automatic_actions: Mapped[int] = mapped_column(Integer, server_default="0")
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    items: Mapped[list[ReturnItemRow]] = relationship(
        lazy="raise", order_by="ReturnItemRow.position", cascade="all, delete-orphan"
    )


class ReturnItemRow(Base):
    __tablename__ = "return_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "return_id"], ["returns.shop_id", "returns.id"], ondelete="CASCADE"
        ),
    )

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    return_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    condition: Mapped[str] = mapped_column(String(32))
    # What one unit cost the buyer when the return was applied for.
    unit_price: Mapped[int] = mapped_column(BigInteger)


class ReturnEventRow(Base):
    __tablename__ = "return_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "return_id"], ["returns.shop_id", "returns.id"], ondelete="CASCADE"
        ),
    )

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    return_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
