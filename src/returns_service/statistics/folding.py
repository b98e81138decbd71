"""Fold the deltas that changes wrote into the rollup cells.

Every change writes its differences as delta rows (no waiting on the shop's hot cells); a
reader sums cells and deltas in one statement, so folding changes no figure: it only keeps
the deltas few, and the reads cheap. The sweep folds after acting on deadlines; any number
of folders may run at once (PostgreSQL: each claims rows `SKIP LOCKED`).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service.statistics import repository

# Deltas taken in one transaction, and shops visited in one fold.
BATCH = 5000
SHOPS = 1000


async def fold_statistics(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Fold the deltas pending now into the cells, shop by shop; answer how many."""
    async with sessionmaker() as session, session.begin():
        shops = await repository.shops_with_deltas(session, SHOPS)
    folded = 0
    for shop_id in shops:
        while True:
            async with sessionmaker() as session, session.begin():
                taken, sums = await repository.claim_deltas(session, shop_id, BATCH)
                await repository.add_to_cells(session, sums)
            folded += taken
            if taken < BATCH:
                break
    return folded
