"""What statistics cost as the platform grows: `make bench` (BENCH=statistics).

Seeds PostgreSQL straight in SQL (generate_series, no API): N returns over ~400 days across
41 shops, one of which ("big") holds a fifth of them, each return with its order, one more
order that was not returned, items and timelines; then the big shop's rollups, as the
service keeps them, by INSERT ... SELECT (the other shops' cells would lie in other ranges of
the primary key: they are left out to keep seeding to minutes). A database per size is kept
for the next run (--reseed to seed again).

Then asks GET /v1/statistics of the big shop, in-process through httpx, over 90 and 365
whole UTC days, the sizes taking turns, and prints p50 and p99 at each size and the p99
ratio (target: at most 3). Partial-day windows, groups and the repurchase query alone are
printed beside, not judged.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from datetime import time as day_start
from typing import Any

import asyncpg
from httpx import ASGITransport, AsyncClient
from sqlalchemy.engine import make_url
from tests.api.scenario import TEST_JWT_SECRET, Party

from returns_service.app import create_app
from returns_service.config import Settings
from returns_service.migrations import upgrade_to_head
from returns_service.rules.sampling import POSTGRESQL_BUYER_BUCKET, buckets_to_sample
from returns_service.rules.statistics import repurchase_impact
from returns_service.statistics.repository import count_repurchases

SIZES = (10_000, 1_000_000)
WINDOWS = (90, 365)
MAX_RATIO = 3.0
WARM_UP = 3  # requests per question not counted
BIG = "big"

SEED_BASE = """
CREATE TEMP TABLE bench_returns AS
SELECT i,
       CASE WHEN i % 5 = 0 THEN 'big' ELSE 'shop-' || (i % 40) END AS shop_id,
       now() - make_interval(secs => 3 * 86400 + ((i::bigint * 7919) % (400 * 86400))) AS paid_at
FROM generate_series(1, $1::int) AS i;

INSERT INTO orders (shop_id, id, buyer_id, buyer_bucket, currency, paid_at, shipped_at,
                    delivered_at, shipping_fee, shipping_insurance, buyer_region, carrier,
                    tracking_number, created_at, updated_at)
SELECT shop_id, 'o' || (2 * i - k), buyer, BUYER_BUCKET,
       'CNY', paid_at + make_interval(days => k * 20), NULL, paid_at + interval '1 day', 0,
       false, 'R' || (i % 31), NULL, NULL, paid_at, paid_at
FROM bench_returns, (VALUES (0), (1)) AS copies(k),
     LATERAL (SELECT 'b' || (((2 * i - k)::bigint * 104729) % ($1 / 2 + 1)) AS buyer) AS b;

INSERT INTO order_lines (shop_id, order_id, line_id, position, sku, title, category,
                         unit_price, quantity, attributes)
SELECT o.shop_id, o.id, 'l1', 0, 'SKU-' || (h % 2000), 'goods', 'C' || (h % 20), 5000,
       1 + h % 3, '{}'::jsonb
FROM orders o, LATERAL (SELECT abs(hashtext(o.id)) AS h) AS hashed;

INSERT INTO returns (shop_id, id, order_id, buyer_id, buyer_bucket, type, reason, fault,
                     status, version,
                     currency, refund_amount, deductions, return_shipping_paid_by,
                     buyer_flagged, evidence, receive_extensions, refunded_amount,
                     refunded_at, created_at, updated_at)
SELECT r.shop_id, 'r' || r.i, o.id, o.buyer_id, o.buyer_bucket, 'return_refund',
       (ARRAY['no_reason','size_mismatch','quality_defect','not_as_described',
              'wrong_item','missing_item','damaged_in_transit','not_received'])[1 + r.i % 8],
       'buyer',
       (ARRAY['refunded','refunded','refunded','refunded','refunded','refunded',
              'approved','rejected','requested','cancelled'])[1 + r.i % 10],
       1, 'CNY', 5000, '[]'::jsonb, 'buyer', false, '[]'::jsonb, 0,
       CASE WHEN r.i % 10 < 6 THEN 5000 END,
       CASE WHEN r.i % 10 < 6 THEN applied + make_interval(secs => (r.i * 37) % 259200) END,
       applied, applied
FROM bench_returns r
JOIN orders o ON o.shop_id = r.shop_id AND o.id = 'o' || (2 * r.i)
CROSS JOIN LATERAL (SELECT o.paid_at + interval '2 days'
                           + make_interval(secs => r.i % 86400) AS applied) AS a;

INSERT INTO return_items (shop_id, return_id, line_id, position, quantity, condition,
                          unit_price)
SELECT shop_id, id, 'l1', 0, 1, 'unopened', 5000 FROM returns;

INSERT INTO return_events (shop_id, return_id, seq, type, from_status, to_status, actor_role,
                           actor_id, data, at)
