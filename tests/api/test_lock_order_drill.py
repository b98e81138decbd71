"""PostgreSQL drills: callers that lock overlapping rows at once never deadlock, and a limit
counted over many rows cannot be passed by callers counting at the same moment.

Run over TCP against a real server so that every request has its own connection and truly
races the others for row locks. Deadlocks are read from pg_stat_database after the server
has closed its connections (a backend reports its counters when it ends).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import asyncpg
import pytest
from httpx import AsyncClient, Response
from sqlalchemy.engine import make_url

from tests.api.conftest import test_settings as settings_for
from tests.api.live_server import serve
from tests.api.scenario import ADDRESS, Party, Scenario
from tests.conftest import Database

pytestmark = pytest.mark.postgres_only

ROUNDS = 2
RETURNS_PER_SHOP = 8


def _dsn(database: Database) -> str:
    url = make_url(database.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def deadlocks_so_far(database: Database) -> int:
    connection = await asyncpg.connect(_dsn(database))
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        count: int = await connection.fetchval(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        )
        return count
    finally:
        await connection.close()


async def received_return(shop: Scenario, index: int) -> str:
    """A return of the shop on an order of its own, received and ready to refund."""
    order_id = await shop.order()
    applied = await shop.apply(order_id)
    assert applied.status_code == 201, applied.text
    return_id: str = applied.json()["id"]
    steps: list[tuple[str, Party, dict[str, Any]]] = [
        ("approve", shop.merchant, {"return_address": ADDRESS}),
        ("ship", shop.buyer, {"carrier": "SF", "tracking_number": f"SF{index}{return_id[:8]}"}),
        ("receive", shop.merchant, {"inspection": "passed", "deductions": []}),
    ]
    for action, party, body in steps:
        response = await shop.act(return_id, action, party, body)
        assert response.status_code == 200, response.text
    return return_id


async def received_returns(shop: Scenario, count: int) -> list[str]:
    return list(await asyncio.gather(*(received_return(shop, i) for i in range(count))))


def shuffled(ids: list[str], seed: int) -> list[str]:
    copy = list(ids)
    random.Random(seed).shuffle(copy)
    return copy


async def test_overlapping_batches_of_several_callers_and_single_actions_never_deadlock(
    database: Database,
) -> None:
    """Each round: both shops' merchants refund in batches naming their own and the other
    shop's returns, the platform refunds all of them twice in opposite orders, and each
    merchant refunds its returns one by one, all at once. Every return is refunded once;
    nobody gets a 5xx; PostgreSQL counts no deadlock."""
    if not database.is_postgres:
        pytest.skip("row locks and deadlock detection are PostgreSQL's")
    before = await deadlocks_so_far(database)
    answers: Counter[int] = Counter()
    item_answers: Counter[int] = Counter()
    with serve(settings_for(database, database_pool_size=40)) as base_url:
        async with AsyncClient(base_url=base_url, timeout=60) as http:
            one = Scenario(http)
            two = one.other_shop()
            for round_ in range(ROUNDS):
                ids_one = await received_returns(one, RETURNS_PER_SHOP)
                ids_two = await received_returns(two, RETURNS_PER_SHOP)
                every = ids_one + ids_two

                def batch(party: Party, ids: list[str]) -> Any:
                    return http.post(
                        "/v1/returns/batch",
                        json={"action": "refund", "ids": ids, "body": {}},
                        headers=party.headers,
                    )

                requests = [
                    batch(one.merchant, shuffled(every, round_)),
                    batch(two.merchant, shuffled(every, round_ + 100)),
                    batch(one.platform, shuffled(every, round_ + 200)),
                    batch(two.platform, list(reversed(every))),
                    *(one.act(rid, "refund", one.merchant, {}) for rid in ids_one),
                    *(two.act(rid, "refund", two.merchant, {}) for rid in ids_two),
                    *(
                        http.post(
                            f"/v1/returns/{rid}/messages",
                            json={"body": "any news?"},
                            headers=shop.buyer.headers,
                        )
                        for shop, ids in ((one, ids_one), (two, ids_two))
                        for rid in ids
                    ),
                ]
                responses: list[Response] = await asyncio.gather(*requests)
                answers.update(r.status_code for r in responses)
                for response in responses:
                    if response.request.url.path.endswith("/batch") and response.is_success:
                        item_answers.update(i["status"] for i in response.json()["items"])
                for shop, ids in ((one, ids_one), (two, ids_two)):
                    for rid in ids:
                        events = await shop.events(rid)
                        assert [e["type"] for e in events].count("refund") == 1, rid
                        read = await shop.get(rid)
                        assert read.json()["status"] == "refunded"
    after = await deadlocks_so_far(database)

    server_errors = {status: n for status, n in answers.items() if status >= 500}
    assert server_errors == {}, answers
    assert after - before == 0, f"PostgreSQL counted {after - before} deadlocks"
    # Every return refunded once across all callers; the rest found it refunded (409) or,
    # for a merchant naming another shop's return, not there (404).
    assert set(item_answers) <= {200, 404, 409}, item_answers
    assert answers[201] == 2 * RETURNS_PER_SHOP * ROUNDS


async def test_simultaneous_fast_refunds_for_one_buyer_never_pass_the_limit(
    database: Database,
) -> None:
    """Eight refund-only applications of one buyer on eight orders at once, fast refund on:
    one after the other, refunds are paid while the buyer has at most 3 in 30 days, so 4 are
    paid and 4 wait for the merchant. Counted at the same moment without a lock, all 8 were
    paid. The same for another buyer's eight return-and-refunds shipped back at once."""
    if not database.is_postgres:
        pytest.skip("on SQLite request transactions run one at a time")
    with serve(settings_for(database, database_pool_size=40)) as base_url:
        async with AsyncClient(base_url=base_url, timeout=60) as http:
            shop = Scenario(http)
            policy = await http.put(
                f"/v1/shops/{shop.shop_id}/return-policy",
                json={"fast_refund": True, "abuse_threshold": {"returns": 10_000, "days": 30}},
                headers=shop.merchant.headers,
            )
            assert policy.status_code == 200, policy.text
            orders = [await shop.order() for _ in range(8)]
            applied = await asyncio.gather(
                *(
                    shop.apply(order_id, type="refund_only", reason="not_as_described")
                    for order_id in orders
                )
            )
            assert [r.status_code for r in applied] == [201] * 8, [r.text for r in applied]
            states = Counter(r.json()["status"] for r in applied)
            assert states == {"refunded": 4, "requested": 4}, states

            # Another buyer of the shop: eight return-and-refunds shipped back at once.
            other = Scenario(http, shop_id=shop.shop_id)
            goods_back = [await other.open_return() for _ in range(8)]
            for created in goods_back:
                approved = await other.act(
                    created["id"], "approve", other.merchant, {"return_address": ADDRESS}
                )
                assert approved.status_code == 200, approved.text
            shipped = await asyncio.gather(
                *(
                    other.act(
                        c["id"],
                        "ship",
                        other.buyer,
                        {"carrier": "SF", "tracking_number": f"SF{i}X"},
                    )
                    for i, c in enumerate(goods_back)
                )
            )
            assert [r.status_code for r in shipped] == [200] * 8, [r.text for r in shipped]
            states = Counter(r.json()["status"] for r in shipped)
            assert states == {"refunded": 4, "shipped": 4}, states
