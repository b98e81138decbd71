"""Every change of a return writes its outbox event in the same transaction, and only then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from returns_service.auth import SYSTEM_CALLER
from returns_service.models import OutboxEventRow, ReturnEventRow
from returns_service.returns.repository import find_return
from returns_service.returns.timeline import record_event
from returns_service.rules.vocabulary import EventType
from tests.api.scenario import ADDRESS
from tests.api.test_logistics_webhooks import carrier_event, report
from tests.api.webhook_support import Harness, harness
from tests.conftest import Database


@pytest.fixture
async def world(database: Database) -> AsyncIterator[Harness]:
    async with harness(database) as built:
        yield built


async def _walk_to_received(world: Harness, inspection: str = "passed") -> str:
    scenario = world.scenario
    return_id: str = (await world.approved_return())["id"]
    shipped = await scenario.act(
        return_id, "ship", scenario.buyer, {"carrier": "SF", "tracking_number": "SF100"}
    )
    assert shipped.status_code == 200, shipped.text
    received = await scenario.act(
        return_id, "receive", scenario.merchant, {"inspection": inspection}
    )
    assert received.status_code == 200, received.text
    return return_id


async def test_each_state_change_and_message_writes_one_outbox_event(world: Harness) -> None:
    scenario = world.scenario
    return_id = await _walk_to_received(world)
    refunded = await scenario.act(return_id, "refund", scenario.merchant)
    assert refunded.status_code == 200, refunded.text
    message = await scenario.client.post(
        f"/v1/returns/{return_id}/messages",
        json={"body": "Thanks!"},
        headers=scenario.buyer.headers,
    )
    assert message.status_code == 201, message.text

    outbox = await world.outbox(return_id)
    timeline = await scenario.events(return_id)
    assert [row.type for row in outbox] == [
        "return.requested",
        "return.approved",
        "return.shipped",
        "return.received",
        "return.refunded",
        "return.message",
    ]
    assert [row.payload["data"]["event"]["seq"] for row in outbox] == [e["seq"] for e in timeline]
    for row, event in zip(outbox, timeline, strict=True):
        assert row.shop_id == scenario.shop_id
        assert row.payload["type"] == row.type
        assert row.payload["id"] == row.id
        assert row.payload["occurred_at"] == event["at"]
        assert row.payload["data"]["event"] == event
        assert row.payload["data"]["return"]["id"] == return_id
    # The return as each change left it: its state and version after that change.
    states = [row.payload["data"]["return"]["status"] for row in outbox]
    assert states == ["requested", "approved", "shipped", "received", "refunded", "refunded"]
    assert [row.payload["data"]["return"]["version"] for row in outbox] == [1, 2, 3, 4, 5, 5]


async def test_goods_that_pass_inspection_go_back_to_stock_by_sku(world: Harness) -> None:
    scenario = world.scenario
    order_id = await scenario.order(
        lines=[
            {
                "line_id": "l1",
                "sku": "TSHIRT-W-M",
                "title": "T-shirt",
                "category": "apparel",
                "unit_price": 9900,
                "quantity": 2,
                "attributes": {"color": "white", "size": "M"},
            },
            {
                "line_id": "l2",
                "sku": "SOCKS-B-L",
                "title": "Socks",
                "category": "apparel",
                "unit_price": 1900,
                "quantity": 3,
                "attributes": {"color": "black", "size": "L"},
            },
        ]
    )
    applied = await scenario.apply(
        order_id,
        items=[
            {"line_id": "l1", "quantity": 2, "condition": "unopened"},
            {"line_id": "l2", "quantity": 1, "condition": "opened_resellable"},
        ],
    )
    assert applied.status_code == 201, applied.text
    return_id = applied.json()["id"]
    for action, by, body in (
        ("approve", scenario.merchant, {"return_address": ADDRESS}),
        ("ship", scenario.buyer, {"carrier": "SF", "tracking_number": "SF200"}),
        ("receive", scenario.merchant, {"inspection": "passed"}),
    ):
        response = await scenario.act(return_id, action, by, body)
        assert response.status_code == 200, response.text

    received = (await world.outbox(return_id))[-1]
    assert received.type == "return.received"
    assert received.payload["data"]["restock"] == [
        {
            "line_id": "l1",
            "sku": "TSHIRT-W-M",
            "attributes": {"color": "white", "size": "M"},
            "quantity": 2,
        },
        {
            "line_id": "l2",
            "sku": "SOCKS-B-L",
            "attributes": {"color": "black", "size": "L"},
            "quantity": 1,
        },
    ]


async def test_goods_that_fail_inspection_are_not_restocked(world: Harness) -> None:
    return_id = await _walk_to_received(world, inspection="failed")
    received = (await world.outbox(return_id))[-1]
    assert received.type == "return.received"
    assert "restock" not in received.payload["data"]


async def test_a_refund_event_says_how_much_went_back_where_under_a_stable_reference(
    world: Harness,
) -> None:
    scenario = world.scenario
    return_id = await _walk_to_received(world)
    refunded = await scenario.act(return_id, "refund", scenario.merchant, {"amount": 5000})
    assert refunded.status_code == 200, refunded.text

    event = (await world.outbox(return_id))[-1]
    assert event.type == "return.refunded"
    assert event.payload["data"]["refund"] == {
        "amount": 5000,
        "currency": "CNY",
        "reference": f"rf_{return_id}",
        "method": "original_payment",
    }
    assert event.payload["data"]["return"]["refund"]["reference"] == f"rf_{return_id}"
    assert event.payload["data"]["return"]["refund"]["amount"] == 5000


async def test_a_refused_action_writes_no_outbox_event(world: Harness) -> None:
    scenario = world.scenario
    return_id = (await world.approved_return())["id"]
    before = await world.outbox(return_id)

    refused = [
        await scenario.act(return_id, "approve", scenario.merchant, {"return_address": ADDRESS}),
        await scenario.act(return_id, "refund", scenario.merchant),
        await scenario.act(return_id, "cancel", scenario.buyer, if_match=1),
        await scenario.act(return_id, "receive", scenario.buyer, {"inspection": "passed"}),
        await scenario.act(
            return_id,
            "ship",
            scenario.other_shop().buyer,
            {"carrier": "SF", "tracking_number": "SF300"},
        ),
    ]
    assert [response.status_code for response in refused] == [409, 409, 412, 403, 404]
    assert [row.id for row in await world.outbox(return_id)] == [row.id for row in before]


async def test_the_outbox_event_is_rolled_back_with_the_change_it_tells_of(
    world: Harness,
) -> None:
    return_id = (await world.approved_return())["id"]

    async def counts() -> tuple[int, int]:
        async with world.sessionmaker() as session:
            events = await session.scalar(
                select(func.count()).where(ReturnEventRow.return_id == return_id)
            )
            outbox = await session.scalar(
                select(func.count()).where(OutboxEventRow.return_id == return_id)
            )
        return int(events or 0), int(outbox or 0)

    before = await counts()
    async with world.sessionmaker() as session:
        row = await find_return(session, return_id, for_update=True)
        assert row is not None
        await record_event(
            session,
            row,
            "message",
            EventType.MESSAGE,
            SYSTEM_CALLER,
            from_status=None,
            to_status=None,
            data={"body": "never committed"},
        )
        await session.rollback()
    assert await counts() == before

    async with world.sessionmaker() as session:
        row = await find_return(session, return_id, for_update=True)
        assert row is not None
        await record_event(
            session,
            row,
            "message",
            EventType.MESSAGE,
            SYSTEM_CALLER,
            from_status=None,
            to_status=None,
            data={"body": "committed"},
        )
        await session.commit()
    assert await counts() == (before[0] + 1, before[1] + 1)


async def test_a_carrier_event_writes_a_carrier_event_for_subscribers(world: Harness) -> None:
    scenario = world.scenario
    return_id = (await world.approved_return())["id"]
    shipped = await scenario.act(
        return_id, "ship", scenario.buyer, {"carrier": "SF", "tracking_number": "SF777"}
    )
    assert shipped.status_code == 200, shipped.text
    delivered = await report(scenario, carrier_event("SF777", "delivered", datetime.now(UTC)))
    assert delivered.status_code in (200, 202), delivered.text

    event = (await world.outbox(return_id))[-1]
    assert event.type == "return.carrier_event"
    assert event.payload["data"]["event"]["data"]["event"] == "delivered"
    # The return as the carrier's report left it: the parcel delivered, the clock started.
    assert event.payload["data"]["return"]["shipment"]["status"] == "delivered"
    assert event.payload["data"]["return"]["deadline"]["action"] is not None


async def test_an_extension_is_announced_as_such_not_as_a_second_shipment(world: Harness) -> None:
    scenario = world.scenario
    return_id = (await world.approved_return())["id"]
    shipped = await scenario.act(
        return_id, "ship", scenario.buyer, {"carrier": "SF", "tracking_number": "SF778"}
    )
    assert shipped.status_code == 200, shipped.text
    extended = await scenario.act(return_id, "extend", scenario.merchant, {"note": "busy week"})
    assert extended.status_code == 200, extended.text

    types = [row.type for row in await world.outbox(return_id)]
    assert types[-2:] == ["return.shipped", "return.deadline_extended"]
    assert types.count("return.shipped") == 1
