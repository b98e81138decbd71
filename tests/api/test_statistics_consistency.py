"""Statistics agree with the rows at every moment: read while returns move, checked after.

Many stories run at once (two of them on one order), a reader reads all the while and checks
what must hold within any one answer; at the end every figure of every group kind is compared
with one computed from the rows (tests/api/statistics_oracle.py), and a rebuild from the rows
finds the rollups as they are.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from returns_service.models import StatisticsCellRow, StatisticsDeltaRow
from returns_service.statistics import folding
from returns_service.statistics.folding import fold_statistics
from returns_service.statistics.periods import SPANS, block_start
from returns_service.statistics.rebuild import rebuild_statistics
from tests.api.scenario import ADDRESS, Party, Scenario, unique
from tests.api.statistics_oracle import expected_statistics, percentiles, rows_of_shop
from tests.api.test_statistics import statistics
from tests.api.timekeeping import Clock, pinned_clock, sessions
from tests.conftest import Database

START = datetime(2026, 5, 10, 9, 0, tzinfo=UTC)
# Whole UTC days around everything the stories do: read from the rollups alone.
DAYS = {"from": "2026-05-01T00:00:00Z", "to": "2026-05-12T00:00:00Z"}
# Partial days at both ends: the rows fill them in.
PARTIAL = {"from": "2026-05-03T13:30:00Z", "to": "2026-05-10T09:00:30Z"}


@pytest.fixture
def clock() -> Iterator[Clock]:
    with pinned_clock(START) as pinned:
        yield pinned


def catalogue(index: int) -> list[dict[str, Any]]:
    skus = [("TEE", "apparel"), ("MUG", "home"), ("CAP", "apparel"), ("LAMP", "home")]
    return [
        {
            "line_id": f"l{n}",
            "sku": sku,
            "title": sku,
            "category": category,
            "unit_price": 1000 * (n + 1),
            "quantity": 3,
            "attributes": {},
        }
        for n, (sku, category) in enumerate(skus[index % 3 : index % 3 + 2])
    ]


class Shop:
    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        self.scenario = scenario
        self.clock = clock
        self.buyers = [Party("buyer", unique("buyer")) for _ in range(4)]

    async def order(self, index: int, buyer: Party, days_ago: float, region: str | None) -> str:
        order_id = unique("order")
        await self.register(order_id, index, buyer, days_ago, region)
        return order_id

    async def register(
        self, order_id: str, index: int, buyer: Party, days_ago: float, region: str | None
    ) -> None:
        paid = START - timedelta(days=days_ago)
        body = {
            "shop_id": self.scenario.shop_id,
            "buyer_id": buyer.id,
            "currency": "CNY",
            "paid_at": paid.isoformat(),
            "delivered_at": (paid + timedelta(hours=1)).isoformat(),
            "buyer_region": region,
            "lines": catalogue(index),
        }
        response = await self.scenario.client.put(
            f"/v1/orders/{order_id}", json=body, headers=self.scenario.storefront.headers
        )
        assert response.status_code in (200, 201), response.text

    async def act(self, return_id: str, action: str, by: Party, body: Any = None) -> None:
        await asyncio.sleep(0)  # let the others in between
        self.clock.advance(600)
        response = await self.scenario.act(return_id, action, by, body)
        assert response.status_code == 200, (action, response.text)

    async def apply(self, order_id: str, buyer: Party, line_id: str, reason: str) -> str:
        self.clock.advance(60)
        response = await self.scenario.client.post(
            "/v1/returns",
            json={
                "order_id": order_id,
                "type": "return_refund",
                "reason": reason,
                "items": [{"line_id": line_id, "quantity": 1, "condition": "unopened"}],
            },
            headers=buyer.headers,
        )
        assert response.status_code == 201, response.text
        return_id: str = response.json()["id"]
        return return_id


async def story(shop: Shop, kind: str, order_id: str, buyer: Party, line_id: str) -> None:
    merchant, platform = shop.scenario.merchant, shop.scenario.platform
    reason = {"refund": "no_reason", "dispute": "quality_defect"}.get(kind, "size_mismatch")
    return_id = await shop.apply(order_id, buyer, line_id, reason)
    if kind == "refund":
        await shop.act(return_id, "approve", merchant, {"return_address": ADDRESS})
        shipment = {"carrier": "SF", "tracking_number": unique("SF").replace("-", "")}
        await shop.act(return_id, "ship", buyer, shipment)
        await shop.act(return_id, "receive", merchant, {"inspection": "passed"})
        await shop.act(return_id, "refund", merchant)
    elif kind == "dispute":
        await shop.act(return_id, "reject", platform, {"reason_code": "worn", "note": "Worn"})
        await shop.act(return_id, "escalate", buyer, {"note": "It was not"})
        await shop.act(return_id, "arbitrate", platform, {"decision": "buyer", "note": "Refund"})
    elif kind == "cancel":
        await shop.act(return_id, "cancel", buyer, {"note": "Kept it"})
    elif kind == "message":
        response = await shop.scenario.client.post(
            f"/v1/returns/{return_id}/messages",
            json={"body": "We are looking at it"},
            headers=merchant.headers,
        )
        assert response.status_code in (200, 201), response.text
        await shop.act(return_id, "approve", merchant, {"return_address": ADDRESS})


def check_one_answer(answer: dict[str, Any]) -> None:
    """What holds within any single answer, whatever is moving."""
    assert sum(answer["by_status"].values()) == answer["returns"]
    assert sum(reason["count"] for reason in answer["reasons"]) == answer["returns"]
    if answer["reasons"]:
        assert math.isclose(sum(reason["share"] for reason in answer["reasons"]), 1.0)
    assert answer["orders_with_returns"] <= answer["orders"]
    assert answer["units_returned"] <= answer["units_sold"]
    assert sum(r["count"] for r in answer["refunds"]) == answer["by_status"]["refunded"]
    assert answer["processing_time"]["count"] == answer["by_status"]["refunded"]
    assert answer["disputes"] <= answer["returns"]


async def test_statistics_agree_with_the_rows_while_returns_move_and_after(
    scenario: Scenario, clock: Clock, database: Database
) -> None:
    shop = Shop(scenario, clock)
    a, b, c, d = shop.buyers
    orders = [
        await shop.order(0, a, 5.9, "CN-GD"),
        await shop.order(1, b, 5.5, "CN-BJ"),
        await shop.order(2, c, 4.9, None),
        await shop.order(3, d, 3.0, "CN-GD"),
        await shop.order(4, a, 1.1, "CN-SH"),
    ]
    done = asyncio.Event()
    reads = folds = 0

    async def reader() -> None:
        nonlocal reads
        while not done.is_set():
            check_one_answer(await statistics(scenario.client, scenario.merchant, **DAYS))
            reads += 1
            await asyncio.sleep(0)

    async def folder() -> None:
        # The sweep's fold runs beside the writers and the reader: no figure may move by it.
        nonlocal folds
        async with sessions(database) as sessionmaker:
            while not done.is_set():
                folds += await fold_statistics(sessionmaker)
                await asyncio.sleep(0)

    async def stories() -> None:
        try:
            await asyncio.gather(
                story(shop, "refund", orders[0], a, "l0"),
                story(shop, "refund", orders[1], b, "l0"),
                story(shop, "dispute", orders[1], b, "l1"),  # two returns of one order at once
                story(shop, "cancel", orders[2], c, "l0"),
                story(shop, "cancel", orders[2], c, "l1"),
                story(shop, "message", orders[3], d, "l0"),
                story(shop, "open", orders[4], a, "l1"),
                # The order moves region and day while its returns move.
                shop.register(orders[1], 1, b, 6.3, "CN-SH"),
            )
            await shop.order(0, b, 0.4, "CN-BJ")  # B buys again after returning
        finally:
            done.set()

    await asyncio.gather(reader(), folder(), stories())
    assert reads > 0 and folds > 0

    async with sessions(database) as sessionmaker, sessionmaker() as session:
        rows = await rows_of_shop(session, scenario.shop_id)
    for window in (DAYS, PARTIAL):
        start, end = (datetime.fromisoformat(window[k]) for k in ("from", "to"))
        for group_by in (None, "category", "sku", "region", "reason", "day"):
            params = {**window, **({"group_by": group_by} if group_by else {})}
            answer = await statistics(scenario.client, scenario.merchant, **params)
            check_one_answer(answer)
            assert_agrees(answer, expected_statistics(*rows, start, end, group_by))

    async with sessions(database) as sessionmaker:
        before = await all_cells(sessionmaker)
        async with sessionmaker() as session, session.begin():
            await rebuild_statistics(session)
        assert await all_cells(sessionmaker) == before


async def all_cells(sessionmaker: Any) -> dict[tuple[Any, ...], int]:
    """Every cell as a reader sees it: what was folded into it plus the deltas pending."""
    cells: Counter[tuple[Any, ...]] = Counter()
    async with sessionmaker() as session:
        for r in (await session.execute(select(StatisticsCellRow))).scalars():
            cells[(r.shop_id, r.dimension, r.span, r.day, r.key, r.metric)] += r.value
        for d in (await session.execute(select(StatisticsDeltaRow))).scalars():
            for span in SPANS:
                start = block_start(d.day, span)
                cells[(d.shop_id, d.dimension, span, start, d.key, d.metric)] += d.value
    return {key: value for key, value in cells.items() if value}


def assert_agrees(answer: dict[str, Any], expected: dict[str, Any]) -> None:
    for figure in ("orders", "orders_with_returns", "units_sold", "units_returned", "returns"):
        assert answer[figure] == expected[figure], figure
    assert answer["return_rate"] == expected["return_rate"]
    assert {k: v for k, v in answer["by_status"].items() if v} == dict(expected["by_status"])
    assert answer["disputes"] == expected["disputes"]
    assert answer["refunds"] == expected["refunds"]
    assert answer["automatic_actions"] == expected["automatic_actions"]
    assert answer["repurchase_impact"] == expected["repurchase_impact"]
    assert {r["reason"]: r["count"] for r in answer["reasons"]} == dict(expected["reasons"])
    for name, values in (("processing_time", "processing"), ("first_response", "responses")):
        assert answer[name]["count"] == len(expected[values])
        for got, exact in zip(
            (answer[name]["median_seconds"], answer[name]["p90_seconds"]),
            percentiles(expected[values]),
            strict=True,
        ):
            assert (got is None) == (exact is None)
            if exact is not None:
                assert abs(got - exact) <= 0.05 * exact
    responses = expected["responses"]
    assert answer["first_response"]["within_2h_share"] == (
        expected["within_2h"] / len(responses) if responses else None
    )
    got_groups = {g["key"]: {k: v for k, v in g.items() if k != "key"} for g in answer["groups"]}
    assert got_groups == expected["groups"]


async def test_a_batch_where_one_return_is_refused_counts_only_what_it_kept(
    scenario: Scenario, clock: Clock, database: Database
) -> None:
    shop = Shop(scenario, clock)
    a, b = shop.buyers[:2]
    first = await shop.apply(await shop.order(0, a, 2.0, "CN-GD"), a, "l0", "no_reason")
    second = await shop.apply(await shop.order(1, b, 1.5, "CN-BJ"), b, "l0", "no_reason")
    await shop.act(second, "reject", scenario.merchant, {"reason_code": "worn", "note": "Worn"})
    clock.advance(900)
    response = await scenario.client.post(
        "/v1/returns/batch",
        json={"action": "approve", "ids": [first, second], "body": {"return_address": ADDRESS}},
        headers=scenario.merchant.headers,
    )
    assert response.status_code == 200, response.text
    assert [item["status"] for item in response.json()["items"]] == [200, 409]

    async with sessions(database) as sessionmaker, sessionmaker() as session:
        rows = await rows_of_shop(session, scenario.shop_id)
    start, end = (datetime.fromisoformat(DAYS[k]) for k in ("from", "to"))
    answer = await statistics(scenario.client, scenario.merchant, **DAYS)
    assert answer["by_status"]["approved"] == 1 and answer["by_status"]["rejected"] == 1
    assert_agrees(answer, expected_statistics(*rows, start, end, None))
    async with sessions(database) as sessionmaker:
        before = await all_cells(sessionmaker)
        async with sessionmaker() as session, session.begin():
            await rebuild_statistics(session)
        assert await all_cells(sessionmaker) == before


async def test_folders_side_by_side_move_every_delta_into_the_cells_once(
    scenario: Scenario, clock: Clock, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small claims, so that several folders take turns over one shop's deltas.
    monkeypatch.setattr(folding, "BATCH", 3)
    shop = Shop(scenario, clock)
    a, b = shop.buyers[:2]
    first = await shop.apply(await shop.order(0, a, 2.0, "CN-GD"), a, "l0", "no_reason")
    await shop.apply(await shop.order(1, b, 1.5, None), b, "l0", "size_mismatch")
    await shop.act(first, "approve", scenario.merchant, {"return_address": ADDRESS})
    async with sessions(database) as sessionmaker:
        as_read = await all_cells(sessionmaker)
        async with sessionmaker() as session:
            pending = await session.scalar(select(func.count()).select_from(StatisticsDeltaRow))
        assert pending and pending > 3 * folding.BATCH
        folded = await asyncio.gather(*(fold_statistics(sessionmaker) for _ in range(3)))
        assert sum(folded) == pending
        async with sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(StatisticsDeltaRow)) == 0
        assert await all_cells(sessionmaker) == as_read
    answer = await statistics(scenario.client, scenario.merchant, **DAYS)
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        rows = await rows_of_shop(session, scenario.shop_id)
    start, end = (datetime.fromisoformat(DAYS[k]) for k in ("from", "to"))
    assert_agrees(answer, expected_statistics(*rows, start, end, None))
