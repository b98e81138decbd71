"""offers, returnless refunds, inspection outcomes, the offer timeout and shop automations

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-01 05:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import returns_service.models.base

UtcDateTime = returns_service.models.base.UtcDateTime

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "shop_automations",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("rules", _json(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_shop_automations")),
    )
    with op.batch_alter_table("shop_policies") as batch_op:
        # Existing policies take the platform default.
        batch_op.add_column(
            sa.Column("offer_timeout", sa.String(length=32), nullable=False, server_default="PT48H")
        )
    with op.batch_alter_table("returns") as batch_op:
        batch_op.add_column(
            sa.Column("keep_goods", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("offers_made", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("offer", _json(), nullable=True))
        batch_op.add_column(sa.Column("dispositions", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("returns") as batch_op:
        batch_op.drop_column("dispositions")
        batch_op.drop_column("offer")
        batch_op.drop_column("offers_made")
        batch_op.drop_column("keep_goods")
    with op.batch_alter_table("shop_policies") as batch_op:
        batch_op.drop_column("offer_timeout")
    op.drop_table("shop_automations")
