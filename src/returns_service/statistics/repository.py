"""SQL for statistics: the facts of orders and returns, and the rollup cells."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Table,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service import appended_rows
from returns_service.models import (
    OrderLineRow,
    OrderRow,
    ReturnItemRow,
    ReturnRow,
    StatisticsCellRow,
    StatisticsDeltaRow,
)
from returns_service.rules.statistics import RepurchaseCounts
from returns_service.rules.vocabulary import ReturnStatus, Role
from returns_service.statistics.cells import (
    CellKey,
    Dimension,
    LineFacts,
    OrderFacts,
    ReturnFacts,
)
from returns_service.statistics.periods import SPANS, block_start, blocks

_RESPONDERS = (Role.MERCHANT.value, Role.PLATFORM.value)
# Rows per INSERT: well under SQLite's 32766 bound parameters at 6 columns a row.
_CHUNK = 1000


def returns_applied(shop_id: str | None, start: datetime, end: datetime) -> ColumnElement[bool]:
    """Returns applied for in [start, end), of one shop or every shop."""
    window = and_(ReturnRow.created_at >= start, ReturnRow.created_at < end)
    return window if shop_id is None else and_(ReturnRow.shop_id == shop_id, window)


def orders_paid(shop_id: str | None, start: datetime, end: datetime) -> ColumnElement[bool]:
    """Orders paid in [start, end), of one shop or every shop."""
    window = and_(OrderRow.paid_at >= start, OrderRow.paid_at < end)
    return window if shop_id is None else and_(OrderRow.shop_id == shop_id, window)


def returns_named(shop_id: str, ids: Iterable[str]) -> ColumnElement[bool]:
    return and_(ReturnRow.shop_id == shop_id, ReturnRow.id.in_(sorted(ids)))


def orders_named(shop_id: str, ids: Iterable[str]) -> ColumnElement[bool]:
    return and_(OrderRow.shop_id == shop_id, OrderRow.id.in_(sorted(ids)))


def returns_of_order(shop_id: str, order_id: str) -> ColumnElement[bool]:
    return and_(ReturnRow.shop_id == shop_id, ReturnRow.order_id == order_id)


async def _lines_of_orders(
    session: AsyncSession, picked: ColumnElement[bool], *, via_returns: bool
) -> dict[tuple[str, str], tuple[LineFacts, ...]]:
    """The lines of the orders picked by a condition on orders (or on their returns; an
    order with several returns is read once)."""
    line = OrderLineRow
    statement = select(
        line.shop_id,
        line.order_id,
        line.position,
        line.line_id,
        line.sku,
        line.category,
        line.quantity,
    )
    if via_returns:
        statement = statement.join(
            ReturnRow,
            and_(ReturnRow.shop_id == line.shop_id, ReturnRow.order_id == line.order_id),
        ).distinct()
    else:
        statement = statement.join(
            OrderRow, and_(OrderRow.shop_id == line.shop_id, OrderRow.id == line.order_id)
        )
    statement = statement.where(picked).order_by(line.shop_id, line.order_id, line.position)
    lines: dict[tuple[str, str], list[LineFacts]] = defaultdict(list)
    for row in await session.execute(statement):
        lines[(row.shop_id, row.order_id)].append(
            LineFacts(row.line_id, row.sku, row.category, row.quantity)
        )
    return {key: tuple(value) for key, value in lines.items()}


def _return_columns() -> tuple[Any, ...]:
    return (
        ReturnRow.shop_id,
        ReturnRow.id,
        ReturnRow.order_id,
        ReturnRow.created_at,
        ReturnRow.status,
        ReturnRow.reason,
        ReturnRow.currency,
        ReturnRow.refunded_amount,
        ReturnRow.refunded_at,
        ReturnRow.escalated,
        ReturnRow.automatic_actions,
        ReturnRow.first_response_at,
    )


def _facts(
    row: Any,
    *,
    region: str | None = None,
    items: tuple[tuple[str, int], ...] = (),
    lines: tuple[LineFacts, ...] = (),
) -> ReturnFacts:
    return ReturnFacts(
        shop_id=row.shop_id,
        return_id=row.id,
        order_id=row.order_id,
        applied_at=row.created_at,
        status=row.status,
        reason=row.reason,
        currency=row.currency,
        refunded_amount=row.refunded_amount,
        refunded_at=row.refunded_at,
        escalated=bool(row.escalated),
        automatic_actions=int(row.automatic_actions),
        first_response_at=row.first_response_at,
        region=region,
        items=items,
        lines=lines,
    )


async def own_return_facts(session: AsyncSession, picked: ColumnElement[bool]) -> list[ReturnFacts]:
    """The returns' own state, without items and order: all their cells for the whole shop
    need (one query)."""
    return [_facts(row) for row in await session.execute(select(*_return_columns()).where(picked))]


async def return_facts(session: AsyncSession, picked: ColumnElement[bool]) -> list[ReturnFacts]:
    """The facts of every return the condition on ReturnRow picks, with its timeline's, its
    items and its order's region and lines."""
    base = (
        select(*_return_columns(), OrderRow.buyer_region)
        .join(
            OrderRow,
            and_(OrderRow.shop_id == ReturnRow.shop_id, OrderRow.id == ReturnRow.order_id),
        )
        .where(picked)
    )
    rows = (await session.execute(base)).all()
    if not rows:
        return []
    items: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    item_rows = await session.execute(
        select(
            ReturnItemRow.shop_id,
            ReturnItemRow.return_id,
            ReturnItemRow.line_id,
            ReturnItemRow.quantity,
        )
        .join(
            ReturnRow,
            and_(
                ReturnRow.shop_id == ReturnItemRow.shop_id,
                ReturnRow.id == ReturnItemRow.return_id,
            ),
        )
        .where(picked)
        .order_by(ReturnItemRow.shop_id, ReturnItemRow.return_id, ReturnItemRow.position)
    )
    for item in item_rows:
        items[(item.shop_id, item.return_id)].append((item.line_id, item.quantity))
    lines = await _lines_of_orders(session, picked, via_returns=True)
    return [
        _facts(
            row,
            region=row.buyer_region,
            items=tuple(items.get((row.shop_id, row.id), ())),
            lines=lines.get((row.shop_id, row.order_id), ()),
        )
        for row in rows
    ]


