"""Read routing, in process: which reads a replica serves, and the primary standing in for it.

The replica here is a second engine on the test database itself (PostgreSQL: a server not in
recovery is never behind), or an address where nothing listens. The real streaming replica,
its lag and its outage are in tests/drills/test_replica_drill.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from returns_service.app import create_app
from returns_service.replicas import ReadReplica
from tests.api.conftest import test_settings as settings_for
from tests.api.scenario import ADDRESS, Scenario
from tests.api.test_metrics import moved, sample, scrape
from tests.conftest import Database
from tests.drills.processes import free_port


def _nowhere() -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/returns"


async def _running(app: FastAPI) -> AsyncIterator[tuple[AsyncClient, ReadReplica | None]]:
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://returns.test") as http:
            yield http, app.state.read_replica


@pytest.fixture
async def on_replica(database: Database) -> AsyncIterator[tuple[AsyncClient, ReadReplica]]:
    if not database.is_postgres:
        pytest.skip("replicas are PostgreSQL's")
    app = create_app(settings_for(database, database_replica_url=database.url))
    async for http, replica in _running(app):
        assert replica is not None
        yield http, replica


async def _lifecycle(scenario: Scenario) -> str:
    created = await scenario.open_return()
    approved = await scenario.act(
        created["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
    )
    assert approved.status_code == 200, approved.text
    return str(created["id"])


async def test_lists_and_work_queues_are_served_by_the_replica_and_one_return_by_the_primary(
    on_replica: tuple[AsyncClient, ReadReplica],
) -> None:
    http, replica = on_replica
    assert replica.usable and replica.lag_seconds == 0
    scenario = Scenario(http)
    return_id = await _lifecycle(scenario)
    assert replica.reads == {}, "writes and their reads stay on the primary"
    before = await scrape(http)

    listed = await http.get("/v1/returns", headers=scenario.merchant.headers)
    queue = await http.get(
        "/v1/returns?awaiting=buyer&sort=due_at", headers=scenario.merchant.headers
    )
    deliveries = await http.get("/v1/webhook-deliveries", headers=scenario.platform.headers)
    statistics = await http.get("/v1/statistics", headers=scenario.merchant.headers)
    assert statistics.status_code == 200, statistics.text
    assert [item["id"] for item in listed.json()["items"]] == [return_id]
    assert [item["id"] for item in queue.json()["items"]] == [return_id]
    assert deliveries.status_code == 200
    assert replica.reads == {"replica": 4}

    one = await scenario.get(return_id, by=scenario.merchant)
    timeline = await scenario.events(return_id, by=scenario.merchant)
    assert one.json()["status"] == "approved" and len(timeline) == 2
    assert replica.reads == {"replica": 4}, "a return and its timeline are read on the primary"
    after = await scrape(http)
    assert moved(before, after, "returns_db_reads_total") == {
        sample("returns_db_reads_total", target="replica"): 4
    }
    assert after[sample("returns_db_replica_lag_seconds")] == 0


async def test_a_replica_that_lags_too_far_leaves_reads_to_the_primary(
    on_replica: tuple[AsyncClient, ReadReplica],
) -> None:
    http, replica = on_replica
    scenario = Scenario(http)
    return_id = await _lifecycle(scenario)
    replica.max_lag_seconds = -1.0  # any lag is too much now
    await replica.check()
    assert not replica.usable

    listed = await http.get("/v1/returns", headers=scenario.merchant.headers)
    assert [item["id"] for item in listed.json()["items"]] == [return_id]
    assert replica.reads == {"primary": 1}

    replica.max_lag_seconds = 5.0
    await replica.check()
    await http.get("/v1/returns", headers=scenario.merchant.headers)
    assert replica.reads == {"primary": 1, "replica": 1}


async def test_an_unreachable_replica_leaves_every_read_to_the_primary(
    database: Database,
) -> None:
    app = create_app(settings_for(database, database_replica_url=_nowhere()))
    async for http, replica in _running(app):
        assert replica is not None and not replica.usable and replica.lag_seconds is None
        scenario = Scenario(http)
        return_id = await _lifecycle(scenario)
        listed = await http.get("/v1/returns", headers=scenario.merchant.headers)
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()["items"]] == [return_id]
        assert replica.reads == {"primary": 1}


async def test_a_replica_that_fails_a_read_mid_request_is_answered_for_by_the_primary(
    database: Database,
) -> None:
    """It passed its last check, then went away: the read is answered all the same."""
    app = create_app(settings_for(database, database_replica_url=_nowhere()))
    async for http, replica in _running(app):
        assert replica is not None
        scenario = Scenario(http)
        return_id = await _lifecycle(scenario)
        replica.usable = True  # as its last check found it

        listed = await http.get("/v1/returns", headers=scenario.merchant.headers)
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["items"]] == [return_id]
        assert not replica.usable, "left alone until a check passes again"
        assert replica.reads == {"primary": 1}
