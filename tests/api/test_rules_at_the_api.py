"""The eligibility and policy rules as a buyer or merchant meets them: refused and allowed at
each edge, every violation listed at once, and nothing saved by a refusal or a preview."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.problem_checks import assert_problem, rules_of
from tests.api.scenario import Scenario, application_body

MINUTE = 1 / (24 * 60)

FRESH_FOOD = [
    {
        "line_id": "l1",
        "sku": "LYCHEE-1KG",
        "title": "Lychees, 1 kg",
        "category": "fresh_food",
        "unit_price": 5900,
        "quantity": 1,
    }
]

TWO_LINES = [
    {
        "line_id": "l1",
        "sku": "TSHIRT-W-M",
        "title": "T-shirt",
        "category": "apparel",
        "unit_price": 9900,
        "quantity": 2,
    },
    {
        "line_id": "l2",
        "sku": "CAKE-CUSTOM",
        "title": "Birthday cake with a name",
        "category": "custom_made",
        "unit_price": 15000,
        "quantity": 1,
    },
]


async def all_returns(scenario: Scenario) -> list[dict[str, Any]]:
    response = await scenario.client.get("/v1/returns", headers=scenario.platform.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def assert_refused(
    scenario: Scenario, order_id: str, *rules: str, **application: Any
) -> dict[str, Any]:
    """The application is refused with exactly these rules, and leaves no return behind."""
    before = await all_returns(scenario)
    response = await scenario.apply(order_id, **application)
    problem = assert_problem(response, 422, "rule_violation")
    assert sorted(rules_of(problem)) == sorted(rules), problem
    assert all(violation["message"] for violation in problem["violations"])
    assert await all_returns(scenario) == before
    return problem


async def assert_allowed(scenario: Scenario, order_id: str, **application: Any) -> dict[str, Any]:
    response = await scenario.apply(order_id, **application)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_change_of_mind_is_allowed_until_the_last_minute_of_the_seven_day_window(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order(delivered_days_ago=7 - MINUTE)
    created = await assert_allowed(scenario, order_id)
    assert created["status"] == "requested"


async def test_a_change_of_mind_a_minute_after_the_seven_day_window_is_refused(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order(delivered_days_ago=7 + MINUTE)
    problem = await assert_refused(scenario, order_id, "return_window_expired")
    assert "7-day" in problem["violations"][0]["message"]


async def test_a_defect_is_claimed_within_fifteen_days_of_delivery(scenario: Scenario) -> None:
    defect: dict[str, Any] = {"reason": "quality_defect", "description": "Seam split"}
    ten_days_old = await scenario.order(delivered_days_ago=10)
    await assert_refused(scenario, ten_days_old, "return_window_expired")
    await assert_allowed(scenario, ten_days_old, **defect)

    last_minute = await scenario.order(delivered_days_ago=15 - MINUTE)
    await assert_allowed(scenario, last_minute, **defect)

    too_late = await scenario.order(delivered_days_ago=15 + MINUTE)
    problem = await assert_refused(scenario, too_late, "return_window_expired", **defect)
    assert "15-day" in problem["violations"][0]["message"]


@pytest.mark.parametrize("condition", ["used", "damaged"])
async def test_goods_returned_without_a_defect_must_be_resellable(
    scenario: Scenario, condition: str
) -> None:
    order_id = await scenario.order()
    worn = [{"line_id": "l1", "quantity": 1, "condition": condition}]
    await assert_refused(scenario, order_id, "not_resellable", items=worn)
    # A defect claim is not bound by the second-sale condition.
    await assert_allowed(scenario, order_id, reason="quality_defect", items=worn)


async def test_opened_but_resellable_goods_may_come_back_without_a_reason(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    items = [{"line_id": "l1", "quantity": 1, "condition": "opened_resellable"}]
    await assert_allowed(scenario, order_id, items=items)


async def test_fresh_food_cannot_be_returned_without_a_defect_but_a_defect_can(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order(lines=FRESH_FOOD)
    problem = await assert_refused(scenario, order_id, "category_excluded")
    assert "fresh_food" in problem["violations"][0]["message"]
    created = await assert_allowed(scenario, order_id, reason="quality_defect")
    assert created["fault"] == "merchant"


async def test_a_shop_may_exclude_more_categories(scenario: Scenario) -> None:
    policy = await scenario.client.put(
        f"/v1/shops/{scenario.shop_id}/return-policy",
        json={"extra_excluded_categories": ["apparel"]},
        headers=scenario.merchant.headers,
    )
    assert policy.status_code == 200, policy.text
    order_id = await scenario.order()
    await assert_refused(scenario, order_id, "category_excluded")
    await assert_allowed(scenario, order_id, reason="wrong_item")


async def test_the_last_unit_of_a_line_may_be_returned_but_not_one_more(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()  # line l1: 2 units
    await assert_allowed(scenario, order_id)
    await assert_allowed(scenario, order_id)  # the last unit
    problem = await assert_refused(scenario, order_id, "quantity_exceeds_returnable")
    assert "Only 0 of the 2" in problem["violations"][0]["message"]


async def test_more_units_than_were_bought_are_refused_in_one_application(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    three = [{"line_id": "l1", "quantity": 3, "condition": "unopened"}]
    await assert_refused(scenario, order_id, "quantity_exceeds_returnable", items=three)
    two = [{"line_id": "l1", "quantity": 2, "condition": "unopened"}]
    await assert_allowed(scenario, order_id, items=two)


@pytest.mark.parametrize("return_type", ["return_refund", "exchange"])
async def test_goods_not_yet_delivered_cannot_be_sent_back(
    scenario: Scenario, return_type: str
) -> None:
    order_id = await scenario.order(delivered_days_ago=None)
    await assert_refused(scenario, order_id, "order_not_delivered", type=return_type)
    await assert_allowed(scenario, order_id, type="refund_only")


async def test_a_change_of_mind_on_delivered_goods_must_send_them_back(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    await assert_refused(scenario, order_id, "goods_must_be_returned", type="refund_only")
    # A merchant-fault problem may be settled without taking the goods back.
    created = await assert_allowed(
        scenario, order_id, type="refund_only", reason="not_as_described"
    )
    assert created["refund_amount"] == 9900


async def test_an_application_breaking_several_rules_lists_every_violation(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order(delivered_days_ago=9, lines=TWO_LINES)
    problem = await assert_refused(
        scenario,
        order_id,
        "return_window_expired",
        "goods_must_be_returned",
        "not_resellable",
        "quantity_exceeds_returnable",
        "category_excluded",
        "unknown_line",
        type="refund_only",
        items=[
            {"line_id": "l1", "quantity": 3, "condition": "used"},
            {"line_id": "l2", "quantity": 1, "condition": "unopened"},
            {"line_id": "l9", "quantity": 1, "condition": "unopened"},
        ],
    )
    assert len(problem["violations"]) == 6


async def test_preview_answers_what_an_application_would_give_and_saves_nothing(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order(shipping_insurance=True)

    async def preview(by_party: Any = None, **application: Any) -> dict[str, Any]:
        response = await scenario.client.post(
            "/v1/returns/preview",
            json=application_body(order_id, **application),
            headers=(by_party or scenario.buyer).headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    insured = await preview()
    assert insured == {
        "eligible": True,
        "violations": [],
        "refund_amount": 9900,
        "currency": "CNY",
        "fault": "buyer",
        "return_shipping_paid_by": "insurance",
    }

    defect = await preview(reason="quality_defect")
    assert defect["eligible"] is True
    assert defect["fault"] == "merchant"
    assert defect["return_shipping_paid_by"] == "merchant"
    assert defect["refund_amount"] == 9900 + 800  # the merchant pays the postage back

    refused = await preview(items=[{"line_id": "l1", "quantity": 3, "condition": "used"}])
    assert refused["eligible"] is False
    assert sorted(v["rule"] for v in refused["violations"]) == [
        "not_resellable",
        "quantity_exceeds_returnable",
    ]

    as_merchant = await preview(by_party=scenario.merchant)
    assert as_merchant["eligible"] is True

    assert await all_returns(scenario) == []
    order = await scenario.client.get(f"/v1/orders/{order_id}", headers=scenario.buyer.headers)
    assert order.json()["lines"][0]["returnable"] == 2


async def test_preview_without_insurance_leaves_the_postage_to_the_buyer(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order(shipping_insurance=False)
    response = await scenario.client.post(
        "/v1/returns/preview",
        json=application_body(order_id),
        headers=scenario.buyer.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["return_shipping_paid_by"] == "buyer"


async def test_a_shop_without_a_policy_reads_the_platform_defaults(scenario: Scenario) -> None:
    response = await scenario.client.get(
        f"/v1/shops/{scenario.shop_id}/return-policy", headers=scenario.merchant.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"0"'
    policy = response.json()
    assert policy["shop_id"] == scenario.shop_id
    assert policy["window_days"] == 7
    assert policy["defect_window_days"] == 15
    assert policy["extra_excluded_categories"] == []
    assert "fresh_food" in policy["legal_excluded_categories"]
    assert policy["restocking_fee_percent"] == 0
    assert policy["review_timeout"] == "PT48H"
    assert policy["ship_timeout"] == "P7D"
    assert policy["receive_timeout"] == "PT48H"
    assert policy["escalation_timeout"] == "P7D"
    assert policy["auto_refund_unshipped"] is False
    assert policy["fast_refund"] is False
    assert policy["abuse_threshold"] == {"returns": 5, "days": 30}
    assert policy["version"] == 0


async def test_a_merchant_replaces_its_policy_and_reads_it_back(scenario: Scenario) -> None:
    url = f"/v1/shops/{scenario.shop_id}/return-policy"
    body = {
        "window_days": 14,
        "defect_window_days": 30,
        "extra_excluded_categories": ["lingerie"],
        "restocking_fee_percent": 10,
        "review_timeout": "PT24H",
        "ship_timeout": "P10D",
        "receive_timeout": "P3D",
        "escalation_timeout": "P5D",
        "auto_refund_unshipped": True,
        "fast_refund": True,
        "abuse_threshold": {"returns": 8, "days": 60},
    }
    put = await scenario.client.put(url, json=body, headers=scenario.merchant.headers)
    assert put.status_code == 200, put.text
    assert put.headers["ETag"] == '"1"'
    assert {key: put.json()[key] for key in body} == body

    read = await scenario.client.get(url, headers=scenario.merchant.headers)
    assert read.headers["ETag"] == '"1"'
    assert {key: read.json()[key] for key in body} == body
    assert read.json()["version"] == 1

    stale = await scenario.client.put(
        url, json=body, headers={**scenario.merchant.headers, "If-Match": '"0"'}
    )
    assert_problem(stale, 412, "version_mismatch")
    current = await scenario.client.put(
        url, json=body, headers={**scenario.merchant.headers, "If-Match": '"1"'}
    )
    assert current.status_code == 200, current.text
    assert current.headers["ETag"] == '"2"'


async def test_a_policy_below_the_legal_minimums_is_refused_listing_every_breach(
    scenario: Scenario,
) -> None:
    url = f"/v1/shops/{scenario.shop_id}/return-policy"
    refused = await scenario.client.put(
        url, json={"window_days": 5, "defect_window_days": 10}, headers=scenario.merchant.headers
    )
    problem = assert_problem(refused, 422, "rule_violation")
    assert rules_of(problem) == ["window_below_legal_minimum", "defect_window_below_legal_minimum"]

    only_window = await scenario.client.put(
        url, json={"window_days": 6}, headers=scenario.merchant.headers
    )
    assert rules_of(assert_problem(only_window, 422, "rule_violation")) == [
        "window_below_legal_minimum"
    ]

    at_the_floor = await scenario.client.put(
        url, json={"window_days": 7, "defect_window_days": 15}, headers=scenario.merchant.headers
    )
    assert at_the_floor.status_code == 200, at_the_floor.text

    stored = await scenario.client.get(url, headers=scenario.merchant.headers)
    assert stored.json()["version"] == 1


async def test_the_legally_excluded_categories_cannot_be_removed(scenario: Scenario) -> None:
    url = f"/v1/shops/{scenario.shop_id}/return-policy"
    current = (await scenario.client.get(url, headers=scenario.merchant.headers)).json()
    legal: list[str] = current["legal_excluded_categories"]

    shortened = [category for category in legal if category != "fresh_food"]
    refused = await scenario.client.put(
        url,
        json={"window_days": 3, "legal_excluded_categories": shortened},
        headers=scenario.merchant.headers,
    )
    problem = assert_problem(refused, 422, "rule_violation")
    assert sorted(rules_of(problem)) == ["legal_exclusion_removed", "window_below_legal_minimum"]
    assert "fresh_food" in problem["violations"][-1]["message"]

    unchanged = await scenario.client.get(url, headers=scenario.merchant.headers)
    assert unchanged.json()["version"] == 0

    sent_back_as_read = await scenario.client.put(
        url, json={"legal_excluded_categories": legal}, headers=scenario.merchant.headers
    )
    assert sent_back_as_read.status_code == 200, sent_back_as_read.text


async def test_a_longer_shop_window_lets_a_ten_day_old_delivery_come_back(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order(delivered_days_ago=10)
    await assert_refused(scenario, order_id, "return_window_expired")

    policy = await scenario.client.put(
        f"/v1/shops/{scenario.shop_id}/return-policy",
        json={"window_days": 14},
        headers=scenario.merchant.headers,
    )
    assert policy.status_code == 200, policy.text

    created = await assert_allowed(scenario, order_id)
    assert created["status"] == "requested"


async def test_a_restocking_fee_is_deducted_from_a_change_of_mind_only(
    scenario: Scenario,
) -> None:
    policy = await scenario.client.put(
        f"/v1/shops/{scenario.shop_id}/return-policy",
        json={"restocking_fee_percent": 10},
        headers=scenario.merchant.headers,
    )
    assert policy.status_code == 200, policy.text
    order_id = await scenario.order()

    changed_mind = await assert_allowed(scenario, order_id)
    assert changed_mind["refund_amount"] == 8910
    assert changed_mind["deductions"][0]["kind"] == "restocking_fee"
    assert changed_mind["deductions"][0]["amount"] == 990

    defect = await assert_allowed(scenario, order_id, reason="quality_defect")
    assert defect["deductions"] == []
    assert defect["refund_amount"] == 9900 + 800
