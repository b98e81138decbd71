"""Outbox retention: old settled events go with their deliveries; anything still owed stays."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from returns_service.models import OutboxEventRow, WebhookDeliveryRow
from returns_service.models.base import utcnow
from returns_service.relay import dispatch
from returns_service.relay.retention import remove_settled_outbox_events
from returns_service.timers.sweep import sweep_once
from tests.api.webhook_support import Harness, harness
from tests.conftest import Database
from tests.webhook_receiver import Receiver

OLD = 31  # days: past the default retention of 30
NEARLY_OLD = 29


async def _age(world: Harness, return_id: str, days: float) -> list[str]:
    """Move the outbox events of the return `days` back in time; answer their ids."""
    async with world.sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxEventRow)
            .where(OutboxEventRow.return_id == return_id)
            .values(created_at=utcnow() - timedelta(days=days))
        )
    return [row.id for row in await world.outbox(return_id)]


async def _deliveries_of(world: Harness, event_ids: list[str]) -> list[WebhookDeliveryRow]:
    statement = select(WebhookDeliveryRow).where(WebhookDeliveryRow.event_id.in_(event_ids))
    return list(await world.all(statement))


async def _counts(world: Harness) -> tuple[int, int]:
    events = await world.all(select(OutboxEventRow))
    deliveries = await world.all(select(WebhookDeliveryRow))
    return len(events), len(deliveries)


async def test_old_settled_events_go_with_their_deliveries_and_recent_ones_stay(
    database: Database,
) -> None:
    async with (
        harness(database) as world,
        Receiver() as listening,
        Receiver(then=(410, {})) as gone,
    ):
        await world.subscribe(listening.url)
        await world.subscribe(gone.url)
        old = await world.approved_return()  # requested, approved
        await world.relay_until_quiet()
        nearly_old = await world.scenario.open_return()
        recent = await world.scenario.open_return()
        await world.relay_until_quiet()

        old_events = await _age(world, old["id"], OLD)
        nearly_old_events = await _age(world, nearly_old["id"], NEARLY_OLD)
        recent_events = [row.id for row in await world.outbox(recent["id"])]
        settled = sorted(row.status for row in await _deliveries_of(world, old_events))
        assert settled == ["cancelled", "cancelled", "delivered", "delivered"]
        # The 410 disabled the second subscription: the later returns went to the first only.
        assert [row.status for row in await _deliveries_of(world, nearly_old_events)] == [
            "delivered"
        ]
        assert await _counts(world) == (4, 6)

        await sweep_once(world.sessionmaker)

        assert await world.outbox(old["id"]) == []
        assert await _deliveries_of(world, old_events) == []
        assert [row.id for row in await world.outbox(nearly_old["id"])] == nearly_old_events
        assert len(await _deliveries_of(world, nearly_old_events)) == 1
        assert [row.id for row in await world.outbox(recent["id"])] == recent_events
        assert len(await _deliveries_of(world, recent_events)) == 1
        assert await _counts(world) == (2, 2)

        # A second sweep finds nothing more to remove.
        assert await remove_settled_outbox_events(world.sessionmaker) == 0
        await sweep_once(world.sessionmaker)
        assert await _counts(world) == (2, 2)
        # The return itself and its timeline are untouched.
        shown = await world.scenario.get(old["id"])
        assert shown.status_code == 200 and shown.json()["status"] == "approved"


async def test_an_old_event_with_a_parked_delivery_stays_until_it_is_replayed_and_delivered(
    database: Database,
) -> None:
    async with (
        harness(database, relay_max_attempts=1) as world,
        Receiver(script=[(500, {})]) as receiver,
    ):
        scenario = world.scenario
        await world.subscribe(receiver.url)
        created = await scenario.open_return()
        await world.relay_until_quiet()
        events = await _age(world, created["id"], OLD)
        [parked] = await _deliveries_of(world, events)
        assert parked.status == "parked"

        assert await remove_settled_outbox_events(world.sessionmaker) == 0
        await sweep_once(world.sessionmaker)
        assert [row.id for row in await world.outbox(created["id"])] == events
        assert [row.status for row in await _deliveries_of(world, events)] == ["parked"]

        replayed = await scenario.client.post(
            f"/v1/webhook-deliveries/{parked.id}/replay", headers=scenario.platform.headers
        )
        assert replayed.status_code == 200, replayed.text
        await world.relay_until_quiet()
        assert [row.status for row in await _deliveries_of(world, events)] == ["delivered"]

        assert await remove_settled_outbox_events(world.sessionmaker) == 1
        assert await world.outbox(created["id"]) == []
        assert await _counts(world) == (0, 0)
    assert len(receiver.received) == 2


async def test_an_old_event_with_a_pending_or_claimed_delivery_stays(database: Database) -> None:
    async with (
        harness(database) as world,
        Receiver(script=[(503, {"Retry-After": "3600"})]) as receiver,
    ):
        await world.subscribe(receiver.url, ["return.requested"])
        retried = await world.scenario.open_return()
        await world.relay()  # one failed attempt: pending, to be tried again in an hour
        claimed = await world.scenario.open_return()
        await world.fan_out()
        async with world.sessionmaker() as session, session.begin():
            # A relay holds the claim (and dies, or is still sending): still pending.
            claims = await dispatch.claim_due(session, utcnow(), 10, world.settings)
        retried_events = await _age(world, retried["id"], OLD)
        claimed_events = await _age(world, claimed["id"], OLD)
        [pending] = await _deliveries_of(world, retried_events)
        [held] = await _deliveries_of(world, claimed_events)
        assert (pending.status, pending.attempts) == ("pending", 1)
        assert held.status == "pending" and held.claim_token is not None
        assert held.id in {claim.delivery_id for claim in claims}

        assert await remove_settled_outbox_events(world.sessionmaker) == 0
        await sweep_once(world.sessionmaker)
        assert await _counts(world) == (2, 2)
    assert len(receiver.received) == 1


async def test_an_old_event_not_yet_fanned_out_stays(database: Database) -> None:
    async with harness(database) as world:
        created = await world.scenario.open_return()
        events = await _age(world, created["id"], OLD)
        [event] = await world.outbox(created["id"])
        assert event.fanned_out_at is None

        assert await remove_settled_outbox_events(world.sessionmaker) == 0
        await sweep_once(world.sessionmaker)
        assert [row.id for row in await world.outbox(created["id"])] == events

        # Fanned out to no subscription at all, it is settled, and goes.
        assert await world.fan_out() == 1
        assert await remove_settled_outbox_events(world.sessionmaker) == 1
        assert await _counts(world) == (0, 0)


async def test_the_retention_is_a_setting_and_counts_from_the_sweeps_now(
    database: Database,
) -> None:
    async with harness(database) as world, Receiver() as receiver:
        await world.subscribe(receiver.url)
        created = await world.scenario.open_return()
        await world.relay_until_quiet()
        await _age(world, created["id"], 3)

        assert await remove_settled_outbox_events(world.sessionmaker, retention_days=4) == 0
        two_days_ago = utcnow() - timedelta(days=2)
        assert (
            await remove_settled_outbox_events(world.sessionmaker, two_days_ago, retention_days=2)
            == 0
        )
        assert await remove_settled_outbox_events(world.sessionmaker, retention_days=2) == 1
        assert await _counts(world) == (0, 0)


async def test_two_sweepers_in_small_batches_remove_every_settled_event_once(
    database: Database,
) -> None:
    async with harness(database) as world, Receiver() as receiver:
        await world.subscribe(receiver.url)
        returns = [await world.scenario.open_return() for _ in range(7)]
        await world.relay_until_quiet()
        for created in returns:
            await _age(world, created["id"], OLD)
        assert await _counts(world) == (7, 7)

        removed = await asyncio.gather(
            remove_settled_outbox_events(world.sessionmaker, batch_size=2),
            remove_settled_outbox_events(world.sessionmaker, batch_size=2),
        )

        assert sum(removed) == 7
        assert await _counts(world) == (0, 0)
        assert await remove_settled_outbox_events(world.sessionmaker, batch_size=2) == 0
