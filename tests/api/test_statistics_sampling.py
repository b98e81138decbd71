"""Repurchase impact of a large window is counted over a stable sample of buyers.

The service counts every buyer while the window holds at most
`repurchase_sample_orders` orders; beyond, only the buyers of buckets [0, b) with
b = sample_orders * 1024 // orders, and says `"approximate": true`. These tests set the
threshold low, build shops through the API on both databases, and compare the answer with
the oracle (tests/api/statistics_oracle.py) run over the same buckets, each buyer's bucket
computed here from its id by the hash the service promises (the first 16 bits of the MD5
of the id, modulo 1024).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from httpx import ASGITransport, AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from returns_service.app import create_app
from returns_service.migrations import alembic_config, migrations_dir, upgrade_to_head
from returns_service.models import (
    OrderLineRow,
    OrderRow,
    ReturnEventRow,
    ReturnItemRow,
    ReturnRow,
)
from returns_service.rules.statistics import RepurchaseCounts
from returns_service.statistics.repository import count_repurchases
from tests.api.conftest import test_settings as settings_for
from tests.api.scenario import Party, Scenario, order_body
from tests.api.statistics_oracle import expected_statistics, repurchase_counts, rows_of_shop
from tests.api.test_statistics import statistics
from tests.api.timekeeping import Clock, pinned_clock, sessions
from tests.conftest import ADMIN_URL, Database

BUCKETS = 1024
DAY0 = datetime(2026, 4, 1, tzinfo=UTC)
# The window asked about: whole UTC days [day 10, day 20).
WINDOW = {
    "from": (DAY0 + timedelta(days=10)).isoformat(),
    "to": (DAY0 + timedelta(days=20)).isoformat(),
}
START, END = DAY0 + timedelta(days=10), DAY0 + timedelta(days=20)


def bucket_of(buyer_id: str) -> int:
    """The bucket as the service promises it, computed independently of its code."""
    digest = hashlib.md5(buyer_id.encode("utf-8"), usedforsecurity=False).digest()
    return (digest[0] * 256 + digest[1]) % BUCKETS


def _first_id_of_each_bucket(prefix: str) -> dict[int, str]:
    found: dict[int, str] = {}
    number = 0
    while len(found) < BUCKETS:
        candidate = f"{prefix}-{number}"
        found.setdefault(bucket_of(candidate), candidate)
        number += 1
    return found


# A buyer id for every bucket, so that a test can put a buyer in or out of the sample.
ID_IN_BUCKET = _first_id_of_each_bucket("sampled-buyer")


def day(number: float) -> datetime:
    return DAY0 + timedelta(days=number)


def sampled_buckets(orders: int, sample_orders: int) -> int | None:
    """b, computed here as the module docstring says; None when every buyer is counted."""
    return None if orders <= sample_orders else max(1, sample_orders * BUCKETS // orders)


@pytest.fixture
def clock() -> Iterator[Clock]:
    with pinned_clock(day(30)) as pinned:
        yield pinned


async def client_with(database: Database, sample_orders: int) -> AsyncIterator[AsyncClient]:
    app = create_app(settings_for(database, repurchase_sample_orders=sample_orders))
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://returns.test") as http:
            yield http


@pytest.fixture
async def sampling_client(database: Database) -> AsyncIterator[AsyncClient]:
    """The app counting at most 3 orders' buyers one by one."""
    async for http in client_with(database, 3):
        yield http


@dataclass(frozen=True)
class Purchase:
    buyer: str
    paid_day: float
    returned: bool = False


async def build_shop(scenario: Scenario, clock: Clock, purchases: list[Purchase]) -> None:
    """Register every order, then apply for the returns in time order, a day after payment
    (the clock set to each application's time)."""
    applications: list[tuple[datetime, str, str]] = []
    for number, purchase in enumerate(purchases):
        order_id = f"{scenario.shop_id}-o{number}"
        paid = day(purchase.paid_day)
        body = order_body(
            scenario.shop_id,
            purchase.buyer,
            paid_at=paid.isoformat(),
            shipped_at=(paid + timedelta(minutes=30)).isoformat(),
            delivered_at=(paid + timedelta(hours=1)).isoformat(),
        )
        response = await scenario.client.put(
            f"/v1/orders/{order_id}", json=body, headers=scenario.storefront.headers
        )
        assert response.status_code == 201, response.text
        if purchase.returned:
            applications.append((paid + timedelta(days=1), order_id, purchase.buyer))
    for at, order_id, buyer in sorted(applications):
        clock.at(at)
        response = await scenario.apply(order_id, by=Party("buyer", buyer))
        assert response.status_code == 201, response.text


