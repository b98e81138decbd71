"""Keep the rollups in step with the rows, in the transaction that changes the rows.

Use cases call `before_return_change`, `before_new_return` and `before_order_change` before
they change anything; each notes what the order or return adds to the statistics now. When
the session commits, what they add then is taken (a return's own state from the row in
memory: the row keeps what its timeline tells, so an action reads nothing; items, lines and
orders from the database), and the difference is added to the rollup cells in one
statement, last thing before the commit: the cells are the last locks the
transaction takes, in key order, so that approvals in one shop queue briefly on shared cells
and never deadlock.

What each transaction may change decides what it takes a difference of:
- a return's own state (status, refund, timeline) changes under its row lock: its cells for
  the whole shop;
- an order's cells change with its payment, lines and region (registration, under the order's
  lock) and with the units of its returns that were not cancelled (an application or a
  cancellation, under the order's lock too);
- a return's cells per reason, region, category and sku change only with its order's region
  and lines (registration).
Each transaction reads only what it holds the lock of, so two of them never count one change
twice or lose one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.base import NO_VALUE

from returns_service import appended_rows
from returns_service.models import OrderRow, ReturnRow
from returns_service.rules.vocabulary import ReturnStatus
from returns_service.statistics import repository
from returns_service.statistics.cells import (
    CellKey,
    Cells,
    OrderFacts,
    ReturnFacts,
    grouped_return_cells,
    order_cells,
    whole_shop_cells,
)

_KEY = "statistics_before"

Key = tuple[str, str]


@dataclass
class Before:
    """What the tracked orders and returns added to the cells when first tracked; the returns
    whose own cells are counted from the row in memory at commit."""

    returns_own: dict[Key, Cells] = field(default_factory=dict)
    returns_grouped: dict[Key, Cells] = field(default_factory=dict)
    orders: dict[Key, Cells] = field(default_factory=dict)
    rows: dict[Key, ReturnRow] = field(default_factory=dict)


def _before(session: AsyncSession | Session) -> Before:
    info = session.info
    if _KEY not in info:
        info[_KEY] = Before()
    before: Before = info[_KEY]
    return before


# The columns a return's own cells are counted from.
_FACT_COLUMNS = (
    "order_id",
    "created_at",
    "status",
    "reason",
    "currency",
    "refunded_amount",
    "refunded_at",
    "escalated",
    "automatic_actions",
    "first_response_at",
)


def _own_facts(row: ReturnRow, *, as_loaded: bool) -> ReturnFacts | None:
    """The return's own facts from the row in memory: as it is, or as it was loaded (a use
    case may have set a value, e.g. the refunded amount, before it tracks the change; nothing
    has been flushed by then, so the session still holds the loaded value). None when the
    row cannot say without a query: expired (a savepoint rolled back), or no longer in the
    database."""
    state = inspect(row)
    if not state.persistent or state.identity is None:
        return None
    loaded = state.dict
    try:
        values = {name: loaded[name] for name in _FACT_COLUMNS}
    except KeyError:
        return None
    if as_loaded:
        # What changed since the row was loaded or last flushed: name -> the value before.
        for name, original in state.committed_state.items():
            if name in values:
                values[name] = None if original is NO_VALUE else original
    shop_id, return_id = state.identity
    return ReturnFacts(
        shop_id=shop_id,
        return_id=return_id,
        order_id=values["order_id"],
        applied_at=values["created_at"],
        status=values["status"],
        reason=values["reason"],
        currency=values["currency"],
        refunded_amount=values["refunded_amount"],
        refunded_at=values["refunded_at"],
        escalated=values["escalated"],
        automatic_actions=values["automatic_actions"],
        first_response_at=values["first_response_at"],
        region=None,
        items=(),
        lines=(),
    )


async def _read_own_facts(session: AsyncSession, shop_id: str, return_id: str) -> Cells:
    facts = await repository.own_return_facts(
        session, repository.returns_named(shop_id, [return_id])
    )
    return whole_shop_cells(facts[0]) if facts else Counter()


async def _track_order(session: AsyncSession, shop_id: str, order_id: str) -> None:
    before = _before(session)
    key = (shop_id, order_id)
    if key in before.orders:
        return
    facts = await repository.order_facts(session, repository.orders_named(shop_id, [order_id]))
    before.orders[key] = order_cells(facts[0]) if facts else Counter()


async def before_return_change(
    session: AsyncSession, row: ReturnRow, entering: ReturnStatus | None = None
) -> None:
    """Note what the return adds now, from the row itself (no statement); the caller holds its
    row lock. Entering `cancelled` its units leave its order's figures: the order is locked
    (after the return) and noted."""
    before = _before(session)
    key = (row.shop_id, row.id)
    if key not in before.returns_own:
        facts = _own_facts(row, as_loaded=True)
        before.returns_own[key] = (
            whole_shop_cells(facts) if facts else await _read_own_facts(session, *key)
        )
        before.rows[key] = row
    if entering is ReturnStatus.CANCELLED:
        await repository.lock_order(session, row.shop_id, row.order_id)
        await _track_order(session, row.shop_id, row.order_id)


async def before_new_return(session: AsyncSession, order: OrderRow, return_id: str) -> None:
    """Note a return about to be applied for: it adds nothing yet, and its order (locked by
    the application) is noted as it is."""
    before = _before(session)
    key = (order.shop_id, return_id)
    before.returns_own[key] = Counter()
    before.returns_grouped[key] = Counter()
    await _track_order(session, order.shop_id, order.id)


async def before_order_change(
    session: AsyncSession, shop_id: str, order_id: str, *, regroups_returns: bool
) -> None:
    """Note the order (locked by its registration) and, when its returns will be grouped
    otherwise (another region), how they are grouped now."""
    await _track_order(session, shop_id, order_id)
    if not regroups_returns:
        return
    before = _before(session)
    for facts in await repository.return_facts(
        session, repository.returns_of_order(shop_id, order_id)
    ):
        key = (facts.shop_id, facts.return_id)
        before.returns_grouped.setdefault(key, grouped_return_cells(facts))


async def _write_differences(session: AsyncSession, before: Before) -> None:
    """Read what the tracked rows add now and add the differences to the cells."""
    deltas: Counter[tuple[str, CellKey]] = Counter()

    def add(shop_id: str, after: Cells, earlier: Cells) -> None:
        for cell in after.keys() | earlier.keys():
            change = after.get(cell, 0) - earlier.get(cell, 0)
            if change:
                deltas[(shop_id, cell)] += change

    # Grouped cells need items and lines; own cells only the return's state and timeline.
    # One shop at a time: each statement names its shop (one node under Citus). What is read
    # from the database is read after a flush, so that it sees the transaction's changes; a
    # transaction that reads nothing here leaves its changes to the commit's one statement
    # (`appended_rows`).
    if before.returns_grouped or before.orders:
        await session.flush()
    grouped: dict[Key, ReturnFacts] = {}
    for shop_id, ids in _by_shop(before.returns_grouped).items():
        for facts in await repository.return_facts(session, repository.returns_named(shop_id, ids)):
            grouped[(facts.shop_id, facts.return_id)] = facts
    found = dict(grouped)
    unread: list[Key] = []
    for key in before.returns_own.keys() - grouped.keys():
        row = before.rows.get(key)
        in_memory = _own_facts(row, as_loaded=False) if row is not None else None
        if in_memory is None:
            unread.append(key)
        else:
            found[key] = in_memory
    # Rows memory cannot speak for (expired by a rolled-back savepoint, or deleted): read.
    if unread:
        await session.flush()
    for shop_id, ids in _by_shop(unread).items():
        for facts in await repository.own_return_facts(
            session, repository.returns_named(shop_id, ids)
        ):
            found[(facts.shop_id, facts.return_id)] = facts
    for key, earlier in before.returns_own.items():
        now = found.get(key)
        add(key[0], whole_shop_cells(now) if now else Counter(), earlier)
    for key, earlier in before.returns_grouped.items():
        now = grouped.get(key)
        add(key[0], grouped_return_cells(now) if now else Counter(), earlier)
    orders: dict[Key, OrderFacts] = {}
    for shop_id, ids in _by_shop(before.orders).items():
        for order in await repository.order_facts(session, repository.orders_named(shop_id, ids)):
            orders[(order.shop_id, order.order_id)] = order
    for key, earlier in before.orders.items():
        order_now = orders.get(key)
        add(key[0], order_cells(order_now) if order_now else Counter(), earlier)
    repository.add_deltas(session, deltas)


def _by_shop(keys: Iterable[Key]) -> dict[str, set[str]]:
    shops: dict[str, set[str]] = {}
    for shop_id, ident in keys:
        shops.setdefault(shop_id, set()).add(ident)
    return dict(sorted(shops.items()))


def _has_notes(session: Session) -> bool:
    return _KEY in session.info


async def _add_differences(session: AsyncSession) -> None:
    """Queue the differences as the outermost commit begins (see `appended_rows`): its last
    statement writes them with the transaction's other appended rows."""
    before: Before | None = session.sync_session.info.pop(_KEY, None)
    if before is not None:
        await _write_differences(session, before)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)


def install() -> None:
    """Keep statistics in every session: write on commit, forget when a transaction ends."""
    appended_rows.before_writing(_has_notes, _add_differences)
    if not event.contains(Session, "after_transaction_end", _forget):
        event.listen(Session, "after_transaction_end", _forget)


# Whatever can note a change imports this module, so every session that may carry notes has
# the events that write them.
install()
