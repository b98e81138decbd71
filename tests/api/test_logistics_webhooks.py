"""Carriers report tracking events by signed webhook; each webhook-id is acted on once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks.webhooks import Webhook

from returns_service.models import CarrierDeliveryRow
from tests.api.conftest import test_settings as settings_for
from tests.api.live_server import serve
from tests.api.scenario import ADDRESS, PROBLEM, TEST_LOGISTICS_SECRET, Scenario, unique
from tests.conftest import Database

URL = "/v1/webhooks/logistics"
OTHER_SECRET = "whsec_b3RoZXItc2VjcmV0LW5vdC10aGUtbG9naXN0aWNzLW9uZQ=="


def carrier_event(
    tracking_number: str, event: str, occurred_at: datetime, *, carrier: str = "SF"
) -> dict[str, Any]:
    return {
        "carrier": carrier,
        "tracking_number": tracking_number,
        "event": event,
        "occurred_at": occurred_at.isoformat(),
    }


def signed_headers(
    body: str,
    *,
    webhook_id: str | None = None,
    signed_at: datetime | None = None,
    secret: str = TEST_LOGISTICS_SECRET,
) -> dict[str, str]:
    webhook_id = webhook_id or unique("msg")
    signed_at = signed_at or datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(signed_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, signed_at, body),
    }


async def report(
    scenario: Scenario, payload: dict[str, Any], *, webhook_id: str | None = None
) -> Response:
    body = json.dumps(payload)
    return await scenario.client.post(
        URL, content=body, headers=signed_headers(body, webhook_id=webhook_id)
    )


async def shipped_return(scenario: Scenario) -> tuple[dict[str, Any], str]:
    """A return-and-refund the buyer shipped back: its id and the parcel's tracking number."""
    created = await scenario.open_return()
    approved = await scenario.act(
        created["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
    )
    assert approved.status_code == 200, approved.text
    tracking_number = unique("SF").replace("-", "")
    shipped = await scenario.act(
        created["id"],
        "ship",
        scenario.buyer,
        {"carrier": "SF", "tracking_number": tracking_number},
    )
    assert shipped.status_code == 200, shipped.text
    body: dict[str, Any] = shipped.json()
    return body, tracking_number


async def receipts(database: Database) -> list[CarrierDeliveryRow]:
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                select(CarrierDeliveryRow.__table__).order_by(CarrierDeliveryRow.received_at)
            )
            return [CarrierDeliveryRow(**row._mapping) for row in result]
    finally:
        await engine.dispose()


def carrier_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == "carrier_event"]


async def test_a_signed_delivery_report_marks_the_returned_parcel_delivered(
    scenario: Scenario, database: Database
) -> None:
    shipped, tracking_number = await shipped_return(scenario)
    delivered_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)

    response = await report(
        scenario, carrier_event(tracking_number, "delivered", delivered_at), webhook_id="msg_1"
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "webhook_id": "msg_1",
        "duplicate": False,
        "matched": True,
        "matched_returns": [shipped["id"]],
    }
    current = (await scenario.get(shipped["id"])).json()
    assert current["status"] == "shipped"
    assert current["version"] == shipped["version"] + 1
    assert current["shipment"]["status"] == "delivered"
    assert datetime.fromisoformat(current["shipment"]["delivered_at"]) == delivered_at
    [event] = carrier_events(await scenario.events(shipped["id"]))
    assert event["actor"] == {"role": "carrier", "id": "SF"}
    assert event["from_status"] is None and event["to_status"] is None
    assert event["data"]["event"] == "delivered"
    assert event["data"]["tracking_number"] == tracking_number
    assert event["data"]["webhook_id"] == "msg_1"
    assert datetime.fromisoformat(event["data"]["occurred_at"]) == delivered_at
    [receipt] = await receipts(database)
    assert (receipt.webhook_id, receipt.matched, receipt.shop_id) == (
        "msg_1",
        True,
        scenario.shop_id,
    )
    assert receipt.matched_returns == [shipped["id"]]


