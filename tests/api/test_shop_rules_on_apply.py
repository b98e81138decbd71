"""The after-sales assistant at work: a shop's rules act on a return as it is applied for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.negotiation_support import moves, outbox_types
from tests.api.scenario import ADDRESS, Scenario
from tests.api.test_logistics_webhooks import carrier_event, report
from tests.api.timekeeping import set_policy, stored
from tests.conftest import Database

# Every condition stated, each one holding for the scenario's standard return: one T-shirt
# (apparel, 9900) of a delivered order, returned for no reason by a buyer in good standing.
EVERY_CONDITION: dict[str, Any] = {
    "types": ["return_refund"],
    "reasons": ["no_reason"],
    "max_refund_amount": 9900,
    "categories": ["apparel"],
    "order": "delivered",
    "buyer_in_good_standing": True,
}


async def _rules(scenario: Scenario, *rules: dict[str, Any]) -> None:
    response = await scenario.client.put(
        f"/v1/shops/{scenario.shop_id}/automations",
        json={"rules": list(rules)},
        headers=scenario.merchant.headers,
    )
    assert response.status_code == 200, response.text


def _acted(events: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None, str]]:
    return [m for m in moves(events) if m[3] == "system"]


async def test_a_rule_whose_every_condition_holds_approves_at_once_naming_itself(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, return_address=ADDRESS)
    await _rules(
        scenario, {"name": "approve small apparel", "when": EVERY_CONDITION, "then": "approve"}
    )
    created = await scenario.open_return()
    assert created["status"] == "approved"
    assert created["version"] == 2
    assert created["return_address"]["name"] == ADDRESS["name"]
    assert created["deadline"]["action"] == "ship"
    events = await scenario.events(created["id"])
    assert _acted(events) == [("approve", "requested", "approved", "system")]
    assert events[-1]["data"]["automation"] == "approve small apparel"
    assert events[-1]["data"]["automation_source"] == "shop"
    assert await outbox_types(database, created["id"]) == ["return.requested", "return.approved"]


@pytest.mark.parametrize(
    ("condition", "failing"),
    [
        ("types", ["exchange"]),
        ("reasons", ["size_mismatch"]),
        ("max_refund_amount", 9899),
        ("categories", ["shoes"]),
        ("order", "shipped"),
        ("buyer_in_good_standing", False),
    ],
)
async def test_a_rule_does_not_act_when_one_condition_fails(
    scenario: Scenario, database: Database, condition: str, failing: Any
) -> None:
    await set_policy(scenario, return_address=ADDRESS)
    await _rules(
        scenario,
        {"name": "almost", "when": {**EVERY_CONDITION, condition: failing}, "then": "approve"},
    )
    created = await scenario.open_return()
    assert created["status"] == "requested"
    assert created["version"] == 1
    assert _acted(await scenario.events(created["id"])) == []


async def test_empty_conditions_match_every_return_and_the_first_matching_rule_wins(
    scenario: Scenario, database: Database
) -> None:
    await _rules(
        scenario,
        {"name": "never", "when": {"reasons": ["wrong_item"]}, "then": "approve"},
        {
            "name": "keep cheap things",
            "when": {"types": ["return_refund"]},
            "then": "approve_keep_goods",
        },
        {"name": "everything else", "then": "approve"},
    )
    created = await scenario.open_return()
    assert (created["status"], created["keep_goods"]) == ("approved", True)
    assert (await scenario.events(created["id"]))[-1]["data"]["automation"] == "keep cheap things"
    exchange = await scenario.open_return(type="exchange", reason="size_mismatch")
    assert (exchange["status"], exchange["keep_goods"]) == ("approved", False)
    assert (await scenario.events(exchange["id"]))[-1]["data"]["automation"] == "everything else"


async def test_approve_keep_goods_approves_a_returnless_refund(
    scenario: Scenario, database: Database
) -> None:
    await _rules(
        scenario,
        {
            "name": "small refunds keep the goods",
            "when": EVERY_CONDITION,
            "then": "approve_keep_goods",
        },
    )
    created = await scenario.open_return()
    assert created["status"] == "approved"
    assert created["keep_goods"] is True
    assert created["deadline"]["action"] == "refund"
    refunded = await scenario.act(created["id"], "refund", scenario.merchant)
    assert refunded.json()["refund"]["amount"] == 9900


async def test_refund_pays_an_unshipped_refund_only_on_applying(
    scenario: Scenario, database: Database
) -> None:
    await _rules(
        scenario,
        {
            "name": "unshipped refund at once",
            "when": {"types": ["refund_only"], "order": "unshipped"},
            "then": "refund",
        },
    )
    created = await scenario.open_return(
        type="refund_only", order={"shipped_at": None, "delivered_at": None}
    )
    assert created["status"] == "refunded"
    assert created["refund"]["amount"] == 9900
    assert _acted(await scenario.events(created["id"])) == [
        ("approve", "requested", "approved", "system"),
        ("refund", "approved", "refunded", "system"),
    ]
    row, _ = await stored(database, created["id"])
    assert row.refunded_amount == 9900


async def test_refund_after_refusal_approves_and_the_carriers_refusal_refunds(
    scenario: Scenario, database: Database
) -> None:
    await _rules(
        scenario,
        {
            "name": "refuse the parcel",
            "when": {"types": ["refund_only"]},
            "then": "refund_after_refusal",
        },
    )
    created = await scenario.open_return(
        type="refund_only",
        reason="not_received",
        order={"delivered_at": None, "carrier": "SF", "tracking_number": "SFOUT77"},
    )
    assert created["status"] == "approved"
    assert (await scenario.events(created["id"]))[-1]["data"]["automation"] == "refuse the parcel"
    refused = await report(
        scenario, carrier_event("SFOUT77", "refused", datetime.now(UTC)), webhook_id="msg_refused"
    )
    assert refused.status_code in (200, 202), refused.text
    after = (await scenario.get(created["id"])).json()
    assert (after["status"], after["refund"]["amount"]) == ("refunded", 9900)


async def test_refund_after_refusal_leaves_a_delivered_order_to_a_person(
    scenario: Scenario, database: Database
) -> None:
    await _rules(
        scenario,
        {
            "name": "refuse the parcel",
            "when": {"types": ["refund_only"]},
            "then": "refund_after_refusal",
        },
    )
    created = await scenario.open_return(type="refund_only", reason="quality_defect")
    assert created["status"] == "requested"


async def test_the_shops_own_rules_come_before_the_policy_switches(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, auto_refund_unshipped=True)
    await _rules(
        scenario, {"name": "only approve", "when": {"types": ["refund_only"]}, "then": "approve"}
    )
    unshipped = {"shipped_at": None, "delivered_at": None}
    created = await scenario.open_return(type="refund_only", order=unshipped)
    assert created["status"] == "approved"
    assert (await scenario.events(created["id"]))[-1]["data"]["automation"] == "only approve"

    await _rules(scenario)
    switch = await scenario.open_return(type="refund_only", order=unshipped)
    assert switch["status"] == "refunded"
    last = (await scenario.events(switch["id"]))[-1]["data"]
    assert (last["automation"], last["automation_source"]) == ("auto_refund_unshipped", "policy")


async def test_a_flagged_buyer_is_left_to_a_person_whatever_the_rules_say(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, abuse_threshold={"returns": 1, "days": 30})
    await _rules(scenario, {"name": "everything", "then": "approve"})
    first = await scenario.open_return()
    assert first["status"] == "approved"  # the first return is within the threshold
    second = await scenario.open_return()
    assert second["buyer_flagged"] is True
    assert second["status"] == "requested"
