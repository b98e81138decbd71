"""Whatever a client sends, the answer is a problem+json 4xx or a success, never a 500, and a
refusal leaves nothing behind.

Generated cases (hypothesis) over every string field of every body, every header the service
parses, every path id, every query parameter, every cursor and every token claim, on both
databases. Text no database can store (NUL, a lone surrogate) is a 422 wherever it appears,
with or without an Idempotency-Key.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from httpx import AsyncClient, Response
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from returns_service.models import Base
from tests.api.hostile import (
    KNOWN_HOSTILE,
    Operation,
    hostile_text,
    operations,
    replaced,
    unstorable,
    with_key,
)
from tests.api.scenario import PROBLEM, TEST_JWT_SECRET, Party, Scenario, bearer

# Each generated example sends many requests (one per operation, or per parameter), so a few
# dozen examples reach every field many times over.
FAST = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    # Each example is many requests; a failure names its request, shrinking adds little.
    phases=[Phase.explicit, Phase.generate],
)


def assert_client_error_or_success(response: Response, sent: str) -> None:
    """A success, or a problem+json 4xx; never a 5xx."""
    assert response.status_code < 500, f"{sent} -> {response.status_code} {response.text}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM), (sent, response.headers)
        problem = response.json()
        assert problem["status"] == response.status_code, (sent, problem)
        assert isinstance(problem["code"], str) and problem["code"], (sent, problem)


def assert_refused_as_unstorable(response: Response, sent: str) -> None:
    assert response.status_code == 422, f"{sent} -> {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "validation_error", (sent, response.text)


@dataclass
class Seeded:
    scenario: Scenario
    order_id: str
    return_id: str
    ops: list[Operation]

    def headers(self, role: str, idempotency_key: bool) -> dict[str, str]:
        party: Party = getattr(self.scenario, role)
        headers = {**party.headers, "Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        return headers


@pytest.fixture
async def seeded(scenario: Scenario) -> AsyncIterator[Seeded]:
    created = await scenario.open_return()
    ops = operations(scenario.shop_id, scenario.buyer.id, created["order_id"], created["id"])
    yield Seeded(scenario, created["order_id"], created["id"], ops)


async def row_counts(client: AsyncClient) -> dict[str, int]:
    """How many rows each table holds, read through the app's own engine."""
    app: Any = client._transport.app  # type: ignore[attr-defined]
    async with app.state.sessionmaker() as session:
        return {
            table.name: int(
                (await session.execute(select(func.count()).select_from(table))).scalar_one()
            )
            for table in Base.metadata.sorted_tables
        }


async def send(seeded: Seeded, op: Operation, body: Any, *, idempotency_key: bool) -> Response:
    return await seeded.scenario.client.request(
        op.method,
        op.path,
        content=op.encoded(body),
        headers=seeded.headers(op.caller, idempotency_key),
    )


async def test_unstorable_text_in_any_string_field_of_any_body_is_a_422_and_writes_nothing(
    seeded: Seeded,
) -> None:
    """Every string field (and free-form key) of every body, each with NUL and a lone
    surrogate, with and without an Idempotency-Key: one guard refuses them all alike."""
    before = await row_counts(seeded.scenario.client)
    sent = 0
    for op in seeded.ops:
        for path in op.fields:
            for value, key in (("\ud800", True), ("a\x00b", False), ("\udfff", False)):
                response = await send(
                    seeded, op, replaced(op.body, path, value), idempotency_key=key
                )
                assert_refused_as_unstorable(response, f"{op.method} {op.path} {path}={value!r}")
                sent += 1
        for path in op.maps:
            # Found by the contract suite: a key of NUL and "\x80" failed naming where it was.
            for key in ("k\ud800", "\x00\x80", "é\x00"):
                response = await send(
                    seeded, op, with_key(op.body, path, key), idempotency_key=True
                )
                assert_refused_as_unstorable(response, f"{op.method} {op.path} key {key!r}")
        for path in op.fields:
            nested = replaced(op.body, path, {"\x00\x80": None})
            response = await send(seeded, op, nested, idempotency_key=False)
            assert_refused_as_unstorable(response, f"{op.method} {op.path} {path} = NUL key")
    assert sent > 150
    assert await row_counts(seeded.scenario.client) == before


