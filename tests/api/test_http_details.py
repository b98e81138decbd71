"""HTTP as a careless or hostile client speaks it: stalled uploads, oversized headers, tokens
in the query string. Each is answered (or cut off) without holding anyone else up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from httpx import AsyncClient

from tests.api.conftest import test_settings as settings_for
from tests.api.live_server import serve
from tests.api.problem_checks import assert_problem
from tests.api.scenario import Scenario, application_body, token
from tests.conftest import Database

# Short enough for a test; the setting defaults to 30 s.
STALL_LIMIT_SECONDS = 0.5
# Only a bound on how long the test waits for the server to hang up, never an assertion.
GIVE_UP_SECONDS = 30


@pytest.fixture
async def live(database: Database) -> AsyncIterator[Scenario]:
    settings = settings_for(database, client_timeout_seconds=STALL_LIMIT_SECONDS)
    with serve(settings) as base_url:
        async with AsyncClient(base_url=base_url, timeout=GIVE_UP_SECONDS) as http:
            yield Scenario(http)


async def _connect(live: Scenario) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(str(live.client.base_url))
    assert address.hostname is not None and address.port is not None
    return await asyncio.open_connection(address.hostname, address.port)


async def test_a_client_stalling_in_its_headers_is_cut_off_and_holds_no_one_up(
    live: Scenario,
) -> None:
    reader, writer = await _connect(live)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: returns.test\r\nX-Slow: ")
    await writer.drain()
    # Meanwhile others are answered, writes included.
    order_id = await live.order()
    assert (await live.client.get("/healthz")).status_code == 200
    # The server hangs up on the stalled one: end of stream, no answer.
    answer = await asyncio.wait_for(reader.read(), timeout=GIVE_UP_SECONDS)
    assert answer == b""
    writer.close()
    assert (await live.apply(order_id)).status_code == 201


async def test_a_client_stalling_in_its_body_gets_a_408_problem_and_holds_no_one_up(
    live: Scenario,
) -> None:
    order_id = await live.order()
    body = json.dumps(application_body(order_id)).encode()
    reader, writer = await _connect(live)
    head = (
        "POST /v1/returns HTTP/1.1\r\nHost: returns.test\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token('buyer', live.buyer.id)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body[:10])
    await writer.drain()
    # Another buyer's application goes through while this one stalls (on SQLite too: the
    # stalled request holds no transaction and no place in the writers' queue).
    other = live.other_shop()
    assert (await other.apply(await other.order())).status_code == 201
    answer = await asyncio.wait_for(reader.read(), timeout=GIVE_UP_SECONDS)
    writer.close()
    head_text, _, payload = answer.partition(b"\r\n\r\n")
    assert head_text.startswith(b"HTTP/1.1 408"), answer
    assert b"application/problem+json" in head_text
    assert json.loads(payload)["code"] == "request_timeout"
    # Nothing of the stalled application was kept.
    listed = await live.client.get(
        "/v1/returns", params={"buyer_id": live.buyer.id}, headers=live.platform.headers
    )
    assert listed.json()["items"] == []


async def test_an_oversized_header_or_token_is_a_problem(scenario: Scenario) -> None:
    huge = await scenario.client.get(
        "/v1/returns", headers={**scenario.platform.headers, "X-Note": "a" * 9000}
    )
    assert_problem(huge, 431, "header_too_large")
    long_token = await scenario.client.get(
        "/v1/returns", headers={"Authorization": "Bearer " + "a" * 5000}
    )
    assert_problem(long_token, 401, "unauthenticated")


@pytest.mark.parametrize(
    "query",
    [
        "access_token={token}",
        "token={token}",
        "jwt={token}",
        "Authorization=Bearer%20{token}",
        "shop_id={token}",
        "cursor={token}",
        "api_key=anything",
    ],
)
async def test_a_token_in_the_query_string_is_refused(scenario: Scenario, query: str) -> None:
    raw = token("platform", "p-1")
    response = await scenario.client.get(
        "/v1/returns?" + query.format(token=raw), headers=scenario.platform.headers
    )
    assert_problem(response, 401, "unauthenticated")
