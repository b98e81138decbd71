"""Who may do what: tokens that are not good enough, other callers' resources (404, never a
403 that confirms they exist), roles that may not act (403), and lists scoped to the caller."""

from __future__ import annotations

import base64
import json
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from httpx import Response

from returns_service import auth
from returns_service.rules.transitions import roles_for
from returns_service.rules.vocabulary import Action
from tests.api.problem_checks import assert_problem
from tests.api.scenario import (
    ADDRESS,
    TEST_JWT_SECRET,
    Party,
    Scenario,
    application_body,
    bearer,
    order_body,
    token,
)

SHIPMENT = {"carrier": "SF-Express", "tracking_number": "SF1234567890"}

# A body each action would accept, so that only who is asking decides the answer.
ACTION_BODIES: dict[str, dict[str, Any]] = {
    "approve": {"return_address": ADDRESS},
    "reject": {"reason_code": "item_stained", "note": "Stained"},
    "cancel": {"note": "never mind"},
    "ship": SHIPMENT,
    "receive": {"inspection": "passed"},
    "refund": {},
    "send_replacement": SHIPMENT,
    "escalate": {"note": "unfair"},
    "arbitrate": {"decision": "buyer", "note": "for the buyer"},
    "extend": {"note": "warehouse closed"},
}


