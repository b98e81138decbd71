"""The core lifecycle of a return, walked end to end through the API on a real database."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.problem_checks import assert_problem, assert_return
from tests.api.scenario import ADDRESS, Party, Scenario, order_body

SHIPMENT = {"carrier": "SF-Express", "tracking_number": "SF1234567890"}
PHOTO = "https://img.example.com/inspection/1.jpg"
REPLACEMENT = {"carrier": "JD-Logistics", "tracking_number": "JD0001112223"}


def moves(events: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return [(event["type"], event["from_status"], event["to_status"]) for event in events]


def actors(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(event["actor"]["role"], event["actor"]["id"]) for event in events]


def assert_seq_increasing(events: list[dict[str, Any]]) -> None:
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs


async def returnable(scenario: Scenario, order_id: str, line_id: str = "l1") -> int:
    response = await scenario.client.get(f"/v1/orders/{order_id}", headers=scenario.buyer.headers)
    assert response.status_code == 200, response.text
    lines = {line["line_id"]: line for line in response.json()["lines"]}
    value: int = lines[line_id]["returnable"]
    return value


async def test_a_return_is_applied_approved_shipped_received_with_a_deduction_and_refunded(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()

    applied = await scenario.apply(order_id)
    created = assert_return(applied, 201, version=1)
    return_id = created["id"]
    assert applied.headers["Location"] == f"/v1/returns/{return_id}"
    assert created["status"] == "requested"
    assert created["order_id"] == order_id
    assert created["shop_id"] == scenario.shop_id
    assert created["buyer_id"] == scenario.buyer.id
    assert created["fault"] == "buyer"
    assert created["return_shipping_paid_by"] == "buyer"
    assert created["refund_amount"] == 9900
    assert created["currency"] == "CNY"
    assert created["refund"] is None
    assert created["deadline"]["action"] == "review"
    assert created["deadline"]["actor"] == "merchant"

    approved = assert_return(
        await scenario.act(
            return_id,
            "approve",
            scenario.merchant,
            {"return_address": ADDRESS, "instructions": "Original packaging, include the gift"},
        ),
        200,
        version=2,
    )
    assert approved["status"] == "approved"
    assert approved["return_address"] == {**ADDRESS, "postal_code": None}
    assert approved["instructions"] == "Original packaging, include the gift"
    assert approved["deadline"]["action"] == "ship"
    assert approved["deadline"]["actor"] == "buyer"
    assert approved["refund_amount"] == 9900

    shipped = assert_return(
        await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT), 200, version=3
    )
    assert shipped["status"] == "shipped"
    assert shipped["shipment"]["carrier"] == SHIPMENT["carrier"]
    assert shipped["shipment"]["tracking_number"] == SHIPMENT["tracking_number"]
    assert shipped["shipment"]["shipped_at"] is not None

    received = assert_return(
        await scenario.act(
            return_id,
            "receive",
            scenario.merchant,
            {
                "inspection": "passed",
                "deductions": [{"kind": "damage", "amount": 500, "note": "scuffed sole"}],
            },
        ),
        200,
        version=4,
    )
    assert received["status"] == "received"
    assert received["inspection"] == "passed"
    assert received["deductions"] == [{"kind": "damage", "amount": 500, "note": "scuffed sole"}]
    assert received["refund_amount"] == 9400
    assert received["refund"] is None

    refunded = assert_return(
        await scenario.act(return_id, "refund", scenario.merchant), 200, version=5
    )
    assert refunded["status"] == "refunded"
    assert refunded["refund_amount"] == 9400
    assert refunded["currency"] == "CNY"
    assert refunded["refund"]["amount"] == 9400
    assert refunded["refund"]["currency"] == "CNY"
    assert refunded["refund"]["method"] == "original_payment"
    assert refunded["refund"]["reference"]
    assert refunded["refund"]["refunded_at"] is not None
    assert refunded["deadline"] is None

    stored = assert_return(await scenario.get(return_id, by=scenario.buyer), 200, version=5)
    assert stored["status"] == "refunded"
    assert stored["refund"] == refunded["refund"]

    events = await scenario.events(return_id, by=scenario.buyer)
    assert moves(events) == [
        ("created", None, "requested"),
        ("approve", "requested", "approved"),
        ("ship", "approved", "shipped"),
        ("receive", "shipped", "received"),
        ("refund", "received", "refunded"),
    ]
    assert actors(events) == [
        ("buyer", scenario.buyer.id),
        ("merchant", scenario.merchant.id),
        ("buyer", scenario.buyer.id),
        ("merchant", scenario.merchant.id),
        ("merchant", scenario.merchant.id),
    ]
    assert_seq_increasing(events)
    assert events[-1]["data"]["amount"] == 9400
    assert events[-1]["data"]["currency"] == "CNY"


async def test_a_rejected_return_is_escalated_and_the_platform_decides_for_the_buyer(
    scenario: Scenario,
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]

    rejected = assert_return(
        await scenario.act(
            return_id,
            "reject",
            scenario.merchant,
            {"reason_code": "item_stained", "note": "The returned item has visible stains"},
        ),
        200,
        version=2,
    )
    assert rejected["status"] == "rejected"
    assert rejected["rejection"] == {
        "reason_code": "item_stained",
        "note": "The returned item has visible stains",
        "evidence": [],
    }
    assert rejected["deadline"]["action"] == "escalate"
    assert rejected["deadline"]["actor"] == "buyer"

    escalated = assert_return(
        await scenario.act(
            return_id, "escalate", scenario.buyer, {"note": "There were no stains when I sent it"}
        ),
        200,
        version=3,
    )
    assert escalated["status"] == "arbitration"

    decided = assert_return(
        await scenario.act(
            return_id,
            "arbitrate",
            scenario.platform,
            {"decision": "buyer", "amount": 5000, "note": "Partial refund for the buyer"},
        ),
        200,
        version=4,
    )
    assert decided["status"] == "refunded"
    assert decided["refund"]["amount"] == 5000
    assert decided["refund"]["currency"] == "CNY"
    assert decided["refund_amount"] == 5000

    events = await scenario.events(return_id)
    assert moves(events) == [
        ("created", None, "requested"),
        ("reject", "requested", "rejected"),
        ("escalate", "rejected", "arbitration"),
        ("arbitrate", "arbitration", "refunded"),
    ]
    assert actors(events)[1:] == [
        ("merchant", scenario.merchant.id),
        ("buyer", scenario.buyer.id),
        ("platform", scenario.platform.id),
    ]
    assert events[1]["data"]["reason_code"] == "item_stained"
    assert events[3]["data"]["decision"] == "buyer"
    assert events[3]["data"]["amount"] == 5000
    assert_seq_increasing(events)


async def test_arbitration_for_the_merchant_closes_the_return_and_gives_the_units_back(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    created = (await scenario.apply(order_id)).json()
    return_id = created["id"]
    await scenario.act(
        return_id,
        "reject",
        scenario.merchant,
        {"reason_code": "used", "note": "Worn outside", "evidence": [PHOTO]},
    )
    await scenario.act(return_id, "escalate", scenario.buyer)
    assert await returnable(scenario, order_id) == 1

    closed = assert_return(
        await scenario.act(
            return_id,
            "arbitrate",
            scenario.platform,
            {"decision": "merchant", "note": "Photos show wear"},
        ),
        200,
        version=4,
    )
    assert closed["status"] == "closed"
    assert closed["refund"] is None
    assert closed["deadline"] is None
    assert await returnable(scenario, order_id) == 2

    events = await scenario.events(return_id)
    assert moves(events)[-1] == ("arbitrate", "arbitration", "closed")
    assert events[-1]["data"]["decision"] == "merchant"


@pytest.mark.parametrize("approve_first", [False, True], ids=["from_requested", "from_approved"])
async def test_the_buyer_cancels_a_return_and_the_units_can_be_returned_again(
    scenario: Scenario, approve_first: bool
) -> None:
    order_id = await scenario.order()
    created = (await scenario.apply(order_id)).json()
    return_id = created["id"]
    version = 1
    if approve_first:
        approved = await scenario.act(
            return_id, "approve", scenario.merchant, {"return_address": ADDRESS}
        )
        assert_return(approved, 200, version=2)
        version = 2
    assert await returnable(scenario, order_id) == 1

    cancelled = assert_return(
        await scenario.act(
            return_id, "cancel", scenario.buyer, {"note": "Found it fits after all"}
        ),
        200,
        version=version + 1,
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["deadline"] is None
    assert await returnable(scenario, order_id) == 2

    events = await scenario.events(return_id)
    source = "approved" if approve_first else "requested"
    assert moves(events)[-1] == ("cancel", source, "cancelled")
    assert actors(events)[-1] == ("buyer", scenario.buyer.id)
    assert events[-1]["data"]["note"] == "Found it fits after all"


async def test_an_undelivered_order_is_refunded_without_the_goods_travelling(
    scenario: Scenario,
) -> None:
    created = await scenario.open_return(
        order={"delivered_days_ago": None, "shipped_at": None},
        type="refund_only",
        reason="no_reason",
        items=[{"line_id": "l1", "quantity": 2, "condition": "unopened"}],
    )
    return_id = created["id"]
    assert created["refund_amount"] == 19800

    approved = assert_return(
        await scenario.act(return_id, "approve", scenario.merchant), 200, version=2
    )
    assert approved["status"] == "approved"
    assert approved["return_address"] is None
    assert approved["deadline"]["action"] == "refund"
    assert approved["deadline"]["actor"] == "merchant"

    refunded = assert_return(
        await scenario.act(return_id, "refund", scenario.merchant), 200, version=3
    )
    assert refunded["status"] == "refunded"
    assert refunded["refund"]["amount"] == 19800
    assert refunded["refund"]["currency"] == "CNY"
    assert moves(await scenario.events(return_id)) == [
        ("created", None, "requested"),
        ("approve", "requested", "approved"),
        ("refund", "approved", "refunded"),
    ]


async def test_an_exchange_is_shipped_back_received_and_completed_with_a_replacement(
    scenario: Scenario,
) -> None:
    created = await scenario.open_return(type="exchange", reason="size_mismatch")
    return_id = created["id"]
    await scenario.act(return_id, "approve", scenario.merchant, {"return_address": ADDRESS})
    await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT)
    received = await scenario.act(return_id, "receive", scenario.merchant, {"inspection": "passed"})
    assert_return(received, 200, version=4)

    completed = assert_return(
        await scenario.act(return_id, "send_replacement", scenario.merchant, REPLACEMENT),
        200,
        version=5,
    )
    assert completed["status"] == "completed"
    assert completed["replacement_shipment"]["carrier"] == REPLACEMENT["carrier"]
    assert completed["replacement_shipment"]["tracking_number"] == REPLACEMENT["tracking_number"]
    assert completed["replacement_shipment"]["shipped_at"] is not None
    assert completed["shipment"]["tracking_number"] == SHIPMENT["tracking_number"]
    assert completed["refund"] is None

    stored = assert_return(await scenario.get(return_id), 200, version=5)
    assert stored["replacement_shipment"] == completed["replacement_shipment"]
    assert [event["type"] for event in await scenario.events(return_id)] == [
        "created",
        "approve",
        "ship",
        "receive",
        "send_replacement",
    ]


async def test_missing_items_are_reshipped_without_anything_travelling_back(
    scenario: Scenario,
) -> None:
    created = await scenario.open_return(type="reship", reason="missing_item")
    return_id = created["id"]
    assert created["refund_amount"] == 0
    assert created["fault"] == "merchant"

    approved = assert_return(
        await scenario.act(return_id, "approve", scenario.merchant), 200, version=2
    )
    assert approved["status"] == "approved"
    assert approved["return_address"] is None

    completed = assert_return(
        await scenario.act(return_id, "send_replacement", scenario.merchant, REPLACEMENT),
        200,
        version=3,
    )
    assert completed["status"] == "completed"
    assert completed["replacement_shipment"]["tracking_number"] == REPLACEMENT["tracking_number"]
    assert completed["shipment"] is None
    assert completed["refund"] is None
    assert moves(await scenario.events(return_id)) == [
        ("created", None, "requested"),
        ("approve", "requested", "approved"),
        ("send_replacement", "approved", "completed"),
    ]


async def test_if_match_with_the_current_version_acts_and_a_stale_one_is_refused(
    scenario: Scenario,
) -> None:
    return_id = (await scenario.open_return())["id"]

    approved = await scenario.act(
        return_id, "approve", scenario.merchant, {"return_address": ADDRESS}, if_match=1
    )
    assert_return(approved, 200, version=2)

    stale = await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT, if_match=1)
    problem = assert_problem(stale, 412, "version_mismatch")
    assert "2" in problem["detail"]
    stored = assert_return(await scenario.get(return_id), 200, version=2)
    assert stored["status"] == "approved"
    assert stored["shipment"] is None
    assert len(await scenario.events(return_id)) == 2

    current = await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT, if_match=2)
    assert assert_return(current, 200, version=3)["status"] == "shipped"


async def test_an_action_the_state_does_not_allow_is_a_409_naming_state_and_allowed_actions(
    scenario: Scenario,
) -> None:
    return_id = (await scenario.open_return())["id"]

    ship_too_early = await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT)
    problem = assert_problem(ship_too_early, 409, "invalid_transition")
    assert problem["state"] == "requested"
    assert problem["allowed_actions"] == ["cancel"]

    refund_too_early = await scenario.act(return_id, "refund", scenario.merchant)
    problem = assert_problem(refund_too_early, 409, "invalid_transition")
    assert problem["state"] == "requested"
    assert set(problem["allowed_actions"]) == {"approve", "reject", "offer"}

    stored = assert_return(await scenario.get(return_id), 200, version=1)
    assert stored["status"] == "requested"
    assert len(await scenario.events(return_id)) == 1

    await scenario.act(return_id, "cancel", scenario.buyer)
    after_the_end = await scenario.act(
        return_id, "approve", scenario.merchant, {"return_address": ADDRESS}
    )
    problem = assert_problem(after_the_end, 409, "invalid_transition")
    assert problem["state"] == "cancelled"
    assert problem["allowed_actions"] == []


async def test_messages_join_the_timeline_without_changing_the_version(
    scenario: Scenario,
) -> None:
    return_id = (await scenario.open_return())["id"]

    from_buyer = await scenario.client.post(
        f"/v1/returns/{return_id}/messages",
        json={"body": "Can I send it next week?"},
        headers=scenario.buyer.headers,
    )
    assert from_buyer.status_code == 201, from_buyer.text
    message = from_buyer.json()
    assert message["type"] == "message"
    assert message["actor"] == {"role": "buyer", "id": scenario.buyer.id}
    assert message["data"]["body"] == "Can I send it next week?"
    assert message["from_status"] is None and message["to_status"] is None

    from_merchant = await scenario.client.post(
        f"/v1/returns/{return_id}/messages",
        json={"body": "Yes, within seven days of approval."},
        headers=scenario.merchant.headers,
    )
    assert from_merchant.status_code == 201, from_merchant.text

    stored = assert_return(await scenario.get(return_id), 200, version=1)
    assert stored["status"] == "requested"

    approved = await scenario.act(
        return_id, "approve", scenario.merchant, {"return_address": ADDRESS}, if_match=1
    )
    assert_return(approved, 200, version=2)

    events = await scenario.events(return_id, by=scenario.merchant)
    assert [event["type"] for event in events] == ["created", "message", "message", "approve"]
    assert actors(events)[1:3] == [
        ("buyer", scenario.buyer.id),
        ("merchant", scenario.merchant.id),
    ]
    assert events[1]["seq"] == message["seq"]
    assert_seq_increasing(events)


async def test_an_order_shows_returnable_units_dropping_on_application_and_back_on_cancel(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    assert await returnable(scenario, order_id) == 2

    return_id = (await scenario.apply(order_id)).json()["id"]
    assert await returnable(scenario, order_id) == 1

    await scenario.act(return_id, "cancel", scenario.buyer)
    assert await returnable(scenario, order_id) == 2


async def test_the_lines_of_an_order_with_returns_can_no_longer_change(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    await scenario.apply(order_id)
    changed_lines = order_body(
        scenario.shop_id,
        scenario.buyer.id,
        lines=[
            {
                "line_id": "l1",
                "sku": "TSHIRT-W-M",
                "title": "T-shirt",
                "category": "apparel",
                "unit_price": 19900,
                "quantity": 2,
            }
        ],
    )
    refused = await scenario.client.put(
        f"/v1/orders/{order_id}", json=changed_lines, headers=scenario.storefront.headers
    )
    assert_problem(refused, 409, "conflict")

    stored = await scenario.client.get(f"/v1/orders/{order_id}", headers=scenario.buyer.headers)
    assert stored.json()["lines"][0]["unit_price"] == 9900

    # Delivery facts may still be corrected: only the lines, buyer and currency are frozen.
    same_lines = order_body(scenario.shop_id, scenario.buyer.id, delivered_days_ago=1)
    corrected = await scenario.client.put(
        f"/v1/orders/{order_id}", json=same_lines, headers=scenario.storefront.headers
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["lines"][0]["returnable"] == 1


async def _received_return(scenario: Scenario, order_id: str, reason: str) -> str:
    created = await scenario.apply(order_id, reason=reason)
    assert created.status_code == 201, created.text
    return_id: str = created.json()["id"]
    await scenario.act(return_id, "approve", scenario.merchant, {"return_address": ADDRESS})
    # A parcel carries one return: each of an order's returns travels in its own.
    parcel = {**SHIPMENT, "tracking_number": f"SF{return_id[:8]}"}
    await scenario.act(return_id, "ship", scenario.buyer, parcel)
    received = await scenario.act(return_id, "receive", scenario.merchant, {"inspection": "passed"})
    assert received.status_code == 200, received.text
    return return_id


async def test_a_refund_above_the_refundable_amount_is_refused_and_nothing_moves(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    return_id = await _received_return(scenario, order_id, "no_reason")

    too_much = await scenario.act(return_id, "refund", scenario.merchant, {"amount": 9901})
    problem = assert_problem(too_much, 422, "rule_violation")
    assert [v["rule"] for v in problem["violations"]] == ["refund_exceeds_refundable"]

    stored = assert_return(await scenario.get(return_id), 200, version=4)
    assert stored["status"] == "received"
    assert stored["refund"] is None

    exact = await scenario.act(return_id, "refund", scenario.merchant, {"amount": 9900})
    assert assert_return(exact, 200, version=5)["refund"]["amount"] == 9900


async def test_no_order_is_refunded_more_than_was_paid_over_several_returns(
    scenario: Scenario,
) -> None:
    # Two units at 99.00 plus 8.00 shipping: 206.00 paid. Each defect return refunds its unit
    # plus the postage, 107.00, so two of them would come to 214.00 without the order's cap.
    order_id = await scenario.order()
    first = await _received_return(scenario, order_id, "quality_defect")
    second = await _received_return(scenario, order_id, "quality_defect")

    first_refund = await scenario.act(first, "refund", scenario.merchant)
    assert assert_return(first_refund, 200, version=5)["refund"]["amount"] == 10700

    over_the_order = await scenario.act(second, "refund", scenario.merchant, {"amount": 10700})
    assert_problem(over_the_order, 422, "rule_violation")

    second_refund = await scenario.act(second, "refund", scenario.merchant)
    assert assert_return(second_refund, 200, version=5)["refund"]["amount"] == 9900

    listed = await scenario.client.get(
        "/v1/returns", params={"shop_id": scenario.shop_id}, headers=scenario.platform.headers
    )
    refunded = [item["refund"]["amount"] for item in listed.json()["items"] if item["refund"]]
    assert sum(refunded) == 20600


async def test_every_party_sees_the_same_return(scenario: Scenario) -> None:
    created = await scenario.open_return()
    parties: list[Party] = [
        scenario.buyer,
        scenario.merchant,
        scenario.storefront,
        scenario.platform,
    ]
    for party in parties:
        seen = assert_return(await scenario.get(created["id"], by=party), 200, version=1)
        assert seen["id"] == created["id"]


async def test_the_merchant_extends_the_receive_deadline_once(scenario: Scenario) -> None:
    return_id = (await scenario.open_return())["id"]
    await scenario.act(return_id, "approve", scenario.merchant, {"return_address": ADDRESS})
    await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT)

    extended = assert_return(
        await scenario.act(return_id, "extend", scenario.merchant, {"note": "Warehouse closed"}),
        200,
        version=4,
    )
    assert extended["status"] == "shipped"
    assert extended["receive_extended"] is True

    again = await scenario.act(return_id, "extend", scenario.merchant, {"note": "Still closed"})
    assert_problem(again, 409, "conflict")
    assert_return(await scenario.get(return_id), 200, version=4)
    assert moves(await scenario.events(return_id))[-1] == ("extend", "shipped", "shipped")


async def test_a_received_return_that_fails_inspection_is_rejected_and_can_be_escalated(
    scenario: Scenario,
) -> None:
    return_id = (await scenario.open_return())["id"]
    await scenario.act(return_id, "approve", scenario.merchant, {"return_address": ADDRESS})
    await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT)
    failed = await scenario.act(
        return_id, "receive", scenario.merchant, {"inspection": "failed", "note": "Tags cut off"}
    )
    assert assert_return(failed, 200, version=4)["inspection"] == "failed"

    rejected = await scenario.act(
        return_id,
        "reject",
        scenario.merchant,
        {
            "reason_code": "tags_removed",
            "note": "The tags were cut off; the goods go back",
            "evidence": [PHOTO],
        },
    )
    assert assert_return(rejected, 200, version=5)["status"] == "rejected"
    escalated = await scenario.act(return_id, "escalate", scenario.buyer)
    assert assert_return(escalated, 200, version=6)["status"] == "arbitration"

    decided = await scenario.act(
        return_id, "arbitrate", scenario.platform, {"decision": "buyer", "note": "Tags were on"}
    )
    refunded = assert_return(decided, 200, version=7)
    assert refunded["status"] == "refunded"
    assert refunded["refund"]["amount"] == 9900
    assert [event["type"] for event in await scenario.events(return_id)] == [
        "created",
        "approve",
        "ship",
        "receive",
        "reject",
        "escalate",
        "arbitrate",
    ]
