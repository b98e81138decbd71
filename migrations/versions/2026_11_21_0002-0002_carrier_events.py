"""carrier events: receipts of logistics webhooks, and the order's outbound parcel

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 20:37:24.053430+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import returns_service.models.base

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = returns_service.models.base.UtcDateTime
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "carrier_deliveries",
        sa.Column("webhook_id", sa.String(length=256), nullable=False),
        sa.Column("shop_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("tracking_number", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("matched_returns", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_carrier_deliveries")),
    )
    with op.batch_alter_table("carrier_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_carrier_deliveries_shop_received", ["shop_id", "received_at"], unique=False
        )
        batch_op.create_index(
            "ix_carrier_deliveries_tracking_number", ["tracking_number"], unique=False
        )

    # Adding nullable columns and an index needs no table copy, even on SQLite.
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carrier", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("tracking_number", sa.String(length=128), nullable=True))
        batch_op.create_index("ix_orders_tracking_number", ["tracking_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_tracking_number")
        batch_op.drop_column("tracking_number")
        batch_op.drop_column("carrier")

    with op.batch_alter_table("carrier_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_carrier_deliveries_tracking_number")
        batch_op.drop_index("ix_carrier_deliveries_shop_received")

    op.drop_table("carrier_deliveries")
