"""Bad input of every kind is answered with a problem+json, never a 500, and leaves nothing
half-done behind."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient

import tests.api.conftest as api_conftest
from returns_service.app import create_app
from returns_service.auth import CurrentCaller
from returns_service.db import Session, TransactionalRoute
from returns_service.returns.application import apply_for_return
from returns_service.returns.schemas import ReturnApplication
from tests.api.problem_checks import assert_problem
from tests.api.scenario import ADDRESS, Scenario, application_body, order_body
from tests.conftest import Database

ONE_MIB = 1024 * 1024
SHIPMENT = {"carrier": "SF-Express", "tracking_number": "SF1234567890"}


async def assert_nothing_applied(scenario: Scenario, order_id: str) -> None:
    """No return exists, and the order still has every unit returnable."""
    listed = await scenario.client.get("/v1/returns", headers=scenario.platform.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []
    order = await scenario.client.get(f"/v1/orders/{order_id}", headers=scenario.platform.headers)
    assert [line["returnable"] for line in order.json()["lines"]] == [2]


def _application(order_id: str, **changes: Any) -> dict[str, Any]:
    return {**application_body(order_id), **changes}


def _item(**changes: Any) -> list[dict[str, Any]]:
    return [{"line_id": "l1", "quantity": 1, "condition": "unopened", **changes}]


BAD_APPLICATIONS: dict[str, Any] = {
    "quantity_of_the_wrong_type": lambda o: _application(o, items=_item(quantity="two")),
    "items_not_a_list": lambda o: _application(o, items="l1"),
    "order_id_a_number": lambda o: {**_application(o), "order_id": 12345},
    "negative_quantity": lambda o: _application(o, items=_item(quantity=-1)),
    "zero_quantity": lambda o: _application(o, items=_item(quantity=0)),
    "fractional_quantity": lambda o: _application(o, items=_item(quantity=1.5)),
    "unknown_type": lambda o: _application(o, type="swap"),
    "unknown_reason": lambda o: _application(o, reason="bored"),
    "unknown_condition": lambda o: _application(o, items=_item(condition="like_new")),
    "extra_field": lambda o: _application(o, refund_amount=1),
    "extra_item_field": lambda o: _application(o, items=_item(unit_price=1)),
    "missing_items": lambda o: {k: v for k, v in _application(o).items() if k != "items"},
    "missing_reason": lambda o: {k: v for k, v in _application(o).items() if k != "reason"},
    "no_items": lambda o: _application(o, items=[]),
    "over_long_description": lambda o: _application(o, description="x" * 2001),
    "over_long_order_id": lambda o: {**_application(o), "order_id": "o" * 65},
    "evidence_not_a_url": lambda o: _application(o, evidence=["not a url"]),
    "a_json_array": lambda o: [_application(o)],
    "null": lambda o: None,
}


@pytest.mark.parametrize("make_body", BAD_APPLICATIONS.values(), ids=BAD_APPLICATIONS.keys())
async def test_a_malformed_application_is_a_validation_problem_and_saves_nothing(
    scenario: Scenario, make_body: Any
) -> None:
    order_id = await scenario.order()
    response = await scenario.client.post(
        "/v1/returns",
        content=json.dumps(make_body(order_id)).encode(),
        headers={**scenario.buyer.headers, "Content-Type": "application/json"},
    )
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"], problem
    assert all({"loc", "msg", "type"} <= error.keys() for error in problem["errors"])
    await assert_nothing_applied(scenario, order_id)


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"order_id": "o1",', b"", b"\xff\xfe\x00garbage"],
    ids=["broken", "truncated", "empty", "not_utf8"],
)
async def test_a_body_that_is_not_json_at_all_is_a_validation_problem(
    scenario: Scenario, raw: bytes
) -> None:
    order_id = await scenario.order()
    response = await scenario.client.post(
        "/v1/returns",
        content=raw,
        headers={**scenario.buyer.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 422, "validation_error")
    await assert_nothing_applied(scenario, order_id)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_sent_as_another_media_type_is_refused(
    scenario: Scenario, content_type: str
) -> None:
    order_id = await scenario.order()
    response = await scenario.client.post(
        "/v1/returns",
        content=json.dumps(application_body(order_id)).encode(),
        headers={**scenario.buyer.headers, "Content-Type": content_type},
    )
    assert_problem(response, 415, "unsupported_media_type")
    await assert_nothing_applied(scenario, order_id)


async def test_a_body_without_a_content_type_is_refused(scenario: Scenario) -> None:
    order_id = await scenario.order()
    response = await scenario.client.post(
        "/v1/returns",
        content=json.dumps(application_body(order_id)).encode(),
        headers=scenario.buyer.headers,
    )
    assert "content-type" not in response.request.headers
    assert_problem(response, 415, "unsupported_media_type")
    await assert_nothing_applied(scenario, order_id)


async def test_json_with_a_charset_parameter_is_json(scenario: Scenario) -> None:
    order_id = await scenario.order()
    response = await scenario.client.post(
        "/v1/returns",
        content=json.dumps(application_body(order_id)).encode(),
        headers={**scenario.buyer.headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


async def test_json_in_utf16_is_refused(scenario: Scenario) -> None:
    order_id = await scenario.order()
    response = await scenario.client.post(
        "/v1/returns",
        content=json.dumps(application_body(order_id)).encode("utf-16"),
        headers={**scenario.buyer.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 422, "validation_error")
    await assert_nothing_applied(scenario, order_id)


async def test_an_action_with_a_body_of_another_media_type_is_refused(
    scenario: Scenario,
) -> None:
    return_id = (await scenario.open_return())["id"]
    response = await scenario.client.post(
        f"/v1/returns/{return_id}/approve",
        content=json.dumps({"return_address": ADDRESS}).encode(),
        headers={**scenario.merchant.headers, "Content-Type": "text/plain"},
    )
    assert_problem(response, 415, "unsupported_media_type")
    stored = await scenario.get(return_id)
    assert stored.json()["status"] == "requested"


BAD_ORDERS: dict[str, dict[str, Any]] = {
    "naive_paid_at": {"paid_at": "2024-05-01T10:00:00"},
    "naive_delivered_at": {"delivered_at": "2024-05-01T10:00:00"},
    "not_a_date": {"delivered_at": "yesterday"},
    "lowercase_currency": {"currency": "cny"},
    "long_currency": {"currency": "CNYY"},
    "numeric_currency": {"currency": "156"},
    "negative_shipping_fee": {"shipping_fee": -1},
    "fractional_money": {"shipping_fee": 8.5},
    "extra_field": {"discount": 100},
    "no_lines": {"lines": []},
    "negative_unit_price": {
        "lines": [
            {
                "line_id": "l1",
                "sku": "S",
                "title": "T",
                "category": "apparel",
                "unit_price": -100,
                "quantity": 1,
            }
        ]
    },
    "duplicate_line_ids": {
        "lines": [
            {
                "line_id": "l1",
                "sku": "S",
                "title": "T",
                "category": "apparel",
                "unit_price": 100,
                "quantity": 1,
            }
        ]
        * 2
    },
    "over_long_title": {
        "lines": [
            {
                "line_id": "l1",
                "sku": "S",
                "title": "t" * 501,
                "category": "apparel",
                "unit_price": 100,
                "quantity": 1,
            }
        ]
    },
}


@pytest.mark.parametrize("change", BAD_ORDERS.values(), ids=BAD_ORDERS.keys())
async def test_a_malformed_order_is_a_validation_problem_and_is_not_registered(
    scenario: Scenario, change: dict[str, Any]
) -> None:
    body = {**order_body(scenario.shop_id, scenario.buyer.id), **change}
    response = await scenario.client.put(
        "/v1/orders/order-1", json=body, headers=scenario.storefront.headers
    )
    assert_problem(response, 422, "validation_error")
    stored = await scenario.client.get("/v1/orders/order-1", headers=scenario.platform.headers)
    assert_problem(stored, 404, "not_found")


@pytest.mark.parametrize(
    "order_id", ["a" * 65, "has space", "semi;colon"], ids=["too_long", "space", "semicolon"]
)
async def test_an_order_id_outside_the_identifier_alphabet_is_refused(
    scenario: Scenario, order_id: str
) -> None:
    response = await scenario.client.put(
        f"/v1/orders/{order_id}",
        json=order_body(scenario.shop_id, scenario.buyer.id),
        headers=scenario.storefront.headers,
    )
    assert_problem(response, 422, "validation_error")


BAD_ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("approve", "merchant", {"return_address": {**ADDRESS, "kind": "moon"}}),
    ("approve", "merchant", {"return_address": {"name": "desk"}}),
    ("approve", "merchant", {"return_address": ADDRESS, "refund_now": True}),
    ("reject", "merchant", {"reason_code": "stained"}),
    ("reject", "merchant", {"reason_code": "", "note": "empty reason code"}),
    ("cancel", "buyer", {"note": "n" * 2001}),
    ("refund", "merchant", {"amount": 0}),
    ("refund", "merchant", {"amount": "all"}),
    ("message", "buyer", {"body": ""}),
    ("message", "buyer", {"body": "x" * 4001}),
    ("message", "buyer", {"text": "hi"}),
]


@pytest.mark.parametrize(("action", "party", "body"), BAD_ACTIONS)
async def test_a_malformed_action_body_is_a_validation_problem_and_changes_nothing(
    scenario: Scenario, action: str, party: str, body: dict[str, Any]
) -> None:
    return_id = (await scenario.open_return())["id"]
    path = "messages" if action == "message" else action
    response = await scenario.client.post(
        f"/v1/returns/{return_id}/{path}", json=body, headers=getattr(scenario, party).headers
    )
    assert_problem(response, 422, "validation_error")
    stored = await scenario.get(return_id)
    assert stored.json()["version"] == 1
    assert stored.json()["status"] == "requested"
    assert len(await scenario.events(return_id)) == 1


async def test_malformed_shipments_receipts_and_decisions_are_validation_problems(
    scenario: Scenario,
) -> None:
    return_id = (await scenario.open_return())["id"]
    await scenario.act(return_id, "approve", scenario.merchant, {"return_address": ADDRESS})

    for shipment in (
        {"carrier": "SF", "tracking_number": "has spaces 1"},
        {"carrier": "", "tracking_number": "SF1"},
        {"carrier": "SF"},
    ):
        refused = await scenario.act(return_id, "ship", scenario.buyer, shipment)
        assert_problem(refused, 422, "validation_error")
    await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT)

    for receipt in (
        {"inspection": "meh"},
        {"inspection": "passed", "deductions": [{"kind": "damage", "amount": -500}]},
        {"inspection": "passed", "deductions": [{"kind": "damage", "amount": 1.5}]},
        {},
    ):
        refused = await scenario.act(return_id, "receive", scenario.merchant, receipt)
        assert_problem(refused, 422, "validation_error")

    too_much = await scenario.act(
        return_id,
        "receive",
        scenario.merchant,
        {"inspection": "failed", "deductions": [{"kind": "damage", "amount": 9901}]},
    )
    problem = assert_problem(too_much, 422, "rule_violation")
    assert problem["violations"][0]["rule"] == "deductions_exceed_refundable"

    stored = await scenario.get(return_id)
    assert stored.json()["status"] == "shipped"
    assert stored.json()["version"] == 3
    assert stored.json()["deductions"] == []

    await scenario.act(return_id, "receive", scenario.merchant, {"inspection": "passed"})
    await scenario.act(return_id, "reject", scenario.merchant, {"reason_code": "x", "note": "y"})
    await scenario.act(return_id, "escalate", scenario.buyer)
    for decision in (
        {"decision": "nobody", "note": "n"},
        {"decision": "buyer"},
        {"decision": "merchant", "amount": 100, "note": "a merchant win refunds nothing"},
    ):
        refused = await scenario.act(return_id, "arbitrate", scenario.platform, decision)
        assert_problem(refused, 422, "validation_error")
    stored = await scenario.get(return_id)
    assert stored.json()["status"] == "arbitration"


async def test_approving_a_return_that_comes_back_without_an_address_is_refused(
    scenario: Scenario,
) -> None:
    return_id = (await scenario.open_return())["id"]
    for body in (None, {}, {"instructions": "send it to us"}):
        refused = await scenario.act(return_id, "approve", scenario.merchant, body)
        problem = assert_problem(refused, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["body", "return_address"]
    stored = await scenario.get(return_id)
    assert stored.json()["status"] == "requested"
    assert stored.json()["version"] == 1


BAD_QUERIES: dict[str, dict[str, Any]] = {
    "unknown_status": {"status": "lost"},
    "unknown_type": {"type": "swap"},
    "unknown_reason": {"reason": "bored"},
    "flag_not_a_bool": {"buyer_flagged": "maybe"},
    "naive_created_from": {"created_from": "2024-05-01T10:00:00"},
    "not_a_date": {"created_to": "last tuesday"},
    "unknown_awaiting": {"awaiting": "carrier"},
    "unknown_sort": {"sort": "price"},
    "limit_not_a_number": {"limit": "ten"},
    "limit_over_200": {"limit": 201},
    "garbage_cursor": {"cursor": "not-a-cursor!"},
    "cursor_of_json_garbage": {"cursor": base64.urlsafe_b64encode(b"[1,2]").decode()},
    "cursor_with_a_bad_time": {
        "cursor": base64.urlsafe_b64encode(b'{"created_at":"soon","id":"x"}').decode()
    },
    "cursor_with_a_naive_time": {
        "cursor": base64.urlsafe_b64encode(b'{"created_at":"2024-01-01T00:00:00","id":"x"}')
        .decode()
        .rstrip("=")
    },
    "cursor_of_the_other_ordering": {
        "cursor": base64.urlsafe_b64encode(b'{"due_at":"2024-01-01T00:00:00Z","id":"x"}').decode()
    },
    "over_long_shop_id": {"shop_id": "s" * 65},
}


@pytest.mark.parametrize("params", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
async def test_a_malformed_list_query_is_a_validation_problem(
    scenario: Scenario, params: dict[str, Any]
) -> None:
    await scenario.open_return()
    response = await scenario.client.get(
        "/v1/returns", params=params, headers=scenario.platform.headers
    )
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        base64.urlsafe_b64encode(b'{"seq":"three"}').decode(),
        base64.urlsafe_b64encode(b'{"seq":-1}').decode(),
        base64.urlsafe_b64encode(b'{"seq":100000000000000000000}').decode(),
        base64.urlsafe_b64encode(b'{"created_at":"x","id":"y"}').decode(),
    ],
    ids=["garbage", "seq_not_a_number", "negative_seq", "huge_seq", "cursor_of_another_list"],
)
async def test_a_timeline_cursor_this_service_did_not_issue_is_refused(
    scenario: Scenario, cursor: str
) -> None:
    return_id = (await scenario.open_return())["id"]
    response = await scenario.client.get(
        f"/v1/returns/{return_id}/events",
        params={"cursor": cursor},
        headers=scenario.platform.headers,
    )
    assert_problem(response, 422, "validation_error")


async def test_an_unknown_route_is_a_not_found_problem(scenario: Scenario) -> None:
    for path in ("/v1/refunds", "/v2/returns", "/"):
        response = await scenario.client.get(path, headers=scenario.platform.headers)
        assert_problem(response, 404, "not_found")


async def test_a_wrong_method_is_a_method_not_allowed_problem(scenario: Scenario) -> None:
    return_id = (await scenario.open_return())["id"]
    for method, path in (
        ("DELETE", f"/v1/returns/{return_id}"),
        ("PUT", "/v1/returns"),
        ("GET", f"/v1/returns/{return_id}/approve"),
        ("POST", "/v1/orders/order-1"),
    ):
        response = await scenario.client.request(method, path, headers=scenario.platform.headers)
        assert_problem(response, 405, "method_not_allowed")
        assert response.headers.get("Allow"), response.headers
    stored = await scenario.get(return_id)
    assert stored.json()["version"] == 1


def _oversized_application(order_id: str) -> bytes:
    body = application_body(order_id, description="x" * ONE_MIB)
    return json.dumps(body).encode()


async def test_a_body_over_one_mebibyte_by_content_length_is_refused(scenario: Scenario) -> None:
    order_id = await scenario.order()
    raw = _oversized_application(order_id)
    response = await scenario.client.post(
        "/v1/returns",
        content=raw,
        headers={**scenario.buyer.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 413, "payload_too_large")
    await assert_nothing_applied(scenario, order_id)


async def test_a_streamed_body_over_one_mebibyte_without_content_length_is_refused(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    raw = _oversized_application(order_id)
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 64 * 1024):
            sent.append(start)
            yield raw[start : start + 64 * 1024]

    response = await scenario.client.post(
        "/v1/returns",
        content=chunks(),
        headers={**scenario.buyer.headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in {name.lower() for name in response.request.headers}
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "payload_too_large")
    await assert_nothing_applied(scenario, order_id)


async def test_a_streamed_body_under_the_limit_is_accepted(scenario: Scenario) -> None:
    order_id = await scenario.order()
    raw = json.dumps(application_body(order_id)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 16):
            yield raw[start : start + 16]

    response = await scenario.client.post(
        "/v1/returns",
        content=chunks(),
        headers={**scenario.buyer.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("if_match", ["garbage", '"abc"', '"-1"', '"99999999999999"', '""'])
async def test_a_garbage_if_match_never_acts(scenario: Scenario, if_match: str) -> None:
    return_id = (await scenario.open_return())["id"]
    response = await scenario.client.post(
        f"/v1/returns/{return_id}/cancel",
        json={},
        headers={**scenario.buyer.headers, "If-Match": if_match},
    )
    assert_problem(response, 412, "version_mismatch")
    stored = await scenario.get(return_id)
    assert stored.json()["status"] == "requested"
    assert stored.json()["version"] == 1


async def test_if_match_star_and_a_weak_current_tag_both_act(scenario: Scenario) -> None:
    return_id = (await scenario.open_return())["id"]
    approved = await scenario.client.post(
        f"/v1/returns/{return_id}/approve",
        json={"return_address": ADDRESS},
        headers={**scenario.merchant.headers, "If-Match": "*"},
    )
    assert approved.status_code == 200, approved.text
    cancelled = await scenario.client.post(
        f"/v1/returns/{return_id}/cancel",
        json={},
        headers={**scenario.buyer.headers, "If-Match": 'W/"2"'},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


# PostgreSQL text cannot hold U+0000: without a guard these were 500s there and stored on SQLite.
NUL_INPUTS: dict[str, Any] = {
    "description": lambda o: _application(o, description="before\x00after"),
    "line_id": lambda o: _application(o, items=_item(line_id="l1\x00")),
    "escaped_backslash_then_nul": lambda o: _application(o, description="a\\\x00"),
}


@pytest.mark.parametrize("make_body", NUL_INPUTS.values(), ids=NUL_INPUTS.keys())
async def test_a_nul_character_in_an_application_is_refused_on_every_database(
    scenario: Scenario, make_body: Any
) -> None:
    order_id = await scenario.order()
    response = await scenario.client.post(
        "/v1/returns", json=make_body(order_id), headers=scenario.buyer.headers
    )
    assert_problem(response, 422, "validation_error")
    await assert_nothing_applied(scenario, order_id)


async def test_a_backslash_and_u0000_as_plain_text_are_not_mistaken_for_a_nul(
    scenario: Scenario,
) -> None:
    order_id = await scenario.order()
    response = await scenario.client.post(
        "/v1/returns",
        json=_application(order_id, description="C:\\u0000 is a path, not a NUL"),
        headers=scenario.buyer.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["description"] == "C:\\u0000 is a path, not a NUL"


async def test_a_nul_character_in_a_message_or_an_order_is_refused(scenario: Scenario) -> None:
    return_id = (await scenario.open_return())["id"]
    message = await scenario.client.post(
        f"/v1/returns/{return_id}/messages",
        json={"body": "hello\x00"},
        headers=scenario.buyer.headers,
    )
    assert_problem(message, 422, "validation_error")
    assert len(await scenario.events(return_id)) == 1

    order = order_body(scenario.shop_id, scenario.buyer.id, buyer_region="CN\x00GD")
    registered = await scenario.client.put(
        "/v1/orders/nul-order", json=order, headers=scenario.storefront.headers
    )
    assert_problem(registered, 422, "validation_error")
    attributes = order_body(scenario.shop_id, scenario.buyer.id)
    attributes["lines"][0]["attributes"] = {"colour": "white\x00"}
    registered = await scenario.client.put(
        "/v1/orders/nul-order", json=attributes, headers=scenario.storefront.headers
    )
    assert_problem(registered, 422, "validation_error")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/returns/a%00b"),
        ("GET", "/v1/returns/a%00b/events"),
        ("POST", "/v1/returns/a%00b/cancel"),
        ("GET", "/v1/orders/a%00b"),
        ("GET", "/v1/shops/a%00b/return-policy"),
    ],
)
async def test_a_nul_character_in_a_path_id_is_a_validation_problem(
    scenario: Scenario, method: str, path: str
) -> None:
    response = await scenario.client.request(method, path, headers=scenario.buyer.headers)
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "params",
    [
        {"shop_id": "s\x00"},
        {"buyer_id": "\x00"},
        {
            "cursor": base64.urlsafe_b64encode(
                b'{"created_at":"2024-01-01T00:00:00+00:00","id":"\\u0000"}'
            ).decode()
        },
    ],
    ids=["shop_id", "buyer_id", "inside_the_cursor"],
)
async def test_a_nul_character_in_a_list_query_is_a_validation_problem(
    scenario: Scenario, params: dict[str, str]
) -> None:
    await scenario.open_return()
    response = await scenario.client.get(
        "/v1/returns", params=params, headers=scenario.platform.headers
    )
    assert_problem(response, 422, "validation_error")


@pytest.fixture
async def app_with_a_faulty_route(database: Database) -> AsyncIterator[AsyncClient]:
    """The real app plus one route that writes a return and then fails unexpectedly."""
    app = create_app(api_conftest.test_settings(database))
    faulty = APIRouter(route_class=TransactionalRoute)

    @faulty.post("/v1/test-only/apply-then-fail")
    async def apply_then_fail(
        body: ReturnApplication, caller: CurrentCaller, session: Session
    ) -> None:
        await apply_for_return(session, caller, body)
        raise RuntimeError("an unexpected failure after the return was written")

    app.include_router(faulty)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://returns.test") as http:
            yield http


async def test_an_unexpected_failure_is_an_internal_error_problem_and_writes_nothing(
    app_with_a_faulty_route: AsyncClient,
) -> None:
    scenario = Scenario(app_with_a_faulty_route)
    order_id = await scenario.order()

    response = await scenario.client.post(
        "/v1/test-only/apply-then-fail",
        json=application_body(order_id),
        headers=scenario.buyer.headers,
    )

    problem = assert_problem(response, 500, "internal_error")
    assert "unexpected failure" not in problem["detail"]
    assert "Traceback" not in response.text
    await assert_nothing_applied(scenario, order_id)


EXTREME_TIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("at", EXTREME_TIMES, ids=["before_year_1_in_utc", "after_9999_in_utc"])
async def test_a_time_outside_the_calendar_in_utc_is_a_validation_problem(
    scenario: Scenario, at: str
) -> None:
    for params in (
        {"created_from": at},
        {"created_to": at},
        {"cursor": base64.urlsafe_b64encode(json.dumps({"created_at": at, "id": "x"}).encode())},
    ):
        listed = await scenario.client.get(
            "/v1/returns", params=params, headers=scenario.platform.headers
        )
        assert_problem(listed, 422, "validation_error")
    for field in ("paid_at", "shipped_at", "delivered_at"):
        body = {**order_body(scenario.shop_id, scenario.buyer.id), field: at}
        registered = await scenario.client.put(
            "/v1/orders/far-away", json=body, headers=scenario.storefront.headers
        )
        assert_problem(registered, 422, "validation_error")


async def test_an_order_delivered_at_the_end_of_the_calendar_is_refused_before_any_window_math(
    scenario: Scenario,
) -> None:
    # Valid in UTC, but delivered_at + the return window would overflow when applying.
    body = order_body(scenario.shop_id, scenario.buyer.id)
    body["delivered_at"] = "9999-12-31T00:00:00+00:00"
    registered = await scenario.client.put(
        "/v1/orders/far-away", json=body, headers=scenario.storefront.headers
    )
    assert_problem(registered, 422, "validation_error")
    missing = await scenario.client.get("/v1/orders/far-away", headers=scenario.platform.headers)
    assert_problem(missing, 404, "not_found")


async def test_an_order_worth_more_than_money_columns_hold_is_refused(scenario: Scenario) -> None:
    # Each line is within bounds, but together they pass what a 64-bit refund amount holds.
    lines = [
        {
            "line_id": f"l{n}",
            "sku": f"GOLD-{n}",
            "title": "Gold bar",
            "category": "bullion",
            "unit_price": 10**12,
            "quantity": 100_000,
        }
        for n in range(100)
    ]
    body = order_body(scenario.shop_id, scenario.buyer.id, lines=lines)
    registered = await scenario.client.put(
        "/v1/orders/gold", json=body, headers=scenario.storefront.headers
    )
    problem = assert_problem(registered, 422, "validation_error")
    assert problem["errors"]
    missing = await scenario.client.get("/v1/orders/gold", headers=scenario.platform.headers)
    assert_problem(missing, 404, "not_found")


async def test_a_return_id_of_any_length_is_simply_not_found(scenario: Scenario) -> None:
    await scenario.open_return()
    for return_id in ("x", "r" * 37, "r" * 5000):
        response = await scenario.client.get(
            f"/v1/returns/{return_id}", headers=scenario.platform.headers
        )
        assert_problem(response, 404, "not_found")
        acted = await scenario.act(return_id, "cancel", scenario.buyer)
        assert_problem(acted, 404, "not_found")
