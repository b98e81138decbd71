"""core tables

Revision ID: 0001
Revises:
Create Date: 2026-11-21 20:31:57.715709+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import returns_service.models.base

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "orders",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "shipped_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "delivered_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("shipping_fee", sa.BigInteger(), nullable=False),
        sa.Column("shipping_insurance", sa.Boolean(), nullable=False),
        sa.Column("buyer_region", sa.String(length=32), nullable=True),
        sa.Column(
            "created_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("shop_id", "id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_buyer_id"), ["buyer_id"], unique=False)
        batch_op.create_index("ix_orders_id", ["id"], unique=False)

    op.create_table(
        "shop_policies",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("defect_window_days", sa.Integer(), nullable=False),
        sa.Column(
            "extra_excluded_categories",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("restocking_fee_percent", sa.Integer(), nullable=False),
        sa.Column("review_timeout", sa.String(length=32), nullable=False),
        sa.Column("ship_timeout", sa.String(length=32), nullable=False),
        sa.Column("receive_timeout", sa.String(length=32), nullable=False),
        sa.Column("escalation_timeout", sa.String(length=32), nullable=False),
        sa.Column("auto_refund_unshipped", sa.Boolean(), nullable=False),
        sa.Column("fast_refund", sa.Boolean(), nullable=False),
        sa.Column("abuse_threshold_returns", sa.Integer(), nullable=False),
        sa.Column("abuse_threshold_days", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_shop_policies")),
    )
    op.create_table(
        "order_lines",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["shop_id", "order_id"],
            ["orders.shop_id", "orders.id"],
            name=op.f("fk_order_lines_shop_id_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", "order_id", "line_id", name=op.f("pk_order_lines")),
    )
    op.create_table(
        "returns",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("fault", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "deductions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("return_shipping_paid_by", sa.String(length=16), nullable=False),
        sa.Column("buyer_flagged", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "return_address",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("inspection", sa.String(length=16), nullable=True),
        sa.Column(
            "rejection",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("shipment_carrier", sa.String(length=64), nullable=True),
        sa.Column("shipment_tracking_number", sa.String(length=128), nullable=True),
        sa.Column(
            "shipped_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("shipment_status", sa.String(length=32), nullable=True),
        sa.Column(
            "shipment_delivered_at",
            returns_service.models.base.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("receive_extensions", sa.Integer(), nullable=False),
        sa.Column("replacement_carrier", sa.String(length=64), nullable=True),
        sa.Column("replacement_tracking_number", sa.String(length=128), nullable=True),
        sa.Column(
            "replacement_shipped_at",
            returns_service.models.base.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=True),
        sa.Column("refund_reference", sa.String(length=64), nullable=True),
        sa.Column(
            "refunded_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("deadline_action", sa.String(length=32), nullable=True),
        sa.Column("deadline_actor", sa.String(length=16), nullable=True),
        sa.Column(
            "deadline_due_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", returns_service.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["shop_id", "order_id"],
            ["orders.shop_id", "orders.id"],
            name=op.f("fk_returns_shop_id_order_id_orders"),
        ),
        sa.PrimaryKeyConstraint("shop_id", "id", name=op.f("pk_returns")),
    )
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.create_index(
            "ix_returns_buyer_created", ["buyer_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_returns_deadline_due_at", ["deadline_due_at"], unique=False)
        batch_op.create_index("ix_returns_id", ["id"], unique=False)
        batch_op.create_index("ix_returns_order", ["shop_id", "order_id"], unique=False)
        batch_op.create_index(
            "ix_returns_shop_created", ["shop_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_returns_tracking_number", ["shipment_tracking_number"], unique=False
        )

    op.create_table(
        "return_events",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("return_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("at", returns_service.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id", "return_id"],
            ["returns.shop_id", "returns.id"],
            name=op.f("fk_return_events_shop_id_return_id_returns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", "return_id", "seq", name=op.f("pk_return_events")),
    )
    op.create_table(
        "return_items",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("return_id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(length=32), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id", "return_id"],
            ["returns.shop_id", "returns.id"],
            name=op.f("fk_return_items_shop_id_return_id_returns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", "return_id", "line_id", name=op.f("pk_return_items")),
    )


def downgrade() -> None:

    op.drop_table("return_items")
    op.drop_table("return_events")
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.drop_index("ix_returns_tracking_number")
        batch_op.drop_index("ix_returns_shop_created")
        batch_op.drop_index("ix_returns_order")
        batch_op.drop_index("ix_returns_id")
        batch_op.drop_index("ix_returns_deadline_due_at")
        batch_op.drop_index("ix_returns_buyer_created")

    op.drop_table("returns")
    op.drop_table("order_lines")
    op.drop_table("shop_policies")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_id")
        batch_op.drop_index(batch_op.f("ix_orders_buyer_id"))

    op.drop_table("orders")
