"""POST /v1/returns/batch: one action on many returns, each standing or falling alone."""

from __future__ import annotations

from typing import Any

from httpx import Response

from tests.api.problem_checks import assert_problem
from tests.api.scenario import ADDRESS, Party, Scenario
from tests.api.timekeeping import stored
from tests.conftest import Database

REJECTION = {"reason_code": "item_stained", "note": "The photos show stains."}


async def batch(
    scenario: Scenario, action: str, ids: list[str], body: Any = None, by: Party | None = None
) -> Response:
    payload: dict[str, Any] = {"action": action, "ids": ids}
    if body is not None:
        payload["body"] = body
    return await scenario.client.post(
        "/v1/returns/batch", json=payload, headers=(by or scenario.merchant).headers
    )


def results(response: Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_batch_approves_what_it_may_and_says_why_not_for_the_rest(
    scenario: Scenario, database: Database
) -> None:
    first = await scenario.open_return()
    second = await scenario.open_return()
    foreign = await scenario.other_shop().open_return()
    already = await scenario.open_return()
    approved = await scenario.act(
        already["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
    )
    assert approved.status_code == 200, approved.text
    ids = [first["id"], foreign["id"], already["id"], "no-such-return", second["id"]]

    items = results(await batch(scenario, "approve", ids, {"return_address": ADDRESS}))

    assert [item["id"] for item in items] == ids
    assert [item["status"] for item in items] == [200, 404, 409, 404, 200]
    for item in (items[0], items[4]):
        assert item["error"] is None
        assert item["return"]["status"] == "approved"
        assert item["return"]["version"] == 2
        assert item["return"]["return_address"]["name"] == ADDRESS["name"]
    for item in items[1:4]:
        assert item["return"] is None
    assert items[1]["error"]["code"] == "not_found"
    assert items[2]["error"]["code"] == "invalid_transition"
    assert items[2]["error"]["state"] == "approved"
    assert items[3]["error"]["code"] == "not_found"

    # What the database holds agrees, item by item.
    for created, status, version in (
        (first, "approved", 2),
        (second, "approved", 2),
        (foreign, "requested", 1),
        (already, "approved", 2),
    ):
        row, events = await stored(database, created["id"])
        assert (row.status, row.version) == (status, version)
        assert len(events) == version
    events = await scenario.events(first["id"])
    assert (events[-1]["type"], events[-1]["actor"]["id"]) == ("approve", scenario.merchant.id)


async def test_an_item_the_rules_refuse_is_rolled_back_alone(
    scenario: Scenario, database: Database
) -> None:
    """Approving without an address suits a refund-only but not a return whose goods travel."""
    refund_only = await scenario.open_return(type="refund_only", reason="quality_defect")
    travels = await scenario.open_return()
    items = results(await batch(scenario, "approve", [travels["id"], refund_only["id"]]))
    assert [item["status"] for item in items] == [422, 200]
    assert items[0]["error"]["code"] == "validation_error"
    assert items[1]["return"]["status"] == "approved"
    row, events = await stored(database, travels["id"])
    assert (row.status, row.version, len(events)) == ("requested", 1, 1)


async def test_a_batch_receives_refunds_and_rejects(scenario: Scenario) -> None:
    shipped = []
    for _ in range(3):
        created = await scenario.open_return()
        ok = await scenario.act(
            created["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
        )
        assert ok.status_code == 200, ok.text
        sent = await scenario.act(
            created["id"],
            "ship",
            scenario.buyer,
            {"carrier": "SF", "tracking_number": f"SF9{len(shipped)}"},  # a parcel each
        )
        assert sent.status_code == 200, sent.text
        shipped.append(created["id"])

    received = results(await batch(scenario, "receive", shipped, {"inspection": "passed"}))
    assert [item["return"]["status"] for item in received] == ["received"] * 3

    refunded = results(await batch(scenario, "refund", shipped[:2]))
    assert [item["return"]["status"] for item in refunded] == ["refunded"] * 2
    assert [item["return"]["refund"]["amount"] for item in refunded] == [9900, 9900]

    rejected = results(await batch(scenario, "reject", shipped, REJECTION))
    assert [item["status"] for item in rejected] == [409, 409, 200]
    assert rejected[2]["return"]["rejection"] == {**REJECTION, "evidence": []}


async def test_a_body_that_does_not_fit_the_action_refuses_the_whole_batch(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return()
    refused = await batch(scenario, "reject", [created["id"]], {"reason_code": "x"})
    problem = assert_problem(refused, 422, "validation_error")
    assert ["body", "body", "note"] in [error["loc"] for error in problem["errors"]]
    unknown_field = await batch(scenario, "refund", [created["id"]], {"amount": 1, "extra": 1})
    assert_problem(unknown_field, 422, "validation_error")
    row, _ = await stored(database, created["id"])
    assert (row.status, row.version) == ("requested", 1)


async def test_a_batch_names_between_one_and_a_hundred_distinct_returns(
    scenario: Scenario,
) -> None:
    assert_problem(await batch(scenario, "approve", []), 422, "validation_error")
    assert_problem(await batch(scenario, "approve", ["a", "a"]), 422, "validation_error")
    too_many = [f"r{n}" for n in range(101)]
    assert_problem(await batch(scenario, "approve", too_many), 422, "validation_error")
    assert_problem(await batch(scenario, "cancel", ["a"]), 422, "validation_error")
    hundred = results(await batch(scenario, "approve", [f"r{n}" for n in range(100)]))
    assert [item["status"] for item in hundred] == [404] * 100


async def test_only_merchants_and_the_platform_act_in_batches(scenario: Scenario) -> None:
    created = await scenario.open_return()
    refused = await batch(scenario, "approve", [created["id"]], {}, by=scenario.buyer)
    assert_problem(refused, 403, "forbidden")
    refused = await batch(scenario, "approve", [created["id"]], {}, by=scenario.storefront)
    assert_problem(refused, 403, "forbidden")
    no_token = await scenario.client.post(
        "/v1/returns/batch", json={"action": "approve", "ids": [created["id"]]}
    )
    assert_problem(no_token, 401, "unauthenticated")


async def test_the_platform_acts_across_shops(scenario: Scenario) -> None:
    mine = await scenario.open_return()
    theirs = await scenario.other_shop().open_return()
    items = results(
        await batch(
            scenario,
            "approve",
            [mine["id"], theirs["id"]],
            {"return_address": ADDRESS},
            by=scenario.platform,
        )
    )
    assert [item["status"] for item in items] == [200, 200]
    assert {item["return"]["shop_id"] for item in items} == {mine["shop_id"], theirs["shop_id"]}
