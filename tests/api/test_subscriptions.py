"""Webhook subscriptions: who may subscribe to what, the secret shown once, nobody else's."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.scenario import PROBLEM, Party
from tests.api.webhook_support import Harness, harness
from tests.conftest import Database

URL = "https://hooks.example.com/returns"


@pytest.fixture
async def world(database: Database) -> AsyncIterator[Harness]:
    async with harness(database) as built:
        yield built


async def _list(world: Harness, by: Party, **params: Any) -> list[dict[str, Any]]:
    response = await world.scenario.client.get(
        "/v1/webhook-subscriptions", params=params, headers=by.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_merchant_subscribes_its_shop_and_sees_the_secret_only_once(
    world: Harness,
) -> None:
    scenario = world.scenario
    response = await scenario.client.post(
        "/v1/webhook-subscriptions",
        json={"url": URL, "events": ["return.*", "return.refunded"]},
        headers=scenario.merchant.headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["shop_id"] == scenario.shop_id
    assert created["url"] == URL
    assert created["events"] == ["return.*", "return.refunded"]
    assert created["enabled"] is True
    assert response.headers["Location"] == f"/v1/webhook-subscriptions/{created['id']}"
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24

    listed = await _list(world, scenario.merchant)
    assert [item["id"] for item in listed] == [created["id"]]
    one = await scenario.client.get(
        f"/v1/webhook-subscriptions/{created['id']}", headers=scenario.merchant.headers
    )
    assert one.status_code == 200
    for shown in (*listed, one.json()):
        assert "secret" not in shown
        assert secret not in str(shown)

    again = await world.subscribe(URL)
    assert again["secret"] != secret


async def test_the_platform_subscribes_to_every_shop_or_to_one(world: Harness) -> None:
    scenario = world.scenario
    everywhere = await world.subscribe(URL, by=scenario.platform)
    one_shop = await world.subscribe(URL, by=scenario.platform, shop_id=scenario.shop_id)
    assert everywhere["shop_id"] is None
    assert one_shop["shop_id"] == scenario.shop_id

    listed = await _list(world, scenario.platform)
    assert {everywhere["id"], one_shop["id"]} <= {item["id"] for item in listed}
    filtered = await _list(world, scenario.platform, shop_id=scenario.shop_id)
    assert [item["id"] for item in filtered] == [one_shop["id"]]
    # The platform's subscriptions are the platform's: not listed to the shop's merchant.
    assert await _list(world, scenario.merchant) == []


async def test_another_merchant_cannot_see_or_delete_a_subscription(world: Harness) -> None:
    scenario = world.scenario
    other = scenario.other_shop()
    created = await world.subscribe(URL)

    path = f"/v1/webhook-subscriptions/{created['id']}"
    for response in (
        await scenario.client.get(path, headers=other.merchant.headers),
        await scenario.client.delete(path, headers=other.merchant.headers),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "not_found"
    assert await _list(world, other.merchant) == []
    assert await _list(world, other.merchant, shop_id=scenario.shop_id) == []
    # Still there for its owner.
    assert [item["id"] for item in await _list(world, scenario.merchant)] == [created["id"]]


async def test_a_merchant_cannot_subscribe_for_another_shop(world: Harness) -> None:
    scenario = world.scenario
    response = await scenario.client.post(
        "/v1/webhook-subscriptions",
        json={"url": URL, "events": ["return.*"], "shop_id": scenario.other_shop().shop_id},
        headers=scenario.merchant.headers,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("role", ["buyer", "storefront"])
async def test_buyers_and_storefronts_do_not_subscribe(world: Harness, role: str) -> None:
    scenario = world.scenario
    party = scenario.buyer if role == "buyer" else scenario.storefront
    created = await world.subscribe(URL)
    for response in (
        await scenario.client.post(
            "/v1/webhook-subscriptions",
            json={"url": URL, "events": ["return.*"]},
            headers=party.headers,
        ),
        await scenario.client.get("/v1/webhook-subscriptions", headers=party.headers),
        await scenario.client.delete(
            f"/v1/webhook-subscriptions/{created['id']}", headers=party.headers
        ),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://hooks.example.com/x", "events": ["return.*"]},
        {"url": "not a url", "events": ["return.*"]},
        {"url": URL, "events": []},
        {"url": URL, "events": ["order.*"]},
        {"url": URL, "events": ["return.refundd"]},
        {"url": URL, "events": ["return.*"], "secret": "whsec_mine"},
    ],
    ids=["ftp", "not-a-url", "no-events", "unknown-family", "typo", "own-secret"],
)
async def test_a_subscription_needs_an_http_url_and_known_events(
    world: Harness, body: dict[str, Any]
) -> None:
    scenario = world.scenario
    response = await scenario.client.post(
        "/v1/webhook-subscriptions", json=body, headers=scenario.merchant.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert await _list(world, scenario.merchant) == []


async def test_deleting_a_subscription_stops_it_and_forgets_it(world: Harness) -> None:
    scenario = world.scenario
    created = await world.subscribe(URL)
    path = f"/v1/webhook-subscriptions/{created['id']}"
    deleted = await scenario.client.delete(path, headers=scenario.merchant.headers)
    assert deleted.status_code == 204
    assert (await scenario.client.get(path, headers=scenario.merchant.headers)).status_code == 404
    assert (
        await scenario.client.delete(path, headers=scenario.merchant.headers)
    ).status_code == 404

    await world.approved_return()
    await world.fan_out()
    assert await world.deliveries(created["id"]) == []


async def test_a_list_of_subscriptions_is_paged(world: Harness) -> None:
    scenario = world.scenario
    made = [(await world.subscribe(f"{URL}/{n}"))["id"] for n in range(3)]
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await scenario.client.get(
            "/v1/webhook-subscriptions", params=params, headers=scenario.merchant.headers
        )
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == made


async def test_events_reach_only_the_subscriptions_whose_shop_and_patterns_match(
    world: Harness,
) -> None:
    scenario = world.scenario
    other = scenario.other_shop()
    refunds_only = await world.subscribe(URL, ["return.refunded"])
    everything_here = await world.subscribe(URL, ["return.*"])
    approvals_and_messages = await world.subscribe(URL, ["return.approved", "return.message"])
    other_shop = await world.subscribe(URL, ["return.*"], by=other.merchant)
    platform_all = await world.subscribe(URL, ["return.*"], by=scenario.platform)

    return_id = (await world.approved_return())["id"]  # requested, approved
    message = await scenario.client.post(
        f"/v1/returns/{return_id}/messages", json={"body": "hi"}, headers=scenario.buyer.headers
    )
    assert message.status_code == 201
    await world.fan_out()

    async def types(subscription: dict[str, Any]) -> list[str]:
        return sorted(row.event_type for row in await world.deliveries(subscription["id"]))

    assert await types(refunds_only) == []
    assert await types(everything_here) == ["return.approved", "return.message", "return.requested"]
    assert await types(approvals_and_messages) == ["return.approved", "return.message"]
    assert await types(other_shop) == []
    assert await types(platform_all) == ["return.approved", "return.message", "return.requested"]
    for row in await world.deliveries(platform_all["id"]):
        assert row.shop_id == scenario.shop_id


async def test_a_subscription_hears_of_events_after_it_was_made(world: Harness) -> None:
    before = (await world.scenario.open_return())["id"]
    subscription = await world.subscribe(URL)
    after = (await world.scenario.open_return())["id"]
    await world.fan_out()
    deliveries = await world.deliveries(subscription["id"])
    assert [row.event_type for row in deliveries] == ["return.requested"]
    event_ids = {row.id for row in await world.outbox(after)}
    assert {row.event_id for row in deliveries} <= event_ids
    assert before != after
