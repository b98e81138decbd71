"""a return keeps what statistics read of its timeline; statistics deltas

`returns.escalated` (ever entered arbitration), `returns.automatic_actions` (state changes the
system made) and `returns.first_response_at` (the first event by a merchant or the platform
that is not the application): written with every timeline event, so counting a change into
the statistics rollups reads nothing from the database. Backfilled from the timelines.

`statistics_deltas`: what each transaction adds to the rollup cells, as new rows (no writer
waits on another's hot cell); the sweep folds them into `statistics_cells`.

Revision ID: 0016
Revises: 0007
Create Date: 2026-12-01 10:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("returns") as batch:
        batch.add_column(
            sa.Column("escalated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("automatic_actions", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE returns SET"
        " escalated = EXISTS (SELECT 1 FROM return_events e"
        " WHERE e.shop_id = returns.shop_id AND e.return_id = returns.id"
        " AND e.to_status = 'arbitration'),"
        " automatic_actions = (SELECT count(*) FROM return_events e"
        " WHERE e.shop_id = returns.shop_id AND e.return_id = returns.id"
        " AND e.actor_role = 'system' AND e.from_status IS NOT NULL"
        " AND e.to_status IS NOT NULL),"
        " first_response_at = (SELECT min(e.at) FROM return_events e"
        " WHERE e.shop_id = returns.shop_id AND e.return_id = returns.id"
        " AND e.actor_role IN ('merchant', 'platform')"
        " AND NOT (e.from_status IS NULL AND e.to_status IS NOT NULL))"
    )
    op.create_table(
        "statistics_deltas",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("batch", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "batch", "position", name="pk_statistics_deltas"),
    )
    op.create_index(
        "ix_statistics_deltas_shop_day", "statistics_deltas", ["shop_id", "dimension", "day"]
    )


def downgrade() -> None:
    op.drop_index("ix_statistics_deltas_shop_day", table_name="statistics_deltas")
    op.drop_table("statistics_deltas")
    with op.batch_alter_table("returns") as batch:
        batch.drop_column("first_response_at")
        batch.drop_column("automatic_actions")
        batch.drop_column("escalated")