@settings(FAST, max_examples=10)
@given(data=st.data())
async def test_hostile_text_in_body_fields_is_taken_or_refused_never_a_500(
    seeded: Seeded, data: st.DataObject
) -> None:
    """Per example: one hostile value, put into one field of every operation's body."""
    value = data.draw(hostile_text(), label="value")
    idempotency_key = data.draw(st.booleans(), label="idempotency_key")
    for op in seeded.ops:
        path = data.draw(st.sampled_from(op.fields), label=f"{op.method} {op.path}")
        before = await row_counts(seeded.scenario.client)
        response = await send(
            seeded, op, replaced(op.body, path, value), idempotency_key=idempotency_key
        )
        sent = f"{op.method} {op.path} {path}={value!r}"
        if unstorable(value):
            assert_refused_as_unstorable(response, sent)
        else:
            assert_client_error_or_success(response, sent)
        if response.status_code >= 400:
            assert await row_counts(seeded.scenario.client) == before, sent


def _header_value() -> st.SearchStrategy[bytes]:
    """What a header can carry on the wire: Latin-1 bytes without CR/LF, some very long."""
    return st.one_of(
        st.sampled_from([value.encode("utf-8", "surrogatepass") for value in KNOWN_HOSTILE]),
        st.binary(max_size=60).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"")),
        st.sampled_from([b'"\xc2\xb2"', b'"\xb2"', b'W/"1', b'"1", "2"', b"*", b'"99999999999"']),
        st.integers(1, 20_000).map(lambda n: b"a" * n),
    )


HEADERS = ("If-Match", "Idempotency-Key", "Authorization", "Content-Type", "X-Request-Id")


@FAST
@given(data=st.data())
async def test_hostile_values_of_every_parsed_header_are_4xx_problems(
    seeded: Seeded, data: st.DataObject
) -> None:
    """Each header the service reads, hostile, on an action, an application and a read."""
    client = seeded.scenario.client
    rid = seeded.return_id
    for name in HEADERS:
        value = data.draw(_header_value(), label=name)
        for method, path, role, body in (
            ("POST", f"/v1/returns/{rid}/reject", "merchant", {"reason_code": "x", "note": "n"}),
            ("POST", "/v1/returns/preview", "buyer", {"order_id": seeded.order_id}),
            ("GET", f"/v1/returns/{rid}", "platform", None),
        ):
            headers = [
                (key.encode(), item.encode())
                for key, item in seeded.headers(role, idempotency_key=False).items()
                if key != name
            ]
            headers.append((name.encode(), value))
            response = await client.request(
                method,
                path,
                content=json.dumps(body).encode() if body is not None else None,
                headers=headers,
            )
            sent = f"{method} {path} {name}: {value[:80]!r}"
            assert_client_error_or_success(response, sent)
            if name == "Authorization":
                # Never the caller's own token: refused as unauthenticated, or too long to read.
                assert response.status_code in (401, 431), sent
            elif name == "If-Match" and method == "POST" and "reject" in path:
                assert response.status_code in (200, 409, 412, 431), sent


