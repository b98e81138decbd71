"""orders and returns keep their buyer's bucket, so repurchase impact can read a sample

`buyer_bucket` (0 … 1023) is `rules.sampling.buyer_bucket(buyer_id)`: a stable hash that puts
every buyer in one of 1,024 buckets. Repurchase impact of a window with more orders than
`RETURNS_REPURCHASE_SAMPLE_ORDERS` is counted over the buyers of the first few buckets only,
read through the new indexes bucket by bucket:

- `ix_orders_shop_bucket_paid` (shop_id, buyer_bucket, paid_at, buyer_id)
- `ix_returns_shop_bucket_created` (shop_id, buyer_bucket, created_at, buyer_id)

Existing rows are filled in: on PostgreSQL by one UPDATE per table computing the same hash in
SQL (it rewrites every row of both tables once); on SQLite from Python, one buyer at a time.

Revision ID: 0017
Revises: 0019
Create Date: 2026-12-01 10:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from returns_service.rules.sampling import POSTGRESQL_BUYER_BUCKET, buyer_bucket

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("orders", "returns")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("buyer_bucket", sa.SmallInteger(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bucket = POSTGRESQL_BUYER_BUCKET.format(column="buyer_id")
        for table in TABLES:
            op.execute(f"UPDATE {table} SET buyer_bucket = {bucket}")  # noqa: S608 (constants)
    else:
        buyers = bind.execute(
            sa.text("SELECT buyer_id FROM orders UNION SELECT buyer_id FROM returns")
        ).scalars()
        buckets = [{"buyer": buyer, "bucket": buyer_bucket(buyer)} for buyer in buyers]
        if buckets:
            for table in TABLES:
                bind.execute(
                    sa.text(f"UPDATE {table} SET buyer_bucket = :bucket WHERE buyer_id = :buyer"),  # noqa: S608
                    buckets,
                )
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("buyer_bucket", existing_type=sa.SmallInteger(), nullable=False)
    op.create_index(
        "ix_orders_shop_bucket_paid", "orders", ["shop_id", "buyer_bucket", "paid_at", "buyer_id"]
    )
    op.create_index(
        "ix_returns_shop_bucket_created",
        "returns",
        ["shop_id", "buyer_bucket", "created_at", "buyer_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_returns_shop_bucket_created", table_name="returns")
    op.drop_index("ix_orders_shop_bucket_paid", table_name="orders")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("buyer_bucket")
