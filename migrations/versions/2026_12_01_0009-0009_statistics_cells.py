"""statistics rollups, and the indexes that read orders by payment and by buyer

`statistics_cells` holds one number per (shop, dimension, UTC day or block of days, key,
metric), kept by the transactions that change orders and returns. It starts empty: on a
database that already holds orders and returns, run `returns-service statistics rebuild` once
after upgrading (it counts every row; writers wait while it runs).

Revision ID: 0009
Revises: 0015
Create Date: 2026-12-01 05:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statistics_cells",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("span", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "shop_id",
            "dimension",
            "span",
            "day",
            "key",
            "metric",
            name=op.f("pk_statistics_cells"),
        ),
    )
    op.create_index("ix_orders_shop_paid", "orders", ["shop_id", "paid_at", "buyer_id"])
    op.create_index("ix_orders_shop_buyer_paid", "orders", ["shop_id", "buyer_id", "paid_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_shop_buyer_paid", table_name="orders")
    op.drop_index("ix_orders_shop_paid", table_name="orders")
    op.drop_table("statistics_cells")