@FAST
@given(data=st.data())
async def test_hostile_path_ids_and_query_parameters_are_4xx_problems(
    seeded: Seeded, data: st.DataObject
) -> None:
    """Every path id and every query parameter of every operation, hostile."""
    client, platform = seeded.scenario.client, seeded.scenario.platform.headers
    value = data.draw(hostile_text(), label="value")
    segment = quote(value.encode("utf-8", "surrogatepass"), safe="")
    for template in (
        "/v1/orders/{}",
        "/v1/returns/{}",
        "/v1/returns/{}/events",
        "/v1/shops/{}/return-policy",
        "/v1/shops/{}/automations",
        "/v1/webhook-subscriptions/{}",
    ):
        response = await client.get(template.format(segment), headers=platform)
        assert_client_error_or_success(response, f"GET {template} {value!r}")
    for method, template in (
        ("DELETE", "/v1/webhook-subscriptions/{}"),
        ("POST", "/v1/webhook-deliveries/{}/replay"),
        ("POST", "/v1/returns/{}/refund"),
        ("PUT", "/v1/orders/{}"),
        ("PUT", "/v1/shops/{}/return-policy"),
        ("PUT", "/v1/shops/{}/automations"),
    ):
        response = await client.request(method, template.format(segment), headers=platform)
        assert_client_error_or_success(response, f"{method} {template} {value!r}")
    query = quote(value.encode("utf-8", "surrogatepass"), safe="")
    for path, names in (
        (
            "/v1/returns",
            (
                "shop_id",
                "status",
                "type",
                "reason",
                "buyer_id",
                "buyer_flagged",
                "created_from",
                "created_to",
                "awaiting",
                "sort",
                "limit",
                "cursor",
            ),
        ),
        (f"/v1/returns/{seeded.return_id}/events", ("limit", "cursor")),
        ("/v1/webhook-subscriptions", ("shop_id", "limit", "cursor")),
        ("/v1/statistics", ("shop_id", "from", "to", "group_by")),
        (
            "/v1/webhook-deliveries",
            ("status", "subscription_id", "shop_id", "event_type", "limit", "cursor"),
        ),
    ):
        for name in names:
            response = await client.get(f"{path}?{name}={query}", headers=platform)
            assert_client_error_or_success(response, f"GET {path}?{name}={value!r}")
            if "\x00" in value:
                assert response.status_code == 422, response.text


_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text(40),
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text(10), inner, max_size=3)
    ),
    max_leaves=8,
)


