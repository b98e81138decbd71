"""Replica drill: a private primary and a streaming replica, the service reading from both.

Shows, against real processes: lists served by the replica (its own table statistics count
the scans), a write then an immediate read of it always right (those reads stay on the
primary), replay paused past the lag limit moving lists to the primary (the first list that
shows a return the paused replica lacks) and back after it resumes, and the replica stopped
with every answer still right. Slow (a cluster, a base backup, a service), so marked `slow`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.scenario import ADDRESS, Party, application_body, order_body
from tests.drills.processes import SERVICE, PostgresCluster, ServiceProcess
from tests.drills.test_failure_drills import Shop, service_env

pytestmark = pytest.mark.slow

MAX_LAG_SECONDS = 1.0
CHECK_INTERVAL_SECONDS = 0.2
# Conditions below are waited for up to this long; they normally hold within a second or two.
PATIENCE_SECONDS = 30.0


def _scans_of_returns(cluster: PostgresCluster) -> int:
    """Scans of the returns table this server has run itself (a standby counts its own)."""
    return int(
        cluster.sql(
            "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) "
            "FROM pg_stat_user_tables WHERE relname = 'returns'"
        )
    )


def _replay_lag_seconds(replica: PostgresCluster) -> float:
    return float(
        replica.sql(
            "SELECT coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)"
        )
    )


async def _until(condition: Any, what: str) -> float:
    """Wait until `condition()` holds; answer how long that took."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < PATIENCE_SECONDS, f"never: {what}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


