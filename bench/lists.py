"""First-page latency of every documented list shape at 10k and at 1M returns, and the plan
PostgreSQL picks for each (an index walk, never a sort of a shop's rows)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.seed import SHOP
from returns_service.returns.repository import ReturnFilters


@dataclass(frozen=True)
class ListShape:
    name: str
    role: str
    sub: str
    shop_id: str | None
    query: str
    filters: ReturnFilters
    by_due_at: bool


SHAPES = (
    ListShape(
        "shop+status",
        "merchant",
        "bench-merchant",
        SHOP,
        "status=requested",
        ReturnFilters(shop_id=SHOP, status="requested"),
        False,
    ),
    ListShape(
        "buyer",
        "buyer",
        "bench-buyer-7",
        None,
        "",
        ReturnFilters(buyer_id="bench-buyer-7"),
        False,
    ),
    ListShape(
        "work queue",
        "merchant",
        "bench-merchant",
        SHOP,
        "awaiting=merchant&sort=due_at",
        ReturnFilters(shop_id=SHOP, awaiting="merchant"),
        True,
    ),
    ListShape(
        "platform queue",
        "platform",
        "bench-platform",
        None,
        "awaiting=platform&sort=due_at",
        ReturnFilters(awaiting="platform"),
        True,
    ),
)
PAGE = 50


def explain(database_url: str, shape: ListShape) -> str:
    """The plan of the shape's first-page query, as PostgreSQL would run it."""
    from returns_service.returns.repository import list_statement

    statement = list_statement(shape.filters, by_due_at=shape.by_due_at, after=None, limit=PAGE + 1)

    async def plan() -> str:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                compiled = statement.compile(
                    dialect=connection.dialect, compile_kwargs={"literal_binds": True}
                )
                rows = await connection.execute(text(f"EXPLAIN {compiled}"))
                return "\n".join(row[0] for row in rows)
        finally:
            await engine.dispose()

    return asyncio.run(plan())


def walks_an_index(plan: str) -> bool:
    """An index scan feeds the limit directly: no Sort node anywhere in the plan."""
    return "Index" in plan and "Sort" not in plan
