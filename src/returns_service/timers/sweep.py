"""Act on due deadlines as the `system` actor: each one once, however many sweepers run.

A sweep reads the due deadlines a page at a time, most overdue first (no locks: a read over
every shop), and claims them shop by shop in batches, each batch in one short transaction:
the claim locks the batch's returns in one statement pinned to its shop (PostgreSQL: `FOR
UPDATE SKIP LOCKED`, so rows another sweeper or an API request holds are left to it and
sweepers side by side take different rows; SQLite: BEGIN IMMEDIATE queues every writer), and
re-checks under the lock that each is still due and unchanged since the sweep began.

Every timer but a refund is then decided in Python, return by return (the state table, the
deadline the new state starts, the event and its outbox row: `returns.bulk_moves`), and the
batch is written in three statements under one savepoint; a return the rules refuse is left
out of it. If the database refuses the batch, the savepoint is rolled back and its returns
are acted on one at a time, each under a SAVEPOINT of its own, so one bad row still cannot
stop the rest. Refunds move money: they are always paid one at a time (`pay_refund`, under
the order's lock). A few batches run at once, so the database's round trips overlap with
Python's work.

A return acted on, or changed by anyone, since the sweep started is not claimed again by it
(its new deadline is for a later sweep). Each shop's policy is read once per process and
version (policies.cache), not once per return.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, StatementError
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
from returns_service.returns.bulk_moves import BulkMoves, NotInBulk, undo
from returns_service.returns.lifecycle import move
from returns_service.returns.negotiation import LAPSED, end_offer, lapse_offer
from returns_service.returns.refunds import pay_refund
from returns_service.rules.deadlines import timer_action
from returns_service.rules.vocabulary import Action, ReturnType, Role
from returns_service.statistics.folding import fold_statistics
from returns_service.timestamps import api_timestamp

logger = logging.getLogger(__name__)

# A batch costs about ten round trips (claim, items, savepoint, three writes, release,
# statistics, commit), and on loopback TCP each send costs the sweep real CPU: measured at
# 5,000 review timers, 100 returns a batch took 0.45 ms of CPU per deadline, 250 took 0.35,
# 1,000 no less (and its first batch runs alone). A batch holds its returns' row locks for
# a few tens of milliseconds; an API request on one of them waits that long.
PAGE_SIZE = 1000
BATCH_SIZE = 250
# Batches claimed and acted on at once by one sweep (PostgreSQL; SQLite has one writer).
CONCURRENCY = 4

Sessionmaker = async_sessionmaker[AsyncSession]


@dataclass
class _Sweep:
    now: datetime
    started: datetime
    acted: int = 0
    # Shops whose first batch ran (and so whose policy this process now holds).
    shops: set[str] = field(default_factory=set)


def _timer(row: ReturnRow) -> tuple[Action, ReturnType]:
    """The action the passed deadline calls for, and the return's type."""
    assert row.deadline_action is not None
    kind = ReturnType(row.type)
    return timer_action(row.deadline_action, kind), kind


def _timer_data(row: ReturnRow) -> dict[str, Any]:
    """What the timer's event says of it: which one, and when it was due."""
    assert row.deadline_action is not None and row.deadline_due_at is not None
    return {"timer": row.deadline_action, "due_at": api_timestamp(row.deadline_due_at)}


def _moves_money(row: ReturnRow) -> bool:
    """Does the passed deadline pay a refund? (Refunds are paid one return at a time.)"""
    try:
        action, kind = _timer(row)
    except ValueError:
        return False  # refused when planned, and logged there
    return action is Action.REFUND or (action is Action.APPROVE and kind is ReturnType.REFUND_ONLY)