async def test_a_delivery_starts_the_merchants_receive_deadline(scenario: Scenario) -> None:
    policy = await scenario.client.put(
        f"/v1/shops/{scenario.shop_id}/return-policy",
        json={"receive_timeout": "PT72H"},
        headers=scenario.storefront.headers,
    )
    assert policy.status_code == 200, policy.text
    shipped, tracking_number = await shipped_return(scenario)
    assert shipped["deadline"] is None  # the clock waits for the carrier
    delivered_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    response = await report(scenario, carrier_event(tracking_number, "delivered", delivered_at))

    assert response.status_code == 200, response.text
    deadline = (await scenario.get(shipped["id"])).json()["deadline"]
    assert deadline["action"] == "receive"
    assert deadline["actor"] == "merchant"
    assert datetime.fromisoformat(deadline["due_at"]) == delivered_at + timedelta(hours=72)


async def test_an_unsigned_event_is_refused_and_not_recorded(
    scenario: Scenario, database: Database
) -> None:
    shipped, tracking_number = await shipped_return(scenario)
    body = json.dumps(carrier_event(tracking_number, "delivered", datetime.now(UTC)))

    response = await scenario.client.post(
        URL, content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "unauthenticated"
    assert await receipts(database) == []
    assert carrier_events(await scenario.events(shipped["id"])) == []


async def test_a_forged_signature_is_refused(scenario: Scenario, database: Database) -> None:
    shipped, tracking_number = await shipped_return(scenario)
    body = json.dumps(carrier_event(tracking_number, "delivered", datetime.now(UTC)))

    forged = await scenario.client.post(
        URL, content=body, headers=signed_headers(body, secret=OTHER_SECRET)
    )
    tampered_headers = signed_headers(body)
    tampered = await scenario.client.post(
        URL, content=body.replace("delivered", "refused"), headers=tampered_headers
    )
    garbled = await scenario.client.post(
        URL, content=body, headers={**signed_headers(body), "webhook-signature": "v1,%%%"}
    )
    no_version = await scenario.client.post(
        URL, content=body, headers={**signed_headers(body), "webhook-signature": "nonsense"}
    )

    for response in (forged, tampered, garbled, no_version):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "unauthenticated"
    assert await receipts(database) == []
    current = (await scenario.get(shipped["id"])).json()
    assert current["shipment"]["status"] == "shipped"


async def test_a_stale_signature_is_refused(scenario: Scenario, database: Database) -> None:
    _, tracking_number = await shipped_return(scenario)
    body = json.dumps(carrier_event(tracking_number, "delivered", datetime.now(UTC)))
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)

    response = await scenario.client.post(
        URL, content=body, headers=signed_headers(body, signed_at=ten_minutes_ago)
    )

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert await receipts(database) == []


async def test_a_signature_is_checked_before_the_body(scenario: Scenario) -> None:
    body = '{"carrier": "SF", "event": "teleported"'
    unsigned = await scenario.client.post(
        URL, content=body, headers={"content-type": "application/json"}
    )
    signed = await scenario.client.post(URL, content=body, headers=signed_headers(body))
    wrong_fields = json.dumps({"carrier": "SF", "tracking_number": "SF1", "event": "teleported"})
    signed_but_wrong = await scenario.client.post(
        URL, content=wrong_fields, headers=signed_headers(wrong_fields)
    )

    assert unsigned.status_code == 401
    for response in (signed, signed_but_wrong):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "validation_error"
    locations = {tuple(error["loc"]) for error in signed_but_wrong.json()["errors"]}
    assert ("body", "event") in locations
    assert ("body", "occurred_at") in locations


async def test_an_event_time_out_of_any_calendar_we_keep_is_a_validation_problem(
    scenario: Scenario, database: Database
) -> None:
    for occurred_at in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z", "2024-05-01T10:00"):
        body = json.dumps(
            {
                "carrier": "SF",
                "tracking_number": "SF1",
                "event": "delivered",
                "occurred_at": occurred_at,
            }
        )
        response = await scenario.client.post(URL, content=body, headers=signed_headers(body))
        assert response.status_code == 422, (occurred_at, response.text)
        assert response.json()["code"] == "validation_error"
    assert await receipts(database) == []


async def test_the_same_webhook_id_is_acted_on_once(scenario: Scenario, database: Database) -> None:
    shipped, tracking_number = await shipped_return(scenario)
    payload = carrier_event(tracking_number, "delivered", datetime.now(UTC))

    first = await report(scenario, payload, webhook_id="msg_twice")
    after_first = (await scenario.get(shipped["id"])).json()
    again = await report(scenario, payload, webhook_id="msg_twice")

    assert first.status_code == again.status_code == 200
    assert first.json()["duplicate"] is False
    assert again.json() == {
        "webhook_id": "msg_twice",
        "duplicate": True,
        "matched": True,
        "matched_returns": [shipped["id"]],
    }
    assert (await scenario.get(shipped["id"])).json() == after_first
    assert len(carrier_events(await scenario.events(shipped["id"]))) == 1
    assert [receipt.webhook_id for receipt in await receipts(database)] == ["msg_twice"]


