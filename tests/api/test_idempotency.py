"""Idempotency-Key on every POST: a retried request answers again without acting again."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Response
from httpx import ASGITransport, AsyncClient
from httpx import Response as HttpResponse
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service import idempotency
from returns_service.app import create_app
from returns_service.auth import Caller
from returns_service.errors import IdempotencyInProgress
from returns_service.idempotency import repository
from returns_service.idempotency.keys import Claim, request_fingerprint, scope_of
from returns_service.models import IdempotencyKeyRow, ReturnEventRow, ReturnRow
from returns_service.models.base import utcnow
from returns_service.returns import actions
from returns_service.rules.vocabulary import Role
from returns_service.timers.sweep import sweep_once
from tests.api.conftest import test_settings as settings_for
from tests.api.live_server import serve
from tests.api.problem_checks import assert_problem
from tests.api.scenario import ADDRESS, Party, Scenario, application_body
from tests.conftest import Database

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


@pytest.fixture
async def app(database: Database) -> AsyncIterator[FastAPI]:
    app = create_app(settings_for(database))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://returns.test") as http:
        yield http


@pytest.fixture
def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    """Sessions on the app's own engine, to look at and arrange what the database holds."""
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return sessionmaker


def scope_of_party(party: Party) -> str:
    return scope_of(Caller(role=Role(party.role), id=party.id, shop_id=party.shop_id))


def with_key(party: Party, key: str, **headers: str) -> dict[str, str]:
    return {**party.headers, KEY: key, **headers}


async def apply_with_key(
    scenario: Scenario, order_id: str, key: str, by: Party | None = None, **overrides: Any
) -> HttpResponse:
    return await scenario.client.post(
        "/v1/returns",
        json=application_body(order_id, **overrides),
        headers=with_key(by or scenario.buyer, key),
    )


async def returns_of_order(sessions: async_sessionmaker[AsyncSession], order_id: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(ReturnRow).where(ReturnRow.order_id == order_id)
        )
    return int(count or 0)


async def events_of(sessions: async_sessionmaker[AsyncSession], return_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(ReturnEventRow.type)
            .where(ReturnEventRow.return_id == return_id)
            .order_by(ReturnEventRow.seq)
        )
        return list(rows)


async def stored_keys(sessions: async_sessionmaker[AsyncSession]) -> list[IdempotencyKeyRow]:
    async with sessions() as session:
        return list(await session.scalars(select(IdempotencyKeyRow)))


def assert_replay_of(replay: HttpResponse, first: HttpResponse) -> None:
    assert replay.status_code == first.status_code, replay.text
    assert replay.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers
    assert replay.content == first.content
    for header in ("content-type", "etag", "location"):
        assert replay.headers.get(header) == first.headers.get(header), header


