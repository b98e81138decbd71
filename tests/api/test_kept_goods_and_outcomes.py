"""Returnless refunds (the goods stay with the buyer) and inspection outcomes per unit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.negotiation_support import moves, outbox_events
from tests.api.problem_checks import assert_problem, assert_return, rules_of
from tests.api.scenario import ADDRESS, Scenario
from tests.api.timekeeping import from_now, set_policy, stored, sweep
from tests.conftest import Database

SHIPMENT = {"carrier": "SF", "tracking_number": "SF4001"}
TWO_LINES = [
    {
        "line_id": "l1",
        "sku": "TSHIRT-W-M",
        "title": "T-shirt",
        "category": "apparel",
        "unit_price": 9900,
        "quantity": 3,
        "attributes": {"color": "white", "size": "M"},
    },
    {
        "line_id": "l2",
        "sku": "SOCKS-B-L",
        "title": "Socks",
        "category": "apparel",
        "unit_price": 1500,
        "quantity": 2,
        "attributes": {"color": "black", "size": "L"},
    },
]
BOTH_LINES = [
    {"line_id": "l1", "quantity": 3, "condition": "unopened"},
    {"line_id": "l2", "quantity": 2, "condition": "opened_resellable"},
]


async def test_a_return_approved_with_the_goods_kept_is_refunded_with_no_parcel(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]
    approved = assert_return(
        await scenario.act(return_id, "approve", scenario.merchant, {"keep_goods": True}), 200, 2
    )
    assert approved["status"] == "approved"
    assert approved["keep_goods"] is True
    assert approved["return_address"] is None
    assert approved["deadline"]["action"] == "refund"
    assert approved["deadline"]["actor"] == "merchant"

    no_parcel = await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT)
    assert_problem(no_parcel, 409, "invalid_transition")

    refunded = assert_return(await scenario.act(return_id, "refund", scenario.merchant), 200, 3)
    assert refunded["status"] == "refunded"
    assert refunded["refund"]["amount"] == 9900
    assert refunded["shipment"] is None
    events = await scenario.events(return_id)
    assert moves(events)[1:] == [
        ("approve", "requested", "approved", "merchant"),
        ("refund", "approved", "refunded", "merchant"),
    ]
    assert events[1]["data"]["keep_goods"] is True
    outbox = await outbox_events(database, return_id)
    assert [row.type for row in outbox] == [
        "return.requested",
        "return.approved",
        "return.refunded",
    ]
    assert all(row.payload["data"]["return"]["keep_goods"] for row in outbox[1:])
    row, _ = await stored(database, return_id)
    assert (row.keep_goods, row.refunded_amount) == (True, 9900)


async def test_a_kept_goods_return_the_merchant_forgets_is_paid_by_the_timer(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, review_timeout="PT1S")
    created = await scenario.open_return()
    approved = await scenario.act(created["id"], "approve", scenario.merchant, {"keep_goods": True})
    assert approved.status_code == 200, approved.text
    assert await sweep(database, from_now(60)) == 1
    after = (await scenario.get(created["id"])).json()
    assert (after["status"], after["refund"]["amount"]) == ("refunded", 9900)


@pytest.mark.parametrize(
    "overrides",
    [
        {"type": "refund_only", "reason": "quality_defect"},
        {"type": "exchange", "reason": "size_mismatch"},
        {"type": "reship", "reason": "missing_item"},
    ],
    ids=["refund_only", "exchange", "reship"],
)
async def test_only_a_return_and_refund_can_keep_the_goods(
    scenario: Scenario, database: Database, overrides: dict[str, Any]
) -> None:
    created = await scenario.open_return(**overrides)
    refused = await scenario.act(created["id"], "approve", scenario.merchant, {"keep_goods": True})
    assert_problem(refused, 422, "validation_error")
    row, _ = await stored(database, created["id"])
    assert (row.status, row.version, row.keep_goods) == ("requested", 1, False)


async def _shipped_back(scenario: Scenario) -> str:
    order_id = await scenario.order(lines=TWO_LINES)
    applied = await scenario.apply(order_id, items=BOTH_LINES)
    assert applied.status_code == 201, applied.text
    return_id: str = applied.json()["id"]
    for action, by, body in (
        ("approve", scenario.merchant, {"return_address": ADDRESS}),
        ("ship", scenario.buyer, SHIPMENT),
    ):
        assert (await scenario.act(return_id, action, by, body)).status_code == 200
    return return_id


async def test_receiving_with_mixed_dispositions_restocks_only_what_is_restocked(
    scenario: Scenario, database: Database
) -> None:
    return_id = await _shipped_back(scenario)
    items = [
        {"line_id": "l1", "quantity": 1, "disposition": "restock"},
        {"line_id": "l1", "quantity": 1, "disposition": "refurbish"},
        {"line_id": "l1", "quantity": 1, "disposition": "scrap"},
        {"line_id": "l2", "quantity": 2, "disposition": "missing"},
    ]
    received = assert_return(
        await scenario.act(
            return_id, "receive", scenario.merchant, {"inspection": "failed", "items": items}
        ),
        200,
        4,
    )
    assert received["status"] == "received"
    assert received["dispositions"] == items
    event = (await scenario.events(return_id))[-1]
    assert event["data"]["items"] == items
    outbox = (await outbox_events(database, return_id))[-1]
    assert outbox.type == "return.received"
    assert outbox.payload["data"]["restock"] == [
        {
            "line_id": "l1",
            "sku": "TSHIRT-W-M",
            "attributes": {"color": "white", "size": "M"},
            "quantity": 1,
        }
    ]


async def test_a_passed_inspection_with_no_items_restocks_everything(
    scenario: Scenario, database: Database
) -> None:
    return_id = await _shipped_back(scenario)
    received = await scenario.act(return_id, "receive", scenario.merchant, {"inspection": "passed"})
    assert received.status_code == 200, received.text
    assert received.json()["dispositions"] == [
        {"line_id": "l1", "quantity": 3, "disposition": "restock"},
        {"line_id": "l2", "quantity": 2, "disposition": "restock"},
    ]
    restock = (await outbox_events(database, return_id))[-1].payload["data"]["restock"]
    assert [(r["line_id"], r["quantity"]) for r in restock] == [("l1", 3), ("l2", 2)]


@pytest.mark.parametrize(
    "items",
    [
        [{"line_id": "l1", "quantity": 3, "disposition": "restock"}],
        [
            {"line_id": "l1", "quantity": 4, "disposition": "restock"},
            {"line_id": "l2", "quantity": 2, "disposition": "scrap"},
        ],
        [
            {"line_id": "l1", "quantity": 3, "disposition": "restock"},
            {"line_id": "l2", "quantity": 2, "disposition": "scrap"},
            {"line_id": "l9", "quantity": 1, "disposition": "scrap"},
        ],
        [],
    ],
    ids=["a-line-left-out", "one-unit-too-many", "a-line-not-returned", "no-units"],
)
async def test_dispositions_that_do_not_add_up_are_refused_and_change_nothing(
    scenario: Scenario, database: Database, items: list[dict[str, Any]]
) -> None:
    return_id = await _shipped_back(scenario)
    refused = await scenario.act(
        return_id, "receive", scenario.merchant, {"inspection": "passed", "items": items}
    )
    problem = assert_problem(refused, 422, "rule_violation")
    assert set(rules_of(problem)) <= {"dispositions_do_not_add_up", "disposition_of_unknown_line"}
    row, events = await stored(database, return_id)
    assert (row.status, row.version, row.dispositions, len(events)) == ("shipped", 3, None, 3)


@pytest.mark.parametrize(
    "item",
    [
        {"line_id": "l1", "quantity": 0, "disposition": "restock"},
        {"line_id": "l1", "quantity": 1, "disposition": "resell"},
        {"line_id": "l1", "quantity": "1", "disposition": "restock"},
        {"line_id": "l1", "quantity": 1},
        {"line_id": "", "quantity": 1, "disposition": "restock"},
        {"line_id": "l1", "quantity": 1, "disposition": "restock", "grade": "A"},
    ],
)
async def test_malformed_dispositions_are_validation_problems(
    scenario: Scenario, database: Database, item: dict[str, Any]
) -> None:
    return_id = await _shipped_back(scenario)
    refused = await scenario.act(
        return_id, "receive", scenario.merchant, {"inspection": "passed", "items": [item]}
    )
    assert_problem(refused, 422, "validation_error")