async def expected_impact(
    database: Database, shop_id: str, buckets: int | None
) -> tuple[int, float | None]:
    """The window's orders, and the oracle's repurchase impact over the buyers of buckets
    [0, buckets) (every buyer for None)."""
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        orders, returns, events = await rows_of_shop(session, shop_id)
    everything = expected_statistics(orders, returns, events, START, END, None)
    if buckets is None:
        return everything["orders"], everything["repurchase_impact"]
    orders = [o for o in orders if bucket_of(o.buyer_id) < buckets]
    returns = [r for r in returns if bucket_of(r.buyer_id) < buckets]
    sampled = expected_statistics(orders, returns, events, START, END, None)
    return everything["orders"], sampled["repurchase_impact"]


async def counts_of_sample(
    database: Database, shop_id: str, buckets: int | None
) -> tuple[RepurchaseCounts, RepurchaseCounts]:
    """The counts behind the ratio, as the repository counts them over buckets [0, buckets)
    and as the oracle does over the same buyers: the ratio alone can hide a buyer too many."""
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        orders, returns, _ = await rows_of_shop(session, shop_id)
        counted = await count_repurchases(session, shop_id, START, END, buckets)
    if buckets is not None:
        orders = [o for o in orders if bucket_of(o.buyer_id) < buckets]
        returns = [r for r in returns if bucket_of(r.buyer_id) < buckets]
    return counted, repurchase_counts(orders, returns, START, END)


async def test_a_window_beyond_the_threshold_counts_only_the_sampled_buyers_and_says_so(
    sampling_client: AsyncClient, clock: Clock, database: Database
) -> None:
    scenario = Scenario(sampling_client)
    inside, outside = ID_IN_BUCKET[0], ID_IN_BUCKET[BUCKETS - 1]
    also_inside, also_outside = ID_IN_BUCKET[511], ID_IN_BUCKET[512]
    await build_shop(
        scenario,
        clock,
        [
            # In the sample (6 orders, 3 allowed: buckets 0 … 511): `inside` returned and
            # bought again, `also_inside` did neither. Sampled impact: (1/1) / (1/2) = 2.
            Purchase(inside, 11, returned=True),
            Purchase(inside, 14),
            Purchase(also_inside, 12),
            # Out of it: `outside` returned and never came back, `also_outside` bought twice.
            # Over everyone: (1/2) / (2/4) = 1.
            Purchase(outside, 12, returned=True),
            Purchase(also_outside, 13),
            Purchase(also_outside, 15),
        ],
    )

    answer = await statistics(scenario.client, scenario.merchant, **WINDOW)
    assert answer["orders"] == 6
    assert answer["approximate"] is True  # nothing was refunded or answered: the sample says it
    assert answer["processing_time"]["count"] == answer["first_response"]["count"] == 0
    assert answer["repurchase_impact"] == pytest.approx(2.0)
    assert await expected_impact(database, scenario.shop_id, 512) == (6, pytest.approx(2.0))
    assert await expected_impact(database, scenario.shop_id, None) == (6, pytest.approx(1.0))
    # Every shop at once: this is the only shop, so the same sample and the same answer.
    everywhere = await statistics(scenario.client, scenario.platform, **WINDOW)
    assert everywhere["approximate"] is True
    assert everywhere["repurchase_impact"] == pytest.approx(2.0)

    async with sessions(database) as sessionmaker, sessionmaker() as session:
        stored = [
            *(await session.execute(select(OrderRow.buyer_id, OrderRow.buyer_bucket))).all(),
            *(await session.execute(select(ReturnRow.buyer_id, ReturnRow.buyer_bucket))).all(),
        ]
    assert len(stored) == 8
    assert all(bucket == bucket_of(buyer) for buyer, bucket in stored)


async def test_a_window_within_the_threshold_counts_every_buyer_exactly(
    database: Database, clock: Clock
) -> None:
    async for http in client_with(database, 6):
        scenario = Scenario(http)
        await build_shop(
            scenario,
            clock,
            [
                Purchase(ID_IN_BUCKET[0], 11, returned=True),
                Purchase(ID_IN_BUCKET[0], 14),
                Purchase(ID_IN_BUCKET[511], 12),
                Purchase(ID_IN_BUCKET[1023], 12, returned=True),
                Purchase(ID_IN_BUCKET[512], 13),
                Purchase(ID_IN_BUCKET[512], 15),
            ],
        )
        answer = await statistics(scenario.client, scenario.merchant, **WINDOW)
        assert (answer["orders"], answer["approximate"]) == (6, False)
        assert answer["repurchase_impact"] == pytest.approx(1.0)