async def _run_timer(session: AsyncSession, row: ReturnRow) -> None:
    """Take the action the passed deadline calls for, as the system, with its event: one
    return, its own statements (refunds; a batch the database refused)."""
    action, kind = _timer(row)
    data = _timer_data(row)
    if action is Action.REFUND:
        await pay_refund(session, row, SYSTEM_CALLER, None, data=data)
    elif action is Action.DECLINE_OFFER:
        await lapse_offer(session, row, data)
    elif action is Action.APPROVE and kind is ReturnType.REFUND_ONLY:
        # Review timeout on a refund-only: approved, and paid at once.
        await approve_and_refund(session, row, data)
    else:
        if action is Action.APPROVE and kind.goods_travel_back:
            # The merchant never answered: the goods go to the address its policy names.
            address = await default_return_address(session, row.shop_id)
            if address is None:
                _leave_to_the_merchant(row)
                return
            row.return_address = address
        await move(session, row, action, SYSTEM_CALLER, data=data)


async def _plan_timer(session: AsyncSession, batch: BulkMoves, row: ReturnRow) -> None:
    """Decide what the passed deadline does to the return, as `_run_timer` would, and add it
    to the shop's batch (no statement of its own)."""
    action, kind = _timer(row)
    data = _timer_data(row)
    if action is Action.DECLINE_OFFER:
        await batch.move(session, row, action, end_offer(row, LAPSED, data))
        return
    if action is Action.APPROVE and kind.goods_travel_back:
        address = await default_return_address(session, row.shop_id)
        if address is None:
            _leave_to_the_merchant(row)
            batch.change(row)
            return
        row.return_address = address
    await batch.move(session, row, action, data)


def _leave_to_the_merchant(row: ReturnRow) -> None:
    """The review timer may not approve goods travelling back to no address at all: the buyer
    would be told to ship to nowhere. The return stays requested, its timer stopped, waiting
    on the merchant with no due time: it stays in the `awaiting=merchant` work queue (after
    the dated ones when sorted by due_at) until a person approves it with an address, or
    rejects it. The version moves: the deadline a reader saw is gone."""
    logger.warning(
        "review timer of return %s left to the merchant: no return address to approve with",
        row.id,
    )
    row.deadline_action = None
    row.deadline_due_at = None
    row.deadline_actor = Role.MERCHANT.value
    row.version += 1
    row.updated_at = utcnow()


async def _act_on_batch(
    sessionmaker: Sessionmaker, sweep: _Sweep, shop_id: str, return_ids: list[str]
) -> None:
    """Claim one shop's batch and act on each return of it, in one transaction: every move
    but a refund decided in Python and written in a few statements for the whole batch;
    refunds, and the batch again if the database refuses it, one return at a time."""
    async with sessionmaker() as session:
        try:
            async with session.begin():
                rows = await repository.claim_due_of_shop(
                    session, shop_id, return_ids, sweep.now, changed_before=sweep.started
                )
                for row in await _act_in_bulk(session, sweep, shop_id, rows):
                    if await _act_on(session, row):
                        sweep.acted += 1
        except DBAPIError as refusal:
            # The claim or the commit failed (lock timeout, connection lost): the batch goes
            # back to due, for the next sweep; the other batches still run.
            logger.warning("deadline sweep batch failed: %s: %s", type(refusal).__name__, refusal)


async def _act_in_bulk(
    session: AsyncSession, sweep: _Sweep, shop_id: str, rows: list[ReturnRow]
) -> list[ReturnRow]:
    """Act on the claimed returns in one batch, under a savepoint; answer those to act on one
    at a time instead: the refunds, or all of them again when the database refuses the
    batch."""
    claimed = [row.id for row in rows]
    one_by_one = [row for row in rows if _moves_money(row)]
    batch = BulkMoves(shop_id)
    try:
        # The changes are made in memory first, with no autoflush: the ORM writes nothing of
        # them itself, the batch does (begin_nested flushes, so it comes first).
        async with session.begin_nested():
            with session.no_autoflush:
                for row in rows:
                    if row not in one_by_one and not await _plan(session, batch, row):
                        one_by_one.append(row)
            await batch.write(session)
    except StatementError as refusal:
        logger.warning(
            "batch of %d returns of shop %s refused, acting on them one by one: %s: %s",
            len(claimed),
            shop_id,
            type(refusal).__name__,
            refusal,
        )
        # Rolled back, the returns' rows in the session are expired: load them again.
        return await repository.claim_due_of_shop(
            session, shop_id, claimed, sweep.now, changed_before=sweep.started, reload=True
        )
    sweep.acted += len(batch)
    return one_by_one


