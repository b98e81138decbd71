"""The deadline sweep in one process, on due deadlines seeded in the bench database."""

from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from returns_service.db import create_sessionmaker
from returns_service.timers.sweep import sweep_once


async def run_sweep(url: str) -> tuple[int, float, float, int]:
    """(deadlines acted on, seconds, CPU seconds of this process, shop policy reads) of one
    sweep. A policy read is a statement that selects from shop_policies itself (a claim
    selects the policy's version in a subquery: that is not a read of the policy)."""
    engine = create_async_engine(url, pool_size=5)
    policy_reads = 0

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        nonlocal policy_reads
        if statement.lstrip().startswith("SELECT shop_policies."):
            policy_reads += 1

    try:
        started, cpu = time.perf_counter(), time.process_time()
        acted = await sweep_once(create_sessionmaker(engine))
        return acted, time.perf_counter() - started, time.process_time() - cpu, policy_reads
    finally:
        await engine.dispose()