SELECT shop_id, id, 1, 'created', NULL, 'requested', 'buyer', buyer_id, '{}'::jsonb, created_at
FROM returns
UNION ALL
SELECT shop_id, id, 2, 'approve', 'requested', 'approved', 'merchant', 'm', '{}'::jsonb,
       created_at + make_interval(secs => (hashtext(id) & 65535) % 20000)
FROM returns WHERE status <> 'requested';
"""

# The rollups as statistics.cells counts them, in SQL. Durations use the same buckets but
# by formula; what matters here is how many cells there are, not their exact split.
BUCKET = "(CASE WHEN {s} < 32 THEN {s}::int ELSE 32 + floor(ln({s} / 32.0) / ln(1.05))::int END)"
ORDER_FACTS = """
WITH held AS (
    SELECT r.shop_id, r.order_id, sum(i.quantity) AS units
    FROM returns r JOIN return_items i ON i.shop_id = r.shop_id AND i.return_id = r.id
    WHERE r.status <> 'cancelled' AND r.shop_id = 'big' GROUP BY r.shop_id, r.order_id
)
SELECT o.shop_id, (o.paid_at AT TIME ZONE 'UTC')::date AS day, o.buyer_region AS region,
       l.category, l.sku, l.quantity AS sold, coalesce(h.units, 0) AS returned
FROM orders o JOIN order_lines l ON l.shop_id = o.shop_id AND l.order_id = o.id
LEFT JOIN held h ON h.shop_id = o.shop_id AND h.order_id = o.id
WHERE o.shop_id = 'big'
"""
RETURN_FACTS = f"""
SELECT r.shop_id, (r.created_at AT TIME ZONE 'UTC')::date AS day, r.reason, r.status,
       o.buyer_region AS region, l.category, l.sku,
       {BUCKET.format(s="extract(epoch FROM r.refunded_at - r.created_at)")} AS processing,
       {BUCKET.format(s="extract(epoch FROM e.at - r.created_at)")} AS response,
       e.at - r.created_at <= interval '2 hours' AS in_time
FROM returns r
JOIN orders o ON o.shop_id = r.shop_id AND o.id = r.order_id
JOIN order_lines l ON l.shop_id = o.shop_id AND l.order_id = o.id
LEFT JOIN return_events e ON e.shop_id = r.shop_id AND e.return_id = r.id AND e.seq = 2
WHERE r.shop_id = 'big'
"""  # noqa: S608 (constants only)
SEED_CELLS = [
    """CREATE TEMP TABLE bench_cells (shop_id text, dimension text, span int, day date,
                                      key text, metric text, value bigint)""",
    f"""INSERT INTO bench_cells (shop_id, dimension, span, day, key, metric, value)
    SELECT shop_id, dimension, 1, day, key, metric, sum(value) FROM ({ORDER_FACTS}) f,
    LATERAL (VALUES ('all', ''), ('region', f.region), ('category', f.category),
                    ('sku', f.sku)) AS d(dimension, key),
    LATERAL (VALUES ('orders', 1), ('units_sold', f.sold),
                    ('orders_with_returns', (f.returned > 0)::int),
                    ('units_returned', f.returned)) AS m(metric, value)
    WHERE value <> 0 GROUP BY 1, 2, 3, 4, 5, 6""",  # noqa: S608
    f"""INSERT INTO bench_cells (shop_id, dimension, span, day, key, metric, value)
    SELECT shop_id, dimension, 1, day, key, metric, sum(value) FROM ({RETURN_FACTS}) f,
    LATERAL (VALUES ('reason', f.reason), ('region', f.region), ('category', f.category),
                    ('sku', f.sku)) AS d(dimension, key),
    LATERAL (VALUES ('returns', 1)) AS m(metric, value)
    GROUP BY 1, 2, 3, 4, 5, 6""",  # noqa: S608
    f"""INSERT INTO bench_cells (shop_id, dimension, span, day, key, metric, value)
    SELECT shop_id, 'all', 1, day, '', metric, sum(value) FROM ({RETURN_FACTS}) f,
    LATERAL (VALUES ('returns', 1), ('status:' || f.status, 1),
                    ('refunds:CNY', (f.status = 'refunded')::int),
                    ('refunded:CNY', CASE WHEN f.status = 'refunded' THEN 5000 ELSE 0 END),
                    ('processing:' || f.processing, (f.processing IS NOT NULL)::int),
                    ('first_response:' || f.response, (f.response IS NOT NULL)::int),
                    ('first_response_2h', coalesce(f.in_time, false)::int)) AS m(metric, value)
    WHERE value <> 0 AND metric IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6""",  # noqa: S608
    # The days, then the blocks of 8 and 64 days (statistics.periods), in key order.
    """INSERT INTO statistics_cells (shop_id, dimension, span, day, key, metric, value)
    SELECT shop_id, dimension, s.span,
           date '1970-01-01' + ((day - date '1970-01-01') / s.span) * s.span,
           key, metric, sum(value)
    FROM bench_cells, (VALUES (1), (8), (64)) AS s(span)
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6""",
]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_for(base_url: str, size: int) -> str:
    url = make_url(base_url)
    return url.set(database=f"{url.database}_{size}").render_as_string(hide_password=False)


async def _seeded_size(url: str) -> int | None:
    """The size a database was seeded with, if it was seeded by this bench and completed."""
    try:
        connection = await asyncpg.connect(_dsn(url))
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        size = await connection.fetchval(
            "SELECT size FROM bench_seeded WHERE to_regclass('bench_seeded') IS NOT NULL"
        )
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await connection.close()
    return int(size) if size is not None else None


async def _fresh_database(url: str) -> None:
    name = make_url(url).database
    admin = await asyncpg.connect(_dsn(str(make_url(url).set(database="postgres"))))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


SEEDED_TABLES = ("orders", "order_lines", "returns", "return_items", "return_events")
# Indexes and foreign keys other than primary keys, as the migrations made them: dropped
# while the rows go in, made again after (one sort each instead of a million inserts).
SECONDARY = """
SELECT 'index', indexname, indexdef FROM pg_indexes
WHERE tablename = ANY($1::text[]) AND indexname NOT LIKE 'pk_%'
UNION ALL
SELECT 'constraint', conname,
       'ALTER TABLE ' || conrelid::regclass || ' ADD CONSTRAINT ' || conname || ' '
       || pg_get_constraintdef(oid)
FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY($1::text[])
"""


async def seed(url: str, returns: int) -> float:
    started = time.perf_counter()
    connection = await asyncpg.connect(_dsn(url), command_timeout=7200)
    try:
        await connection.execute("SET synchronous_commit = off")
        await connection.execute("SET maintenance_work_mem = '256MB'")
        await connection.execute("SET work_mem = '64MB'")
        async with connection.transaction():
            secondary = await connection.fetch(SECONDARY, list(SEEDED_TABLES))
            for kind, name, _ in secondary:
                if kind == "constraint":
                    table = await connection.fetchval(
                        "SELECT conrelid::regclass::text FROM pg_constraint WHERE conname = $1",
                        name,
                    )
                    await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for kind, name, _ in secondary:
                if kind == "index":
                    await connection.execute(f'DROP INDEX "{name}"')
            for statement in SEED_BASE.split(";\n\n"):
                if statement.strip():
                    await connection.execute(
                        statement.replace("$1", str(returns)).replace(
                            "BUYER_BUCKET", POSTGRESQL_BUYER_BUCKET.format(column="buyer")
                        )
                    )
            for table in SEEDED_TABLES:
                await connection.execute(f"ANALYZE {table}")
            for kind, _, definition in secondary:
                if kind == "index":
                    await connection.execute(definition)
            for kind, _, definition in secondary:
                if kind == "constraint":
                    await connection.execute(definition)
            for statement in SEED_CELLS:
                await connection.execute(statement)
            await connection.execute("CREATE TABLE bench_seeded (size bigint)")
            await connection.execute("INSERT INTO bench_seeded VALUES ($1)", returns)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


def questions() -> dict[str, dict[str, str]]:
    tomorrow = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), day_start(), UTC)
    now = datetime.now(UTC)
    asked: dict[str, dict[str, str]] = {}
    for days in WINDOWS:
        start = tomorrow - timedelta(days=days)
        whole = {"from": start.isoformat(), "to": tomorrow.isoformat()}
        asked[f"{days}d"] = whole
        asked[f"{days}d group_by=category"] = {**whole, "group_by": "category"}
        asked[f"{days}d partial days"] = {
            "from": (now - timedelta(days=days)).isoformat(),
            "to": now.isoformat(),
        }
    return asked


# (size, window days, buckets sampled or None, impact as answered, exact impact, exact seconds)
Impact = tuple[int, int, int | None, float | None, float | None, float]


async def measure(
    urls: dict[int, str], requests: int
) -> tuple[dict[int, dict[str, list[float]]], list[Impact]]:
    """Milliseconds of each question at each size, one caller at a time, the sizes taking
    turns request by request so that whatever else loads the machine weighs on both alike."""
    merchant = Party("merchant", "bench-merchant", BIG)
    apps = {
        size: create_app(
            Settings(
                database_url=url,
                jwt_secret=TEST_JWT_SECRET,
                sweep_interval_seconds=0,
                relay_interval_seconds=0,
                # Time is what is measured here: a slow answer is a figure, not a 503.
                database_timeout_seconds=600,
            )
        )
        for size, url in urls.items()
    }
    samples: dict[int, dict[str, list[float]]] = {size: {} for size in urls}
    impacts: list[Impact] = []
    async with AsyncExitStack() as stack:
        clients = {}
        for size, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[size] = await stack.enter_async_context(
                AsyncClient(transport=ASGITransport(app=app), base_url="http://bench")
            )
        for name, params in questions().items():
            for index in range(requests + WARM_UP):
                for size, client in clients.items():
                    started = time.perf_counter()
                    response = await client.get(
                        "/v1/statistics", params=params, headers=merchant.headers
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, response.text
                    if index >= WARM_UP:  # the first few warm the caches and the pool
                        samples[size].setdefault(name, []).append(elapsed)
        # The one figure read from the rows, on its own: how much of the above it is, over
        # the sample of buyers the service reads (all of them up to its threshold).
        for days in WINDOWS:
            params = questions()[f"{days}d"]
            start, end = (datetime.fromisoformat(params[key]) for key in ("from", "to"))
            buckets = {
                size: await _sampled_buckets(client, params, merchant, apps[size])
                for size, client in clients.items()
            }
            for index in range(requests + WARM_UP):
                for size, app in apps.items():
                    async with app.state.sessionmaker() as session:
                        started = time.perf_counter()
                        await count_repurchases(session, BIG, start, end, buckets[size])
                        elapsed = (time.perf_counter() - started) * 1000
                    if index >= WARM_UP:
                        samples[size].setdefault(f"{days}d repurchase SQL alone", []).append(
                            elapsed
                        )
            # What the sample costs in precision: the exact figure once, beside the answer's.
            for size, app in apps.items():
                async with app.state.sessionmaker() as session:
                    started = time.perf_counter()
                    exact = repurchase_impact(await count_repurchases(session, BIG, start, end))
                    elapsed = time.perf_counter() - started
                    sampled = repurchase_impact(
                        await count_repurchases(session, BIG, start, end, buckets[size])
                    )
                impacts.append((size, days, buckets[size], sampled, exact, elapsed))
    return samples, impacts


async def _sampled_buckets(
    client: AsyncClient, params: dict[str, str], merchant: Party, app: Any
) -> int | None:
    """The buckets the service samples for this window (None: every buyer)."""
    response = await client.get("/v1/statistics", params=params, headers=merchant.headers)
    orders = int(response.json()["orders"])
    return buckets_to_sample(orders, app.state.settings.repurchase_sample_orders)


def percentile(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100)[percent - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/returns_bench_statistics",
        help="the base: each size gets its own database, named with the size",
    )
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument(
        "--reseed", action="store_true", help="seed again even where a seeded database exists"
    )
    args = parser.parse_args()
    urls = {size: database_for(args.database_url, size) for size in args.sizes}
    for size, url in urls.items():
        if not args.reseed and asyncio.run(_seeded_size(url)) == size:
            upgrade_to_head(url)
            print(f"{size} returns: seeded before, kept", flush=True)
            continue
        asyncio.run(_fresh_database(url))
        upgrade_to_head(url)
        seconds = asyncio.run(seed(url, size))
        print(
            f"{size} returns ({size // 5} in the big shop): seeded in {seconds:.0f} s", flush=True
        )
    samples, impacts = asyncio.run(measure(urls, args.requests))
    small, large = min(samples), max(samples)
    met = True
    print(f"GET /v1/statistics of the big shop, {args.requests} requests at each size:")
    print(f"  {'':28} {small:>9} returns    {large:>9} returns")
    print(f"  {'question':28} {'p50 ms':>9} {'p99 ms':>8}  {'p50 ms':>9} {'p99 ms':>8}  p99 ratio")
    for name in samples[small]:
        a, b = samples[small][name], samples[large][name]
        ratio = percentile(b, 99) / percentile(a, 99)
        judged = name in {f"{days}d" for days in WINDOWS} and small != large
        verdict = f"target ≤ {MAX_RATIO} " + ("ok" if ratio <= MAX_RATIO else "MISSED")
        met = met and (ratio <= MAX_RATIO or not judged)
        print(
            f"  {name:28} {percentile(a, 50):9.1f} {percentile(a, 99):8.1f}  "
            f"{percentile(b, 50):9.1f} {percentile(b, 99):8.1f}  {ratio:5.2f} "
            f"{verdict if judged else '(not judged)'}"
        )
    print("Repurchase impact as answered (sampled beyond the threshold) and exact:")
    for size, days, buckets, sampled, exact, seconds in impacts:
        read = "every buyer" if buckets is None else f"buckets 0-{buckets - 1} of 1024"
        print(
            f"  {size:>9} returns, {days:>3}d: {_figure(sampled)} over {read}; exact "
            f"{_figure(exact)} (counted in {seconds:.1f} s)"
        )
    return 0 if met else 1


def _figure(value: float | None) -> str:
    return "null" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    sys.exit(main())