async def test_the_same_webhook_delivered_twice_at_once_is_acted_on_once(
    scenario: Scenario, database: Database
) -> None:
    shipped, tracking_number = await shipped_return(scenario)
    body = json.dumps(carrier_event(tracking_number, "in_transit", datetime.now(UTC)))
    headers = signed_headers(body, webhook_id="msg_race")

    answers = await asyncio.gather(
        *(scenario.client.post(URL, content=body, headers=headers) for _ in range(4))
    )

    assert [answer.status_code for answer in answers] == [200] * 4
    assert sorted(answer.json()["duplicate"] for answer in answers) == [False, True, True, True]
    assert len(carrier_events(await scenario.events(shipped["id"]))) == 1
    assert len(await receipts(database)) == 1


async def test_a_late_in_transit_after_delivery_changes_nothing_but_the_timeline(
    scenario: Scenario,
) -> None:
    shipped, tracking_number = await shipped_return(scenario)
    delivered_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    delivered = await report(scenario, carrier_event(tracking_number, "delivered", delivered_at))
    assert delivered.status_code == 200, delivered.text
    after_delivery = (await scenario.get(shipped["id"])).json()

    late = await report(
        scenario,
        carrier_event(tracking_number, "in_transit", delivered_at - timedelta(hours=5)),
    )

    assert late.status_code == 200, late.text
    assert late.json()["matched_returns"] == [shipped["id"]]
    current = (await scenario.get(shipped["id"])).json()
    assert current == after_delivery
    assert current["shipment"]["status"] == "delivered"
    assert current["deadline"]["action"] == "receive"
    events = carrier_events(await scenario.events(shipped["id"]))
    assert [event["data"]["event"] for event in events] == ["delivered", "in_transit"]


async def test_an_unknown_tracking_number_is_accepted_and_kept(
    scenario: Scenario, database: Database
) -> None:
    occurred_at = datetime.now(UTC).replace(microsecond=0)

    response = await report(
        scenario, carrier_event("NOBODY0001", "picked_up", occurred_at), webhook_id="msg_lost"
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "webhook_id": "msg_lost",
        "duplicate": False,
        "matched": False,
        "matched_returns": [],
    }
    [receipt] = await receipts(database)
    assert receipt.tracking_number == "NOBODY0001"
    assert (receipt.matched, receipt.shop_id, receipt.matched_returns) == (False, None, [])
    assert (receipt.carrier, receipt.event, receipt.occurred_at) == ("SF", "picked_up", occurred_at)


async def test_a_refused_outbound_parcel_refunds_the_open_refund_only_return(
    scenario: Scenario,
) -> None:
    parcel = unique("YT").replace("-", "")
    order_id = await scenario.order(delivered_days_ago=None, carrier="YTO", tracking_number=parcel)
    order = (
        await scenario.client.get(f"/v1/orders/{order_id}", headers=scenario.storefront.headers)
    ).json()
    assert (order["carrier"], order["tracking_number"]) == ("YTO", parcel)
    applied = await scenario.apply(order_id, type="refund_only", reason="not_received")
    assert applied.status_code == 201, applied.text
    requested = applied.json()
    assert requested["status"] == "requested"

    response = await report(
        scenario, carrier_event(parcel, "refused", datetime.now(UTC), carrier="YTO")
    )

    assert response.status_code == 200, response.text
    assert response.json()["matched_returns"] == [requested["id"]]
    refunded = (await scenario.get(requested["id"])).json()
    assert refunded["status"] == "refunded"
    assert refunded["refund"]["amount"] == requested["refund_amount"]
    assert refunded["deadline"] is None
    events = await scenario.events(requested["id"])
    assert [(e["type"], e["actor"]["role"], e["from_status"], e["to_status"]) for e in events] == [
        ("created", "buyer", None, "requested"),
        ("carrier_event", "carrier", None, None),
        ("approve", "system", "requested", "approved"),
        ("refund", "system", "approved", "refunded"),
    ]


