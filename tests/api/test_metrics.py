"""GET /metrics: counters that moved by exactly what happened, in one process or in several."""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from returns_service.models import OutboxEventRow, ReturnRow
from returns_service.models.base import utcnow
from returns_service.observability.metrics import TRANSITIONS, count_on_commit
from tests.api.conftest import test_settings as settings_for
from tests.api.problem_checks import assert_problem
from tests.api.scenario import ADDRESS, Party, Scenario, application_body, bearer, order_body
from tests.api.webhook_support import Harness, harness
from tests.conftest import Database
from tests.drills.processes import ServiceProcess
from tests.webhook_receiver import Receiver

Sample = tuple[str, frozenset[tuple[str, str]]]


def parse(text: str) -> dict[Sample, float]:
    samples: dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


async def scrape(client: AsyncClient, **headers: str) -> dict[Sample, float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def moved(before: dict[Sample, float], after: dict[Sample, float], name: str) -> Tally[Sample]:
    """How much each sample of `name` grew between two scrapes (unchanged ones left out)."""
    grown: Tally[Sample] = Tally()
    for key, value in after.items():
        if key[0] == name and value != before.get(key, 0):
            grown[key] = value - before.get(key, 0)
    return grown


def sample(name: str, **labels: str) -> Sample:
    return (name, frozenset(labels.items()))


@pytest.fixture
async def world(database: Database) -> AsyncIterator[Harness]:
    async with harness(database) as built:
        yield built


async def walk_to_refunded(scenario: Scenario) -> str:
    """Apply, approve, ship, receive, refund: four transitions and one refund of 9900."""
    created = await scenario.open_return()
    return_id: str = created["id"]
    for action, by, body in (
        ("approve", scenario.merchant, {"return_address": ADDRESS}),
        ("ship", scenario.buyer, {"carrier": "SF", "tracking_number": f"SFM{return_id[:8]}"}),
        ("receive", scenario.merchant, {"inspection": "passed"}),
        ("refund", scenario.merchant, None),
    ):
        response = await scenario.act(return_id, action, by, body)
        assert response.status_code == 200, response.text
    return return_id


async def test_a_lifecycle_moves_the_counters_by_exactly_what_happened(world: Harness) -> None:
    scenario = world.scenario
    before = await scrape(scenario.client)
    return_id = await walk_to_refunded(scenario)
    # Refused, so rolled back: counted as an answer, not as a transition.
    refused = await scenario.act(return_id, "approve", scenario.merchant)
    assert refused.status_code == 409
    after = await scrape(scenario.client)

    assert moved(before, after, "returns_transitions_total") == {
        sample("returns_transitions_total", action=a, actor=r, to_status=s): 1
        for a, r, s in (
            ("approve", "merchant", "approved"),
            ("ship", "buyer", "shipped"),
            ("receive", "merchant", "received"),
            ("refund", "merchant", "refunded"),
        )
    }
    assert moved(before, after, "returns_refunded_minor_units_total") == {
        sample("returns_refunded_minor_units_total", currency="CNY"): 9900
    }
    requests = moved(before, after, "returns_http_requests_total")
    route = "/v1/returns/{return_id}/approve"
    assert requests[sample("returns_http_requests_total", method="POST", route=route, status="200")]
    assert (
        requests[sample("returns_http_requests_total", method="POST", route=route, status="409")]
        == 1
    )
    assert (
        requests[
            sample(
                "returns_http_requests_total",
                method="PUT",
                route="/v1/orders/{order_id}",
                status="201",
            )
        ]
        == 1
    )
    # The scrape before this one is counted too; this one is not yet.
    assert (
        requests[
            sample("returns_http_requests_total", method="GET", route="/metrics", status="200")
        ]
        == 1
    )
    assert sum(requests.values()) == 8
    durations = moved(before, after, "returns_http_request_duration_seconds_count")
    assert sum(durations.values()) == 8
    for name, labels in after:
        assert return_id not in dict(labels).get("route", ""), (name, labels)


async def test_backlog_gauges_count_what_the_database_holds(world: Harness) -> None:
    scenario = world.scenario
    empty = await scrape(scenario.client)
    assert empty[sample("returns_deadlines_overdue")] == 0
    assert empty[sample("returns_outbox_pending")] == 0
    assert empty[sample("returns_webhook_deliveries_pending")] == 0

    late = await scenario.open_return()
    await scenario.open_return()
    async with world.sessionmaker() as session, session.begin():
        await session.execute(
            update(ReturnRow)
            .where(ReturnRow.id == late["id"])
            .values(deadline_due_at=utcnow() - timedelta(hours=1))
        )
    async with world.sessionmaker() as session:
        events = (await session.execute(select(func.count()).select_from(OutboxEventRow))).scalar()
    counted = await scrape(scenario.client)
    assert counted[sample("returns_deadlines_overdue")] == 1
    assert counted[sample("returns_outbox_pending")] == events == 2

    async with Receiver() as receiver:
        await world.subscribe(receiver.url)
        third = await scenario.open_return()
        await world.fan_out()
        fanned = await scrape(scenario.client)
        assert fanned[sample("returns_outbox_pending")] == 0
        assert fanned[sample("returns_webhook_deliveries_pending")] == 1
        before = fanned
        await world.relay_until_quiet()
        after = await scrape(scenario.client)
    assert third["id"]
    assert after[sample("returns_webhook_deliveries_pending")] == 0
    assert moved(before, after, "returns_webhook_deliveries_total") == {
        sample("returns_webhook_deliveries_total", outcome="delivered"): 1
    }
    assert after[sample("returns_db_pool_in_use")] >= 0


async def test_a_count_waits_for_the_commit_and_dies_with_a_rollback_or_savepoint(
    world: Harness,
) -> None:
    counter = TRANSITIONS.labels("probe", "system", "probed")
    start = counter._value.get()
    async with world.sessionmaker() as session:
        async with session.begin():
            count_on_commit(session, counter.inc)
            try:
                async with session.begin_nested():
                    count_on_commit(session, counter.inc)
                    raise RuntimeError("undo this item")
            except RuntimeError:
                pass
            async with session.begin_nested():
                count_on_commit(session, counter.inc)
            assert counter._value.get() == start  # nothing before the commit
        assert counter._value.get() == start + 2  # the outer one and the released savepoint
        async with session.begin():
            count_on_commit(session, counter.inc)
            await session.rollback()
        assert counter._value.get() == start + 2


async def test_reads_are_counted_by_where_they_were_served(database: Database) -> None:
    if not database.is_postgres:
        pytest.skip("replicas are PostgreSQL's")
    # The replica is a second engine on the test database: never behind.
    async with harness(database, database_replica_url=database.url) as built:
        client = built.scenario.client
        before = await scrape(client)
        listed = await client.get("/v1/returns", headers=built.scenario.merchant.headers)
        assert listed.status_code == 200
        after = await scrape(client)
    assert moved(before, after, "returns_db_reads_total") == {
        sample("returns_db_reads_total", target="replica"): 1
    }
    assert after[sample("returns_db_replica_lag_seconds")] == 0


async def test_the_metrics_token_guards_the_scrape(database: Database) -> None:
    async with harness(database, metrics_token="scrape-me-please") as built:
        client = built.scenario.client
        assert_problem(await client.get("/metrics"), 401, "unauthenticated")
        wrong = await client.get("/metrics", headers=bearer("scrape-me-not"))
        assert_problem(wrong, 401, "unauthenticated")
        assert (await client.get("/metrics", headers=bearer("scrape-me-please"))).status_code == 200


def service_env(database: Database, metrics_dir: Path, workers: int) -> dict[str, str]:
    settings = settings_for(database)
    return {
        "RETURNS_DATABASE_URL": database.url,
        "RETURNS_JWT_SECRET": settings.jwt_secret,
        "RETURNS_LOG_LEVEL": "WARNING",
        "RETURNS_SWEEP_INTERVAL_SECONDS": "0",
        "RETURNS_RELAY_INTERVAL_SECONDS": "0",
        "RETURNS_WORKERS": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }


def workers_that_counted(metrics_dir: Path) -> int:
    return len(list(metrics_dir.glob("counter_*.db")))


async def until_every_worker_answered(http: AsyncClient, metrics_dir: Path, workers: int) -> int:
    """Ask /healthz, each time on a new connection, until every worker has answered one
    (each worker writes its counters to a file of its own). Returns how many were asked."""
    asked = 0
    deadline = time.monotonic() + 60
    while workers_that_counted(metrics_dir) < workers:
        assert time.monotonic() < deadline, "a worker never answered"
        response = await http.get("/healthz", headers={"Connection": "close"})
        assert response.status_code == 200
        asked += 1
    return asked


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_served_lifecycle_is_counted_once_whichever_worker_answers_the_scrape(
    database: Database, tmp_path: Path, workers: int
) -> None:
    metrics_dir = tmp_path / "metrics"
    service = ServiceProcess(service_env(database, metrics_dir, workers), tmp_path / "serve.log")
    await service.start(startup_seconds=120)  # workers import the app side by side
    try:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=30) as http:
            healthz = 1 + await until_every_worker_answered(http, metrics_dir, workers)
            shop = f"shop-{os.getpid()}-{workers}"
            buyer, merchant = Party("buyer", "b-1"), Party("merchant", "m-1", shop)
            storefront = Party("storefront", "sf-1")
            put = await http.put(
                "/v1/orders/o-1", json=order_body(shop, "b-1"), headers=storefront.headers
            )
            assert put.status_code == 201, put.text
            applied = await http.post(
                "/v1/returns", json=application_body("o-1"), headers=buyer.headers
            )
            assert applied.status_code == 201, applied.text
            return_id = applied.json()["id"]
            for action, by, body in (
                ("approve", merchant, {"return_address": ADDRESS}),
                ("ship", buyer, {"carrier": "SF", "tracking_number": "SFWORKERS1"}),
                ("receive", merchant, {"inspection": "passed"}),
                ("refund", merchant, None),
            ):
                response = await http.post(
                    f"/v1/returns/{return_id}/{action}", json=body, headers=by.headers
                )
                assert response.status_code == 200, response.text
            scrapes = [await scrape(http) for _ in range(4)]
    finally:
        await service.stop()

    for n, scraped in enumerate(scrapes):
        assert (
            scraped[
                sample("returns_http_requests_total", method="GET", route="/healthz", status="200")
            ]
            == healthz
        )
        metrics_key = sample(
            "returns_http_requests_total", method="GET", route="/metrics", status="200"
        )
        assert scraped.get(metrics_key, 0) == n
        transitions = {
            key: value for key, value in scraped.items() if key[0] == "returns_transitions_total"
        }
        assert transitions == {
            sample("returns_transitions_total", action=a, actor=r, to_status=s): 1
            for a, r, s in (
                ("approve", "merchant", "approved"),
                ("ship", "buyer", "shipped"),
                ("receive", "merchant", "received"),
                ("refund", "merchant", "refunded"),
            )
        }
        assert scraped[sample("returns_refunded_minor_units_total", currency="CNY")] == 9900
        assert scraped[sample("returns_outbox_pending")] == 5
    assert workers_that_counted(metrics_dir) == workers