async def test_an_application_sent_twice_with_one_key_is_applied_once_and_replays_its_location(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()

    first = await apply_with_key(scenario, order_id, "apply-1")
    again = await apply_with_key(scenario, order_id, "apply-1")

    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/v1/returns/{first.json()['id']}"
    assert first.headers["ETag"] == '"1"'
    assert_replay_of(again, first)
    assert await returns_of_order(sessions, order_id) == 1
    assert await events_of(sessions, first.json()["id"]) == ["created"]


async def test_an_approval_sent_twice_with_one_key_moves_the_return_once(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    return_id = (await scenario.open_return())["id"]
    headers = with_key(scenario.merchant, "approve-1", **{"If-Match": '"1"'})
    body = {"return_address": ADDRESS}

    first = await scenario.client.post(
        f"/v1/returns/{return_id}/approve", json=body, headers=headers
    )
    again = await scenario.client.post(
        f"/v1/returns/{return_id}/approve", json=body, headers=headers
    )

    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == '"2"'
    # Without the key the stale If-Match would be a 412: the replay did not act again.
    assert_replay_of(again, first)
    current = await scenario.get(return_id)
    assert current.json()["version"] == 2
    assert await events_of(sessions, return_id) == ["created", "approve"]


async def test_the_same_json_with_other_spacing_and_key_order_is_the_same_request(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()
    body = application_body(order_id)
    headers = {**with_key(scenario.buyer, "apply-json"), "Content-Type": "application/json"}

    first = await scenario.client.post("/v1/returns", content=json.dumps(body), headers=headers)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = await scenario.client.post("/v1/returns", content=reordered, headers=headers)

    assert first.status_code == 201, first.text
    assert_replay_of(again, first)
    assert await returns_of_order(sessions, order_id) == 1


async def test_one_key_for_another_body_or_path_is_refused_as_a_mismatch(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()
    first = await apply_with_key(scenario, order_id, "apply-2")
    assert first.status_code == 201, first.text

    other_body = await apply_with_key(scenario, order_id, "apply-2", description="Another text")
    other_path = await scenario.client.post(
        "/v1/returns/preview",
        json=application_body(order_id),
        headers=with_key(scenario.buyer, "apply-2"),
    )

    assert_problem(other_body, 422, "idempotency_mismatch")
    assert_problem(other_path, 422, "idempotency_mismatch")
    assert await returns_of_order(sessions, order_id) == 1


async def test_keys_belong_to_their_caller_so_two_callers_with_one_key_both_act(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()

    by_buyer = await apply_with_key(scenario, order_id, "shared-key", by=scenario.buyer)
    by_platform = await apply_with_key(scenario, order_id, "shared-key", by=scenario.platform)

    assert by_buyer.status_code == 201, by_buyer.text
    assert by_platform.status_code == 201, by_platform.text
    assert REPLAYED not in by_platform.headers
    assert by_buyer.json()["id"] != by_platform.json()["id"]
    assert await returns_of_order(sessions, order_id) == 2
    scopes = sorted(row.scope for row in await stored_keys(sessions))
    assert scopes == sorted([scope_of_party(scenario.buyer), scope_of_party(scenario.platform)])


async def claim_for(
    sessions: async_sessionmaker[AsyncSession],
    party: Party,
    key: str,
    body: bytes,
    *,
    lease: timedelta,
    path: str = "/v1/returns",
) -> None:
    """Hold the key as a request still running would (or a dead one, for a lapsed lease)."""
    now = utcnow()
    async with sessions() as session, session.begin():
        assert await repository.insert_claim(
            session,
            scope=scope_of_party(party),
            key=key,
            shop_id=party.shop_id,
            fingerprint=request_fingerprint("POST", path, "", body),
            claim_token="held-by-another-request",
            now=now,
            lease_until=now + lease,
            expires_at=now + timedelta(days=1),
        )


async def test_a_key_whose_first_request_still_runs_answers_409_in_progress(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()
    body = json.dumps(application_body(order_id)).encode()
    await claim_for(sessions, scenario.buyer, "running", body, lease=timedelta(minutes=1))
    headers = {**with_key(scenario.buyer, "running"), "Content-Type": "application/json"}

    response = await scenario.client.post("/v1/returns", content=body, headers=headers)
    other_body = await apply_with_key(scenario, order_id, "running", description="Other")

    assert_problem(response, 409, "idempotency_in_progress")
    assert response.headers["Retry-After"]
    assert_problem(other_body, 422, "idempotency_mismatch")
    assert await returns_of_order(sessions, order_id) == 0
    (row,) = await stored_keys(sessions)
    assert row.claim_token == "held-by-another-request"


async def test_a_claim_whose_lease_lapsed_is_taken_over_and_acted_on(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()
    body = json.dumps(application_body(order_id)).encode()
    await claim_for(sessions, scenario.buyer, "dead", body, lease=-timedelta(seconds=1))
    headers = {**with_key(scenario.buyer, "dead"), "Content-Type": "application/json"}

    response = await scenario.client.post("/v1/returns", content=body, headers=headers)
    again = await scenario.client.post("/v1/returns", content=body, headers=headers)

    assert response.status_code == 201, response.text
    assert_replay_of(again, response)
    assert await returns_of_order(sessions, order_id) == 1
    (row,) = await stored_keys(sessions)
    assert (row.status, row.response_status, row.claim_token) == ("completed", 201, None)


async def test_an_answer_is_not_stored_under_a_claim_another_request_took_over(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The stored answer is fenced by the claim: only its holder may commit under the key."""
    order_id = await scenario.order()
    await claim_for(sessions, scenario.buyer, "lost", b"{}", lease=timedelta(minutes=1))
    lost = Claim(
        scope=scope_of_party(scenario.buyer), key="lost", token="mine", sessionmaker=sessions
    )

    async with sessions() as session:
        with pytest.raises(IdempotencyInProgress):
            await idempotency.finish(session, lost, Response(b"{}", status_code=201))
        await session.rollback()

    (row,) = await stored_keys(sessions)
    assert (row.status, row.claim_token) == ("in_progress", "held-by-another-request")
    assert await returns_of_order(sessions, order_id) == 0


async def test_a_refused_request_gives_its_key_back_so_a_corrected_retry_acts(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """4xx answers are not stored: nothing changed, and a retry answers from the present."""
    return_id = (await scenario.open_return())["id"]
    url = f"/v1/returns/{return_id}/approve"
    body = {"return_address": ADDRESS}

    stale = await scenario.client.post(
        url, json=body, headers=with_key(scenario.merchant, "approve-2", **{"If-Match": '"7"'})
    )
    assert_problem(stale, 412, "version_mismatch")
    assert await stored_keys(sessions) == []

    retried = await scenario.client.post(
        url, json=body, headers=with_key(scenario.merchant, "approve-2", **{"If-Match": '"1"'})
    )
    assert retried.status_code == 200, retried.text
    assert REPLAYED not in retried.headers
    assert retried.json()["version"] == 2


async def test_a_server_error_gives_the_key_back_and_changes_nothing(
    scenario: Scenario,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    return_id = (await scenario.open_return())["id"]
    approve = actions.approve_return

    async def approve_then_fail(*args: Any) -> ReturnRow:
        await approve(*args)
        raise RuntimeError("the process failed after acting, before committing")

    monkeypatch.setattr(actions, "approve_return", approve_then_fail)
    headers = with_key(scenario.merchant, "approve-3")
    failed = await scenario.client.post(
        f"/v1/returns/{return_id}/approve", json={"return_address": ADDRESS}, headers=headers
    )
    assert_problem(failed, 500, "internal_error")
    assert await stored_keys(sessions) == []
    assert (await scenario.get(return_id)).json()["status"] == "requested"

    monkeypatch.setattr(actions, "approve_return", approve)
    retried = await scenario.client.post(
        f"/v1/returns/{return_id}/approve", json={"return_address": ADDRESS}, headers=headers
    )
    assert retried.status_code == 200, retried.text
    assert REPLAYED not in retried.headers
    assert await events_of(sessions, return_id) == ["created", "approve"]


def assert_acted_once(responses: list[HttpResponse], success: int) -> HttpResponse:
    """Exactly one answer acted; every other one is its replay or 409 in progress."""
    acted = [r for r in responses if r.status_code == success and REPLAYED not in r.headers]
    assert len(acted) == 1, [(r.status_code, r.headers.get(REPLAYED), r.text) for r in responses]
    for response in responses:
        if response is acted[0]:
            continue
        if response.status_code == 409:
            assert_problem(response, 409, "idempotency_in_progress")
        else:
            assert_replay_of(response, acted[0])
    return acted[0]


async def test_identical_requests_in_flight_at_once_act_exactly_once(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()

    applications = await asyncio.gather(
        *(apply_with_key(scenario, order_id, "at-once") for _ in range(2))
    )
    created = assert_acted_once(list(applications), 201)
    return_id = created.json()["id"]

    headers = with_key(scenario.merchant, "approve-at-once")
    approvals = await asyncio.gather(
        *(
            scenario.client.post(
                f"/v1/returns/{return_id}/approve",
                json={"return_address": ADDRESS},
                headers=headers,
            )
            for _ in range(8)
        )
    )
    assert_acted_once(list(approvals), 200)

    assert await returns_of_order(sessions, order_id) == 1
    assert await events_of(sessions, return_id) == ["created", "approve"]


async def test_identical_requests_racing_over_tcp_act_exactly_once(
    database: Database, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A real server: on PostgreSQL the claims race for the same primary key."""
    with serve(settings_for(database)) as base_url:
        async with AsyncClient(base_url=base_url, timeout=60) as http:
            scenario = Scenario(http)
            order_id = await scenario.order()
            responses = await asyncio.gather(
                *(apply_with_key(scenario, order_id, "tcp-race") for _ in range(16))
            )

    counted = Counter((r.status_code, r.headers.get(REPLAYED)) for r in responses)
    print("tcp race outcomes:", counted)
    assert {status for status, _ in counted} <= {201, 409}, counted
    assert_acted_once(list(responses), 201)
    assert await returns_of_order(sessions, order_id) == 1


async def test_an_expired_key_is_swept_and_then_acts_afresh(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()
    first = await apply_with_key(scenario, order_id, "yesterday")
    assert first.status_code == 201, first.text
    async with sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyKeyRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    async with sessions() as session, session.begin():
        removed = await idempotency.delete_expired_idempotency_keys(session, utcnow())
    assert removed == 1
    assert await stored_keys(sessions) == []

    again = await apply_with_key(scenario, order_id, "yesterday")
    assert again.status_code == 201, again.text
    assert REPLAYED not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert await returns_of_order(sessions, order_id) == 2


async def test_an_expired_key_not_yet_swept_acts_afresh(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()
    first = await apply_with_key(scenario, order_id, "stale")
    async with sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyKeyRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    again = await apply_with_key(scenario, order_id, "stale")

    assert again.status_code == 201, again.text
    assert again.json()["id"] != first.json()["id"]
    (row,) = await stored_keys(sessions)
    assert row.expires_at > utcnow() + timedelta(hours=23)


async def test_the_sweep_keeps_keys_that_have_not_expired(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()
    assert (await apply_with_key(scenario, order_id, "fresh")).status_code == 201

    async with sessions() as session, session.begin():
        assert await idempotency.delete_expired_idempotency_keys(session, utcnow()) == 0
    async with sessions() as session, session.begin():
        later = utcnow() + timedelta(days=1, seconds=1)
        assert await idempotency.delete_expired_idempotency_keys(session, later) == 1


async def test_the_deadline_sweep_removes_expired_keys_too(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await scenario.order()
    assert (await apply_with_key(scenario, order_id, "swept")).status_code == 201

    await sweep_once(sessions)
    assert len(await stored_keys(sessions)) == 1

    await sweep_once(sessions, now=utcnow() + timedelta(days=1, seconds=1))
    assert await stored_keys(sessions) == []


@pytest.mark.parametrize(
    "key",
    ["", "has space", "x" * 256, "tab\there"],
    ids=["empty", "space", "too-long", "control-character"],
)
async def test_a_malformed_key_is_a_validation_error(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession], key: str
) -> None:
    order_id = await scenario.order()

    response = await apply_with_key(scenario, order_id, key)

    problem = assert_problem(response, 422, "validation_error")
    assert any(error["loc"] == ["header", KEY] for error in problem["errors"]), problem
    assert await returns_of_order(sessions, order_id) == 0


async def test_a_key_of_255_visible_characters_is_accepted(scenario: Scenario) -> None:
    order_id = await scenario.order()
    key = ("!~" * 128)[:255]

    first = await apply_with_key(scenario, order_id, key)
    again = await apply_with_key(scenario, order_id, key)

    assert first.status_code == 201, first.text
    assert_replay_of(again, first)


async def test_every_post_of_a_known_caller_documents_the_key_and_its_answers(app: FastAPI) -> None:
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    posts = {path: item["post"] for path, item in paths.items() if "post" in item}
    assert "/v1/returns" in posts

    for path, operation in posts.items():
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        signed_webhook = path.startswith("/v1/webhooks/")
        assert (KEY in declared) is not signed_webhook, path
        if not signed_webhook:
            assert {"409", "422"} <= set(operation["responses"]), path


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (Party("merchant", "m:x", "y"), Party("merchant", "m", "x:y")),
        (Party("merchant", "a:b:c", "d"), Party("merchant", "a", "b:c:d")),
        (Party("merchant", "m", "x"), Party("merchant", "m:x", "x")),
        (Party("platform", "p:"), Party("platform", "p", ":")),
        (Party("platform", "s"), Party("platform", "s", "")),
    ],
    ids=["sub-colon-shop", "two-colons", "shop-in-sub", "trailing-colon", "empty-shop"],
)
async def test_callers_whose_ids_join_alike_never_share_an_idempotency_key(
    client: AsyncClient, first: Party, second: Party
) -> None:
    """Found: scopes were "role:sub:shop", so merchant ("m:x", "y") and ("m", "x:y") shared
    keys, and the second was replayed the first's new subscription, secret included."""
    body = {"url": "https://hooks.example/k", "events": ["return.*"]}
    created = await client.post(
        "/v1/webhook-subscriptions", json=body, headers=with_key(first, "shared-key")
    )
    assert created.status_code == 201, created.text
    other = await client.post(
        "/v1/webhook-subscriptions", json=body, headers=with_key(second, "shared-key")
    )
    assert REPLAYED not in other.headers
    assert other.status_code in (201, 401), other.text
    if other.status_code == 201:
        assert other.json()["id"] != created.json()["id"]
        assert other.json()["secret"] != created.json()["secret"]
