"""Offers (协商): part of the money instead, accepted, declined, or let lapse; at most three."""

from __future__ import annotations

from typing import Any

from tests.api.negotiation_support import moves, outbox_types
from tests.api.problem_checks import assert_problem, assert_return, rules_of
from tests.api.scenario import ADDRESS, Scenario
from tests.api.timekeeping import from_now, set_policy, stored, sweep
from tests.conftest import Database

SHIPMENT = {"carrier": "SF", "tracking_number": "SF3001"}


async def _offered(scenario: Scenario, amount: int, **body: Any) -> dict[str, Any]:
    created = await scenario.open_return()
    response = await scenario.act(
        created["id"], "offer", scenario.merchant, {"amount": amount, **body}
    )
    return assert_return(response, 200, version=2)


async def test_an_offer_accepted_refunds_the_offered_amount_once_and_the_goods_stay(
    scenario: Scenario, database: Database
) -> None:
    offered = await _offered(scenario, 3000, note="keep it, here is 30%")
    return_id = offered["id"]
    assert offered["status"] == "offered"
    assert offered["offer"]["amount"] == 3000
    assert offered["offer"]["keep_goods"] is True
    assert offered["offer"]["note"] == "keep it, here is 30%"
    assert offered["offers_made"] == 1
    assert offered["deadline"]["action"] == "offer"
    assert offered["deadline"]["actor"] == "buyer"

    accepted = assert_return(await scenario.act(return_id, "accept_offer", scenario.buyer), 200, 3)
    assert accepted["status"] == "refunded"
    assert accepted["refund"]["amount"] == 3000
    assert accepted["refund_amount"] == 3000
    assert accepted["keep_goods"] is True
    assert accepted["deadline"] is None

    again = await scenario.act(return_id, "accept_offer", scenario.buyer)
    assert_problem(again, 409, "invalid_transition")
    row, _ = await stored(database, return_id)
    assert (row.status, row.refunded_amount, row.keep_goods) == ("refunded", 3000, True)
    assert moves(await scenario.events(return_id)) == [
        ("created", None, "requested", "buyer"),
        ("offer", "requested", "offered", "merchant"),
        ("accept_offer", "offered", "refunded", "buyer"),
    ]
    assert await outbox_types(database, return_id) == [
        "return.requested",
        "return.offered",
        "return.refunded",
    ]


async def test_an_offer_declined_goes_back_to_review_and_the_return_goes_on_as_before(
    scenario: Scenario, database: Database
) -> None:
    offered = await _offered(scenario, 5000)
    return_id = offered["id"]
    declined = assert_return(
        await scenario.act(return_id, "decline_offer", scenario.buyer, {"note": "I want it all"}),
        200,
        version=3,
    )
    assert declined["status"] == "requested"
    assert declined["deadline"]["action"] == "review"
    assert declined["offer"]["outcome"] == "declined"
    assert declined["refund_amount"] == 9900  # the offer changed nothing

    for action, by, body in (
        ("approve", scenario.merchant, {"return_address": ADDRESS}),
        ("ship", scenario.buyer, SHIPMENT),
        ("receive", scenario.merchant, {"inspection": "passed"}),
        ("refund", scenario.merchant, {}),
    ):
        response = await scenario.act(return_id, action, by, body)
        assert response.status_code == 200, response.text
    assert response.json()["refund"]["amount"] == 9900
    assert response.json()["keep_goods"] is False
    events = await scenario.events(return_id)
    assert [m[0] for m in moves(events)] == [
        "created",
        "offer",
        "decline_offer",
        "approve",
        "ship",
        "receive",
        "refund",
    ]
    assert events[2]["data"]["note"] == "I want it all"
    assert "return.requested" in (await outbox_types(database, return_id))[2:]


