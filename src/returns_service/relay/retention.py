"""Settled outbox events, and their deliveries, go with every sweep once they are old enough.

An event is settled once a relay has fanned it out and every one of its deliveries is
delivered or cancelled: nothing will read it again. One with a delivery still pending, claimed
or parked (an operator may replay it) stays, and so does one no relay has fanned out yet.

Removal goes in batches, each in its own short transaction: the oldest settled events are
taken locked (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so sweepers side by side take different
rows rather than wait for one another; SQLite: BEGIN IMMEDIATE queues every writer), their
deliveries deleted, then the events. Deleting settled rows is idempotent: a row another
sweeper removed first is simply not there any more.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service.config import DEFAULT_OUTBOX_RETENTION_DAYS
from returns_service.models.base import utcnow
from returns_service.relay import repository

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


async def remove_settled_outbox_events(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
    *,
    retention_days: int = DEFAULT_OUTBOX_RETENTION_DAYS,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Remove every settled event made more than `retention_days` before `now`, with its
    deliveries; answer how many events."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    events_removed = deliveries_removed = 0
    while True:
        try:
            async with sessionmaker() as session, session.begin():
                batch = await repository.settled_events_before(session, cutoff, batch_size)
                if not batch:
                    break
                deliveries = await repository.delete_settled_deliveries(session, batch)
                events = await repository.delete_events_without_deliveries(session, batch)
        except DBAPIError as refusal:
            # The database gave up (lock timeout, deadlock): what is left goes next sweep.
            logger.warning(
                "outbox retention stopped early: %s: %s", type(refusal).__name__, refusal
            )
            break
        events_removed += events
        deliveries_removed += deliveries
        if len(batch) < batch_size or events == 0:
            # The last batch, or nothing it took could go (another sweeper got there first):
            # stop rather than take the same rows again.
            break
    if events_removed:
        logger.info(
            "removed %d settled outbox events and %d webhook deliveries older than %d days",
            events_removed,
            deliveries_removed,
            retention_days,
        )
    return events_removed