async def order_facts(session: AsyncSession, picked: ColumnElement[bool]) -> list[OrderFacts]:
    """The facts of every order the condition on OrderRow picks, with the units its
    returns that were not cancelled hold."""
    rows = (
        await session.execute(
            select(OrderRow.shop_id, OrderRow.id, OrderRow.paid_at, OrderRow.buyer_region).where(
                picked
            )
        )
    ).all()
    if not rows:
        return []
    lines = await _lines_of_orders(session, picked, via_returns=False)
    returned: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    held = await session.execute(
        select(
            ReturnRow.shop_id,
            ReturnRow.order_id,
            ReturnItemRow.line_id,
            func.sum(ReturnItemRow.quantity),
        )
        .join(
            ReturnRow,
            and_(
                ReturnRow.shop_id == ReturnItemRow.shop_id, ReturnRow.id == ReturnItemRow.return_id
            ),
        )
        .join(
            OrderRow, and_(OrderRow.shop_id == ReturnRow.shop_id, OrderRow.id == ReturnRow.order_id)
        )
        .where(picked, ReturnRow.status != ReturnStatus.CANCELLED.value)
        .group_by(ReturnRow.shop_id, ReturnRow.order_id, ReturnItemRow.line_id)
    )
    for shop_id, order_id, line_id, units in held:
        returned[(shop_id, order_id)][line_id] = int(units)
    return [
        OrderFacts(
            shop_id=row.shop_id,
            order_id=row.id,
            paid_at=row.paid_at,
            region=row.buyer_region,
            lines=lines.get((row.shop_id, row.id), ()),
            returned=returned.get((row.shop_id, row.id), {}),
        )
        for row in rows
    ]


async def lock_order(session: AsyncSession, shop_id: str, order_id: str) -> None:
    """Hold the order until commit: what its returns add to it changes one at a time."""
    await session.execute(
        select(OrderRow.id)
        .where(OrderRow.shop_id == shop_id, OrderRow.id == order_id)
        .with_for_update()
    )


