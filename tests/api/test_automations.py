"""What the shop policy lets the system do on its own: auto refunds, fast refunds, abuse, money."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from httpx import Response

from tests.api.problem_checks import assert_problem
from tests.api.scenario import ADDRESS, Scenario
from tests.api.timekeeping import at, deliver, from_now, set_policy, stored, system_events
from tests.conftest import Database

SHIPMENT = {"carrier": "SF", "tracking_number": "SF2002"}
REFUND_ONLY_DEFECT = {"type": "refund_only", "reason": "quality_defect"}
UNSHIPPED = {"shipped_at": None, "delivered_at": None}


def _created(response: Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _ok(response: Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _system_moves(scenario: Scenario, return_id: str) -> list[tuple[str, str, Any]]:
    return [
        (event["type"], event["to_status"], event["data"].get("automation"))
        for event in system_events(await scenario.events(return_id))
    ]


async def _shipped_back(scenario: Scenario, **overrides: Any) -> dict[str, Any]:
    created = await scenario.open_return(**overrides)
    _ok(
        await scenario.act(created["id"], "approve", scenario.merchant, {"return_address": ADDRESS})
    )
    return _ok(await scenario.act(created["id"], "ship", scenario.buyer, SHIPMENT))


# --- auto_refund_unshipped -------------------------------------------------------------------


async def test_a_refund_only_on_an_unshipped_order_is_refunded_on_applying(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, auto_refund_unshipped=True)
    order_id = await scenario.order(**UNSHIPPED)
    created = _created(await scenario.apply(order_id, type="refund_only", reason="no_reason"))

    assert created["status"] == "refunded"
    assert created["version"] == 3
    assert created["refund"]["amount"] == 9900
    assert created["deadline"] is None
    assert await _system_moves(scenario, created["id"]) == [
        ("approve", "approved", "auto_refund_unshipped"),
        ("refund", "refunded", "auto_refund_unshipped"),
    ]
    row, _ = await stored(database, created["id"])
    assert (row.status, row.refunded_amount) == ("refunded", 9900)


async def test_without_the_policy_an_unshipped_refund_only_waits_for_review(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order(**UNSHIPPED)
    created = _created(await scenario.apply(order_id, type="refund_only", reason="no_reason"))
    assert created["status"] == "requested"
    assert await _system_moves(scenario, created["id"]) == []


async def test_auto_refund_unshipped_does_not_touch_a_shipped_order(scenario: Scenario) -> None:
    await set_policy(scenario, auto_refund_unshipped=True)
    order_id = await scenario.order(delivered_at=None)  # shipped, still travelling
    created = _created(await scenario.apply(order_id, type="refund_only", reason="not_received"))
    assert created["status"] == "requested"


async def test_auto_refund_unshipped_leaves_a_flagged_buyer_to_the_merchant(
    scenario: Scenario,
) -> None:
    await set_policy(
        scenario, auto_refund_unshipped=True, abuse_threshold={"returns": 1, "days": 30}
    )
    first = _created(await scenario.apply(await scenario.order(**UNSHIPPED), type="refund_only"))
    second = _created(await scenario.apply(await scenario.order(**UNSHIPPED), type="refund_only"))
    assert (first["buyer_flagged"], first["status"]) == (False, "refunded")
    assert (second["buyer_flagged"], second["status"]) == (True, "requested")
    assert await _system_moves(scenario, second["id"]) == []


# --- fast_refund -----------------------------------------------------------------------------


async def test_fast_refund_pays_a_refund_only_on_applying(scenario: Scenario) -> None:
    await set_policy(scenario, fast_refund=True)
    created = await scenario.open_return(**REFUND_ONLY_DEFECT)
    assert created["status"] == "refunded"
    assert created["refund"]["amount"] == created["refund_amount"] == 9900
    assert await _system_moves(scenario, created["id"]) == [
        ("approve", "approved", "fast_refund"),
        ("refund", "refunded", "fast_refund"),
    ]


async def test_fast_refund_pays_a_return_and_refund_as_soon_as_it_is_shipped(
    scenario: Scenario,
) -> None:
    await set_policy(scenario, fast_refund=True)
    created = await scenario.open_return()
    assert created["status"] == "requested"  # the goods must be on their way first

    sent = await _shipped_back(scenario)
    assert sent["status"] == "refunded"
    assert sent["shipment"]["tracking_number"] == SHIPMENT["tracking_number"]
    assert sent["refund"]["amount"] == 9900
    moves = [(e["type"], e["actor"]["role"]) for e in await scenario.events(sent["id"])]
    assert moves[-2:] == [("ship", "buyer"), ("refund", "system")]


async def test_fast_refund_does_not_pay_an_exchange(scenario: Scenario) -> None:
    await set_policy(scenario, fast_refund=True)
    sent = await _shipped_back(scenario, type="exchange", reason="size_mismatch")
    assert sent["status"] == "shipped"


async def test_without_fast_refund_a_shipped_return_waits_for_the_merchant(
    scenario: Scenario,
) -> None:
    sent = await _shipped_back(scenario)
    assert sent["status"] == "shipped"


async def test_a_buyer_with_more_than_three_recent_refunds_loses_fast_refund(
    scenario: Scenario,
) -> None:
    await set_policy(scenario, fast_refund=True, abuse_threshold={"returns": 100, "days": 30})
    outcomes = [(await scenario.open_return(**REFUND_ONLY_DEFECT))["status"] for _ in range(5)]
    assert outcomes == ["refunded"] * 4 + ["requested"]


async def test_a_flagged_buyer_loses_fast_refund_and_merchants_can_filter_on_it(
    scenario: Scenario,
) -> None:
    await set_policy(scenario, fast_refund=True, abuse_threshold={"returns": 1, "days": 30})
    first = await scenario.open_return(**REFUND_ONLY_DEFECT)
    second = await scenario.open_return(**REFUND_ONLY_DEFECT)
    assert (first["buyer_flagged"], first["status"]) == (False, "refunded")
    assert (second["buyer_flagged"], second["status"]) == (True, "requested")
    assert await _system_moves(scenario, second["id"]) == []

    # A flagged buyer's return-and-refund is not paid on shipping either.
    third = await _shipped_back(scenario)
    assert (third["buyer_flagged"], third["status"]) == (True, "shipped")

    async def listed(party: Any, flagged: str) -> list[str]:
        response = await scenario.client.get(
            "/v1/returns", params={"buyer_flagged": flagged}, headers=party.headers
        )
        return [item["id"] for item in _ok(response)["items"]]

    assert await listed(scenario.merchant, "true") == [third["id"], second["id"]]
    assert await listed(scenario.merchant, "false") == [first["id"]]
    assert await listed(scenario.other_shop().merchant, "true") == []


# --- money in the preview and on the return alike --------------------------------------------


async def _preview_then_apply(scenario: Scenario, order_id: str, **body: Any) -> tuple[Any, Any]:
    preview = _ok(
        await scenario.client.post(
            "/v1/returns/preview",
            json={
                "order_id": order_id,
                "items": [{"line_id": "l1", "quantity": 1, "condition": "unopened"}],
                **body,
            },
            headers=scenario.buyer.headers,
        )
    )
    created = _created(await scenario.apply(order_id, **body))
    return preview, created


async def test_the_restocking_fee_and_insurance_shape_the_preview_and_the_return_alike(
    scenario: Scenario,
) -> None:
    await set_policy(scenario, restocking_fee_percent=10)
    insured = await scenario.order(shipping_insurance=True)
    preview, created = await _preview_then_apply(
        scenario, insured, type="return_refund", reason="no_reason"
    )
    assert preview["eligible"] is True
    assert preview["refund_amount"] == created["refund_amount"] == 9900 - 990
    assert preview["return_shipping_paid_by"] == created["return_shipping_paid_by"] == "insurance"
    assert created["deductions"] == [
        {"kind": "restocking_fee", "amount": 990, "note": "10% restocking fee"}
    ]

    uninsured = await scenario.order(shipping_insurance=False)
    preview, created = await _preview_then_apply(
        scenario, uninsured, type="return_refund", reason="size_mismatch"
    )
    assert preview["refund_amount"] == created["refund_amount"] == 8910
    assert preview["return_shipping_paid_by"] == created["return_shipping_paid_by"] == "buyer"


async def test_a_merchant_fault_pays_no_restocking_fee_and_gets_its_postage_back(
    scenario: Scenario,
) -> None:
    await set_policy(scenario, restocking_fee_percent=10)
    order_id = await scenario.order(shipping_insurance=True)
    preview, created = await _preview_then_apply(
        scenario, order_id, type="return_refund", reason="quality_defect"
    )
    assert preview["refund_amount"] == created["refund_amount"] == 9900 + 800
    assert preview["return_shipping_paid_by"] == created["return_shipping_paid_by"] == "merchant"
    assert created["deductions"] == []


# --- extending the receive deadline ----------------------------------------------------------


async def test_extend_moves_the_receive_deadline_by_one_more_timeout_once(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, receive_timeout="PT3H")
    sent = await _shipped_back(scenario)
    delivered_at = from_now(-60)
    await deliver(database, sent["id"], delivered_at)

    extended = _ok(
        await scenario.act(sent["id"], "extend", scenario.merchant, {"note": "warehouse closed"})
    )
    assert extended["status"] == "shipped"
    assert extended["receive_extended"] is True
    assert at(extended["deadline"]["due_at"]) == delivered_at + timedelta(hours=6)
    events = await scenario.events(sent["id"])
    assert (events[-1]["type"], events[-1]["actor"]["role"]) == ("extend", "merchant")

    again = await scenario.act(sent["id"], "extend", scenario.merchant, {"note": "still closed"})
    assert_problem(again, 409, "conflict")
    unchanged = _ok(await scenario.get(sent["id"]))
    assert unchanged["deadline"] == extended["deadline"]
    assert unchanged["version"] == extended["version"]


async def test_an_extension_taken_before_delivery_counts_once_the_clock_starts(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, receive_timeout="PT3H")
    sent = await _shipped_back(scenario)
    early = _ok(await scenario.act(sent["id"], "extend", scenario.merchant))
    assert early["deadline"] is None
    delivered_at = from_now(0)
    await deliver(database, sent["id"], delivered_at)
    after = _ok(await scenario.get(sent["id"]))
    assert at(after["deadline"]["due_at"]) == delivered_at + timedelta(hours=6)


async def test_only_the_merchant_extends_and_only_while_shipped(scenario: Scenario) -> None:
    sent = await _shipped_back(scenario)
    assert_problem(await scenario.act(sent["id"], "extend", scenario.buyer), 403, "forbidden")
    waiting = await scenario.open_return()
    assert_problem(
        await scenario.act(waiting["id"], "extend", scenario.merchant), 409, "invalid_transition"
    )
