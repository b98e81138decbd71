"""Where each table lives when PostgreSQL is scaled out with Citus.

Every table of shop data is distributed by `shop_id`, all co-located: one shop's orders,
returns, timelines, outbox events and deliveries sit on one node, so a shop's request runs on
that node alone and its foreign keys and joins stay local. A table that cannot be keyed by
shop is named in NOT_BY_SHOP with its placement and the reason; nothing else is exempt
(`tests/citus/` checks the models and the SQL against this).

`python -m returns_service.models.placement` prints the Citus commands for the current models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import MetaData

SHOP_KEY = "shop_id"


@dataclass(frozen=True)
class Placement:
    # distributed: sharded by `column`; reference: one copy on every node.
    kind: Literal["distributed", "reference"]
    column: str | None
    reason: str = "shop data"

    @property
    def by_shop(self) -> bool:
        return self.kind == "distributed" and self.column == SHOP_KEY


BY_SHOP = Placement("distributed", SHOP_KEY)

NOT_BY_SHOP: dict[str, Placement] = {
    "webhook_subscriptions": Placement(
        "reference",
        None,
        "a platform subscription (shop_id null) hears every shop, so the relay fanning out any "
        "shop's event needs every subscription; few rows, rarely written",
    ),
    "idempotency_keys": Placement(
        "distributed",
        "scope",
        "a key belongs to a caller, not a shop (a platform agent's keys span shops); every "
        "read and write names (scope, key)",
    ),
    "carrier_deliveries": Placement(
        "distributed",
        "webhook_id",
        "a carrier webhook names a parcel, not a shop: its receipt is claimed by webhook-id "
        "before the shop is known (shop_id is filled in afterwards, null when unmatched)",
    ),
}


def placement_of(table: str) -> Placement:
    return NOT_BY_SHOP.get(table, BY_SHOP)


def citus_statements(metadata: MetaData) -> list[str]:
    """The commands that distribute an empty, migrated schema: reference tables first (shop
    tables point at them), then the shop tables parents first, co-located with the first."""
    tables = metadata.sorted_tables
    statements = [
        f"SELECT create_reference_table('{table.name}');"
        for table in tables
        if placement_of(table.name).kind == "reference"
    ]
    anchor: str | None = None
    for table in tables:
        placement = placement_of(table.name)
        if not placement.by_shop:
            continue
        colocate = "" if anchor is None else f", colocate_with => '{anchor}'"
        statements.append(
            f"SELECT create_distributed_table('{table.name}', '{SHOP_KEY}'{colocate});"
        )
        anchor = anchor or table.name
    statements += [
        f"SELECT create_distributed_table('{table.name}', '{placement.column}', "
        "colocate_with => 'none');"
        for table in tables
        if (placement := placement_of(table.name)).kind == "distributed" and not placement.by_shop
    ]
    return statements


if __name__ == "__main__":
    from returns_service.models import Base

    print("\n".join(citus_statements(Base.metadata)))
