"""What each order and each return adds to the statistics: its cells.

A cell is one number of one shop on one UTC day, for one dimension (the whole shop, or one
category, sku, region or reason) and one metric. The rollup table holds, for every cell, the
sum of what every current order and return adds to it; a change of an order or a return adds
(what it adds now) minus (what it added before). So the rollups are always the rows' sum, and
a rebuild is the same sum taken from scratch.

Orders count on the day they were paid, returns on the day they were applied for; whatever
later happens to a return (approval, refund, escalation) is counted on its application day,
so that every figure of a window is about the same returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from returns_service.rules.statistics import FIRST_RESPONSE_TARGET_SECONDS, duration_bucket


class Dimension:
    ALL = "all"
    CATEGORY = "category"
    REGION = "region"
    SKU = "sku"
    REASON = "reason"


class Metric:
    ORDERS = "orders"
    ORDERS_WITH_RETURNS = "orders_with_returns"
    UNITS_SOLD = "units_sold"
    UNITS_RETURNED = "units_returned"
    RETURNS = "returns"
    DISPUTES = "disputes"
    AUTOMATIC_ACTIONS = "automatic_actions"
    FIRST_RESPONSE_WITHIN_TARGET = "first_response_2h"
    # Followed by ":" and a status, a currency or a histogram bucket.
    STATUS = "status"
    REFUNDS = "refunds"
    REFUNDED = "refunded"
    PROCESSING = "processing"
    FIRST_RESPONSE = "first_response"


@dataclass(frozen=True, order=True)
class CellKey:
    day: date
    dimension: str
    key: str
    metric: str


Cells = Counter[CellKey]


@dataclass(frozen=True)
class LineFacts:
    line_id: str
    sku: str
    category: str
    quantity: int


@dataclass(frozen=True)
class OrderFacts:
    """An order as statistics see it; `returned` holds, per line, the units of its returns
    that were not cancelled."""

    shop_id: str
    order_id: str
    paid_at: datetime | None
    region: str | None
    lines: tuple[LineFacts, ...]
    returned: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ReturnFacts:
    """A return as statistics see it, with what its timeline tells and its order's lines."""

    shop_id: str
    return_id: str
    order_id: str
    applied_at: datetime
    status: str
    reason: str
    currency: str
    refunded_amount: int | None
    refunded_at: datetime | None
    escalated: bool
    automatic_actions: int
    first_response_at: datetime | None
    region: str | None
    # (line_id, quantity) of each item, and the order's lines they name.
    items: tuple[tuple[str, int], ...]
    lines: tuple[LineFacts, ...]


def _seconds_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def _group_keys(lines: tuple[LineFacts, ...]) -> dict[tuple[str, str], tuple[LineFacts, ...]]:
    """Each category and sku group the lines fall in, with the lines in it."""
    groups: dict[tuple[str, str], list[LineFacts]] = {}
    for line in lines:
        groups.setdefault((Dimension.CATEGORY, line.category), []).append(line)
        groups.setdefault((Dimension.SKU, line.sku), []).append(line)
    return {key: tuple(members) for key, members in groups.items()}


def order_cells(order: OrderFacts) -> Cells:
    """An order counts, on its paid day, for the shop, its region, and each category and sku
    one of its lines belongs to (units of that group's lines only). Unpaid orders count
    nowhere."""
    cells: Cells = Counter()
    if order.paid_at is None:
        return cells
    day = order.paid_at.date()

    def add(dimension: str, key: str, lines: tuple[LineFacts, ...]) -> None:
        returned = sum(order.returned.get(line.line_id, 0) for line in lines)
        cells[CellKey(day, dimension, key, Metric.ORDERS)] += 1
        cells[CellKey(day, dimension, key, Metric.UNITS_SOLD)] += sum(
            line.quantity for line in lines
        )
        cells[CellKey(day, dimension, key, Metric.ORDERS_WITH_RETURNS)] += int(returned > 0)
        cells[CellKey(day, dimension, key, Metric.UNITS_RETURNED)] += returned

    add(Dimension.ALL, "", order.lines)
    add(Dimension.REGION, order.region or "", order.lines)
    for (dimension, key), lines in _group_keys(order.lines).items():
        add(dimension, key, lines)
    return +cells


def return_cells(facts: ReturnFacts) -> Cells:
    """A return counts, on its application day, in full for the shop, and as one return for
    its reason, its order's region, and each category and sku of the lines it names."""
    cells = whole_shop_cells(facts)
    cells.update(grouped_return_cells(facts))
    return cells


def whole_shop_cells(facts: ReturnFacts) -> Cells:
    """What the return adds to its shop as a whole (its state, refund and timeline): the part
    of `return_cells` a change of its own row moves. The deadline sweep takes it twice per
    return, so it is built from a cache keyed by what it depends on (day, status, buckets):
    a sweep's returns share a few keys."""
    refund = None
    if facts.refunded_at is not None and facts.refunded_amount is not None:
        taken = _seconds_between(facts.applied_at, facts.refunded_at)
        refund = (facts.currency, facts.refunded_amount, duration_bucket(taken))
    first_response = None
    if facts.first_response_at is not None:
        waited = _seconds_between(facts.applied_at, facts.first_response_at)
        first_response = (duration_bucket(waited), waited <= FIRST_RESPONSE_TARGET_SECONDS)
    return Counter(
        _whole_shop_cells(
            facts.applied_at.date(),
            facts.status,
            facts.escalated,
            facts.automatic_actions,
            refund,
            first_response,
        )
    )


@lru_cache(maxsize=4096)
def _whole_shop_cells(
    day: date,
    status: str,
    escalated: bool,
    automatic_actions: int,
    refund: tuple[str, int, int] | None,
    first_response: tuple[int, bool] | None,
) -> dict[CellKey, int]:
    cells: Cells = Counter()

    def whole(metric: str, value: int = 1) -> None:
        cells[CellKey(day, Dimension.ALL, "", metric)] += value

    whole(Metric.RETURNS)
    whole(f"{Metric.STATUS}:{status}")
    whole(Metric.DISPUTES, int(escalated))
    whole(Metric.AUTOMATIC_ACTIONS, automatic_actions)
    if refund is not None:
        currency, amount, bucket = refund
        whole(f"{Metric.REFUNDS}:{currency}")
        whole(f"{Metric.REFUNDED}:{currency}", amount)
        whole(f"{Metric.PROCESSING}:{bucket}")
    if first_response is not None:
        bucket, within_target = first_response
        whole(f"{Metric.FIRST_RESPONSE}:{bucket}")
        whole(Metric.FIRST_RESPONSE_WITHIN_TARGET, int(within_target))
    return dict(+cells)


def grouped_return_cells(facts: ReturnFacts) -> Cells:
    """What the return adds, as one return, to its reason, its order's region and each
    category and sku of the lines it names: the part of `return_cells` only its order's
    region and lines move."""
    day = facts.applied_at.date()
    named = {line_id for line_id, _ in facts.items}
    groups = {(Dimension.REASON, facts.reason), (Dimension.REGION, facts.region or "")}
    groups |= set(_group_keys(tuple(line for line in facts.lines if line.line_id in named)))
    return Counter({CellKey(day, dimension, key, Metric.RETURNS): 1 for dimension, key in groups})


def difference(after: Cells, before: Cells) -> dict[CellKey, int]:
    """What to add to the rollups: after minus before, zeros left out."""
    delta: dict[CellKey, int] = {}
    for key in after.keys() | before.keys():
        change = after.get(key, 0) - before.get(key, 0)
        if change:
            delta[key] = change
    return delta
