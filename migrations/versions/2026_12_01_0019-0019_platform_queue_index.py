"""the platform's work queue walks an index

`ix_returns_platform_queue` (deadline_due_at, id), partial: only returns waiting on the
platform (its timer, or arbitration). `GET /v1/returns?awaiting=platform&sort=due_at` orders
by the column itself, undated last, so the first page walks this index instead of sorting
every waiting return of every shop.

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-01 11:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PLATFORM_QUEUE = "deadline_actor = 'platform' OR status = 'arbitration'"


def upgrade() -> None:
    op.create_index(
        "ix_returns_platform_queue",
        "returns",
        ["deadline_due_at", "id"],
        postgresql_where=sa.text(_PLATFORM_QUEUE),
        sqlite_where=sa.text(_PLATFORM_QUEUE),
    )


def downgrade() -> None:
    op.drop_index("ix_returns_platform_queue", table_name="returns")
