"""Count the rollups again from the rows: after a migration, a restore, or a doubt."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.statistics import repository
from returns_service.statistics.cells import CellKey, order_cells, return_cells
from returns_service.timestamps import EARLIEST, LATEST


async def rebuild_statistics(session: AsyncSession, shop_id: str | None = None) -> int:
    """Replace the cells of one shop (or every shop) with the sums of its rows; the caller
    commits. Answer how many cells were written.

    Writers wait meanwhile (the table is locked against writes, not reads): a change that
    commits before the lock is in the rows read here; one that commits after adds its
    difference to the rebuilt cells.
    """
    await repository.hold_off_cell_writers(session)
    shops = (
        [shop_id]
        if shop_id
        else await repository.shops_with_rows(session, EARLIEST, LATEST, or_cells=True)
    )
    written = 0
    for shop in shops:
        await repository.delete_cells(session, shop)
        cells: Counter[CellKey] = Counter()
        for facts in await repository.return_facts(
            session, repository.returns_applied(shop, EARLIEST, LATEST)
        ):
            cells.update(return_cells(facts))
        for order in await repository.order_facts(
            session, repository.orders_paid(shop, EARLIEST, LATEST)
        ):
            cells.update(order_cells(order))
        await repository.add_to_cells(session, {(shop, cell): n for cell, n in cells.items()})
        written += len(cells)
    return written
