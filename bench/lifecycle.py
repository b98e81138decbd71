"""How fast the service walks returns end to end: `make bench`.

Drives the real app in-process (httpx over ASGI) against a fresh database migrated by the real
migrations: SQLite by default, PostgreSQL with --database-url. Two runs: one caller at a time
(latency per operation, against TARGETS_MS), then --concurrency callers at once (throughput of
whole lifecycles, against MIN_LIFECYCLES_PER_SECOND; latency under load is printed, not
judged: it is queueing). Exits non-zero when a target is missed. Targets are for this
two-core machine, where the client and the service share one process; they are not tests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from httpx import ASGITransport, AsyncClient
from tests.api.scenario import (
    ADDRESS,
    TEST_JWT_SECRET,
    Party,
    application_body,
    order_body,
)

from returns_service.app import create_app
from returns_service.config import Settings
from returns_service.migrations import upgrade_to_head

# Ids are unique per run, so runs can repeat against one PostgreSQL database.
RUN = uuid.uuid4().hex[:8]
# p95 latency per operation with one caller, in milliseconds.
TARGETS_MS = {"put_order": 20.0, "apply": 30.0, "approve": 25.0, "refund": 30.0, "get": 12.0}
# Whole lifecycles (order, apply, approve, refund, read) per second under concurrency.
MIN_LIFECYCLES_PER_SECOND = 12.0


async def one_lifecycle(client: AsyncClient, index: int, timings: dict[str, list[float]]) -> None:
    shop = f"bench-shop-{index % 20}"
    buyer = Party("buyer", f"bench-buyer-{index}")
    merchant = Party("merchant", f"bench-merchant-{index % 20}", shop)
    storefront = Party("storefront", "bench-storefront")

    async def timed(name: str, call: object) -> dict[str, object]:
        started = time.perf_counter()
        response = await call  # type: ignore[misc]
        timings[name].append((time.perf_counter() - started) * 1000)
        assert response.status_code < 300, response.text
        body: dict[str, object] = response.json()
        return body

    order_id = f"bench-order-{RUN}-{index}"
    await timed(
        "put_order",
        client.put(
            f"/v1/orders/{order_id}",
            json=order_body(shop, buyer.id),
            headers=storefront.headers,
        ),
    )
    created = await timed(
        "apply",
        client.post(
            "/v1/returns",
            json=application_body(order_id, type="refund_only", reason="quality_defect"),
            headers=buyer.headers,
        ),
    )
    return_id = created["id"]
    await timed(
        "approve",
        client.post(
            f"/v1/returns/{return_id}/approve",
            json={"return_address": ADDRESS},
            headers=merchant.headers,
        ),
    )
    await timed("refund", client.post(f"/v1/returns/{return_id}/refund", headers=merchant.headers))
    await timed("get", client.get(f"/v1/returns/{return_id}", headers=buyer.headers))


async def run(database_url: str, lifecycles: int, concurrency: int, *, judge_latency: bool) -> bool:
    settings = Settings(
        database_url=database_url,
        jwt_secret=TEST_JWT_SECRET,
        sweep_interval_seconds=0,
        relay_interval_seconds=0,
    )
    app = create_app(settings)
    timings: dict[str, list[float]] = defaultdict(list)
    gate = asyncio.Semaphore(concurrency)

    async def guarded(index: int) -> None:
        async with gate:
            await one_lifecycle(client, index, timings)

    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://bench") as client:
            started = time.perf_counter()
            await asyncio.gather(*(guarded(index) for index in range(lifecycles)))
            elapsed = time.perf_counter() - started

    rate = lifecycles / elapsed
    met = judge_latency or rate >= MIN_LIFECYCLES_PER_SECOND
    rate_verdict = "" if judge_latency else f"  target ≥ {MIN_LIFECYCLES_PER_SECOND}/s "
    rate_verdict += "" if judge_latency else ("ok" if met else "MISSED")
    print(f"{lifecycles} lifecycles, concurrency {concurrency}: {rate:.1f}/s{rate_verdict}")
    for name, samples in timings.items():
        cuts = statistics.quantiles(samples, n=100)
        p50, p95 = cuts[49], cuts[94]
        if not judge_latency:
            print(f"  {name:10} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
            continue
        verdict = "ok" if p95 <= TARGETS_MS[name] else "MISSED"
        met = met and verdict == "ok"
        print(
            f"  {name:10} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
            f"target p95 ≤ {TARGETS_MS[name]} ms {verdict}"
        )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifecycles", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        upgrade_to_head(url)
        latency_met = asyncio.run(run(url, args.lifecycles, 1, judge_latency=True))
        throughput_met = asyncio.run(
            run(url, args.lifecycles, args.concurrency, judge_latency=False)
        )
    return 0 if latency_met and throughput_met else 1


if __name__ == "__main__":
    sys.exit(main())
