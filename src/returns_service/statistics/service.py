"""Read the statistics of a window: whole UTC days from the rollups, the rest from the rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import NotFound, ValidationFailed
from returns_service.models.base import utcnow
from returns_service.rules import sampling
from returns_service.rules import statistics as arithmetic
from returns_service.rules.vocabulary import ReturnStatus, Role
from returns_service.statistics import repository
from returns_service.statistics.cells import (
    Cells,
    Dimension,
    Metric,
    order_cells,
    return_cells,
)
from returns_service.statistics.schemas import (
    Durations,
    FirstResponse,
    Group,
    GroupBy,
    ReasonShare,
    RefundTotal,
    Statistics,
)

DEFAULT_WINDOW = timedelta(days=30)
LONGEST_WINDOW = timedelta(days=366)

# (day or None, dimension, key, metric) -> value
Sums = Counter[tuple[date | None, str, str, str]]


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def whole_days(self) -> tuple[date, date]:
        """The UTC days wholly inside the window, as [first, end)."""
        first = self.start.date()
        if self.start != _midnight(first):
            first += timedelta(days=1)
        return first, self.end.date()

    def touched_days(self) -> list[date]:
        days, day = [], self.start.date()
        while _midnight(day) < self.end:
            days.append(day)
            day += timedelta(days=1)
        return days


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def window_of(start: datetime | None, end: datetime | None) -> Window:
    """The half-open window [from, to): by default the 30 days before now; at most 366 days."""
    end = (end or utcnow()).astimezone(UTC)
    start = (start or end - DEFAULT_WINDOW).astimezone(UTC)
    if start >= end:
        raise ValidationFailed(
            "`from` must be before `to`",
            [{"loc": ["query", "from"], "msg": "must be before `to`", "type": "value_error"}],
        )
    if end - start > LONGEST_WINDOW:
        raise ValidationFailed(
            "the window may be at most 366 days",
            [
                {
                    "loc": ["query", "to"],
                    "msg": "at most 366 days after `from`",
                    "type": "value_error",
                }
            ],
        )
    return Window(start, end)


def shop_of(caller: Caller, shop_id: str | None) -> str | None:
    """The shop whose statistics the caller reads; None for every shop (not for merchants)."""
    caller.require(Role.MERCHANT, Role.PLATFORM, Role.STOREFRONT)
    if caller.role is Role.MERCHANT:
        if shop_id is not None and shop_id != caller.shop_id:
            raise NotFound(f"no shop {shop_id}")
        return caller.shop_id
    return shop_id


async def read_statistics(
    session: AsyncSession,
    caller: Caller,
    shop_id: str | None,
    start: datetime | None,
    end: datetime | None,
    group_by: GroupBy | None,
    *,
    repurchase_sample_orders: int,
) -> Statistics:
    """`repurchase_sample_orders`: beyond this many orders in the window, repurchase impact is
    counted over a sample of buyers (Settings.repurchase_sample_orders)."""
    shop = shop_of(caller, shop_id)
    window = window_of(start, end)
    dimensions = [Dimension.ALL, Dimension.REASON]
    if group_by not in (None, GroupBy.DAY, GroupBy.REASON):
        dimensions.append(group_by.value)
    sums = await _sums(session, shop, window, dimensions, by_day=group_by is GroupBy.DAY)
    totals: Counter[tuple[str, str, str]] = Counter()
    for (day, dimension, key, metric), value in sums.items():
        if day is None:
            totals[(dimension, key, metric)] += value
    # The window's orders are in the cells already: they say whether to sample, and how much.
    sampled = sampling.buckets_to_sample(
        totals[(Dimension.ALL, "", Metric.ORDERS)], repurchase_sample_orders
    )
    repurchases = await repository.count_repurchases(
        session, shop, window.start, window.end, sampled
    )
    return _answer(
        shop, window, totals, sums, group_by, repurchases, repurchase_sampled=sampled is not None
    )


# What a group of the day has; the rest of a day's cells (histograms, states) stay unread.
DAY_GROUP_METRICS = (
    Metric.ORDERS,
    Metric.ORDERS_WITH_RETURNS,
    Metric.UNITS_SOLD,
    Metric.UNITS_RETURNED,
    Metric.RETURNS,
)


async def _sums(
    session: AsyncSession, shop: str | None, window: Window, dimensions: list[str], *, by_day: bool
) -> Sums:
    """The cells of the window: whole days from the rollups, partial days from the rows.
    Totals are keyed by day None; with `by_day`, each day's group figures by their day too."""
    sums: Sums = Counter()
    first, end = window.whole_days
    partial = [(window.start, window.end)]
    if first < end:
        for dimension, key, metric, value in await repository.sum_cells(
            session, shop, dimensions, first, end
        ):
            sums[(None, dimension, key, metric)] += value
        if by_day:
            for day, metric, value in await repository.day_cells(
                session, shop, DAY_GROUP_METRICS, first, end
            ):
                sums[(day, Dimension.ALL, "", metric)] += value
        partial = [(window.start, _midnight(first)), (_midnight(end), window.end)]
    for start, stop in partial:
        if start >= stop:
            continue
        cells: Cells = Counter()
        # Every shop's rows are read shop by shop: each statement names its shop.
        shops = [shop] if shop else await repository.shops_with_rows(session, start, stop)
        for one in shops:
            cells.update(await _cells_from_rows(session, one, start, stop))
        for cell, value in cells.items():
            if cell.dimension not in dimensions:
                continue
            sums[(None, cell.dimension, cell.key, cell.metric)] += value
            if by_day and cell.dimension == Dimension.ALL and cell.metric in DAY_GROUP_METRICS:
                sums[(cell.day, cell.dimension, cell.key, cell.metric)] += value
    return sums


