"""An order id names one order: registration keeps it to one shop, and a return's order is
always looked up in the return's own shop."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from httpx import AsyncClient
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from returns_service.models import OrderLineRow, OrderRow
from returns_service.rules.sampling import buyer_bucket
from tests.api.conftest import test_settings as settings_for
from tests.api.live_server import serve
from tests.api.scenario import ADDRESS, Scenario, order_body, unique
from tests.conftest import Database

SHOPS = 8


@pytest.fixture
async def live(database: Database) -> AsyncIterator[Scenario]:
    """A scenario whose client talks to a real server over TCP, so requests truly race."""
    with serve(settings_for(database, database_pool_size=20)) as base_url:
        async with AsyncClient(base_url=base_url, timeout=60.0) as http:
            yield Scenario(http)


async def shops_holding(database: Database, order_id: str) -> list[str]:
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                select(OrderRow.shop_id).where(OrderRow.id == order_id)
            )
            return [shop_id for (shop_id,) in result]
    finally:
        await engine.dispose()


async def test_of_simultaneous_first_registrations_of_one_id_for_several_shops_one_wins(
    live: Scenario, database: Database
) -> None:
    order_id = unique("order")
    shops = [unique("shop") for _ in range(SHOPS)]

    answers = await asyncio.gather(
        *(
            live.client.put(
                f"/v1/orders/{order_id}",
                json=order_body(shop_id, "buyer-1"),
                headers=live.storefront.headers,
            )
            for shop_id in shops
        )
    )

    assert Counter(answer.status_code for answer in answers) == {201: 1, 409: SHOPS - 1}
    refused = [answer.json() for answer in answers if answer.status_code == 409]
    assert {problem["code"] for problem in refused} == {"conflict"}
    [winner] = [answer.json()["shop_id"] for answer in answers if answer.status_code == 201]
    assert await shops_holding(database, order_id) == [winner]


async def test_simultaneous_first_registrations_of_one_id_for_one_shop_all_succeed(
    live: Scenario, database: Database
) -> None:
    order_id = unique("order")
    body = order_body(live.shop_id, live.buyer.id)

    answers = await asyncio.gather(
        *(
            live.client.put(f"/v1/orders/{order_id}", json=body, headers=live.storefront.headers)
            for _ in range(SHOPS)
        )
    )

    assert Counter(answer.status_code for answer in answers) == {201: 1, 200: SHOPS - 1}
    assert await shops_holding(database, order_id) == [live.shop_id]


async def register_behind_the_apis_back(
    database: Database, shop_id: str, order_id: str, unit_price: int
) -> None:
    """An order of the same id in another shop, as rows written before registration kept
    ids to one shop may be."""
    now = datetime.now(UTC)
    engine = create_async_engine(database.url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(OrderRow).values(
                    shop_id=shop_id,
                    id=order_id,
                    buyer_id="someone-else",
                    buyer_bucket=buyer_bucket("someone-else"),
                    currency="CNY",
                    paid_at=now,
                    shipped_at=now,
                    delivered_at=now,
                    shipping_fee=0,
                    shipping_insurance=False,
                    buyer_region=None,
                    carrier=None,
                    tracking_number=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            await connection.execute(
                insert(OrderLineRow).values(
                    shop_id=shop_id,
                    order_id=order_id,
                    line_id="l1",
                    position=0,
                    sku="CHEAP",
                    title="Something cheap",
                    category="apparel",
                    unit_price=unit_price,
                    quantity=2,
                    attributes={},
                )
            )
    finally:
        await engine.dispose()


async def test_a_refund_is_priced_against_its_own_shops_order(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return()
    order_id = created["order_id"]
    for action, party, body in (
        ("approve", scenario.merchant, {"return_address": ADDRESS}),
        ("ship", scenario.buyer, {"carrier": "SF", "tracking_number": unique("SF")}),
        ("receive", scenario.merchant, {"inspection": "passed", "deductions": []}),
    ):
        response = await scenario.act(created["id"], action, party, body)
        assert response.status_code == 200, response.text
    # "0-..." sorts before "shop-...": a lookup by id alone would find this order first.
    await register_behind_the_apis_back(database, "0-legacy-shop", order_id, unit_price=1)

    refunded = await scenario.act(created["id"], "refund", scenario.merchant, {})

    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["refund"]["amount"] == created["refund_amount"] == 9900
    mine = await scenario.client.get(f"/v1/orders/{order_id}", headers=scenario.merchant.headers)
    assert mine.status_code == 200, mine.text
    assert mine.json()["shop_id"] == scenario.shop_id