def _b64url(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unsigned_token(role: str = "platform", sub: str = "attacker") -> str:
    """A token claiming `alg: none`, built by hand: header, payload, empty signature."""
    exp = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    header = _b64url({"alg": "none", "typ": "JWT"})
    payload = _b64url({"sub": sub, "role": role, "exp": exp})
    return f"{header}.{payload}."


def _claims(**claims: Any) -> dict[str, Any]:
    return {"exp": datetime.now(UTC) + timedelta(hours=1), **claims}


def _hs512_token() -> str:
    """Signed with the right secret but another algorithm than the one the service accepts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test secret is short for HS512; that is the point
        return jwt.encode(_claims(sub="cs-1", role="platform"), TEST_JWT_SECRET, "HS512")


BAD_CREDENTIALS: dict[str, dict[str, str]] = {
    "missing": {},
    "not_bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty_bearer": {"Authorization": "Bearer "},
    "not_a_jwt": {"Authorization": "Bearer not.a.jwt"},
    "expired": bearer(token("platform", "cs-1", ttl=-60)),
    "bad_signature": bearer(
        jwt.encode(_claims(sub="cs-1", role="platform"), "another-secret-entirely-32-bytes!")
    ),
    "alg_none": bearer(unsigned_token()),
    "other_hmac_alg": bearer(_hs512_token()),
    "unknown_role": bearer(token("courier", "c-1")),
    "role_not_a_string": bearer(
        jwt.encode(_claims(sub="cs-1", role=["platform"]), TEST_JWT_SECRET, algorithm="HS256")
    ),
    "subject_not_a_string": bearer(
        jwt.encode(_claims(sub=42, role="platform"), TEST_JWT_SECRET, algorithm="HS256")
    ),
    "subject_too_long": bearer(token("platform", "p" * 65)),
    "subject_with_nul": bearer(token("platform", "cs\x00agent")),
    "merchant_shop_with_nul": bearer(token("merchant", "m-1", "shop\x00")),
    "merchant_shop_not_a_string": bearer(
        jwt.encode(
            _claims(sub="m-1", role="merchant", shop_id=["s1", "s2"]),
            TEST_JWT_SECRET,
            algorithm="HS256",
        )
    ),
    "system_role": bearer(token("system", "system")),
    "merchant_without_shop": bearer(token("merchant", "m-1")),
    "no_subject": bearer(jwt.encode(_claims(role="platform"), TEST_JWT_SECRET, algorithm="HS256")),
    "no_expiry": bearer(
        jwt.encode({"sub": "cs-1", "role": "platform"}, TEST_JWT_SECRET, algorithm="HS256")
    ),
}


def assert_unauthenticated(response: Response) -> None:
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("credentials", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
async def test_a_caller_without_a_good_token_is_unauthenticated(
    scenario: Scenario, credentials: dict[str, str]
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]

    assert_unauthenticated(await scenario.client.get("/v1/returns", headers=credentials))
    assert_unauthenticated(
        await scenario.client.get(f"/v1/returns/{return_id}", headers=credentials)
    )
    assert_unauthenticated(
        await scenario.client.post(
            f"/v1/returns/{return_id}/approve",
            json=ACTION_BODIES["approve"],
            headers=credentials,
        )
    )
    assert_unauthenticated(
        await scenario.client.put(
            "/v1/orders/forged-order",
            json=order_body(scenario.shop_id, scenario.buyer.id),
            headers=credentials,
        )
    )

    stored = await scenario.get(return_id)
    assert stored.json()["status"] == "requested"
    assert stored.json()["version"] == 1
    missing = await scenario.client.get(
        "/v1/orders/forged-order", headers=scenario.platform.headers
    )
    assert_problem(missing, 404, "not_found")


class _TwoMinutesLater(datetime):
    """The clock PyJWT and the service's token cache read, two minutes ahead."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return datetime.now(tz) + timedelta(minutes=2)


async def test_a_token_verified_before_is_refused_once_it_has_expired(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await scenario.open_return()
    credentials = bearer(token("merchant", scenario.merchant.id, scenario.shop_id, ttl=60))
    first = await scenario.client.get(f"/v1/returns/{created['id']}", headers=credentials)
    assert first.status_code == 200, first.text

    monkeypatch.setattr(jwt.api_jwt, "datetime", _TwoMinutesLater)
    monkeypatch.setattr(auth, "datetime", _TwoMinutesLater)
    later = await scenario.client.get(f"/v1/returns/{created['id']}", headers=credentials)
    assert_unauthenticated(later)
    assert later.json()["detail"] == "the token has expired"


async def test_an_unauthenticated_request_is_refused_before_its_body_is_judged(
    scenario: Scenario,
) -> None:
    response = await scenario.client.post("/v1/returns", json={"nonsense": True})
    assert_unauthenticated(response)


async def _snapshot(scenario: Scenario, return_id: str) -> tuple[Any, ...]:
    stored = await scenario.get(return_id)
    assert stored.status_code == 200, stored.text
    return stored.json(), await scenario.events(return_id)


async def _strangers(scenario: Scenario) -> list[Party]:
    other = scenario.other_shop()
    return [other.buyer, other.merchant]


async def test_another_buyer_or_shop_cannot_reach_a_return_through_any_endpoint(
    scenario: Scenario,
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]
    before = await _snapshot(scenario, return_id)

    for stranger in await _strangers(scenario):
        headers = stranger.headers
        answers = [
            await scenario.client.get(f"/v1/returns/{return_id}", headers=headers),
            await scenario.client.get(f"/v1/returns/{return_id}/events", headers=headers),
            await scenario.client.post(
                f"/v1/returns/{return_id}/messages", json={"body": "hello?"}, headers=headers
            ),
        ]
        never: list[Any] = []
        for action, body in ACTION_BODIES.items():
            answer = await scenario.client.post(
                f"/v1/returns/{return_id}/{action}", json=body, headers=headers
            )
            # A role that may never take the action hears so first, whatever the id names
            # (so nothing about this return); one that may, hears the return is not there.
            may = stranger.role in {role.value for role in roles_for(Action(action))}
            (answers if may else never).append(answer)
        for answer in answers:
            problem = assert_problem(answer, 404, "not_found")
            assert "ETag" not in answer.headers
            assert created["order_id"] not in problem["detail"]
        for answer in never:
            problem = assert_problem(answer, 403, "forbidden")
            assert "ETag" not in answer.headers
            assert created["order_id"] not in problem["detail"]

    assert await _snapshot(scenario, return_id) == before


async def test_a_stranger_is_told_the_same_about_a_return_that_exists_and_one_that_does_not(
    scenario: Scenario,
) -> None:
    return_id = (await scenario.open_return())["id"]
    stranger = scenario.other_shop().merchant
    real = await scenario.client.get(f"/v1/returns/{return_id}", headers=stranger.headers)
    made_up = await scenario.client.get(
        "/v1/returns/00000000-0000-0000-0000-000000000000", headers=stranger.headers
    )
    real_problem = assert_problem(real, 404, "not_found")
    made_up_problem = assert_problem(made_up, 404, "not_found")
    assert real_problem["title"] == made_up_problem["title"]
    assert real_problem.keys() == made_up_problem.keys()


async def test_another_buyer_or_shop_cannot_read_an_order_or_apply_against_it(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    for stranger in await _strangers(scenario):
        read = await scenario.client.get(f"/v1/orders/{order_id}", headers=stranger.headers)
        assert_problem(read, 404, "not_found")
        preview = await scenario.client.post(
            "/v1/returns/preview", json=application_body(order_id), headers=stranger.headers
        )
        assert_problem(preview, 404, "not_found")
    other_buyer = scenario.other_shop().buyer
    applied = await scenario.apply(order_id, by=other_buyer)
    assert_problem(applied, 404, "not_found")

    listed = await scenario.client.get("/v1/returns", headers=scenario.platform.headers)
    assert listed.json()["items"] == []
    order = await scenario.client.get(f"/v1/orders/{order_id}", headers=scenario.buyer.headers)
    assert order.json()["lines"][0]["returnable"] == 2


@pytest.mark.parametrize("party", ["buyer", "merchant"])
async def test_only_storefronts_and_the_platform_register_orders(
    scenario: Scenario, party: str
) -> None:
    order_id = await scenario.order()
    caller: Party = getattr(scenario, party)
    rewritten = order_body(scenario.shop_id, "someone-else", shipping_fee=0)
    existing = await scenario.client.put(
        f"/v1/orders/{order_id}", json=rewritten, headers=caller.headers
    )
    assert_problem(existing, 403, "forbidden")
    new = await scenario.client.put(
        "/v1/orders/brand-new-order", json=rewritten, headers=caller.headers
    )
    assert_problem(new, 403, "forbidden")

    stored = await scenario.client.get(f"/v1/orders/{order_id}", headers=scenario.buyer.headers)
    assert stored.status_code == 200
    assert stored.json()["buyer_id"] == scenario.buyer.id
    assert stored.json()["shipping_fee"] == 800
    missing = await scenario.client.get(
        "/v1/orders/brand-new-order", headers=scenario.platform.headers
    )
    assert_problem(missing, 404, "not_found")


async def test_another_shop_cannot_read_or_replace_a_policy(scenario: Scenario) -> None:
    url = f"/v1/shops/{scenario.shop_id}/return-policy"
    own = await scenario.client.put(
        url, json={"window_days": 10}, headers=scenario.merchant.headers
    )
    assert own.status_code == 200, own.text
    other_merchant = scenario.other_shop().merchant

    read = await scenario.client.get(url, headers=other_merchant.headers)
    assert_problem(read, 404, "not_found")
    replaced = await scenario.client.put(
        url, json={"window_days": 30}, headers=other_merchant.headers
    )
    assert_problem(replaced, 404, "not_found")

    for buyer in (scenario.buyer, scenario.other_shop().buyer):
        assert_problem(await scenario.client.get(url, headers=buyer.headers), 403, "forbidden")
        assert_problem(
            await scenario.client.put(url, json={"window_days": 30}, headers=buyer.headers),
            403,
            "forbidden",
        )

    stored = await scenario.client.get(url, headers=scenario.merchant.headers)
    assert stored.json()["window_days"] == 10
    assert stored.json()["version"] == 1


ROLE_REFUSALS = [
    ("buyer", "approve"),
    ("buyer", "reject"),
    ("buyer", "receive"),
    ("buyer", "refund"),
    ("buyer", "send_replacement"),
    ("buyer", "arbitrate"),
    ("buyer", "extend"),
    ("merchant", "cancel"),
    ("merchant", "ship"),
    ("merchant", "escalate"),
    ("merchant", "arbitrate"),
    ("storefront", "approve"),
    ("storefront", "cancel"),
    ("storefront", "refund"),
    ("platform", "cancel"),
    ("platform", "ship"),
]


@pytest.mark.parametrize(("party", "action"), ROLE_REFUSALS)
async def test_a_role_that_may_not_take_an_action_is_forbidden(
    scenario: Scenario, party: str, action: str
) -> None:
    return_id = (await scenario.open_return())["id"]
    before = await _snapshot(scenario, return_id)
    caller: Party = getattr(scenario, party)

    refused = await scenario.act(return_id, action, caller, ACTION_BODIES[action])
    assert_problem(refused, 403, "forbidden")

    assert await _snapshot(scenario, return_id) == before


async def test_a_merchant_cannot_apply_for_a_return(scenario: Scenario) -> None:
    order_id = await scenario.order()
    refused = await scenario.apply(order_id, by=scenario.merchant)
    assert_problem(refused, 403, "forbidden")
    listed = await scenario.client.get("/v1/returns", headers=scenario.platform.headers)
    assert listed.json()["items"] == []


async def test_the_storefront_may_apply_for_the_buyer(scenario: Scenario) -> None:
    order_id = await scenario.order()
    applied = await scenario.apply(order_id, by=scenario.storefront)
    assert applied.status_code == 201, applied.text
    assert applied.json()["buyer_id"] == scenario.buyer.id


async def test_a_storefront_cannot_post_a_message(scenario: Scenario) -> None:
    return_id = (await scenario.open_return())["id"]
    refused = await scenario.client.post(
        f"/v1/returns/{return_id}/messages",
        json={"body": "hello from the storefront"},
        headers=scenario.storefront.headers,
    )
    assert_problem(refused, 403, "forbidden")
    assert [event["type"] for event in await scenario.events(return_id)] == ["created"]


async def test_buyers_and_merchants_list_only_their_own_returns_whatever_they_ask(
    scenario: Scenario,
) -> None:
    mine = await scenario.open_return()
    other = scenario.other_shop()
    theirs = await other.open_return()

    async def listed(party: Party, **params: Any) -> list[str]:
        response = await scenario.client.get("/v1/returns", params=params, headers=party.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await listed(scenario.buyer) == [mine["id"]]
    assert await listed(scenario.buyer, buyer_id=other.buyer.id) == []
    assert await listed(scenario.buyer, shop_id=other.shop_id) == []
    assert await listed(scenario.buyer, buyer_id=scenario.buyer.id) == [mine["id"]]

    assert await listed(scenario.merchant) == [mine["id"]]
    assert await listed(scenario.merchant, shop_id=other.shop_id) == []
    assert await listed(scenario.merchant, buyer_id=other.buyer.id) == []
    assert await listed(scenario.merchant, shop_id=scenario.shop_id) == [mine["id"]]

    assert await listed(other.merchant, awaiting="merchant", sort="due_at") == [theirs["id"]]
    assert sorted(await listed(scenario.platform)) == sorted([mine["id"], theirs["id"]])
    assert sorted(await listed(scenario.storefront)) == sorted([mine["id"], theirs["id"]])
    assert await listed(scenario.platform, shop_id=other.shop_id) == [theirs["id"]]


async def test_a_platform_agent_with_the_longest_allowed_id_acts_and_is_named_in_the_timeline(
    scenario: Scenario,
) -> None:
    return_id = (await scenario.open_return())["id"]
    agent = Party("platform", "a" * 64)
    approved = await scenario.act(return_id, "approve", agent, {"return_address": ADDRESS})
    assert approved.status_code == 200, approved.text
    events = await scenario.events(return_id)
    assert events[-1]["actor"] == {"role": "platform", "id": "a" * 64}


ROLES = ("buyer", "merchant", "storefront", "platform")


def _never_allowed() -> list[tuple[str, str, str]]:
    """(method, path template, role) for every role that may never call the operation."""
    allowed: dict[tuple[str, str], set[str]] = {
        ("PUT", "/v1/orders/{order}"): {"storefront", "platform"},
        ("PUT", "/v1/shops/{shop}/return-policy"): {"merchant", "storefront", "platform"},
        ("PUT", "/v1/shops/{shop}/automations"): {"merchant", "storefront", "platform"},
        ("POST", "/v1/webhook-subscriptions"): {"merchant", "platform"},
        ("POST", "/v1/returns"): {"buyer", "storefront", "platform"},
        ("POST", "/v1/returns/preview"): {"buyer", "storefront", "platform", "merchant"},
        ("POST", "/v1/returns/batch"): {"merchant", "platform"},
        ("POST", "/v1/returns/{rid}/messages"): {"buyer", "merchant", "platform"},
    }
    for action in Action:
        if action is not Action.CLOSE:
            allowed[("POST", f"/v1/returns/{{rid}}/{action.value}")] = {
                role.value for role in roles_for(action) if role.value in ROLES
            }
    return [
        (method, path, role)
        for (method, path), roles in allowed.items()
        for role in ROLES
        if role not in roles
    ]


@pytest.mark.parametrize(
    "body", [{}, {"unexpected": "\u0001"}, [1, 2]], ids=["empty", "odd", "list"]
)
async def test_a_role_that_may_never_do_something_is_refused_before_its_body_is_read(
    scenario: Scenario, body: Any
) -> None:
    """Found: a buyer's PUT /v1/orders/{id} with {} was a 422 listing the missing fields."""
    created = await scenario.open_return()
    cases = _never_allowed()
    assert len(cases) > 25
    for method, template, role in cases:
        path = template.format(order=created["order_id"], shop=scenario.shop_id, rid=created["id"])
        party = getattr(scenario, role)
        response = await scenario.client.request(method, path, json=body, headers=party.headers)
        assert response.status_code == 403, (method, path, role, response.text)
        assert response.json()["code"] == "forbidden"
    assert (await scenario.get(created["id"])).json()["version"] == 1
