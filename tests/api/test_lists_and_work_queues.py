"""Listing returns: filters, newest first, cursor pages, and the work queues."""

from __future__ import annotations

from typing import Any

import pytest

from returns_service.pagination import encode_cursor
from tests.api.problem_checks import assert_problem
from tests.api.scenario import ADDRESS, Party, Scenario

SHIPMENT = {"carrier": "SF-Express", "tracking_number": "SF1234567890"}


async def listed(scenario: Scenario, by: Party, **params: Any) -> list[dict[str, Any]]:
    response = await scenario.client.get("/v1/returns", params=params, headers=by.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None, "the test expects a single page"
    items: list[dict[str, Any]] = body["items"]
    return items


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def test_returns_are_listed_by_status_type_reason_flag_and_creation_time(
    scenario: Scenario,
) -> None:
    # More than 2 returns in 30 days flags the buyer from the third return on.
    policy = await scenario.client.put(
        f"/v1/shops/{scenario.shop_id}/return-policy",
        json={"abuse_threshold": {"returns": 2, "days": 30}},
        headers=scenario.merchant.headers,
    )
    assert policy.status_code == 200, policy.text
    changed_mind = await scenario.open_return()
    exchange = await scenario.open_return(type="exchange", reason="size_mismatch")
    await scenario.act(exchange["id"], "approve", scenario.merchant, {"return_address": ADDRESS})
    defect = await scenario.open_return(reason="quality_defect")
    assert [changed_mind["buyer_flagged"], exchange["buyer_flagged"]] == [False, False]
    assert defect["buyer_flagged"] is True
    merchant = scenario.merchant

    assert ids(await listed(scenario, merchant)) == [
        defect["id"],
        exchange["id"],
        changed_mind["id"],
    ]
    approved = await listed(scenario, merchant, status="approved")
    assert ids(approved) == [exchange["id"]]
    assert approved[0]["status"] == "approved"
    assert ids(await listed(scenario, merchant, status="requested")) == [
        defect["id"],
        changed_mind["id"],
    ]
    assert ids(await listed(scenario, merchant, type="exchange")) == [exchange["id"]]
    assert ids(await listed(scenario, merchant, reason="quality_defect")) == [defect["id"]]
    assert ids(await listed(scenario, merchant, buyer_flagged="true")) == [defect["id"]]
    assert ids(await listed(scenario, merchant, buyer_flagged="false")) == [
        exchange["id"],
        changed_mind["id"],
    ]
    assert ids(await listed(scenario, merchant, created_from=exchange["created_at"])) == [
        defect["id"],
        exchange["id"],
    ]
    assert ids(await listed(scenario, merchant, created_to=exchange["created_at"])) == [
        changed_mind["id"]
    ]
    between = await listed(
        scenario, merchant, created_from=exchange["created_at"], created_to=defect["created_at"]
    )
    assert ids(between) == [exchange["id"]]
    assert ids(await listed(scenario, merchant, status="requested", type="exchange")) == []
    assert ids(await listed(scenario, scenario.buyer, reason="quality_defect")) == [defect["id"]]


async def test_cursor_pages_cover_every_return_once_newest_first(scenario: Scenario) -> None:
    created = [(await scenario.open_return())["id"] for _ in range(7)]
    newest_first = list(reversed(created))

    seen: list[dict[str, Any]] = []
    page_sizes: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        response = await scenario.client.get(
            "/v1/returns", params=params, headers=scenario.merchant.headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        page_sizes.append(len(page["items"]))
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        if len(seen) == 3:
            # A return created between pages is newer than the cursor: it never shifts a page.
            await scenario.open_return()

    assert page_sizes == [3, 3, 1]
    assert ids(seen) == newest_first
    created_ats = [item["created_at"] for item in seen]
    assert created_ats == sorted(created_ats, reverse=True)


async def test_a_page_larger_than_200_is_refused(scenario: Scenario) -> None:
    await scenario.open_return()
    for limit in (201, 0):
        response = await scenario.client.get(
            "/v1/returns", params={"limit": limit}, headers=scenario.platform.headers
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["query", "limit"]
    exactly_200 = await scenario.client.get(
        "/v1/returns", params={"limit": 200}, headers=scenario.platform.headers
    )
    assert exactly_200.status_code == 200, exactly_200.text


async def test_the_merchant_work_queue_puts_the_most_urgent_review_first(
    scenario: Scenario,
) -> None:
    hurried = scenario.other_shop()
    policy = await scenario.client.put(
        f"/v1/shops/{hurried.shop_id}/return-policy",
        json={"review_timeout": "PT1H"},
        headers=hurried.storefront.headers,
    )
    assert policy.status_code == 200, policy.text

    relaxed_review = await scenario.open_return()  # due in 48 hours
    awaiting_buyer = await scenario.open_return()
    await scenario.act(
        awaiting_buyer["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
    )
    urgent_review = await hurried.open_return()  # applied later, due in one hour
    refund_due = await scenario.open_return(
        order={"delivered_days_ago": None, "shipped_at": None}, type="refund_only"
    )
    await scenario.act(refund_due["id"], "approve", scenario.merchant)

    queue = await listed(scenario, scenario.platform, awaiting="merchant", sort="due_at")
    assert ids(queue) == [urgent_review["id"], relaxed_review["id"], refund_due["id"]]
    due_ats = [item["deadline"]["due_at"] for item in queue]
    assert due_ats == sorted(due_ats)
    assert all(item["deadline"]["actor"] == "merchant" for item in queue)

    own_queue = await listed(scenario, scenario.merchant, awaiting="merchant", sort="due_at")
    assert ids(own_queue) == [relaxed_review["id"], refund_due["id"]]

    buyer_queue = await listed(scenario, scenario.platform, awaiting="buyer", sort="due_at")
    assert ids(buyer_queue) == [awaiting_buyer["id"]]


async def test_the_work_queue_pages_by_due_date_without_gaps(scenario: Scenario) -> None:
    created = [(await scenario.open_return())["id"] for _ in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"awaiting": "merchant", "sort": "due_at", "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await scenario.client.get(
            "/v1/returns", params=params, headers=scenario.merchant.headers
        )
        assert response.status_code == 200, response.text
        seen.extend(ids(response.json()["items"]))
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == created  # same review timeout: the oldest application is due first


async def test_the_platform_sees_the_queue_of_escalated_returns(scenario: Scenario) -> None:
    disputed = await scenario.open_return()
    await scenario.act(
        disputed["id"],
        "reject",
        scenario.merchant,
        {"reason_code": "used", "note": "Worn", "evidence": ["https://example.com/worn.jpg"]},
    )
    await scenario.act(disputed["id"], "escalate", scenario.buyer)
    await scenario.open_return()

    queue = await listed(scenario, scenario.platform, awaiting="platform", sort="due_at")
    assert ids(queue) == [disputed["id"]]
    assert queue[0]["status"] == "arbitration"


async def test_returns_without_a_deadline_page_after_every_dated_one(scenario: Scenario) -> None:
    ended = []
    for _ in range(3):
        created = await scenario.open_return()
        await scenario.act(created["id"], "cancel", scenario.buyer)
        ended.append(created["id"])
    waiting = await scenario.open_return()

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"sort": "due_at", "limit": 1}
        if cursor is not None:
            params["cursor"] = cursor
        response = await scenario.client.get(
            "/v1/returns", params=params, headers=scenario.merchant.headers
        )
        assert response.status_code == 200, response.text
        seen.extend(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert ids(seen)[0] == waiting["id"]
    assert sorted(ids(seen)[1:]) == sorted(ended)
    assert ids(seen)[1:] == sorted(ended)  # no deadline: then by id
    assert [item["deadline"] for item in seen[1:]] == [None, None, None]


@pytest.mark.parametrize(
    "path", ["/v1/returns", "/v1/webhook-subscriptions", "/v1/webhook-deliveries"]
)
@pytest.mark.parametrize(
    "position",
    [
        {"created_at": "2026-01-01T00:00:00", "id": "x"},  # naive: no zone
        {"created_at": "0001-01-01T00:00:00+01:00", "id": "x"},  # before any row could be
        {"created_at": "2026-01-01T00:00:00+00:00", "id": 7},  # an id that is not text
    ],
)
async def test_every_list_refuses_a_forged_cursor_as_bad_input(
    scenario: Scenario, path: str, position: dict[str, object]
) -> None:
    response = await scenario.client.get(
        path, params={"cursor": encode_cursor(position)}, headers=scenario.platform.headers
    )
    assert_problem(response, 422, "validation_error")