async def test_a_parcel_back_at_the_sender_refunds_an_approved_refund_only_return(
    scenario: Scenario,
) -> None:
    parcel = unique("YT").replace("-", "")
    order_id = await scenario.order(delivered_days_ago=None, carrier="YTO", tracking_number=parcel)
    applied = await scenario.apply(order_id, type="refund_only", reason="not_received")
    approved = await scenario.act(applied.json()["id"], "approve", scenario.merchant, {})
    assert approved.status_code == 200, approved.text

    response = await report(
        scenario, carrier_event(parcel, "returned_to_sender", datetime.now(UTC), carrier="YTO")
    )

    assert response.status_code == 200, response.text
    current = (await scenario.get(approved.json()["id"])).json()
    assert current["status"] == "refunded"
    events = await scenario.events(approved.json()["id"])
    assert [(e["type"], e["actor"]["role"]) for e in events[-2:]] == [
        ("carrier_event", "carrier"),
        ("refund", "system"),
    ]


async def test_a_refusal_of_a_delivered_order_refunds_nothing(scenario: Scenario) -> None:
    parcel = unique("YT").replace("-", "")
    order_id = await scenario.order(carrier="YTO", tracking_number=parcel)
    applied = await scenario.apply(order_id, type="refund_only", reason="quality_defect")
    assert applied.status_code == 201, applied.text

    response = await report(
        scenario, carrier_event(parcel, "refused", datetime.now(UTC), carrier="YTO")
    )

    assert response.status_code == 200, response.text
    current = (await scenario.get(applied.json()["id"])).json()
    assert current["status"] == "requested"
    assert current["version"] == applied.json()["version"]
    assert len(carrier_events(await scenario.events(applied.json()["id"]))) == 1


async def test_the_webhook_is_documented_as_signed_not_bearer(scenario: Scenario) -> None:
    spec = (await scenario.client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/webhooks/logistics"]["post"]

    assert operation["operationId"] == "receiveLogisticsEvent"
    assert operation["security"] == []
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"carrier", "tracking_number", "event", "occurred_at"}
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert {"200", "401", "422"} <= set(operation["responses"])


async def test_an_event_of_another_carrier_with_the_same_number_reaches_no_return(
    scenario: Scenario, database: Database
) -> None:
    shipped, tracking_number = await shipped_return(scenario)
    delivered_at = datetime.now(UTC).replace(microsecond=0)

    response = await report(
        scenario,
        carrier_event(tracking_number, "delivered", delivered_at, carrier="YTO"),
        webhook_id="msg_other_carrier",
    )

    assert response.status_code == 200, response.text
    assert response.json()["matched_returns"] == []
    current = (await scenario.get(shipped["id"])).json()
    assert (current["version"], current["shipment"]["status"]) == (shipped["version"], "shipped")
    assert current["deadline"] is None  # no receive clock started
    assert carrier_events(await scenario.events(shipped["id"])) == []
    [receipt] = await receipts(database)
    assert (receipt.carrier, receipt.matched) == ("YTO", False)


async def test_carrier_and_tracking_number_match_whatever_their_case_and_spacing(
    scenario: Scenario,
) -> None:
    shipped, tracking_number = await shipped_return(scenario)

    response = await report(
        scenario,
        carrier_event(tracking_number.lower(), "delivered", datetime.now(UTC), carrier=" sf "),
    )

    assert response.status_code == 200, response.text
    assert response.json()["matched_returns"] == [shipped["id"]]
    current = (await scenario.get(shipped["id"])).json()
    assert current["shipment"]["status"] == "delivered"


