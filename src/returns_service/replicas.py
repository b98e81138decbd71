"""Pure reads on a PostgreSQL streaming replica, while it is reachable and fresh enough.

With `RETURNS_DATABASE_REPLICA_URL` set, the routes that only list (returns, work queues,
subscriptions, deliveries, statistics) take a `ReadSession`: a session on the replica, or on
the primary while the replica is unusable. Everything else, writes and the reads a caller
needs to see its own write at once (one return, its timeline, an order), keeps the request's
primary `Session`. Without the setting a `ReadSession` is the request's primary session.

The replica's lag is checked every `replica_check_interval_seconds` by a background task, not
per request: `now() - pg_last_xact_replay_timestamp()` while WAL it has received is not yet
replayed (zero once it has replayed everything it received). Above
`replica_max_lag_seconds`, or when the check fails, reads go to the primary until a check
passes again. A replica read that fails mid-request is answered again from the primary
(`TransactionalRoute`), and the replica is left alone until the next check passes.

Metrics: `returns_db_reads_total{target}` counts these reads by the database that answered,
`returns_db_replica_lag_seconds` is the lag last measured (-1 while unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from returns_service.config import Settings
from returns_service.db import create_engine, create_sessionmaker
from returns_service.observability.metrics import DB_READS, DB_REPLICA_LAG, watch_pool

logger = logging.getLogger(__name__)

Target = Literal["replica", "primary"]

# Seconds the replica is behind: zero when it has replayed every WAL record it received
# (an idle primary sends none, which is not lag); otherwise the age of the last transaction
# it replayed. A server that is not a standby is not behind at all.
LAG_SQL = text(
    """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
    END
    """
)


class ReadReplica:
    """The replica engine, whether reads may go to it now, and how many went where."""

    def __init__(self, settings: Settings) -> None:
        assert settings.database_replica_url is not None
        self.engine: AsyncEngine = create_engine(settings, settings.database_replica_url)
        watch_pool(self.engine)
        self.sessionmaker = create_sessionmaker(self.engine)
        self.max_lag_seconds = settings.replica_max_lag_seconds
        self.interval_seconds = settings.replica_check_interval_seconds
        self.check_timeout_seconds = min(settings.database_timeout_seconds, 2.0)
        self.usable = False
        self.lag_seconds: float | None = None
        self.reads: Counter[Target] = Counter()
        self._task: asyncio.Task[None] | None = None

    def target(self) -> Target:
        return "replica" if self.usable else "primary"

    def count(self, target: Target) -> None:
        self.reads[target] += 1
        DB_READS.labels(target).inc()

    async def check(self) -> None:
        """Measure the lag once and decide whether reads may go to the replica."""
        try:
            async with asyncio.timeout(self.check_timeout_seconds):
                async with self.engine.connect() as connection:
                    lag = float((await connection.execute(LAG_SQL)).scalar_one())
        except Exception as error:  # unreachable, refusing, frozen: all mean "not now"
            self._decide(False, None, f"unreachable ({type(error).__name__})")
            return
        fresh = lag <= self.max_lag_seconds
        self._decide(fresh, lag, f"lag {lag:.1f}s" + ("" if fresh else " is too much"))

    def unreachable(self) -> None:
        """A read on the replica failed: leave it alone until a check passes again."""
        self._decide(False, None, "a read failed")

    def _decide(self, usable: bool, lag: float | None, why: str) -> None:
        if usable != self.usable:
            logger.warning(
                "reads go to the %s: replica %s", "replica" if usable else "primary", why
            )
        self.usable, self.lag_seconds = usable, lag
        DB_REPLICA_LAG.set(lag if lag is not None else -1)

    async def start(self) -> None:
        await self.check()
        self._task = asyncio.create_task(self._watch(), name="replica-lag-check")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            await self.check()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.engine.dispose()


def read_replica(settings: Settings) -> ReadReplica | None:
    return ReadReplica(settings) if settings.database_replica_url else None


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for a pure read: on the replica while it is usable, else the request's own
    session on the primary. Which one it is is remembered for the route, which counts it once
    answered, and answers again from the primary if the replica fails the read."""
    replica: ReadReplica | None = request.app.state.read_replica
    primary: AsyncSession = request.state.session
    if replica is None:
        yield primary
        return
    target = replica.target()
    request.state.read_target = target  # counted by TransactionalRoute once answered
    if target == "primary":
        yield primary
        return
    async with replica.sessionmaker() as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(read_session)]
