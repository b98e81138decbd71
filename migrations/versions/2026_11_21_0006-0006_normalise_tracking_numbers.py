"""tracking numbers are stored normalised (trimmed, upper-cased)

Carrier events are matched on (carrier, tracking number); the service now stores the tracking
numbers of return parcels and of orders' outbound parcels trimmed and upper-cased and looks
events up the same way. Rows written before keep the case the caller typed: bring them in line.
Data only; the schema does not change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 23:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE returns SET shipment_tracking_number = upper(trim(shipment_tracking_number)) "
        "WHERE shipment_tracking_number <> upper(trim(shipment_tracking_number))"
    )
    op.execute(
        "UPDATE orders SET tracking_number = upper(trim(tracking_number)) "
        "WHERE tracking_number <> upper(trim(tracking_number))"
    )


def downgrade() -> None:
    # The case the callers typed is not kept anywhere; normalised numbers match as before.
    pass