async def add_to_cells(session: AsyncSession, deltas: Mapping[tuple[str, CellKey], int]) -> None:
    """Add each delta to its day's cell and to the cells of the blocks that hold the day,
    creating cells as needed.

    One statement per chunk, rows in key order: concurrent writers lock the cells they share
    in the same order and never deadlock; `value = value + excluded.value` adds to what
    another transaction committed meanwhile instead of overwriting it.
    """
    summed: Counter[tuple[str, str, int, date, str, str]] = Counter()
    for (shop_id, cell), value in deltas.items():
        for span in SPANS:
            start = block_start(cell.day, span)
            summed[(shop_id, cell.dimension, span, start, cell.key, cell.metric)] += value
    rows = [
        {
            "shop_id": shop_id,
            "dimension": dimension,
            "span": span,
            "day": day,
            "key": key,
            "metric": metric,
            "value": value,
        }
        for (shop_id, dimension, span, day, key, metric), value in sorted(summed.items())
        if value
    ]
    if not rows:
        return
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for chunk in range(0, len(rows), _CHUNK):
        # A multi-row VALUES: one statement and one round trip (a list of parameter sets
        # would be an executemany, one statement per row).
        statement = insert(StatisticsCellRow).values(rows[chunk : chunk + _CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=["shop_id", "dimension", "span", "day", "key", "metric"],
            set_={"value": StatisticsCellRow.value + statement.excluded.value},
        )
        await session.execute(statement)


_DELTAS: Table = StatisticsDeltaRow.__table__  # type: ignore[assignment]


def add_deltas(session: AsyncSession, deltas: Mapping[tuple[str, CellKey], int]) -> None:
    """Queue what a transaction adds to the cells as new delta rows, written with its other
    appended rows as it commits (`appended_rows`): no row another writer holds is touched, so
    writers in one shop never wait on each other."""
    batch = uuid.uuid4().hex
    appended_rows.append_rows(
        session,
        _DELTAS,
        (
            {
                "shop_id": shop_id,
                "batch": batch,
                "position": position,
                "day": cell.day,
                "dimension": cell.dimension,
                "key": cell.key,
                "metric": cell.metric,
                "value": value,
            }
            for position, ((shop_id, cell), value) in enumerate(sorted(deltas.items()))
            if value
        ),
    )


async def shops_with_deltas(session: AsyncSession, limit: int) -> list[str]:
    """Shops with deltas to fold (a maintenance read over every shop, like the sweep's)."""
    statement = select(StatisticsDeltaRow.shop_id).distinct().limit(limit)
    return sorted(str(row[0]) for row in await session.execute(statement))


async def claim_deltas(
    session: AsyncSession, shop_id: str, limit: int
) -> tuple[int, dict[tuple[str, CellKey], int]]:
    """Take up to `limit` of a shop's deltas out of the table; answer how many, and their
    sums by cell.

    PostgreSQL: the rows are locked `SKIP LOCKED` first, so folders side by side take
    different rows and never wait on a writer; SQLite has one writer at a time anyway.
    """
    delta = StatisticsDeltaRow
    picked = (
        select(delta.batch, delta.position)
        .where(delta.shop_id == shop_id)
        .order_by(delta.batch, delta.position)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    # One statement, the rows picked by a subquery (a list of the picked keys in the DELETE
    # made PostgreSQL compare every row with every key: 30,000 deltas took 18 s to fold).
    taken = await session.execute(
        delete(delta)
        .where(delta.shop_id == shop_id, tuple_(delta.batch, delta.position).in_(picked))
        .returning(delta.day, delta.dimension, delta.key, delta.metric, delta.value)
    )
    rows = 0
    sums: Counter[tuple[str, CellKey]] = Counter()
    for day, dimension, key, metric, value in taken:
        rows += 1
        sums[(shop_id, CellKey(_as_date(day), dimension, key, metric))] += int(value)
    return rows, dict(sums)


async def sum_cells(
    session: AsyncSession,
    shop_id: str | None,
    dimensions: Sequence[str],
    first_day: date,
    end_day: date,
) -> list[tuple[str, str, str, int]]:
    """Sums of cells over the days [first_day, end_day): (dimension, key, metric, value).

    Read from the fewest aligned blocks that cover the days (a few dozen per key and metric
    for a year, however many returns the shop has), plus the deltas not folded yet, in one
    statement: one snapshot, so a fold running meanwhile is seen wholly or not at all.
    """
    cell, delta = StatisticsCellRow, StatisticsDeltaRow
    ranges = [
        and_(cell.span == span, cell.day >= start, cell.day < end)
        for span, spans in blocks(first_day, end_day).items()
        for start, end in spans
    ]
    folded = select(cell.dimension, cell.key, cell.metric, cell.value).where(
        cell.dimension.in_(list(dimensions)), or_(*ranges)
    )
    pending = select(delta.dimension, delta.key, delta.metric, delta.value).where(
        delta.dimension.in_(list(dimensions)), delta.day >= first_day, delta.day < end_day
    )
    if shop_id is not None:
        folded = folded.where(cell.shop_id == shop_id)
        pending = pending.where(delta.shop_id == shop_id)
    both = union_all(folded, pending).subquery()
    statement = select(
        both.c.dimension, both.c.key, both.c.metric, func.sum(both.c.value)
    ).group_by(both.c.dimension, both.c.key, both.c.metric)
    return [
        (str(row[0]), str(row[1]), str(row[2]), int(row[3]))
        for row in await session.execute(statement)
    ]


async def day_cells(
    session: AsyncSession,
    shop_id: str | None,
    metrics: Sequence[str],
    first_day: date,
    end_day: date,
) -> list[tuple[date, str, int]]:
    """The whole shop's cells of each day in [first_day, end_day), for these metrics only,
    with the deltas not folded yet (one statement): (day, metric, value)."""
    cell, delta = StatisticsCellRow, StatisticsDeltaRow
    folded = select(cell.day, cell.metric, cell.value).where(
        cell.dimension == Dimension.ALL,
        cell.span == 1,
        cell.day >= first_day,
        cell.day < end_day,
        cell.metric.in_(list(metrics)),
    )
    pending = select(delta.day, delta.metric, delta.value).where(
        delta.dimension == Dimension.ALL,
        delta.day >= first_day,
        delta.day < end_day,
        delta.metric.in_(list(metrics)),
    )
    if shop_id is not None:
        folded = folded.where(cell.shop_id == shop_id)
        pending = pending.where(delta.shop_id == shop_id)
    both = union_all(folded, pending).subquery()
    statement = select(
        type_coerce(both.c.day, Date()), both.c.metric, func.sum(both.c.value)
    ).group_by(both.c.day, both.c.metric)
    return [
        (_as_date(row[0]), str(row[1]), int(row[2])) for row in await session.execute(statement)
    ]


def _as_date(value: Any) -> date:
    # A date read through a UNION on SQLite may come back as its ISO text.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def count_repurchases(
    session: AsyncSession,
    shop_id: str | None,
    start: datetime,
    end: datetime,
    sampled_buckets: int | None = None,
) -> RepurchaseCounts:
    """Per buyer (of a shop) with an order paid in [start, end): whether they paid a later
    order after their first order in the window, whether they applied for a return in the
    window, and whether they paid an order after their first such return.

    `sampled_buckets` b: only the buyers of buckets 0 … b - 1 (rules.sampling), read bucket
    by bucket through (shop_id, buyer_bucket, paid_at) and (shop_id, buyer_bucket,
    created_at); None: every buyer. Costs one pass over those buyers' orders and returns of
    the window (index ranges) and one index probe per buyer for their last order: it grows
    with the buyers read, so the caller samples a large window. Over every shop (shop_id
    None) no index leads with the time or the bucket: every shop's orders and returns are
    scanned, and only the probes are fewer when sampled.
    """
    orders_of_window = orders_paid(shop_id, start, end)
    returns_of_window = returns_applied(shop_id, start, end)
    if sampled_buckets is not None:
        buckets = list(range(sampled_buckets))
        orders_of_window = and_(orders_of_window, OrderRow.buyer_bucket.in_(buckets))
        returns_of_window = and_(returns_of_window, ReturnRow.buyer_bucket.in_(buckets))
    buyers = (
        select(OrderRow.shop_id, OrderRow.buyer_id, func.min(OrderRow.paid_at).label("first_paid"))
        .where(orders_of_window)
        .group_by(OrderRow.shop_id, OrderRow.buyer_id)
        .subquery()
    )
    returners = (
        select(
            ReturnRow.shop_id,
            ReturnRow.buyer_id,
            func.min(ReturnRow.created_at).label("first_return"),
        )
        .where(returns_of_window)
        .group_by(ReturnRow.shop_id, ReturnRow.buyer_id)
        .subquery()
    )
    later = OrderRow.__table__.alias("later")
    last_paid = select(func.max(later.c.paid_at).label("last_paid")).where(
        later.c.shop_id == buyers.c.shop_id, later.c.buyer_id == buyers.c.buyer_id
    )
    joined = buyers.outerjoin(
        returners,
        and_(returners.c.shop_id == buyers.c.shop_id, returners.c.buyer_id == buyers.c.buyer_id),
    )
    if session.get_bind().dialect.name == "postgresql":
        # Each buyer's last order by one probe of (shop_id, buyer_id, paid_at), made once
        # (as a scalar subquery used twice below, PostgreSQL would probe twice).
        lateral = last_paid.lateral("last")
        per_buyer = (
            select(buyers.c.first_paid, returners.c.first_return, lateral.c.last_paid)
            .select_from(joined.join(lateral, literal(True)))
            .subquery()
        )
    else:  # SQLite has no LATERAL
        per_buyer = (
            select(
                buyers.c.first_paid,
                returners.c.first_return,
                last_paid.scalar_subquery().label("last_paid"),
            )
            .select_from(joined)
            .subquery()
        )
    returned = per_buyer.c.first_return.is_not(None)
    row = (
        await session.execute(
            select(
                func.count(),
                func.sum(case((per_buyer.c.last_paid > per_buyer.c.first_paid, 1), else_=0)),
                func.sum(case((returned, 1), else_=0)),
                func.sum(
                    case(
                        (and_(returned, per_buyer.c.last_paid > per_buyer.c.first_return), 1),
                        else_=0,
                    )
                ),
            )
        )
    ).one()
    return RepurchaseCounts(
        buyers=int(row[0] or 0),
        repurchased=int(row[1] or 0),
        returners=int(row[2] or 0),
        returners_repurchased=int(row[3] or 0),
    )


async def hold_off_cell_writers(session: AsyncSession) -> None:
    """Make writers of cells wait until this transaction ends (readers do not wait).
    SQLite has one writer at a time already."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            # Deltas first, as a fold takes them (then the cells it adds to): no cycle.
            text("LOCK TABLE statistics_deltas, statistics_cells IN EXCLUSIVE MODE")
        )


async def delete_cells(session: AsyncSession, shop_id: str) -> None:
    """The shop's cells and its deltas not folded yet."""
    await session.execute(delete(StatisticsCellRow).where(StatisticsCellRow.shop_id == shop_id))
    await session.execute(delete(StatisticsDeltaRow).where(StatisticsDeltaRow.shop_id == shop_id))


async def shops_with_rows(
    session: AsyncSession, start: datetime, end: datetime, *, or_cells: bool = False
) -> list[str]:
    """Every shop with an order paid, or a return applied for, in [start, end) (or, with
    `or_cells`, holding cells): the shops a question or a rebuild over every shop goes
    through one by one."""
    selects = [
        select(OrderRow.shop_id).where(OrderRow.paid_at >= start, OrderRow.paid_at < end),
        select(ReturnRow.shop_id).where(ReturnRow.created_at >= start, ReturnRow.created_at < end),
    ]
    if or_cells:
        selects.append(select(StatisticsCellRow.shop_id))
        selects.append(select(StatisticsDeltaRow.shop_id))
    return sorted(str(row[0]) for row in await session.execute(union(*selects)))
