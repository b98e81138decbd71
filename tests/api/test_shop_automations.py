"""A shop's automation rules: read, replaced whole, versioned, validated, kept to its shop."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.problem_checks import assert_problem, rules_of
from tests.api.scenario import Scenario
from tests.conftest import Database

SMALL_APPAREL = {
    "name": "small refunds keep the goods",
    "when": {
        "types": ["return_refund"],
        "reasons": ["no_reason"],
        "max_refund_amount": 2000,
        "categories": ["apparel"],
        "order": "delivered",
        "buyer_in_good_standing": True,
    },
    "then": "approve_keep_goods",
}
UNSHIPPED_REFUNDS = {
    "name": "unshipped refund-only at once",
    "when": {"types": ["refund_only"], "order": "unshipped"},
    "then": "refund",
}


def _path(scenario: Scenario) -> str:
    return f"/v1/shops/{scenario.shop_id}/automations"


async def _put(
    scenario: Scenario, rules: list[dict[str, Any]], *, if_match: int | None = None
) -> Any:
    headers = dict(scenario.merchant.headers)
    if if_match is not None:
        headers["If-Match"] = f'"{if_match}"'
    return await scenario.client.put(_path(scenario), json={"rules": rules}, headers=headers)


async def test_a_shop_starts_with_no_rules_at_version_0(
    scenario: Scenario, database: Database
) -> None:
    response = await scenario.client.get(_path(scenario), headers=scenario.merchant.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "shop_id": scenario.shop_id,
        "rules": [],
        "version": 0,
        "updated_at": None,
    }
    assert response.headers["ETag"] == '"0"'


async def test_rules_are_replaced_whole_and_read_back_in_order(
    scenario: Scenario, database: Database
) -> None:
    first = await _put(scenario, [SMALL_APPAREL, UNSHIPPED_REFUNDS], if_match=0)
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    assert first.headers["ETag"] == '"1"'
    assert [rule["name"] for rule in first.json()["rules"]] == [
        SMALL_APPAREL["name"],
        UNSHIPPED_REFUNDS["name"],
    ]
    read = await scenario.client.get(_path(scenario), headers=scenario.storefront.headers)
    assert read.json()["rules"][0] == SMALL_APPAREL
    # Left-out conditions read back as left out.
    assert read.json()["rules"][1]["when"]["reasons"] is None

    second = await _put(scenario, [UNSHIPPED_REFUNDS], if_match=1)
    assert second.status_code == 200, second.text
    assert second.json()["version"] == 2
    assert [rule["name"] for rule in second.json()["rules"]] == [UNSHIPPED_REFUNDS["name"]]


async def test_a_stale_version_is_refused_and_changes_nothing(
    scenario: Scenario, database: Database
) -> None:
    assert (await _put(scenario, [SMALL_APPAREL])).status_code == 200
    stale = await _put(scenario, [], if_match=0)
    assert_problem(stale, 412, "version_mismatch")
    read = await scenario.client.get(_path(scenario), headers=scenario.merchant.headers)
    assert read.json()["version"] == 1
    assert len(read.json()["rules"]) == 1


@pytest.mark.parametrize(
    ("rule", "broken"),
    [
        ({"name": "r", "then": "refund"}, "action_not_for_type"),
        ({"name": "r", "when": {"types": ["exchange"]}, "then": "approve_keep_goods"}, None),
        (
            {
                "name": "r",
                "when": {"types": ["refund_only"], "order": "delivered"},
                "then": "refund_after_refusal",
            },
            "action_never_fits",
        ),
    ],
    ids=["refund-for-every-type", "keep-goods-for-an-exchange", "refusal-of-a-delivered-order"],
)
async def test_a_then_the_returns_type_cannot_take_is_refused(
    scenario: Scenario, database: Database, rule: dict[str, Any], broken: str | None
) -> None:
    problem = assert_problem(await _put(scenario, [rule]), 422, "rule_violation")
    assert rules_of(problem) == [broken or "action_not_for_type"]
    read = await scenario.client.get(_path(scenario), headers=scenario.merchant.headers)
    assert read.json()["version"] == 0


async def test_at_most_50_rules_with_distinct_names(scenario: Scenario, database: Database) -> None:
    rules = [{"name": f"rule {i}", "then": "approve"} for i in range(51)]
    assert_problem(await _put(scenario, rules), 422, "validation_error")
    assert (await _put(scenario, rules[:50])).status_code == 200
    twice = assert_problem(await _put(scenario, [rules[0], rules[0]]), 422, "rule_violation")
    assert rules_of(twice) == ["duplicate_rule_name"]


@pytest.mark.parametrize(
    "rules",
    [
        [{"name": "", "then": "approve"}],
        [{"name": "x\u0000", "then": "approve"}],
        [{"name": "line\nbreak", "then": "approve"}],
        [{"name": "r", "then": "explode"}],
        [{"name": "r", "then": "approve", "when": {"types": []}}],
        [{"name": "r", "then": "approve", "when": {"max_refund_amount": -1}}],
        [{"name": "r", "then": "approve", "when": {"max_refund_amount": "1"}}],
        [{"name": "r", "then": "approve", "when": {"buyer_in_good_standing": "yes"}}],
        [{"name": "r", "then": "approve", "when": {"order": "lost"}}],
        [{"name": "r", "then": "approve", "when": {"colour": ["red"]}}],
        [{"name": "r", "then": "approve", "extra": 1}],
        "not a list",
    ],
)
async def test_malformed_rules_are_validation_problems(
    scenario: Scenario, database: Database, rules: Any
) -> None:
    assert_problem(await _put(scenario, rules), 422, "validation_error")


async def test_only_the_shops_merchant_storefront_and_platform_touch_its_rules(
    scenario: Scenario, database: Database
) -> None:
    other = scenario.other_shop()
    foreign = await scenario.client.put(
        _path(scenario), json={"rules": []}, headers=other.merchant.headers
    )
    assert_problem(foreign, 404, "not_found")
    buyer = await scenario.client.get(_path(scenario), headers=scenario.buyer.headers)
    assert_problem(buyer, 403, "forbidden")
    platform = await scenario.client.put(
        _path(scenario), json={"rules": [UNSHIPPED_REFUNDS]}, headers=scenario.platform.headers
    )
    assert platform.status_code == 200, platform.text