async def _cells_from_rows(
    session: AsyncSession, shop: str, start: datetime, stop: datetime
) -> Cells:
    cells: Cells = Counter()
    for facts in await repository.return_facts(
        session, repository.returns_applied(shop, start, stop)
    ):
        cells.update(return_cells(facts))
    for order in await repository.order_facts(session, repository.orders_paid(shop, start, stop)):
        cells.update(order_cells(order))
    return cells


def _answer(
    shop: str | None,
    window: Window,
    totals: Counter[tuple[str, str, str]],
    sums: Sums,
    group_by: GroupBy | None,
    repurchases: arithmetic.RepurchaseCounts,
    *,
    repurchase_sampled: bool,
) -> Statistics:
    def whole(metric: str) -> int:
        return totals[(Dimension.ALL, "", metric)]

    def tagged(prefix: str) -> dict[str, int]:
        return {
            metric.split(":", 1)[1]: value
            for (dimension, _, metric), value in totals.items()
            if dimension == Dimension.ALL and metric.startswith(prefix + ":") and value
        }

    orders, returns = whole(Metric.ORDERS), whole(Metric.RETURNS)
    refunds, refunded = tagged(Metric.REFUNDS), tagged(Metric.REFUNDED)
    processing = {int(b): n for b, n in tagged(Metric.PROCESSING).items()}
    response = {int(b): n for b, n in tagged(Metric.FIRST_RESPONSE).items()}
    answered = sum(response.values())
    reasons = {
        key: value
        for (dimension, key, metric), value in totals.items()
        if dimension == Dimension.REASON and metric == Metric.RETURNS
    }
    return Statistics(
        shop_id=shop,
        from_=window.start,
        to=window.end,
        orders=orders,
        orders_with_returns=whole(Metric.ORDERS_WITH_RETURNS),
        return_rate=arithmetic.rate(whole(Metric.ORDERS_WITH_RETURNS), orders),
        units_sold=whole(Metric.UNITS_SOLD),
        units_returned=whole(Metric.UNITS_RETURNED),
        returns=returns,
        by_status={
            status.value: whole(f"{Metric.STATUS}:{status.value}") for status in ReturnStatus
        },
        disputes=whole(Metric.DISPUTES),
        dispute_rate=arithmetic.rate(whole(Metric.DISPUTES), returns),
        refunds=[
            RefundTotal(currency=currency, count=count, amount=refunded.get(currency, 0))
            for currency, count in sorted(refunds.items())
        ],
        processing_time=_durations(processing),
        first_response=FirstResponse(
            **_durations(response).model_dump(),
            within_2h_share=arithmetic.rate(whole(Metric.FIRST_RESPONSE_WITHIN_TARGET), answered),
        ),
        approximate=bool(processing) or bool(response) or repurchase_sampled,
        reasons=[
            ReasonShare(reason=share.name, count=share.count, share=share.share)
            for share in arithmetic.shares(reasons)
        ],
        automatic_actions=whole(Metric.AUTOMATIC_ACTIONS),
        repurchase_impact=arithmetic.repurchase_impact(repurchases),
        groups=_groups(window, totals, sums, group_by),
    )


def _durations(histogram: dict[int, int]) -> Durations:
    return Durations(
        count=sum(histogram.values()),
        median_seconds=arithmetic.nearest_rank_from_histogram(histogram, 50),
        p90_seconds=arithmetic.nearest_rank_from_histogram(histogram, 90),
        # Percentiles come from the rollups' histograms (or the same buckets for partial days).
        approximate=bool(histogram),
    )


def _group(key: str | None, figure: dict[str, int], *, orders_too: bool = True) -> Group:
    if not orders_too:
        return Group(
            key=key,
            orders=None,
            orders_with_returns=None,
            return_rate=None,
            units_sold=None,
            units_returned=None,
            returns=figure.get(Metric.RETURNS, 0),
        )
    orders = figure.get(Metric.ORDERS, 0)
    with_returns = figure.get(Metric.ORDERS_WITH_RETURNS, 0)
    return Group(
        key=key,
        orders=orders,
        orders_with_returns=with_returns,
        return_rate=arithmetic.rate(with_returns, orders),
        units_sold=figure.get(Metric.UNITS_SOLD, 0),
        units_returned=figure.get(Metric.UNITS_RETURNED, 0),
        returns=figure.get(Metric.RETURNS, 0),
    )


def _groups(
    window: Window,
    totals: Counter[tuple[str, str, str]],
    sums: Sums,
    group_by: GroupBy | None,
) -> list[Group]:
    if group_by is None:
        return []
    if group_by is GroupBy.DAY:
        per_day: dict[date, dict[str, int]] = {day: {} for day in window.touched_days()}
        for (day, dimension, _, metric), value in sums.items():
            if day is not None and dimension == Dimension.ALL and day in per_day:
                per_day[day][metric] = per_day[day].get(metric, 0) + value
        return [_group(day.isoformat(), figure) for day, figure in per_day.items()]
    figures: dict[str, dict[str, int]] = {}
    for (dimension, key, metric), value in totals.items():
        if dimension == group_by.value and value:
            figures.setdefault(key, {})[metric] = value
    ordered = sorted(figures.items(), key=lambda item: (item[0] == "", item[0]))
    return [
        _group(key or None, figure, orders_too=group_by is not GroupBy.REASON)
        for key, figure in ordered
    ]
