"""Every answer names its request: the caller's X-Request-Id when it is sane, else a new one."""

from __future__ import annotations

import re

from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from returns_service.observability.request_context import MAX_REQUEST_ID_LENGTH
from tests.api.problem_checks import assert_problem
from tests.api.scenario import ADDRESS, Scenario
from tests.api.webhook_support import harness
from tests.conftest import Database
from tests.webhook_receiver import Receiver

MADE_ID = re.compile(r"[0-9a-f]{32}")
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


async def test_a_sane_request_id_is_echoed_on_success_and_in_problems(
    scenario: Scenario,
) -> None:
    created = await scenario.open_return()
    headers = {**scenario.merchant.headers, "X-Request-Id": "req-2026.12.01:abc_42"}
    found = await scenario.client.get(f"/v1/returns/{created['id']}", headers=headers)
    assert found.status_code == 200
    assert found.headers["X-Request-Id"] == "req-2026.12.01:abc_42"

    missing = await scenario.client.get("/v1/returns/no-such-return", headers=headers)
    problem = assert_problem(missing, 404, "not_found")
    assert problem["request_id"] == "req-2026.12.01:abc_42"
    assert missing.headers["X-Request-Id"] == "req-2026.12.01:abc_42"


async def test_refusals_before_any_route_carry_the_request_id_too(client: AsyncClient) -> None:
    headers = {"X-Request-Id": "edge-1", "content-type": "text/plain"}
    refused = await client.post("/v1/returns", content=b"not json", headers=headers)
    assert assert_problem(refused, 415, "unsupported_media_type")["request_id"] == "edge-1"
    assert refused.headers["X-Request-Id"] == "edge-1"

    unknown = await client.get("/nowhere", headers={"X-Request-Id": "edge-2"})
    assert assert_problem(unknown, 404, "not_found")["request_id"] == "edge-2"

    anonymous = await client.get("/v1/returns", headers={"X-Request-Id": "edge-3"})
    assert assert_problem(anonymous, 401, "unauthenticated")["request_id"] == "edge-3"


async def test_without_a_request_id_each_answer_gets_a_new_one(client: AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/v1/returns")
    assert MADE_ID.fullmatch(first.headers["X-Request-Id"])
    assert MADE_ID.fullmatch(second.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    assert second.json()["request_id"] == second.headers["X-Request-Id"]
    assert len(second.headers.get_list("X-Request-Id")) == 1


async def test_a_replayed_answer_names_the_request_that_replayed_it(scenario: Scenario) -> None:
    order_id = await scenario.order()
    body = {
        "order_id": order_id,
        "type": "return_refund",
        "reason": "no_reason",
        "items": [{"line_id": "l1", "quantity": 1, "condition": "unopened"}],
    }
    headers = {**scenario.buyer.headers, "Idempotency-Key": "apply-once"}
    first = await scenario.client.post(
        "/v1/returns", json=body, headers={**headers, "X-Request-Id": "try-1"}
    )
    again = await scenario.client.post(
        "/v1/returns", json=body, headers={**headers, "X-Request-Id": "try-2"}
    )
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.headers["X-Request-Id"] == "try-1"
    assert again.headers["X-Request-Id"] == "try-2"
    assert again.headers.get_list("X-Request-Id") == ["try-2"]


async def test_a_webhook_delivery_names_the_request_that_made_its_event(
    database: Database,
) -> None:
    async with harness(database) as world, Receiver() as receiver:
        await world.subscribe(receiver.url, ["return.approved", "return.requested"])
        created = await world.scenario.open_return()
        approved = await world.scenario.client.post(
            f"/v1/returns/{created['id']}/approve",
            json={"return_address": ADDRESS},
            headers={**world.scenario.merchant.headers, "X-Request-Id": "approve-77"},
        )
        assert approved.status_code == 200, approved.text
        await world.relay_until_quiet()
    by_type = {item.json()["type"]: item for item in receiver.received}
    assert by_type["return.approved"].headers["x-request-id"] == "approve-77"
    made = by_type["return.requested"].headers["x-request-id"]
    assert MADE_ID.fullmatch(made)  # the application's own id, made by the service
    assert made != "approve-77"


_OFFERED = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200),
    st.from_regex(SAFE_ID, fullmatch=True),
    st.text(alphabet="abcdef0123456789-", min_size=60, max_size=70),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(offered=_OFFERED)
async def test_any_offered_request_id_is_echoed_only_if_sane(
    client: AsyncClient, offered: str
) -> None:
    response = await client.get(
        "/v1/returns/x", headers={"X-Request-Id": offered.encode("latin-1")}
    )
    assert response.status_code == 401
    answered = response.headers["X-Request-Id"]
    assert response.json()["request_id"] == answered
    assert SAFE_ID.fullmatch(answered)
    if SAFE_ID.fullmatch(offered) and len(offered) <= MAX_REQUEST_ID_LENGTH:
        assert answered == offered
    else:
        assert MADE_ID.fullmatch(answered)
