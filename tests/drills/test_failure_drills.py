"""Failure drills against the real service process: SIGKILL mid-stream, a PostgreSQL outage.

Slow (tens of seconds each), so marked `slow`; CI runs them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from returns_service.config import Settings
from returns_service.db import create_engine, create_sessionmaker
from returns_service.models import (
    OutboxEventRow,
    ReturnEventRow,
    ReturnRow,
    WebhookDeliveryRow,
)
from tests.api.scenario import TEST_JWT_SECRET, Party, application_body, order_body
from tests.conftest import Database
from tests.drills.processes import SERVICE, PostgresCluster, ServiceProcess
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow

# Each request gives up after this long without an answer; the service must answer sooner.
CLIENT_TIMEOUT_SECONDS = 15.0
DATABASE_TIMEOUT_SECONDS = 2.0
_ids = itertools.count(1)


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "RETURNS_DATABASE_URL": database_url,
        "RETURNS_JWT_SECRET": TEST_JWT_SECRET,
        "RETURNS_LOG_LEVEL": "WARNING",
        "RETURNS_SWEEP_INTERVAL_SECONDS": "0.5",
        "RETURNS_RELAY_INTERVAL_SECONDS": "0.1",
        "RETURNS_RELAY_BASE_DELAY_SECONDS": "0.2",
        "RETURNS_RELAY_TIMEOUT_SECONDS": "1",
        "RETURNS_RELAY_LEASE_SECONDS": "1",
        "RETURNS_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # the receiver is on 127.0.0.1
        # A key claimed by a request the kill cut short is free again this soon.
        "RETURNS_IDEMPOTENCY_LEASE_SECONDS": "2",
        "RETURNS_DATABASE_TIMEOUT_SECONDS": str(DATABASE_TIMEOUT_SECONDS),
        # One process: SIGKILL must take the whole service down, as the drills mean it to.
        "RETURNS_WORKERS": "1",
        **extra,
    }


@dataclass
class Shop:
    shop_id: str = field(default_factory=lambda: f"drill-shop-{uuid.uuid4().hex[:8]}")
    storefront: Party = field(default_factory=lambda: Party("storefront", "drill-storefront"))
    platform: Party = field(default_factory=lambda: Party("platform", "drill-operator"))

    @property
    def merchant(self) -> Party:
        return Party("merchant", "drill-merchant", self.shop_id)

    def buyer(self, n: int) -> Party:
        return Party("buyer", f"drill-buyer-{n}")


@dataclass
class Ledger:
    """What the clients were told: every 2xx, and how often they had to try again."""

    applied: dict[str, str] = field(default_factory=dict)  # order id -> return id
    refunded: set[str] = field(default_factory=set)
    retries: Counter[str] = field(default_factory=Counter)
    answered: int = 0
    progress: asyncio.Event = field(default_factory=asyncio.Event)


async def call(
    http: httpx.AsyncClient,
    ledger: Ledger,
    method: str,
    path: str,
    party: Party,
    body: dict[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
) -> httpx.Response:
    """Send until answered; retry (same Idempotency-Key) only when the answer was none,
    503, or "the first try is still running". Any other answer is final."""
    headers = dict(party.headers)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    deadline = time.monotonic() + 90
    while True:
        assert time.monotonic() < deadline, f"{method} {path} never got a final answer"
        try:
            response = await http.request(
                method, path, json=body, headers=headers, timeout=CLIENT_TIMEOUT_SECONDS
            )
        except httpx.TransportError:
            ledger.retries["no answer"] += 1
            await asyncio.sleep(0.1)
            continue
        code = (
            response.json().get("code")
            if response.headers.get("content-type") == "application/problem+json"
            else None
        )
        if response.status_code == 503 or code == "idempotency_in_progress":
            ledger.retries[str(code)] += 1
            await asyncio.sleep(0.2)
            continue
        ledger.answered += 1
        ledger.progress.set()
        return response


async def refund_flow(http: httpx.AsyncClient, shop: Shop, ledger: Ledger, n: int) -> None:
    """Register an order, apply for a refund-only return, approve it, refund it."""
    order_id = f"drill-order-{n}-{uuid.uuid4().hex[:6]}"
    buyer = shop.buyer(n)
    body = order_body(
        shop.shop_id,
        buyer.id,
        lines=[
            {
                "line_id": "l1",
                "sku": f"SKU-{n}",
                "title": "Mug",
                "category": "kitchen",
                "unit_price": 4900,
                "quantity": 1,
                "attributes": {"color": "blue"},
            }
        ],
    )
    response = await call(http, ledger, "PUT", f"/v1/orders/{order_id}", shop.storefront, body)
    assert response.status_code in (200, 201), response.text

    application = application_body(
        order_id,
        type="refund_only",
        reason="quality_defect",
        items=[{"line_id": "l1", "quantity": 1, "condition": "damaged"}],
    )
    response = await call(
        http, ledger, "POST", "/v1/returns", buyer, application, idempotency_key=f"apply-{n}"
    )
    assert response.status_code == 201, response.text
    return_id = response.json()["id"]
    ledger.applied[order_id] = return_id

    for action in ("approve", "refund"):
        response = await call(
            http,
            ledger,
            "POST",
            f"/v1/returns/{return_id}/{action}",
            shop.merchant,
            {},
            idempotency_key=f"{action}-{n}",
        )
        assert response.status_code == 200, response.text
    ledger.refunded.add(return_id)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def _subscribe(url: str, shop: Shop, receiver: Receiver) -> str:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/v1/webhook-subscriptions",
            json={"url": receiver.url, "events": ["return.*"]},
            headers=shop.merchant.headers,
        )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


async def _wait_until_delivered(settings: Settings, receiver: Receiver, seconds: float) -> None:
    """Until every outbox event has reached the receiver (by its event id) and the relay has
    written every delivery down (one cut short by a kill is sent again once its claim lapses).
    """
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        deadline = time.monotonic() + seconds
        while True:
            async with sessionmaker() as session:
                events = set((await session.execute(select(OutboxEventRow.id))).scalars())
                pending = await session.scalar(
                    select(func.count()).where(WebhookDeliveryRow.status == "pending")
                )
            received = {payload["id"] for payload in receiver.payloads()}
            if events <= received and not pending:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(events - received)} of {len(events)} events never reached the "
                    f"receiver; {pending} deliveries still pending"
                )
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


async def test_sigkill_mid_stream_loses_no_answered_request_and_no_event(
    database: Database, receiver: Receiver, tmp_path: Path
) -> None:
    shop = Shop()
    env = service_env(database.url)
    first = ServiceProcess(env, tmp_path / "service.log")
    await first.start()
    secret = await _subscribe(first.url, shop, receiver)
    ledger = Ledger()
    services = [first]
    flows = 48
    kills = [40, 110]  # after this many final answers
    started = time.monotonic()

    async with httpx.AsyncClient(base_url=first.url) as http:
        queue = list(range(flows))

        async def worker() -> None:
            while queue:
                await refund_flow(http, shop, ledger, queue.pop())

        async def killer() -> None:
            for threshold in kills:
                while ledger.answered < threshold:
                    ledger.progress.clear()
                    await ledger.progress.wait()
                services[-1].kill()
                await services[-1].wait()
                services.append(ServiceProcess(env, tmp_path / "service.log", port=first.port))
                await services[-1].start()

        await asyncio.gather(killer(), *(worker() for _ in range(8)))
    stream_seconds = time.monotonic() - started
    settings = Settings(database_url=database.url)
    try:
        await _wait_until_delivered(settings, receiver, seconds=60)
    finally:
        await services[-1].stop()

    # Every answered request is in the database, and nothing was applied twice.
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            returns = (
                (await session.execute(select(ReturnRow).where(ReturnRow.shop_id == shop.shop_id)))
                .scalars()
                .all()
            )
            timeline = (
                await session.execute(
                    select(ReturnEventRow.return_id, ReturnEventRow.type).where(
                        ReturnEventRow.shop_id == shop.shop_id
                    )
                )
            ).all()
            outbox = (
                await session.execute(
                    select(OutboxEventRow.return_id, func.count())
                    .where(OutboxEventRow.shop_id == shop.shop_id)
                    .group_by(OutboxEventRow.return_id)
                )
            ).all()
            delivered = (
                await session.execute(
                    select(WebhookDeliveryRow.status, func.count()).group_by(
                        WebhookDeliveryRow.status
                    )
                )
            ).all()
    finally:
        await engine.dispose()

    assert len(ledger.applied) == flows and len(ledger.refunded) == flows
    by_id = {row.id: row for row in returns}
    assert len(returns) == flows, "an order got more than one return"
    assert Counter(row.order_id for row in returns) == Counter({o: 1 for o in ledger.applied})
    for order_id, return_id in ledger.applied.items():
        assert by_id[return_id].order_id == order_id
        assert by_id[return_id].status == "refunded"
        assert by_id[return_id].refunded_amount == 4900
    steps = Counter((return_id, step) for return_id, step in timeline)
    for return_id in ledger.applied.values():
        for step in ("created", "approve", "refund"):
            assert steps[(return_id, step)] == 1, (return_id, step, steps)
    assert dict(outbox) == {return_id: 3 for return_id in ledger.applied.values()}
    assert dict(delivered) == {"delivered": flows * 3}

    # Each event reached the receiver signed; some more than once (at least once), always
    # under the same webhook-id, so the receiver can drop the repeats.
    by_event: dict[str, set[str]] = {}
    for item in receiver.received:
        payload = item.verified(secret)
        by_event.setdefault(payload["id"], set()).add(item.webhook_id)
    assert all(len(ids) == 1 for ids in by_event.values())
    assert sum(ledger.retries.values()) > 0, "the kills never interrupted a request"
    print(
        f"\nstream of {flows} refunds with {len(kills)} SIGKILLs took {stream_seconds:.1f}s; "
        f"retries: {dict(ledger.retries)}; webhook repeats: "
        f"{len(receiver.received) - len(by_event)}"
    )


@dataclass
class Observation:
    phase: str  # when the request was sent
    answered_in: str  # when the answer came
    kind: str
    status: int | None
    seconds: float
    code: str | None = None
    content_type: str | None = None


async def test_a_postgresql_outage_is_answered_503_quickly_and_healed_without_help(
    receiver: Receiver, tmp_path: Path
) -> None:
    reason = PostgresCluster.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    cluster = PostgresCluster()
    await asyncio.to_thread(cluster.create)
    service: ServiceProcess | None = None
    try:
        env = service_env(cluster.url)
        await asyncio.to_thread(
            subprocess.run,
            [str(SERVICE), "migrate"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        service = ServiceProcess(env, tmp_path / "service.log")
        await service.start()
        shop = Shop()
        await _subscribe(service.url, shop, receiver)
        observations = await _traffic_through_outages(service, cluster, shop)
        settings = Settings(database_url=cluster.url)
        await _wait_until_delivered(settings, receiver, seconds=30)
    finally:
        if service is not None:
            await service.stop()
        cluster.destroy()

    ok = (200, 201)
    by_phase: dict[str, list[Observation]] = {}
    for seen in observations:
        by_phase.setdefault(seen.phase, []).append(seen)
    # Before the outage, everything works; requests the outage caught in flight may fail.
    calm = [seen for seen in by_phase["before"] if seen.answered_in == "before"]
    assert calm and all(seen.status in ok for seen in calm), calm
    # Whatever fails, fails as a 503 problem the client can retry: never a 500, never a hang.
    for seen in observations:
        if seen.status not in ok:
            assert seen.status == 503, seen
            assert seen.content_type == "application/problem+json", seen
            assert seen.code == "service_unavailable", seen
        # Bounded by the database timeout: a stale pooled connection's ping, then one fresh
        # connection attempt, each at most that long; with room to spare.
        assert seen.seconds < 2 * DATABASE_TIMEOUT_SECONDS + 1.5, seen
    for phase in ("stopped", "frozen"):
        assert any(seen.status == 503 for seen in by_phase[phase]), phase
    # And it heals by itself once PostgreSQL is back.
    healed = by_phase["after"]
    assert len(healed) >= 10 and all(seen.status in ok for seen in healed), [
        seen for seen in healed if seen.status not in ok
    ]
    print(
        "\n"
        + "; ".join(
            f"{phase}: {len(seen)} requests, "
            f"{sum(s.status == 503 for s in seen)} x 503, "
            f"slowest {max(s.seconds for s in seen):.2f}s"
            for phase, seen in by_phase.items()
        )
    )


def _cluster_pids(cluster: PostgresCluster) -> list[int]:
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True, check=True
    ).stdout.split()
    return [postmaster, *map(int, children)]


async def _traffic_through_outages(
    service: ServiceProcess, cluster: PostgresCluster, shop: Shop
) -> list[Observation]:
    """Steady reads and writes while PostgreSQL runs, stops, runs, freezes, runs again."""
    observations: list[Observation] = []
    phase = "before"
    stop = asyncio.Event()

    async def one(
        http: httpx.AsyncClient,
        kind: str,
        method: str,
        path: str,
        party: Party,
        body: dict[str, Any] | None = None,
    ) -> int:
        started = time.monotonic()
        at_phase = phase
        try:
            response = await http.request(
                method, path, json=body, headers=party.headers, timeout=CLIENT_TIMEOUT_SECONDS
            )
        except httpx.TransportError as error:
            raise AssertionError(f"{kind} got no answer in {at_phase}: {error!r}") from error
        content_type = response.headers.get("content-type")
        observations.append(
            Observation(
                at_phase,
                phase,
                kind,
                response.status_code,
                time.monotonic() - started,
                response.json().get("code") if content_type == "application/problem+json" else None,
                content_type,
            )
        )
        return response.status_code

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=service.url) as http:
            while not stop.is_set():
                n = next(_ids)
                order_id = f"outage-order-{n}-{uuid.uuid4().hex[:6]}"
                buyer = shop.buyer(n)
                registered = await one(
                    http,
                    "order",
                    "PUT",
                    f"/v1/orders/{order_id}",
                    shop.storefront,
                    order_body(shop.shop_id, buyer.id),
                )
                if registered in (200, 201):
                    await one(
                        http, "apply", "POST", "/v1/returns", buyer, application_body(order_id)
                    )
                await one(http, "list", "GET", "/v1/returns?limit=5", shop.platform)
                await asyncio.sleep(0.05)

    async def operator() -> None:
        nonlocal phase
        await asyncio.sleep(1.5)
        phase = "stopped"
        await asyncio.to_thread(cluster.stop, "fast")
        await asyncio.sleep(3)
        await asyncio.to_thread(cluster.start)
        phase = "running"
        await asyncio.sleep(2)
        pids = _cluster_pids(cluster)
        phase = "frozen"
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(3 * DATABASE_TIMEOUT_SECONDS)
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        phase = "recovering"
        await asyncio.sleep(3)
        phase = "after"
        await asyncio.sleep(2)
        stop.set()

    await asyncio.gather(operator(), *(client_loop() for _ in range(4)))
    return observations
