"""a delivery is unique per (shop_id, event_id, subscription_id)

Citus enforces a unique constraint on a distributed table only when it holds the distribution
column. Event ids are unique within their shop (the outbox key is (shop_id, id)), so adding
shop_id forbids the same pairs as before.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-01 05:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_webhook_deliveries_event_id_subscription_id", type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_webhook_deliveries_shop_id_event_id_subscription_id"),
            ["shop_id", "event_id", "subscription_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(
            "uq_webhook_deliveries_shop_id_event_id_subscription_id", type_="unique"
        )
        batch_op.create_unique_constraint(
            op.f("uq_webhook_deliveries_event_id_subscription_id"),
            ["event_id", "subscription_id"],
        )
