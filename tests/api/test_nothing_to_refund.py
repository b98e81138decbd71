"""A refund of 0 is no refund: a person asking for one is refused, the system closes instead.

No return ends `refunded` with an amount of 0 and a payment reference a payment system would
act on.
"""

from __future__ import annotations

from typing import Any

from httpx import Response

from tests.api.problem_checks import assert_problem, rules_of
from tests.api.scenario import ADDRESS, Scenario
from tests.api.timekeeping import set_policy, stored, system_events
from tests.conftest import Database

FREE_GIFT = [
    {
        "line_id": "l1",
        "sku": "GIFT-TOTE",
        "title": "Free tote bag",
        "category": "apparel",
        "unit_price": 0,
        "quantity": 1,
        "attributes": {},
    }
]
SHIPMENT = {"carrier": "SF", "tracking_number": "SF5005"}


def _ok(response: Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_refund_of_a_return_whose_deductions_took_everything_is_refused(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]
    _ok(await scenario.act(return_id, "approve", scenario.merchant, {"return_address": ADDRESS}))
    _ok(await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT))
    received = _ok(
        await scenario.act(
            return_id,
            "receive",
            scenario.merchant,
            {
                "inspection": "failed",
                "deductions": [
                    {"kind": "damage", "amount": created["refund_amount"], "note": "Torn"}
                ],
            },
        )
    )
    assert received["refund_amount"] == 0

    refused = await scenario.act(return_id, "refund", scenario.merchant, {})

    problem = assert_problem(refused, 422, "rule_violation")
    assert rules_of(problem) == ["nothing_to_refund"]
    row, events = await stored(database, return_id)
    assert (row.status, row.refunded_amount, row.refund_reference) == ("received", None, None)
    assert "refund" not in [event.type for event in events]
    # The way to end it without money: reject (the buyer may still escalate).
    rejected = await scenario.act(
        return_id, "reject", scenario.merchant, {"reason_code": "damaged", "note": "Torn"}
    )
    assert rejected.status_code == 200, rejected.text


async def test_arbitration_for_the_buyer_of_a_return_that_pays_nothing_is_refused(
    scenario: Scenario, database: Database
) -> None:
    """Deductions took the whole amount at inspection; a reship won by the buyer is settled
    with a parcel instead (test_replacements)."""
    created = await scenario.open_return()
    return_id = created["id"]
    everything = [{"kind": "damage", "amount": created["refund_amount"], "note": "Broken"}]
    for action, by, body in (
        ("approve", scenario.merchant, {"return_address": ADDRESS}),
        ("ship", scenario.buyer, SHIPMENT),
        ("receive", scenario.merchant, {"inspection": "failed", "deductions": everything}),
        ("reject", scenario.merchant, {"reason_code": "fine", "note": "Nothing is owed"}),
        ("escalate", scenario.buyer, {}),
    ):
        _ok(await scenario.act(return_id, action, by, body))

    refused = await scenario.act(
        return_id, "arbitrate", scenario.platform, {"decision": "buyer", "note": "Buyer is right"}
    )

    problem = assert_problem(refused, 422, "rule_violation")
    assert rules_of(problem) == ["nothing_to_refund"]
    row, _ = await stored(database, return_id)
    assert (row.status, row.refund_reference) == ("arbitration", None)


async def test_an_automatic_refund_that_would_pay_nothing_closes_the_return_instead(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, auto_refund_unshipped=True)
    order_id = await scenario.order(shipped_at=None, delivered_at=None, lines=FREE_GIFT)

    created = _ok(await scenario.apply(order_id, type="refund_only", reason="no_reason"))

    assert created["status"] == "closed"
    assert created["refund"] is None
    assert created["deadline"] is None
    moves = system_events(await scenario.events(created["id"]))
    assert [(e["type"], e["from_status"], e["to_status"]) for e in moves] == [
        ("approve", "requested", "approved"),
        ("close", "approved", "closed"),
    ]
    assert moves[-1]["data"]["outcome"] == "nothing_to_refund"
    assert moves[-1]["data"]["automation"] == "auto_refund_unshipped"
    assert "closed instead of refunded" in moves[-1]["data"]["note"]
    row, _ = await stored(database, created["id"])
    assert (row.refunded_amount, row.refund_reference, row.refunded_at) == (None, None, None)


async def test_a_fast_refund_of_a_shipped_return_that_would_pay_nothing_closes_it(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, fast_refund=True)
    created = await scenario.open_return(order={"lines": FREE_GIFT})
    return_id = created["id"]
    _ok(await scenario.act(return_id, "approve", scenario.merchant, {"return_address": ADDRESS}))

    shipped = _ok(await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT))

    assert shipped["status"] == "closed"
    assert shipped["refund"] is None
    [closed] = system_events(await scenario.events(return_id))
    assert (closed["type"], closed["from_status"], closed["to_status"]) == (
        "close",
        "shipped",
        "closed",
    )
    assert closed["data"]["outcome"] == "nothing_to_refund"
    row, _ = await stored(database, return_id)
    assert (row.refunded_amount, row.refund_reference) == (None, None)
