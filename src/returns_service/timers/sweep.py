"""Act on due deadlines as the `system` actor: each one once, however many sweepers run.

A sweep reads the returns whose deadline is due (a page at a time, in a short transaction of
its own), then acts on each in its own short transaction: lock the row (PostgreSQL: `FOR UPDATE
SKIP LOCKED`, so a row another sweeper or an API request holds is left to it; SQLite: BEGIN
IMMEDIATE queues every writer), check under the lock that it is still the same return at the
same version with the deadline still due, and only then act. A return someone else changed in
the meantime is skipped: its new state has its own deadline, for a later sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service.auth import SYSTEM_CALLER
from returns_service.config import DEFAULT_OUTBOX_RETENTION_DAYS, Settings
from returns_service.db import create_engine, create_sessionmaker
from returns_service.errors import ServiceError
from returns_service.idempotency import remove_expired_idempotency_keys
from returns_service.models import ReturnRow
from returns_service.models.base import utcnow
from returns_service.observability.request_context import request_scope
from returns_service.policies.service import default_return_address
from returns_service.relay.retention import remove_settled_outbox_events
from returns_service.returns import repository
from returns_service.returns.automations import approve_and_refund
from returns_service.returns.lifecycle import move
from returns_service.returns.refunds import pay_refund
from returns_service.rules.deadlines import timer_action
from returns_service.rules.vocabulary import Action, ReturnType

logger = logging.getLogger(__name__)

PAGE_SIZE = 200

Sessionmaker = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class _Due:
    shop_id: str
    id: str
    version: int
    due_at: datetime

    @property
    def position(self) -> tuple[datetime, str, str]:
        return (self.due_at, self.shop_id, self.id)


async def _due_page(
    sessionmaker: Sessionmaker, now: datetime, after: tuple[datetime, str, str] | None
) -> list[_Due]:
    """The next page of due returns, most overdue first, after `after`."""
    async with sessionmaker() as session, session.begin():
        rows = await repository.due_deadlines(session, now, after, PAGE_SIZE)
    return [_Due(shop_id, return_id, version, due) for shop_id, return_id, version, due in rows]


async def _lock_if_still_due(session: AsyncSession, due: _Due, now: datetime) -> ReturnRow | None:
    """The return, locked, if no one took it or changed it since it was read as due."""
    row = await repository.lock_if_due(session, due.shop_id, due.id, now)
    if (
        row is None
        or row.version != due.version
        or row.deadline_action is None
        or row.deadline_due_at is None
        or row.deadline_due_at > now
    ):
        return None
    return row


async def _run_timer(session: AsyncSession, row: ReturnRow) -> None:
    """Take the action the passed deadline calls for, as the system, with its event."""
    assert row.deadline_action is not None and row.deadline_due_at is not None
    kind = ReturnType(row.type)
    action = timer_action(row.deadline_action, kind)
    data: dict[str, Any] = {
        "timer": row.deadline_action,
        "due_at": row.deadline_due_at.isoformat(),
    }
    if action is Action.REFUND:
        await pay_refund(session, row, SYSTEM_CALLER, None, data=data)
    elif action is Action.APPROVE and kind is ReturnType.REFUND_ONLY:
        # Review timeout on a refund-only: approved, and paid at once.
        await approve_and_refund(session, row, data)
    else:
        if action is Action.APPROVE and kind.goods_travel_back:
            # The merchant never answered: the goods go to the address its policy names.
            row.return_address = await default_return_address(session, row.shop_id)
        await move(session, row, action, SYSTEM_CALLER, data=data)


async def _act_on(sessionmaker: Sessionmaker, due: _Due, now: datetime) -> bool:
    """Act on one due return in its own transaction; answer whether it was acted on."""
    async with sessionmaker() as session:
        try:
            async with session.begin():
                row = await _lock_if_still_due(session, due, now)
                if row is None:
                    return False
                await _run_timer(session, row)
        except (ServiceError, ValueError, DBAPIError) as refusal:
            # The state table or the money rules refuse, or the database gave up on this row
            # (lock timeout, deadlock): leave it for the next pass; the others still run.
            logger.warning(
                "deadline of return %s not acted on: %s: %s",
                due.id,
                type(refusal).__name__,
                refusal,
            )
            return False
    return True


async def sweep_once(
    sessionmaker: Sessionmaker,
    now: datetime | None = None,
    *,
    outbox_retention_days: int = DEFAULT_OUTBOX_RETENTION_DAYS,
) -> int:
    """Act once on every return whose deadline is due at `now` (default: the current time),
    then remove expired idempotency keys and settled outbox events.

    Answers how many returns it acted on. A return acted on is not acted on again in the same
    sweep, even if its next deadline is due too. The actions themselves happen at the current
    time: `now` only says which deadlines count as passed.
    """
    now = now or utcnow()
    acted = 0
    seen: set[tuple[str, str]] = set()
    after: tuple[datetime, str, str] | None = None
    while page := await _due_page(sessionmaker, now, after):
        for due in page:
            after = due.position
            if (due.shop_id, due.id) in seen:
                continue
            seen.add((due.shop_id, due.id))
            if await _act_on(sessionmaker, due, now):
                acted += 1
    await remove_expired_idempotency_keys(sessionmaker, now)
    await remove_settled_outbox_events(sessionmaker, now, retention_days=outbox_retention_days)
    return acted


async def sweep_once_with_settings(settings: Settings) -> int:
    """Act once on every due deadline; answer how many were acted on."""
    engine = create_engine(settings)
    try:
        with request_scope():
            return await sweep_once(
                create_sessionmaker(engine), outbox_retention_days=settings.outbox_retention_days
            )
    finally:
        await engine.dispose()


async def sweep_forever(
    sessionmaker: Sessionmaker, interval_seconds: float, outbox_retention_days: int
) -> None:
    """Sweep every `interval_seconds` until cancelled; a failed sweep is logged and retried."""
    while True:
        try:
            # Each pass has a request id of its own: its log lines and the events its timers
            # write (and so their webhook deliveries) carry it.
            with request_scope():
                acted = await sweep_once(sessionmaker, outbox_retention_days=outbox_retention_days)
        except Exception:
            logger.exception("deadline sweep failed; trying again in %s s", interval_seconds)
        else:
            if acted:
                logger.info("acted on %d due deadlines", acted)
        await asyncio.sleep(interval_seconds)


def start_sweeping(sessionmaker: Sessionmaker, settings: Settings) -> asyncio.Task[None] | None:
    """Start the server's own sweep in the background; None when the interval is 0 (off)."""
    if settings.sweep_interval_seconds <= 0:
        return None
    return asyncio.create_task(
        sweep_forever(
            sessionmaker, settings.sweep_interval_seconds, settings.outbox_retention_days
        ),
        name="returns-deadline-sweep",
    )


async def stop_sweeping(task: asyncio.Task[None] | None) -> None:
    """Cancel the background sweep and wait for it: its open transaction rolls back."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
