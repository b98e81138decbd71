"""Exchanges and reships end in `completed` once the replacement parcel goes out."""

from __future__ import annotations

from typing import Any

from httpx import Response

from tests.api.problem_checks import assert_problem
from tests.api.scenario import ADDRESS, Scenario
from tests.api.timekeeping import stored
from tests.conftest import Database

OUTGOING = {"carrier": "ZTO", "tracking_number": "ZTO-778899"}


def _ok(response: Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_exchange_completes_when_the_replacement_is_sent(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return(type="exchange", reason="size_mismatch")
    return_id = created["id"]
    assert created["refund_amount"] == 9900  # kept, should the exchange end in money instead
    _ok(await scenario.act(return_id, "approve", scenario.merchant, {"return_address": ADDRESS}))
    _ok(
        await scenario.act(
            return_id, "ship", scenario.buyer, {"carrier": "SF", "tracking_number": "SF1"}
        )
    )
    received = _ok(
        await scenario.act(return_id, "receive", scenario.merchant, {"inspection": "passed"})
    )
    assert received["status"] == "received"

    done = _ok(await scenario.act(return_id, "send_replacement", scenario.merchant, OUTGOING))
    assert done["status"] == "completed"
    assert done["replacement_shipment"]["carrier"] == "ZTO"
    assert done["replacement_shipment"]["tracking_number"] == "ZTO-778899"
    assert done["replacement_shipment"]["shipped_at"] is not None
    assert done["shipment"]["tracking_number"] == "SF1"  # the parcel that came back
    assert done["refund"] is None
    assert done["deadline"] is None

    events = await scenario.events(return_id)
    assert (events[-1]["type"], events[-1]["to_status"]) == ("send_replacement", "completed")
    assert events[-1]["data"] == OUTGOING
    row, _ = await stored(database, return_id)
    assert (row.status, row.replacement_tracking_number) == ("completed", "ZTO-778899")
    assert row.refunded_amount is None


async def test_an_exchange_cannot_be_replaced_before_the_goods_are_back(
    scenario: Scenario,
) -> None:
    created = await scenario.open_return(type="exchange", reason="size_mismatch")
    _ok(
        await scenario.act(created["id"], "approve", scenario.merchant, {"return_address": ADDRESS})
    )
    refused = await scenario.act(created["id"], "send_replacement", scenario.merchant, OUTGOING)
    problem = assert_problem(refused, 409, "invalid_transition")
    assert problem["state"] == "approved"


async def test_a_reship_completes_when_the_missing_items_are_sent(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return(type="reship", reason="missing_item")
    return_id = created["id"]
    assert created["refund_amount"] == 0  # a parcel goes out instead of money
    approved = _ok(await scenario.act(return_id, "approve", scenario.merchant))
    assert approved["status"] == "approved"
    assert approved["return_address"] is None  # nothing travels back
    assert approved["deadline"] is None  # no timer can send the parcel

    done = _ok(await scenario.act(return_id, "send_replacement", scenario.merchant, OUTGOING))
    assert done["status"] == "completed"
    assert done["replacement_shipment"]["tracking_number"] == "ZTO-778899"
    assert done["shipment"] is None
    row, _ = await stored(database, return_id)
    assert (row.status, row.replacement_carrier) == ("completed", "ZTO")


async def test_a_buyer_cannot_send_a_replacement(scenario: Scenario) -> None:
    created = await scenario.open_return(type="reship", reason="missing_item")
    _ok(await scenario.act(created["id"], "approve", scenario.merchant))
    refused = await scenario.act(created["id"], "send_replacement", scenario.buyer, OUTGOING)
    assert_problem(refused, 403, "forbidden")


async def test_a_reship_whose_arbitration_the_buyer_wins_ends_with_the_replacement_sent(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return(type="reship", reason="missing_item")
    return_id = created["id"]
    for action, by, body in (
        ("reject", scenario.merchant, {"reason_code": "parcel_complete", "note": "All was sent"}),
        ("escalate", scenario.buyer, {"note": "The charger was not in the box"}),
    ):
        _ok(await scenario.act(return_id, action, by, body))
    with_money = await scenario.act(
        return_id, "arbitrate", scenario.platform, {"decision": "buyer", "amount": 1, "note": "x"}
    )
    assert_problem(with_money, 422, "validation_error")

    decided = _ok(
        await scenario.act(
            return_id, "arbitrate", scenario.platform, {"decision": "buyer", "note": "Send it"}
        )
    )
    assert decided["status"] == "approved"
    assert decided["refund"] is None
    done = _ok(await scenario.act(return_id, "send_replacement", scenario.merchant, OUTGOING))
    assert done["status"] == "completed"
    assert done["replacement_shipment"]["tracking_number"] == "ZTO-778899"
    timeline = [(e["type"], e["to_status"]) for e in await scenario.events(return_id)]
    assert timeline[-2:] == [("arbitrate", "approved"), ("send_replacement", "completed")]
    row, _ = await stored(database, return_id)
    assert (row.status, row.refunded_amount, row.refund_reference) == ("completed", None, None)
