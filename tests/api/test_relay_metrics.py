"""A relay run as a process of its own serves its delivery counters for Prometheus."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.api.scenario import ADDRESS, TEST_JWT_SECRET
from tests.api.webhook_support import harness
from tests.conftest import Database
from tests.drills.processes import SERVICE, free_port
from tests.webhook_receiver import Receiver

WAIT_SECONDS = 60


def delivered_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "returns_webhook_deliveries_total"
                and sample.labels.get("outcome") == "delivered"
            ):
                return sample.value
    return 0


async def test_a_relay_process_counts_what_it_delivered_on_its_metrics_port(
    database: Database, tmp_path: Path
) -> None:
    async with harness(database) as world, Receiver() as receiver:
        await world.subscribe(receiver.url)
        created = await world.scenario.open_return()
        approved = await world.scenario.act(
            created["id"], "approve", world.scenario.merchant, {"return_address": ADDRESS}
        )
        assert approved.status_code == 200
        port = free_port()
        env = {
            **os.environ,
            "RETURNS_DATABASE_URL": database.url,
            "RETURNS_JWT_SECRET": TEST_JWT_SECRET,
            "RETURNS_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "RETURNS_RELAY_INTERVAL_SECONDS": "0.1",
            "RETURNS_LOG_LEVEL": "WARNING",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        log = (tmp_path / "relay.log").open("wb")
        relay = await asyncio.create_subprocess_exec(
            str(SERVICE),
            "relay",
            "--metrics-port",
            str(port),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            counted = 0.0
            async with httpx.AsyncClient() as http:
                while counted < 2:
                    assert relay.returncode is None, "the relay exited; see relay.log"
                    assert time.monotonic() < deadline, f"counted {counted} of 2"
                    try:
                        scraped = await http.get(f"http://127.0.0.1:{port}/metrics")
                        counted = delivered_count(scraped.text)
                    except httpx.TransportError:
                        pass  # not listening yet
                    await asyncio.sleep(0.1)
        finally:
            relay.terminate()
            await asyncio.wait_for(relay.wait(), timeout=30)
            log.close()
    assert relay.returncode == 0
    assert counted == 2
    assert sorted(item.json()["type"] for item in receiver.received) == [
        "return.approved",
        "return.requested",
    ]
