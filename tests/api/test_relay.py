"""The relay: signed deliveries, retried with backoff, parked, replayed, never doubled."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service.db import create_engine, create_sessionmaker
from returns_service.models import OutboxEventRow, WebhookDeliveryRow
from returns_service.models.base import utcnow
from returns_service.relay import dispatch
from returns_service.relay.backoff import retry_after_seconds, retry_delay
from returns_service.relay.dispatch import lease_seconds
from returns_service.relay.sender import send
from returns_service.relay.worker import http_client, relay_once
from tests.api.webhook_support import Harness, harness, later
from tests.conftest import Database
from tests.webhook_receiver import Receiver


async def _one_delivery(world: Harness, subscription_id: str) -> WebhookDeliveryRow:
    deliveries = await world.deliveries(subscription_id)
    assert len(deliveries) == 1, deliveries
    return deliveries[0]


async def test_an_event_is_delivered_signed_on_the_third_try_under_one_webhook_id(
    database: Database,
) -> None:
    async with harness(database) as world, Receiver(script=[(500, {}), (503, {})]) as receiver:
        subscription = await world.subscribe(receiver.url, ["return.requested"])
        created = await world.scenario.open_return()

        start = utcnow()
        await world.relay(now=start)
        first = await _one_delivery(world, subscription["id"])
        assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
        # Full jitter from a 1 s base: the first retry comes within a second.
        assert start <= first.next_attempt_at <= start + timedelta(seconds=1)

        await world.relay(now=later(1.01, start))
        second = await _one_delivery(world, subscription["id"])
        assert (second.status, second.attempts, second.last_status_code) == ("pending", 2, 503)
        assert second.next_attempt_at <= later(1.01 + 2, start)

        await world.relay(now=later(4, start))
        done = await _one_delivery(world, subscription["id"])
        assert (done.status, done.attempts, done.last_status_code) == ("delivered", 3, 200)
        assert done.delivered_at is not None

    assert len(receiver.received) == 3
    assert set(receiver.ids()) == {done.id}
    for attempt in receiver.received:
        payload = attempt.verified(subscription["secret"])
        assert attempt.headers["content-type"] == "application/json"
        assert payload["type"] == "return.requested"
        assert payload["data"]["return"]["id"] == created["id"]
        assert payload["data"]["return"]["status"] == "requested"
        assert payload["data"]["event"]["type"] == "created"
    assert len({attempt.body for attempt in receiver.received}) == 1
    event = await world.all(select(OutboxEventRow).where(OutboxEventRow.id == done.event_id))
    assert receiver.received[0].json()["id"] == event[0].id


async def test_a_forged_signature_does_not_verify(database: Database) -> None:
    async with harness(database) as world, Receiver() as receiver:
        await world.subscribe(receiver.url)
        other = await world.subscribe(receiver.url, ["return.approved"])
        await world.scenario.open_return()
        await world.relay()
    assert len(receiver.received) == 1
    with pytest.raises(Exception, match="signature"):
        receiver.received[0].verified(other["secret"])


async def test_a_410_gone_disables_the_subscription_and_nothing_more_is_sent(
    database: Database,
) -> None:
    async with (
        harness(database, relay_concurrency=1) as world,
        Receiver(then=(410, {})) as receiver,
    ):
        subscription = await world.subscribe(receiver.url)
        await world.approved_return()  # two events: requested, approved
        await world.relay_until_quiet()

        shown = await world.scenario.client.get(
            f"/v1/webhook-subscriptions/{subscription['id']}",
            headers=world.scenario.merchant.headers,
        )
        assert shown.json()["enabled"] is False
        assert "410" in shown.json()["disabled_reason"]
        statuses = [row.status for row in await world.deliveries(subscription["id"])]
        assert statuses == ["cancelled", "cancelled"]

        await world.scenario.open_return()
        await world.relay_until_quiet(now=later(3600))
        assert len(await world.deliveries(subscription["id"])) == 2
    assert len(receiver.received) == 1


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_is_honoured(database: Database, status: int, form: str) -> None:
    wait = 120
    retry_at = datetime.now(UTC) + timedelta(seconds=wait)
    header = str(wait) if form == "seconds" else format_datetime(retry_at, usegmt=True)
    async with (
        harness(database) as world,
        Receiver(script=[(status, {"Retry-After": header})]) as receiver,
    ):
        subscription = await world.subscribe(receiver.url, ["return.requested"])
        await world.scenario.open_return()
        start = utcnow()
        await world.relay(now=start)
        delivery = await _one_delivery(world, subscription["id"])
        # Seconds count from the answer; an HTTP date is a moment, to the whole second.
        earliest = (
            start + timedelta(seconds=wait - 2)
            if form == "seconds"
            else retry_at.replace(microsecond=0) - timedelta(seconds=1)
        )
        assert delivery.next_attempt_at >= earliest

        assert (await world.relay(now=later(wait / 2, start))).claimed == 0
        await world.relay(now=later(wait + 1, start))
        assert (await _one_delivery(world, subscription["id"])).status == "delivered"
    assert len(receiver.received) == 2


async def test_a_delivery_out_of_attempts_is_parked_and_an_operator_replays_it(
    database: Database,
) -> None:
    async with (
        harness(database, relay_max_attempts=3) as world,
        Receiver(script=[(500, {})] * 3) as receiver,
    ):
        scenario = world.scenario
        subscription = await world.subscribe(receiver.url, ["return.requested"])
        await scenario.open_return()
        start = utcnow()
        for seconds in (0, 5, 15, 60):
            await world.relay(now=later(seconds, start))
        parked = await _one_delivery(world, subscription["id"])
        assert (parked.status, parked.attempts) == ("parked", 3)

        listed = await scenario.client.get(
            "/v1/webhook-deliveries", params={"status": "parked"}, headers=scenario.platform.headers
        )
        assert listed.status_code == 200, listed.text
        shown = [item for item in listed.json()["items"] if item["id"] == parked.id]
        assert shown and shown[0]["attempts"] == 3 and shown[0]["last_status_code"] == 500
        assert "HTTP 500" in shown[0]["last_error"]

        for who in (scenario.merchant, scenario.buyer):
            refused = await scenario.client.get(
                "/v1/webhook-deliveries", params={"status": "parked"}, headers=who.headers
            )
            assert refused.status_code == 403
            refused = await scenario.client.post(
                f"/v1/webhook-deliveries/{parked.id}/replay", headers=who.headers
            )
            assert refused.status_code == 403

        replayed = await scenario.client.post(
            f"/v1/webhook-deliveries/{parked.id}/replay", headers=scenario.platform.headers
        )
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["status"] == "pending"
        assert replayed.json()["attempts"] == 0
        again = await scenario.client.post(
            f"/v1/webhook-deliveries/{parked.id}/replay", headers=scenario.platform.headers
        )
        assert again.status_code == 409
        assert again.json()["code"] == "conflict"
        missing = await scenario.client.post(
            "/v1/webhook-deliveries/no-such-delivery/replay", headers=scenario.platform.headers
        )
        assert missing.status_code == 404

        await world.relay()
        delivered = await _one_delivery(world, subscription["id"])
        assert (delivered.status, delivered.attempts) == ("delivered", 1)
    assert len(receiver.received) == 4
    assert set(receiver.ids()) == {parked.id}
    receiver.received[-1].verified(subscription["secret"])


async def test_two_relays_at_once_deliver_each_attempt_once(database: Database) -> None:
    async with (
        harness(database, relay_concurrency=3) as world,
        Receiver(delay_seconds=0.02) as receiver,
    ):
        subscription = await world.subscribe(receiver.url)
        for _ in range(6):
            await world.approved_return()  # 12 events
        second_engine = create_engine(world.settings)
        second_sessionmaker = create_sessionmaker(second_engine)

        async def drain(
            sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
        ) -> int:
            claimed = 0
            for _ in range(30):
                report = await relay_once(sessionmaker, world.settings, client)
                claimed += report.claimed
                if report.claimed == 0 and report.fanned_out == 0:
                    break
            return claimed

        try:
            async with http_client(world.settings) as other_client:
                claimed = await asyncio.gather(
                    drain(world.sessionmaker, world.relay_client),
                    drain(second_sessionmaker, other_client),
                )
        finally:
            await second_engine.dispose()
        # Both took part, and between them made exactly one attempt per delivery.
        assert min(claimed) > 0 and sum(claimed) == 12

        deliveries = await world.deliveries(subscription["id"])
    assert len(deliveries) == 12
    assert {(row.status, row.attempts) for row in deliveries} == {("delivered", 1)}
    counts = Counter(receiver.ids())
    assert set(counts) == {row.id for row in deliveries}
    assert set(counts.values()) == {1}


async def test_a_relay_killed_before_its_call_leaves_a_claim_that_lapses_and_is_retried(
    database: Database,
) -> None:
    async with harness(database) as world, Receiver() as receiver:
        subscription = await world.subscribe(receiver.url, ["return.requested"])
        await world.scenario.open_return()
        await world.fan_out()
        start = utcnow()
        async with world.sessionmaker() as session, session.begin():
            claims = await dispatch.claim_due(session, start, 10, world.settings)
        assert len(claims) == 1
        # ... and the relay dies here, its claim committed, nothing sent.

        assert (await world.relay(now=later(1, start))).claimed == 0
        assert receiver.received == []

        await world.relay(now=later(lease_seconds(world.settings) + 1, start))
        delivery = await _one_delivery(world, subscription["id"])
        assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert receiver.ids() == [delivery.id]


async def test_a_relay_killed_after_its_call_has_the_event_sent_again_under_the_same_id(
    database: Database,
) -> None:
    async with harness(database) as world, Receiver() as receiver:
        subscription = await world.subscribe(receiver.url, ["return.requested"])
        await world.scenario.open_return()
        await world.fan_out()
        start = utcnow()
        async with world.sessionmaker() as session, session.begin():
            [claim] = await dispatch.claim_due(session, start, 10, world.settings)
        outcome = await send(world.relay_client, claim, 5)
        assert outcome.delivered
        # ... and the relay dies before writing the outcome down.

        await world.relay(now=later(lease_seconds(world.settings) + 1, start))
        delivery = await _one_delivery(world, subscription["id"])
        assert delivery.status == "delivered"
        # The late outcome of the dead relay's claim is refused: the claim is no longer its.
        async with world.sessionmaker() as session, session.begin():
            assert (
                await dispatch.record_outcome(session, claim, outcome, world.settings, utcnow())
                is None
            )
    # At least once: the receiver tells the two apart from a new event by the webhook-id.
    assert receiver.ids() == [delivery.id, delivery.id]


async def test_an_endpoint_that_does_not_answer_is_a_failed_attempt(database: Database) -> None:
    async with harness(database, relay_timeout_seconds=0.3) as world:
        async with Receiver(delay_seconds=2) as slow:
            slow_subscription = await world.subscribe(slow.url, ["return.requested"])
            async with Receiver() as closed:
                closed_url = closed.url
            refused_subscription = await world.subscribe(closed_url, ["return.requested"])
            await world.scenario.open_return()
            await world.relay()
        slow_delivery = await _one_delivery(world, slow_subscription["id"])
        refused_delivery = await _one_delivery(world, refused_subscription["id"])
    assert (slow_delivery.status, slow_delivery.attempts) == ("pending", 1)
    assert "no answer within 0.3s" in (slow_delivery.last_error or "")
    assert (refused_delivery.status, refused_delivery.attempts) == ("pending", 1)
    assert refused_delivery.last_status_code is None
    assert "Connect" in (refused_delivery.last_error or "")


async def test_the_server_relays_on_its_own(database: Database) -> None:
    async with (
        Receiver() as receiver,
        harness(database, relay_interval_seconds=0.05) as world,
    ):
        await world.subscribe(receiver.url, ["return.requested"])
        await world.scenario.open_return()
        for _ in range(100):  # up to ~5 s
            if receiver.received:
                break
            await asyncio.sleep(0.05)
    assert len(receiver.received) == 1


async def test_the_relay_command_makes_one_pass(database: Database) -> None:
    async with harness(database) as world, Receiver() as receiver:
        await world.subscribe(receiver.url, ["return.requested"])
        await world.scenario.open_return()
        command = Path(sys.executable).parent / "returns-service"
        process = await asyncio.create_subprocess_exec(
            str(command),
            "relay",
            "--once",
            env={
                **os.environ,
                "RETURNS_DATABASE_URL": database.url,
                "RETURNS_LOG_LEVEL": "WARNING",
                "RETURNS_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert "1 delivered" in stdout.decode()
    assert len(receiver.received) == 1


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    import random

    rng = random.Random(7)
    for attempts in range(1, 15):
        ceiling = min(3600.0, 1.0 * 2 ** (attempts - 1))
        delays = [retry_delay(attempts, 1.0, 3600.0, rng) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not bunched
        assert min(delays) < ceiling * 0.2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("30", now) == 30
    assert retry_after_seconds("Sat, 21 Nov 2026 12:01:00 GMT", now) == 60
    assert retry_after_seconds("Sat, 21 Nov 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None