# A buyer's purchases: (day paid, returned); days 10 … 19 are the window's, the rest around it.
purchases_of_a_buyer = st.lists(
    st.tuples(st.integers(min_value=6, max_value=24), st.booleans()), min_size=1, max_size=3
)
# Where a buyer's bucket lies against the sample's bound b: well in, just in (b - 1), just
# out (b), well out, or anywhere.
places = st.sampled_from(["first", "last_in", "first_out", "last"]) | st.integers(0, BUCKETS - 1)
SAMPLE_ORDERS = 4


def bucket_at(place: str | int, bound: int | None) -> int:
    if isinstance(place, int):
        return place
    edge = bound if bound is not None else BUCKETS // 2
    return {"first": 0, "last_in": edge - 1, "first_out": edge, "last": BUCKETS - 1}[place]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories=st.lists(st.tuples(places, purchases_of_a_buyer), min_size=1, max_size=5))
async def test_the_sample_is_the_buyers_of_the_first_buckets_whatever_the_history(
    database: Database, clock: Clock, histories: list[tuple[str | int, list[tuple[int, bool]]]]
) -> None:
    in_window = sum(1 for _, bought in histories for paid, _ in bought if 10 <= paid < 20)
    bound = sampled_buckets(in_window, SAMPLE_ORDERS)
    buyers: dict[str, list[tuple[int, bool]]] = {}
    for place, bought in histories:
        # Two buyers drawn into one bucket are one buyer: their purchases add up.
        buyers.setdefault(ID_IN_BUCKET[bucket_at(place, bound)], []).extend(bought)
    async for http in client_with(database, SAMPLE_ORDERS):
        scenario = Scenario(http)  # a shop of its own for each history
        await build_shop(
            scenario,
            clock,
            [
                Purchase(buyer, paid, returned)
                for buyer, bought in buyers.items()
                for paid, returned in bought
            ],
        )
        answer = await statistics(scenario.client, scenario.merchant, **WINDOW)
        orders, impact = await expected_impact(database, scenario.shop_id, bound)
        assert answer["orders"] == orders == in_window
        assert answer["approximate"] is (bound is not None)
        assert answer["repurchase_impact"] == impact
        counted, expected = await counts_of_sample(database, scenario.shop_id, bound)
        assert counted == expected


async def test_the_migration_gives_existing_rows_their_buyers_bucket(
    database: Database, clock: Clock, tmp_path: Any
) -> None:
    """Rows written before revision 0017 get the bucket the service computes: on PostgreSQL
    by the hash in SQL, on SQLite from Python."""
    url = await _fresh_database(database, tmp_path)
    buyers = ["buyer-a", "buyer.b:7", ID_IN_BUCKET[0], ID_IN_BUCKET[1023], "X" * 64]
    async for http in client_with(Database(database.backend, url), 5000):
        scenario = Scenario(http)
        await build_shop(scenario, clock, [Purchase(buyer, 11, returned=True) for buyer in buyers])
    lines_before = await _count_lines(url)
    config = alembic_config(url)
    before = ScriptDirectory(str(migrations_dir())).get_revision("0017").down_revision
    await asyncio.to_thread(command.downgrade, config, str(before))
    await asyncio.to_thread(command.upgrade, config, "head")
    async with sessions(Database(database.backend, url)) as sessionmaker, sessionmaker() as session:
        orders = (await session.execute(select(OrderRow.buyer_id, OrderRow.buyer_bucket))).all()
        returns = (await session.execute(select(ReturnRow.buyer_id, ReturnRow.buyer_bucket))).all()
    assert sorted(buyer for buyer, _ in orders) == sorted(buyers)
    assert sorted(buyer for buyer, _ in returns) == sorted(buyers)
    assert all(bucket == bucket_of(buyer) for buyer, bucket in [*orders, *returns])
    assert await _count_lines(url) == lines_before == (5, 5, 5)  # nothing went with the copies
    if database.is_postgres:
        await _drop(url)


async def _count_lines(url: str) -> tuple[int, int, int]:
    """Order lines, return items and timeline events: rows that hang on orders and returns."""
    async with sessions(Database("", url)) as sessionmaker, sessionmaker() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(table))
            for table in (OrderLineRow, ReturnItemRow, ReturnEventRow)
        ]
    return (int(counts[0] or 0), int(counts[1] or 0), int(counts[2] or 0))


async def _fresh_database(database: Database, tmp_path: Any) -> str:
    """A database of the same backend, migrated to head, that this test may migrate."""
    if database.is_postgres:
        name = f"{make_url(database.url).database}_migration"
        await _drop(make_url(ADMIN_URL).set(database=name).render_as_string(False))
        await _admin(f'CREATE DATABASE "{name}"')
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    return url


async def _admin(statement: str) -> None:
    dsn = make_url(ADMIN_URL).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _drop(url: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
