"""Statistics computed the slow way, straight from the rows, as API.md words each figure.

Shares nothing with the service's rollups but the pure arithmetic of `rules.statistics`, so a
disagreement points at the rollups (or at this reading of the contract).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from returns_service.models import OrderRow, ReturnEventRow, ReturnRow
from returns_service.rules.statistics import RepurchaseCounts, nearest_rank, rate, repurchase_impact


async def rows_of_shop(
    session: AsyncSession, shop_id: str
) -> tuple[list[OrderRow], list[ReturnRow], dict[str, list[ReturnEventRow]]]:
    orders = (
        (
            await session.execute(
                select(OrderRow)
                .where(OrderRow.shop_id == shop_id)
                .options(selectinload(OrderRow.lines))
            )
        )
        .scalars()
        .all()
    )
    returns = (
        (
            await session.execute(
                select(ReturnRow)
                .where(ReturnRow.shop_id == shop_id)
                .options(selectinload(ReturnRow.items))
            )
        )
        .scalars()
        .all()
    )
    events: dict[str, list[ReturnEventRow]] = {}
    for event in (
        await session.execute(
            select(ReturnEventRow)
            .where(ReturnEventRow.shop_id == shop_id)
            .order_by(ReturnEventRow.return_id, ReturnEventRow.seq)
        )
    ).scalars():
        events.setdefault(event.return_id, []).append(event)
    return list(orders), list(returns), events


def expected_statistics(
    orders: list[OrderRow],
    returns: list[ReturnRow],
    events: dict[str, list[ReturnEventRow]],
    start: datetime,
    end: datetime,
    group_by: str | None,
) -> dict[str, Any]:
    def inside(at: datetime | None) -> bool:
        return at is not None and start <= at < end

    paid = [o for o in orders if inside(o.paid_at)]
    applied = [r for r in returns if inside(r.created_at)]
    standing = [r for r in returns if r.status != "cancelled"]
    order_of = {o.id: o for o in orders}

    def order_figures(members: list[tuple[OrderRow, set[str]]]) -> dict[str, Any]:
        """Orders with the line ids that count for the group."""
        with_returns = units_sold = units_returned = 0
        for order, line_ids in members:
            units_sold += sum(line.quantity for line in order.lines if line.line_id in line_ids)
            held = [
                item.quantity
                for r in standing
                if r.order_id == order.id
                for item in r.items
                if item.line_id in line_ids
            ]
            with_returns += bool(held)
            units_returned += sum(held)
        return {
            "orders": len(members),
            "orders_with_returns": with_returns,
            "return_rate": rate(with_returns, len(members)),
            "units_sold": units_sold,
            "units_returned": units_returned,
        }

    everything = order_figures([(o, {line.line_id for line in o.lines}) for o in paid])
    refunded = [r for r in applied if r.status == "refunded"]
    processing = [int((r.refunded_at - r.created_at).total_seconds()) for r in refunded]  # type: ignore[operator]
    responses = []
    for r in applied:
        answers = [
            e.at for e in events.get(r.id, [])[1:] if e.actor_role in ("merchant", "platform")
        ]
        if answers:
            responses.append(int((min(answers) - r.created_at).total_seconds()))
    currencies = sorted({r.currency for r in refunded})
    reasons = Counter(r.reason for r in applied)
    answer: dict[str, Any] = {
        **everything,
        "returns": len(applied),
        "by_status": Counter(r.status for r in applied),
        "disputes": sum(
            any(e.to_status == "arbitration" for e in events.get(r.id, [])) for r in applied
        ),
        "refunds": [
            {
                "currency": c,
                "count": sum(1 for r in refunded if r.currency == c),
                "amount": sum(r.refunded_amount or 0 for r in refunded if r.currency == c),
            }
            for c in currencies
        ],
        "processing": processing,
        "responses": responses,
        "within_2h": sum(1 for s in responses if s <= 7200),
        "reasons": reasons,
        "automatic_actions": sum(
            1
            for r in applied
            for e in events.get(r.id, [])
            if e.actor_role == "system" and e.from_status is not None and e.to_status is not None
        ),
        "repurchase_impact": repurchase_impact(_repurchases(orders, returns, paid, applied)),
    }
    answer["groups"] = _groups(paid, applied, order_of, order_figures, group_by, start, end)
    return answer


def percentiles(values: list[int]) -> tuple[int | None, int | None]:
    return nearest_rank(values, 50), nearest_rank(values, 90)


def repurchase_counts(
    orders: list[OrderRow], returns: list[ReturnRow], start: datetime, end: datetime
) -> RepurchaseCounts:
    """The counts behind repurchase impact, over the buyers these rows are of."""
    paid = [o for o in orders if o.paid_at is not None and start <= o.paid_at < end]
    applied = [r for r in returns if start <= r.created_at < end]
    return _repurchases(orders, returns, paid, applied)


def _repurchases(
    orders: list[OrderRow], returns: list[ReturnRow], paid: list[OrderRow], applied: list[ReturnRow]
) -> RepurchaseCounts:
    buyers = {o.buyer_id for o in paid}
    first_paid = {b: min(o.paid_at for o in paid if o.buyer_id == b) for b in buyers}
    returners = {r.buyer_id for r in applied} & buyers
    first_return = {b: min(r.created_at for r in applied if r.buyer_id == b) for b in returners}

    def bought_after(buyer: str, at: datetime) -> bool:
        return any(o.buyer_id == buyer and o.paid_at is not None and o.paid_at > at for o in orders)

    return RepurchaseCounts(
        buyers=len(buyers),
        repurchased=sum(bought_after(b, first_paid[b]) for b in buyers),  # type: ignore[arg-type]
        returners=len(returners),
        returners_repurchased=sum(bought_after(b, first_return[b]) for b in returners),
    )


def _groups(
    paid: list[OrderRow],
    applied: list[ReturnRow],
    order_of: dict[str, OrderRow],
    order_figures: Any,
    group_by: str | None,
    start: datetime,
    end: datetime,
) -> dict[Any, dict[str, Any]]:
    groups: dict[Any, dict[str, Any]] = {}
    if group_by in ("category", "sku"):
        keys = {getattr(line, group_by) for o in paid for line in o.lines}
        keys |= {
            getattr(line, group_by)
            for r in applied
            for line in order_of[r.order_id].lines
            if line.line_id in {item.line_id for item in r.items}
        }
        for key in keys:
            members = []
            for o in paid:
                ids = {line.line_id for line in o.lines if getattr(line, group_by) == key}
                if ids:
                    members.append((o, ids))
            returns = sum(
                1
                for r in applied
                if any(
                    getattr(line, group_by) == key
                    for line in order_of[r.order_id].lines
                    if line.line_id in {item.line_id for item in r.items}
                )
            )
            groups[key] = {**order_figures(members), "returns": returns}
    elif group_by == "region":
        keys = {o.buyer_region for o in paid} | {order_of[r.order_id].buyer_region for r in applied}
        for key in keys:
            members = [
                (o, {line.line_id for line in o.lines}) for o in paid if o.buyer_region == key
            ]
            returns = sum(1 for r in applied if order_of[r.order_id].buyer_region == key)
            groups[key] = {**order_figures(members), "returns": returns}
    elif group_by == "reason":
        for key, count in Counter(r.reason for r in applied).items():
            groups[key] = {
                "orders": None,
                "orders_with_returns": None,
                "return_rate": None,
                "units_sold": None,
                "units_returned": None,
                "returns": count,
            }
    elif group_by == "day":
        day = start.date()
        while datetime.combine(day, datetime.min.time(), tzinfo=start.tzinfo) < end:
            members = [
                (o, {line.line_id for line in o.lines})
                for o in paid
                if o.paid_at is not None and o.paid_at.date() == day
            ]
            returns = sum(1 for r in applied if r.created_at.date() == day)
            groups[day.isoformat()] = {**order_figures(members), "returns": returns}
            day = day.fromordinal(day.toordinal() + 1)
    return groups