async def test_a_buyer_who_lets_the_offer_lapse_has_it_declined_by_the_system(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, offer_timeout="PT1S", review_timeout="PT5H")
    offered = await _offered(scenario, 2000)
    return_id = offered["id"]
    assert await sweep(database, from_now(60)) == 1
    assert await sweep(database, from_now(60)) == 0

    after = (await scenario.get(return_id)).json()
    assert after["status"] == "requested"
    assert after["version"] == 3
    assert after["offer"]["outcome"] == "lapsed"
    assert after["deadline"]["action"] == "review"
    assert after["refund"] is None
    last = moves(await scenario.events(return_id))[-1]
    assert last == ("decline_offer", "offered", "requested", "system")
    accept_late = await scenario.act(return_id, "accept_offer", scenario.buyer)
    assert_problem(accept_late, 409, "invalid_transition")


async def test_a_fourth_offer_is_refused_as_a_conflict(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]
    for n in range(3):
        offered = await scenario.act(return_id, "offer", scenario.merchant, {"amount": 1000 + n})
        assert offered.status_code == 200, offered.text
        assert offered.json()["offers_made"] == n + 1
        declined = await scenario.act(return_id, "decline_offer", scenario.buyer)
        assert declined.status_code == 200, declined.text

    fourth = await scenario.act(return_id, "offer", scenario.merchant, {"amount": 1000})
    problem = assert_problem(fourth, 409, "conflict")
    assert "3 offers" in problem["detail"]
    row, _ = await stored(database, return_id)
    assert (row.status, row.offers_made, row.version) == ("requested", 3, 7)


async def test_an_offer_outside_1_to_the_refundable_is_refused_and_changes_nothing(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]
    too_much = await scenario.act(return_id, "offer", scenario.merchant, {"amount": 9901})
    assert rules_of(assert_problem(too_much, 422, "rule_violation")) == ["offer_exceeds_refundable"]
    for amount in (0, -5, 1.5, "100", True):
        bad = await scenario.act(return_id, "offer", scenario.merchant, {"amount": amount})
        assert_problem(bad, 422, "validation_error")
    row, events = await stored(database, return_id)
    assert (row.status, row.offers_made, row.version, len(events)) == ("requested", 0, 1, 1)
    exactly = await scenario.act(return_id, "offer", scenario.merchant, {"amount": 9900})
    assert exactly.status_code == 200, exactly.text


async def test_only_the_merchant_offers_and_only_the_buyer_answers(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]
    by_buyer = await scenario.act(return_id, "offer", scenario.buyer, {"amount": 100})
    assert_problem(by_buyer, 403, "forbidden")
    assert (await scenario.act(return_id, "offer", scenario.merchant, {"amount": 100})).is_success
    by_merchant = await scenario.act(return_id, "accept_offer", scenario.merchant)
    assert_problem(by_merchant, 403, "forbidden")
    stranger = scenario.other_shop().buyer
    assert_problem(await scenario.act(return_id, "accept_offer", stranger), 404, "not_found")


async def test_an_offer_to_send_the_goods_back_for_less_leads_to_approval_at_that_amount(
    scenario: Scenario, database: Database
) -> None:
    offered = await _offered(scenario, 7000, keep_goods=False, return_address=ADDRESS)
    return_id = offered["id"]
    accepted = assert_return(await scenario.act(return_id, "accept_offer", scenario.buyer), 200, 3)
    assert accepted["status"] == "approved"
    assert accepted["refund_amount"] == 7000
    assert accepted["keep_goods"] is False
    assert accepted["deadline"]["action"] == "ship"
    for action, by, body in (
        ("ship", scenario.buyer, SHIPMENT),
        ("receive", scenario.merchant, {"inspection": "passed"}),
    ):
        assert (await scenario.act(return_id, action, by, body)).status_code == 200
    too_much = await scenario.act(return_id, "refund", scenario.merchant, {"amount": 7001})
    assert_problem(too_much, 422, "rule_violation")
    refunded = await scenario.act(return_id, "refund", scenario.merchant)
    assert refunded.json()["refund"]["amount"] == 7000


async def test_a_refund_only_offer_keeps_the_goods(scenario: Scenario, database: Database) -> None:
    created = await scenario.open_return(type="refund_only", reason="quality_defect")
    goods_back = await scenario.act(
        created["id"], "offer", scenario.merchant, {"amount": 100, "keep_goods": False}
    )
    assert rules_of(assert_problem(goods_back, 422, "rule_violation")) == [
        "offer_goods_cannot_come_back"
    ]