class Client:
    """The service as one shop's storefront, buyers and merchant use it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.shop = Shop()
        self.answers = 0

    async def call(
        self, method: str, path: str, party: Party, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        response = await self.http.request(method, path, json=body, headers=party.headers)
        self.answers += 1
        return response

    async def new_return(self) -> dict[str, Any]:
        order_id = f"replica-order-{uuid.uuid4().hex[:8]}"
        buyer = self.shop.buyer(1)
        registered = await self.call(
            "PUT",
            f"/v1/orders/{order_id}",
            self.shop.storefront,
            order_body(self.shop.shop_id, buyer.id),
        )
        assert registered.status_code == 201, registered.text
        applied = await self.call("POST", "/v1/returns", buyer, application_body(order_id))
        assert applied.status_code == 201, applied.text
        created: dict[str, Any] = applied.json()
        return created

    async def listed_ids(self) -> list[str]:
        listed = await self.call("GET", "/v1/returns?limit=200", self.shop.merchant)
        assert listed.status_code == 200, listed.text
        return [item["id"] for item in listed.json()["items"]]

    async def write_then_read_it(self) -> str:
        """Apply, approve, and read both back at once: always what was just written."""
        created = await self.new_return()
        return_id = created["id"]
        read = await self.call("GET", f"/v1/returns/{return_id}", self.shop.merchant)
        assert read.status_code == 200 and read.json()["status"] == "requested", read.text
        approved = await self.call(
            "POST",
            f"/v1/returns/{return_id}/approve",
            self.shop.merchant,
            {"return_address": ADDRESS},
        )
        assert approved.status_code == 200, approved.text
        read = await self.call("GET", f"/v1/returns/{return_id}", self.shop.merchant)
        assert read.json()["status"] == "approved", read.text
        assert read.json()["version"] == approved.json()["version"]
        timeline = await self.call("GET", f"/v1/returns/{return_id}/events", self.shop.merchant)
        assert [event["type"] for event in timeline.json()["items"]] == ["created", "approve"]
        return str(return_id)


async def test_reads_use_the_replica_while_it_is_fresh_and_the_primary_otherwise(
    tmp_path: Path,
) -> None:
    reason = PostgresCluster.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    started = time.monotonic()
    primary = PostgresCluster()
    replica: PostgresCluster | None = None
    service: ServiceProcess | None = None
    try:
        await asyncio.to_thread(primary.create)
        env = service_env(
            primary.url,
            RETURNS_REPLICA_MAX_LAG_SECONDS=str(MAX_LAG_SECONDS),
            RETURNS_REPLICA_CHECK_INTERVAL_SECONDS=str(CHECK_INTERVAL_SECONDS),
        )
        await asyncio.to_thread(
            subprocess.run,
            [str(SERVICE), "migrate"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        replica = await asyncio.to_thread(primary.replica)
        service = ServiceProcess(
            {**env, "RETURNS_DATABASE_REPLICA_URL": replica.url}, tmp_path / "service.log"
        )
        await service.start()
        set_up = time.monotonic() - started
        async with httpx.AsyncClient(base_url=service.url, timeout=15) as http:
            timings = await _drill(Client(http), primary, replica, service)
    finally:
        if service is not None:
            await service.stop()
        if replica is not None:
            replica.destroy()
        primary.destroy()
    print(
        f"\nreplica drill: set-up {set_up:.1f}s, whole drill {time.monotonic() - started:.1f}s; "
        + "; ".join(f"{name} {value}" for name, value in timings.items())
    )


async def _drill(
    client: Client, primary: PostgresCluster, replica: PostgresCluster, service: ServiceProcess
) -> dict[str, str]:
    timings: dict[str, str] = {}

    # 1. Streaming: lists are served by the replica, whose own statistics count the scans.
    written = [await client.write_then_read_it() for _ in range(3)]
    caught_up = await _until(
        lambda: _lists(client, set(written)), "the replica shows the writes in lists"
    )
    timings["lists caught up with writes in"] = f"{caught_up:.2f}s"
    before = await asyncio.to_thread(_scans_of_returns, replica)
    lists = 20
    for _ in range(lists):
        assert set(written) <= set(await client.listed_ids())
    seen = await _until(
        lambda: _scans_at_least(replica, before + lists), "the replica counts the list scans"
    )
    timings["replica scans counted in"] = f"{seen:.2f}s"

    # 2. Replay paused: a new return exists on the primary only. Lists may miss it until the
    # lag passes the limit; then they come from the primary, and show it.
    await asyncio.to_thread(replica.sql, "SELECT pg_wal_replay_pause()")
    paused_at = time.monotonic()
    fresh = await client.write_then_read_it()
    stale_lists = 0

    async def lists_show_fresh() -> bool:
        nonlocal stale_lists
        shown = fresh in await client.listed_ids()
        stale_lists += not shown
        return shown

    moved = await _until(lists_show_fresh, "lists move to the primary while replay is paused")
    lag = await asyncio.to_thread(_replay_lag_seconds, replica)
    timings["paused: lists moved to the primary after"] = (
        f"{moved:.2f}s ({stale_lists} stale lists; replica lag then {lag:.2f}s, "
        f"limit {MAX_LAG_SECONDS}s, checked every {CHECK_INTERVAL_SECONDS}s)"
    )
    for _ in range(5):  # still right while the replica stays behind
        assert fresh in await client.listed_ids()
        assert await client.write_then_read_it()
    assert "replica lag" in service.log() and "is too much" in service.log()

    # 3. Resumed: the replica catches up and serves lists again.
    await asyncio.to_thread(replica.sql, "SELECT pg_wal_replay_resume()")
    before = await asyncio.to_thread(_scans_of_returns, replica)
    more_lists = stale_lists + 20  # more than any late-counted stale list could account for

    async def replica_serves_again() -> bool:
        for _ in range(more_lists):
            assert fresh in await client.listed_ids()
        return await _scans_at_least(replica, before + more_lists)

    back = await _until(replica_serves_again, "lists come back to the replica")
    timings["resumed: lists back on the replica within"] = f"{back:.2f}s"
    timings["pause to back"] = f"{time.monotonic() - paused_at:.2f}s"

    # 4. Replica stopped: every answer is still right, lists included.
    await asyncio.to_thread(replica.stop, "immediate")
    stopped = time.monotonic()
    answers_before = client.answers
    after_stop = [await client.write_then_read_it() for _ in range(3)]
    for _ in range(10):
        assert set(after_stop) <= set(await client.listed_ids())
    timings["stopped: answers checked"] = (
        f"{client.answers - answers_before} in {time.monotonic() - stopped:.2f}s, all right"
    )
    assert "reads go to the primary" in service.log()

    # The service's own count of who answered the lists, and the lag it last saw.
    scraped = (await client.http.get("/metrics")).text
    reads = {
        target: _sample(scraped, f'returns_db_reads_total{{target="{target}"}}')
        for target in ("replica", "primary")
    }
    assert reads["replica"] >= lists + more_lists and reads["primary"] >= 10, reads
    timings["reads by target"] = str(reads)
    timings["lag gauge after the stop"] = str(_sample(scraped, "returns_db_replica_lag_seconds"))
    return timings


def _sample(scraped: str, name: str) -> float:
    return float(next(line for line in scraped.splitlines() if line.startswith(name)).split()[-1])


async def _lists(client: Client, expected: set[str]) -> bool:
    return expected <= set(await client.listed_ids())


async def _scans_at_least(cluster: PostgresCluster, count: int) -> bool:
    return await asyncio.to_thread(_scans_of_returns, cluster) >= count