def _cursor_of(position: object) -> str:
    raw = json.dumps(position, ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_positions() -> st.SearchStrategy[object]:
    """Any JSON; and positions with the right keys but values no list ever issued."""
    time_or_id = st.one_of(
        _JSON_SCALARS,
        st.just("2026-11-21T08:00:00+00:00"),
        st.just("0001-01-01T00:00:00"),
        st.just("9999-12-31T23:59:59+00:00"),
    )
    return st.one_of(
        _JSON,
        st.fixed_dictionaries({"created_at": time_or_id, "id": time_or_id}),
        st.fixed_dictionaries({"due_at": time_or_id, "id": time_or_id}),
        st.fixed_dictionaries({"seq": _JSON_SCALARS}),
    )


@FAST
@given(position=_cursor_positions())
async def test_a_cursor_this_service_did_not_issue_is_a_422_on_every_list(
    seeded: Seeded, position: object
) -> None:
    client, platform = seeded.scenario.client, seeded.scenario.platform.headers
    cursor = _cursor_of(position)
    for path in (
        "/v1/returns",
        "/v1/returns?sort=due_at",
        f"/v1/returns/{seeded.return_id}/events",
        "/v1/webhook-subscriptions",
        "/v1/webhook-deliveries",
    ):
        separator = "&" if "?" in path else "?"
        response = await client.get(f"{path}{separator}cursor={cursor}", headers=platform)
        assert_client_error_or_success(response, f"GET {path} cursor={position!r}")
        if response.status_code == 200:
            assert _looks_issued(position), (path, position)
        else:
            assert response.status_code == 422, response.text


def _looks_issued(position: object) -> bool:
    """Only a well-formed position may pass: aware time in bounds, a plain short id; or seq."""
    if not isinstance(position, dict):
        return False
    if set(position) == {"seq"}:
        seq = position["seq"]
        return isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**31
    ident = position.get("id")
    time = position.get("created_at", position.get("due_at"))
    if not (isinstance(ident, str) and 0 < len(ident) <= 64 and ident.isprintable()):
        return False
    try:
        at = datetime.fromisoformat(time) if isinstance(time, str) else None
    except ValueError:
        return False
    return at is not None and at.tzinfo is not None


def _claims() -> st.SearchStrategy[dict[str, object]]:
    roles = st.one_of(st.sampled_from(["buyer", "merchant", "platform", "storefront"]), _JSON)
    return st.fixed_dictionaries(
        {"role": roles, "sub": st.one_of(st.just("someone"), _JSON)},
        optional={
            "shop_id": st.one_of(st.just("shop-1"), _JSON),
            "exp": st.one_of(st.just(None), _JSON_SCALARS),
            "nbf": _JSON_SCALARS,
            "iat": _JSON_SCALARS,
            "aud": _JSON,
        },
    )


@FAST
@given(claims=_claims())
async def test_odd_claims_of_a_signed_token_are_a_401_never_a_500(
    seeded: Seeded, claims: dict[str, object]
) -> None:
    claims = dict(claims)
    if "exp" not in claims or claims["exp"] is None:
        claims["exp"] = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    raw = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
    client = seeded.scenario.client
    for method, path, body in (
        ("GET", f"/v1/returns/{seeded.return_id}", None),
        ("GET", "/v1/returns", None),
        ("POST", f"/v1/returns/{seeded.return_id}/messages", {"body": "hi"}),
    ):
        for idempotency_key in (False, True):
            headers = {**bearer(raw), "Content-Type": "application/json"}
            if idempotency_key:
                headers["Idempotency-Key"] = uuid.uuid4().hex
            response = await client.request(
                method, path, content=json.dumps(body) if body else None, headers=headers
            )
            assert_client_error_or_success(response, f"{method} {path} claims={claims!r}")
            if response.status_code < 400 or response.status_code in (403, 404):
                assert _claims_are_sane(claims), (claims, response.status_code)


def _claims_are_sane(claims: dict[str, object]) -> bool:
    def text(value: object) -> bool:
        return (
            isinstance(value, str)
            and 0 < len(value) <= 64
            and value.isprintable()
            and not unstorable(value)
        )

    shop = claims.get("shop_id")
    return (
        claims["role"] in ("buyer", "merchant", "platform", "storefront")
        and text(claims["sub"])
        and (shop is None or text(shop))
        and (claims["role"] != "merchant" or shop is not None)
    )


@pytest.mark.parametrize(
    "if_match", ['"²"', '"٣"', "²", '"1²"', '"99999999999"', '"-1"', '" 1"', "W/", '"', '"1", "2"']
)
async def test_an_if_match_that_is_not_an_ascii_version_is_a_412(
    seeded: Seeded, if_match: str
) -> None:
    """Found: `If-Match: "²"` was a 500 (str.isdigit takes "²", int() does not)."""
    client, merchant = seeded.scenario.client, seeded.scenario.merchant
    for method, path, body in (
        ("POST", f"/v1/returns/{seeded.return_id}/reject", {"reason_code": "x", "note": "n"}),
        ("PUT", f"/v1/shops/{seeded.scenario.shop_id}/return-policy", {}),
    ):
        # On the wire as UTF-8, and as Latin-1 (which the server reads "²" back from).
        for raw in {if_match.encode(), if_match.encode("latin-1", "replace")}:
            headers = [
                *((k.encode(), v.encode()) for k, v in merchant.headers.items()),
                (b"If-Match", raw),
            ]
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 412, (method, raw, response.text)
            assert response.json()["code"] == "version_mismatch"


@pytest.mark.parametrize(
    "position",
    [
        {"created_at": "2026-11-21T08:00:00+00:00", "id": "\ud800"},
        {"created_at": "2026-11-21T08:00:00+00:00", "id": "x" * 65},
        {"created_at": "2026-11-21T08:00:00+00:00", "id": ""},
        {"created_at": "\uff12\uff10\uff12\uff16-11-21T08:00:00+00:00", "id": "a"},
        {"created_at": "2026-11-21T08:00:00+00:00", "id": 7},
        {"due_at": "2026-11-21T08:00:00+00:00", "id": "\x00"},
        {"seq": 2**40},
        {"seq": True},
    ],
)
async def test_known_forged_cursors_are_a_422_on_every_list(
    seeded: Seeded, position: dict[str, object]
) -> None:
    client, platform = seeded.scenario.client, seeded.scenario.platform.headers
    cursor = _cursor_of(position)
    for path in (
        "/v1/returns?",
        "/v1/returns?sort=due_at&",
        f"/v1/returns/{seeded.return_id}/events?",
        "/v1/webhook-subscriptions?",
        "/v1/webhook-deliveries?",
    ):
        response = await client.get(f"{path}cursor={cursor}", headers=platform)
        assert response.status_code == 422, (path, position, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "duration",
    [
        "P99999999999W",
        "P999999999W",
        "PT99999999999999999999S",
        "P3651D",
        "P\u0661D",  # Arabic-Indic one
        "P²D",
        "PT48H\n",
        "P1D\u0000",
        "P" + "9" * 25 + "D",
        "PT1.99999999999999999999S",
    ],
)
async def test_a_duration_that_overflows_or_is_not_ascii_is_a_422(
    seeded: Seeded, duration: str
) -> None:
    client, merchant = seeded.scenario.client, seeded.scenario.merchant
    for field in (
        "review_timeout",
        "ship_timeout",
        "receive_timeout",
        "escalation_timeout",
        "offer_timeout",
    ):
        response = await client.put(
            f"/v1/shops/{seeded.scenario.shop_id}/return-policy",
            json={field: duration},
            headers=merchant.headers,
        )
        assert response.status_code == 422, (field, duration, response.text)
        assert response.json()["code"] == "validation_error"


@FAST
@given(
    duration=st.one_of(
        st.from_regex(
            r"\AP([0-9]{1,12}W)?([0-9]{1,12}D)?(T([0-9]{1,12}H)?([0-9]{1,12}M)?([0-9]{1,12}(\.[0-9]{1,12})?S)?)?\Z"
        ),
        st.text(st.characters(codec=None), max_size=20).map(lambda tail: "P" + tail),
    )
)
async def test_any_duration_is_taken_within_ten_years_or_refused(
    seeded: Seeded, duration: str
) -> None:
    client, merchant = seeded.scenario.client, seeded.scenario.merchant
    response = await client.put(
        f"/v1/shops/{seeded.scenario.shop_id}/return-policy",
        json={"review_timeout": duration},
        headers=merchant.headers,
    )
    assert_client_error_or_success(response, repr(duration))
    if response.status_code == 200:
        assert duration.isascii()
        assert response.json()["review_timeout"] == duration


async def test_every_405_names_every_method_the_path_takes(seeded: Seeded) -> None:
    """Found: `Allow` named only the first route of a path (DELETE /v1/orders/x said GET,
    though PUT is served there too)."""
    client = seeded.scenario.client
    paths = (await client.get("/openapi.json")).json()["paths"]
    patterns = {template: re.compile(re.sub(r"\{[^}]+\}", "[^/]+", template)) for template in paths}
    checked = 0
    for template in paths:
        path = template.replace("{", "").replace("}", "")
        # /v1/returns/preview is also /v1/returns/{return_id}: every template that matches.
        served = {
            method.upper()
            for other, pattern in patterns.items()
            if pattern.fullmatch(path)
            for method in paths[other]
        }
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - served:
            response = await client.request(method, path, headers=seeded.scenario.platform.headers)
            assert response.status_code == 405, (method, path, response.text)
            assert response.headers["content-type"].startswith(PROBLEM)
            allowed = {m.strip() for m in response.headers["Allow"].split(",")}
            assert allowed == served, (method, path, allowed, served)
            checked += 1
    assert checked > 40
