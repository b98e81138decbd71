"""a return keeps its last timeline seq; keyset indexes for every documented list shape

- `returns.last_event_seq`: the seq of the return's newest timeline event, so the next event
  takes `last_event_seq + 1` under the row lock instead of asking `max(seq)` of the timeline.
  Backfilled from the timelines.
- `ix_returns_shop_status_created` (shop_id, status, created_at, id): a shop's returns in one
  state, newest first (the merchant's list by status).
- `ix_returns_shop_actor_due` (shop_id, deadline_actor, deadline_due_at, id): a shop's work
  queue for one actor, most urgent first.
Both let the first page (and every keyset page after it) walk the index instead of sorting the
shop's rows.

Revision ID: 0007
Revises: 0009
Create Date: 2026-12-01 05:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("returns") as batch:
        batch.add_column(
            sa.Column("last_event_seq", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE returns SET last_event_seq = (SELECT coalesce(max(e.seq), 0) FROM return_events e "
        "WHERE e.shop_id = returns.shop_id AND e.return_id = returns.id)"
    )
    op.create_index(
        "ix_returns_shop_status_created", "returns", ["shop_id", "status", "created_at", "id"]
    )
    op.create_index(
        "ix_returns_shop_actor_due",
        "returns",
        ["shop_id", "deadline_actor", "deadline_due_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_returns_shop_actor_due", table_name="returns")
    op.drop_index("ix_returns_shop_status_created", table_name="returns")
    with op.batch_alter_table("returns") as batch:
        batch.drop_column("last_event_seq")