async def test_a_tracking_number_is_stored_upper_cased(scenario: Scenario) -> None:
    created = await scenario.open_return()
    approved = await scenario.act(
        created["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
    )
    assert approved.status_code == 200, approved.text
    number = unique("sf").replace("-", "")

    shipped = await scenario.act(
        created["id"], "ship", scenario.buyer, {"carrier": "SF", "tracking_number": number}
    )

    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["shipment"]["tracking_number"] == number.upper()
    [ship_event] = [e for e in await scenario.events(created["id"]) if e["type"] == "ship"]
    assert ship_event["data"]["tracking_number"] == number.upper()


async def test_a_refusal_reported_by_another_carrier_settles_nothing(scenario: Scenario) -> None:
    parcel = unique("YT").replace("-", "")
    order_id = await scenario.order(delivered_days_ago=None, carrier="YTO", tracking_number=parcel)
    applied = await scenario.apply(order_id, type="refund_only", reason="not_received")
    assert applied.status_code == 201, applied.text

    response = await report(scenario, carrier_event(parcel, "refused", datetime.now(UTC)))

    assert response.status_code == 200, response.text
    assert response.json()["matched_returns"] == []
    current = (await scenario.get(applied.json()["id"])).json()
    assert (current["status"], current["version"]) == ("requested", applied.json()["version"])
    assert current["refund"] is None


async def test_a_parcel_carrying_an_open_return_cannot_carry_a_second_one(
    scenario: Scenario,
) -> None:
    first, tracking_number = await shipped_return(scenario)
    second = await scenario.open_return()
    approved = await scenario.act(
        second["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
    )
    assert approved.status_code == 200, approved.text

    same_parcel = await scenario.act(
        second["id"],
        "ship",
        scenario.buyer,
        {"carrier": "sf ", "tracking_number": tracking_number.lower()},
    )

    assert same_parcel.status_code == 409, same_parcel.text
    assert same_parcel.headers["content-type"] == PROBLEM
    problem = same_parcel.json()
    assert problem["code"] == "conflict"
    assert "only one return" in problem["detail"]
    assert first["id"] not in problem["detail"]  # another buyer's return stays unnamed
    current = (await scenario.get(second["id"])).json()
    assert (current["status"], current["version"]) == ("approved", approved.json()["version"])
    assert current["shipment"] is None
    # Another carrier's parcel with the same number is another parcel.
    other_carrier = await scenario.act(
        second["id"], "ship", scenario.buyer, {"carrier": "YTO", "tracking_number": tracking_number}
    )
    assert other_carrier.status_code == 200, other_carrier.text


async def test_a_parcel_of_a_return_that_ended_may_carry_another(scenario: Scenario) -> None:
    first, tracking_number = await shipped_return(scenario)
    received = await scenario.act(
        first["id"], "receive", scenario.merchant, {"inspection": "passed", "deductions": []}
    )
    assert received.status_code == 200, received.text
    refunded = await scenario.act(first["id"], "refund", scenario.merchant, {})
    assert refunded.status_code == 200, refunded.text
    second = await scenario.open_return()
    approved = await scenario.act(
        second["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
    )
    assert approved.status_code == 200, approved.text

    shipped = await scenario.act(
        second["id"], "ship", scenario.buyer, {"carrier": "SF", "tracking_number": tracking_number}
    )

    assert shipped.status_code == 200, shipped.text


@pytest.fixture
async def live(database: Database) -> AsyncIterator[Scenario]:
    """A scenario whose client talks to a real server over TCP, so requests truly race."""
    with serve(settings_for(database, database_pool_size=20)) as base_url:
        async with AsyncClient(base_url=base_url, timeout=60.0) as http:
            yield Scenario(http)


async def test_of_returns_shipping_in_one_parcel_at_once_exactly_one_ships(
    live: Scenario,
) -> None:
    approved = []
    for _ in range(6):
        created = await live.open_return()
        response = await live.act(
            created["id"], "approve", live.merchant, {"return_address": ADDRESS}
        )
        assert response.status_code == 200, response.text
        approved.append(created["id"])
    parcel = {"carrier": "SF", "tracking_number": unique("SF").replace("-", "")}

    answers = await asyncio.gather(
        *(live.act(return_id, "ship", live.buyer, parcel) for return_id in approved)
    )

    assert Counter(answer.status_code for answer in answers) == {200: 1, 409: 5}
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"conflict"}


async def test_a_delivery_from_before_the_return_was_applied_for_starts_no_clock(
    scenario: Scenario,
) -> None:
    shipped, tracking_number = await shipped_return(scenario)
    long_before = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

    response = await report(scenario, carrier_event(tracking_number, "delivered", long_before))

    assert response.status_code == 200, response.text
    current = (await scenario.get(shipped["id"])).json()
    assert current["status"] == "shipped"
    assert current["version"] == shipped["version"]
    assert current["shipment"]["status"] == "shipped"
    assert current["deadline"] is None
    [event] = carrier_events(await scenario.events(shipped["id"]))
    assert event["data"]["event"] == "delivered"
