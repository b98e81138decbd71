"""The deadline sweep in one process, on due deadlines seeded in the bench database.

`make bench` runs it after the request path; `.venv/bin/python -m bench.sweep` alone (on a
database of its own: every due deadline a review timer, as `make bench` seeds them).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from bench.pg import DATABASE_PREFIX, drop_database, recreate_database
from bench.seed import SHOP, seed_policy, seed_returns
from returns_service.db import create_sessionmaker
from returns_service.migrations import upgrade_to_head
from returns_service.timers.sweep import sweep_once

DATABASE = f"{DATABASE_PREFIX}_sweep"


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


def main() -> None:
    """`python -m bench.sweep [--due N]`: the sweep alone, on a database of its own."""
    parser = argparse.ArgumentParser(description="the deadline sweep in one process")
    parser.add_argument("--due", type=int, default=5_000, help="due deadlines to act on")
    args = parser.parse_args()
    url = recreate_database(DATABASE)
    try:
        upgrade_to_head(url)
        seed_policy(DATABASE, [SHOP])
        seed_returns(DATABASE, prefix="s-", first=1, count=args.due, due_in="-1 hour")
        acted, seconds, cpu, policy_reads = asyncio.run(run_sweep(url))
    finally:
        drop_database(DATABASE)
    print(
        f"acted on {acted} due deadlines in {seconds:.2f} s: {acted / seconds:.0f}/s; "
        f"CPU {1000 * cpu / max(acted, 1):.2f} ms per deadline; {policy_reads} policy reads"
    )


if __name__ == "__main__":
    main()