async def _plan(session: AsyncSession, batch: BulkMoves, row: ReturnRow) -> bool:
    """Add the return's timer to the batch, or leave it for the next sweep when the state
    table or the rules refuse it (nothing of it changed; the rest of the batch still runs).
    Answer False for a move to take one return at a time instead."""
    try:
        await _plan_timer(session, batch, row)
    except NotInBulk:
        undo(row)
        return False
    except (ServiceError, ValueError) as refusal:
        undo(row)
        logger.warning(
            "deadline of return %s not acted on: %s: %s", row.id, type(refusal).__name__, refusal
        )
    return True


async def _act_on(session: AsyncSession, row: ReturnRow) -> bool:
    """Act on one claimed return under its own savepoint; answer whether it was acted on."""
    return_id = row.id  # a savepoint rolled back expires the row: its id is not read after
    try:
        async with session.begin_nested():
            await _run_timer(session, row)
    except (ServiceError, ValueError, StatementError) as refusal:
        # The state table or the money rules refuse, or the database (or its driver) rejects
        # this row: leave it for the next sweep; the rest of the batch still runs.
        logger.warning(
            "deadline of return %s not acted on: %s: %s", return_id, type(refusal).__name__, refusal
        )
        # Rolled back, the row is expired; statistics read it again at commit (what it adds
        # now, unchanged): load it here, where a load may wait on the database.
        await session.refresh(row)
        return False
    return True


def _batches(page: list[tuple[str, str, int, datetime]]) -> list[tuple[str, list[str]]]:
    """The page's returns by shop, in batches of at most BATCH_SIZE, most overdue first."""
    by_shop: dict[str, list[str]] = {}
    for shop_id, return_id, _version, _due_at in page:
        by_shop.setdefault(shop_id, []).append(return_id)
    return [
        (shop_id, ids[start : start + BATCH_SIZE])
        for shop_id, ids in by_shop.items()
        for start in range(0, len(ids), BATCH_SIZE)
    ]


async def sweep_once(
    sessionmaker: Sessionmaker,
    now: datetime | None = None,
    *,
    outbox_retention_days: int = DEFAULT_OUTBOX_RETENTION_DAYS,
) -> int:
    """Act once on every return whose deadline is due at `now` (default: the current time),
    then remove expired idempotency keys and settled outbox events, and fold the statistics
    deltas into their cells.

    Answers how many returns it acted on. A return acted on is not acted on again in the same
    sweep, even if its next deadline is due too. The actions themselves happen at the current
    time: `now` only says which deadlines count as passed.
    """
    started = utcnow()
    sweep = _Sweep(now=now or started, started=started)
    bind = sessionmaker.kw.get("bind")
    gate = asyncio.Semaphore(1 if bind is None or bind.dialect.name == "sqlite" else CONCURRENCY)

    async def batch(shop_id: str, return_ids: list[str]) -> None:
        async with gate:
            await _act_on_batch(sessionmaker, sweep, shop_id, return_ids)

    after: tuple[datetime, str, str] | None = None
    while True:
        async with sessionmaker() as session, session.begin():
            page = await repository.due_deadlines(session, sweep.now, after, PAGE_SIZE)
        if not page:
            break
        shop_id, return_id, _version, due_at = page[-1]
        after = (due_at, shop_id, return_id)
        batches = _batches(page)
        # A shop's first batch of the sweep goes alone: it reads the shop's policy if this
        # process holds no entry of its version, and the shop's later batches find it cached
        # (side by side, each would miss and read the same policy).
        first = {shop: ids for shop, ids in reversed(batches) if shop not in sweep.shops}
        sweep.shops.update(first)
        await asyncio.gather(*(batch(shop, ids) for shop, ids in first.items()))
        rest = [(shop, ids) for shop, ids in batches if first.get(shop) is not ids]
        await asyncio.gather(*(batch(shop, ids) for shop, ids in rest))
    await remove_expired_idempotency_keys(sessionmaker, sweep.now)
    await remove_settled_outbox_events(
        sessionmaker, sweep.now, retention_days=outbox_retention_days
    )
    await fold_statistics(sessionmaker)
    return sweep.acted


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
