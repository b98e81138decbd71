"""Simultaneous requests on one return or one order: exactly one winner, never a 5xx.

The requests go over TCP to a real uvicorn server so that they truly run in parallel: on
PostgreSQL they race for row locks (`SELECT ... FOR UPDATE`), on SQLite they queue on
BEGIN IMMEDIATE. Either way the outcome must be the same.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from returns_service.models import OrderRow, ReturnEventRow, ReturnRow
from tests.api.conftest import test_settings as settings_for
from tests.api.live_server import serve
from tests.api.scenario import ADDRESS, Party, Scenario, application_body
from tests.api.timekeeping import from_now, set_policy, sweep
from tests.conftest import Database

REQUEST_TIMEOUT_SECONDS = 60.0


@pytest.fixture
async def live(database: Database) -> AsyncIterator[Scenario]:
    """A scenario whose client talks to a real server over TCP."""
    with serve(settings_for(database, database_pool_size=40)) as base_url:
        async with AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
            yield Scenario(http)


async def all_at_once(requests: Sequence[Awaitable[Response]]) -> list[Response]:
    responses = await asyncio.gather(*requests)
    server_errors = [(r.status_code, r.text) for r in responses if r.status_code >= 500]
    assert not server_errors, server_errors
    return list(responses)


def statuses(responses: list[Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def codes(responses: list[Response]) -> Counter[str]:
    return Counter(r.json()["code"] for r in responses if r.status_code >= 400)


async def stored(database: Database, return_id: str) -> tuple[ReturnRow, list[ReturnEventRow]]:
    """What the database holds for the return: its row and its timeline."""
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(select(ReturnRow).where(ReturnRow.id == return_id))
            ).one()
            events = (
                await connection.execute(
                    select(ReturnEventRow)
                    .where(ReturnEventRow.return_id == return_id)
                    .order_by(ReturnEventRow.seq)
                )
            ).all()
    finally:
        await engine.dispose()
    return row, events  # type: ignore[return-value]


async def refunded_on_order(database: Database, order_id: str) -> int:
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            total = (
                await connection.execute(
                    select(func.coalesce(func.sum(ReturnRow.refunded_amount), 0)).where(
                        ReturnRow.order_id == order_id
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    return int(total or 0)


async def received_return(live: Scenario) -> dict[str, Any]:
    created = await live.open_return()
    return_id = created["id"]
    steps: list[tuple[str, Party, dict[str, Any]]] = [
        ("approve", live.merchant, {"return_address": ADDRESS}),
        ("ship", live.buyer, {"carrier": "SF", "tracking_number": "SF1000"}),
        ("receive", live.merchant, {"inspection": "passed", "deductions": []}),
    ]
    for action, party, body in steps:
        response = await live.act(return_id, action, party, body)
        assert response.status_code == 200, response.text
    received: dict[str, Any] = response.json()
    assert received["status"] == "received"
    return received


async def test_of_32_approvals_and_cancellations_carrying_the_same_version_exactly_one_wins(
    live: Scenario, database: Database
) -> None:
    created = await live.open_return()
    return_id = created["id"]
    requests = [
        live.act(return_id, "approve", live.merchant, {"return_address": ADDRESS}, if_match=1)
        if n % 2
        else live.act(return_id, "cancel", live.buyer, {"note": f"cancel {n}"}, if_match=1)
        for n in range(32)
    ]
    responses = await all_at_once(requests)

    counted = statuses(responses)
    assert counted[200] == 1, counted
    assert set(counted) <= {200, 409, 412}, counted
    assert set(codes(responses)) <= {"version_mismatch", "invalid_transition"}
    winner = next(r for r in responses if r.status_code == 200).json()
    assert winner["version"] == 2

    current = await live.get(return_id)
    assert current.json()["status"] == winner["status"]
    assert current.headers["ETag"] == '"2"'
    row, events = await stored(database, return_id)
    assert (row.status, row.version) == (winner["status"], 2)
    out_of_requested = [e for e in events if e.from_status == "requested"]
    assert len(out_of_requested) == 1
    assert out_of_requested[0].to_status == winner["status"]
    assert [e.type for e in events] == ["created", out_of_requested[0].type]


async def test_of_32_approvals_without_if_match_one_approves_and_31_find_it_approved(
    live: Scenario, database: Database
) -> None:
    created = await live.open_return()
    return_id = created["id"]
    responses = await all_at_once(
        [
            live.act(return_id, "approve", live.merchant, {"return_address": ADDRESS})
            for _ in range(32)
        ]
    )

    assert statuses(responses) == {200: 1, 409: 31}
    assert codes(responses) == {"invalid_transition": 31}
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["state"] == "approved"
    row, events = await stored(database, return_id)
    assert (row.status, row.version) == ("approved", 2)
    assert [(e.type, e.from_status, e.to_status) for e in events] == [
        ("created", None, "requested"),
        ("approve", "requested", "approved"),
    ]


async def test_of_24_simultaneous_refunds_exactly_one_pays_and_only_once(
    live: Scenario, database: Database
) -> None:
    received = await received_return(live)
    return_id, refundable = received["id"], received["refund_amount"]
    assert refundable == 9900
    parties = (live.merchant, live.platform)
    responses = await all_at_once(
        [live.act(return_id, "refund", parties[n % 2]) for n in range(24)]
    )

    assert statuses(responses) == {200: 1, 409: 23}
    assert codes(responses) == {"invalid_transition": 23}
    refunded = next(r for r in responses if r.status_code == 200).json()
    assert refunded["status"] == "refunded"
    assert refunded["refund"]["amount"] == refundable
    row, events = await stored(database, return_id)
    assert (row.status, row.refunded_amount) == ("refunded", refundable)
    assert [e.type for e in events].count("refund") == 1
    assert await refunded_on_order(database, received["order_id"]) == refundable


async def test_of_12_simultaneous_applications_for_a_2_unit_line_exactly_two_are_opened(
    live: Scenario, database: Database
) -> None:
    order_id = await live.order()
    body = application_body(order_id)
    assert body["items"] == [{"line_id": "l1", "quantity": 1, "condition": "unopened"}]
    responses = await all_at_once(
        [live.client.post("/v1/returns", json=body, headers=live.buyer.headers) for _ in range(12)]
    )

    assert statuses(responses) == {201: 2, 422: 10}
    for refused in (r for r in responses if r.status_code == 422):
        problem = refused.json()
        assert problem["code"] == "rule_violation"
        assert {v["rule"] for v in problem["violations"]} == {"quantity_exceeds_returnable"}
    order = await live.client.get(f"/v1/orders/{order_id}", headers=live.buyer.headers)
    assert order.status_code == 200, order.text
    assert [line["returnable"] for line in order.json()["lines"]] == [0]
    listed = await live.client.get(
        "/v1/returns", params={"buyer_id": live.buyer.id}, headers=live.platform.headers
    )
    assert len(listed.json()["items"]) == 2


async def received_returns_of_one_order(live: Scenario, count: int) -> list[str]:
    order_id = await live.order()
    ids = []
    for _ in range(count):
        applied = await live.apply(order_id)
        assert applied.status_code == 201, applied.text
        ids.append(applied.json()["id"])
    for return_id in ids:
        steps: list[tuple[str, Party, dict[str, Any]]] = [
            ("approve", live.merchant, {"return_address": ADDRESS}),
            ("ship", live.buyer, {"carrier": "SF", "tracking_number": f"SF-{return_id[:8]}"}),
            ("receive", live.merchant, {"inspection": "passed", "deductions": []}),
        ]
        for action, party, body in steps:
            response = await live.act(return_id, action, party, body)
            assert response.status_code == 200, response.text
    return ids


async def test_batches_refunding_returns_of_two_orders_in_crossing_order_never_deadlock(
    live: Scenario, database: Database
) -> None:
    """One batch refunds a return of order 1 then one of order 2, another batch the other
    way round, four pairs at once.

    A batch holds every lock it takes until it commits; taken as it goes, two such batches
    wait on each other and the database aborts one (a deadlock, once a 500). Taken up front
    in one order, every batch goes through.
    """
    pairs = []
    for _ in range(4):
        one = await received_returns_of_one_order(live, 2)
        two = await received_returns_of_one_order(live, 2)
        pairs.append(([one[0], two[0]], [two[1], one[1]]))
    responses = await all_at_once(
        [
            live.client.post(
                "/v1/returns/batch",
                json={"action": "refund", "ids": ids, "body": {}},
                headers=live.merchant.headers,
            )
            for pair in pairs
            for ids in pair
        ]
    )

    assert statuses(responses) == {200: 8}
    assert [item["status"] for r in responses for item in r.json()["items"]] == [200] * 16
    for pair in pairs:
        for return_id in (*pair[0], *pair[1]):
            row, events = await stored(database, return_id)
            assert (row.status, row.refunded_amount) == ("refunded", 9900)
            assert [e.type for e in events].count("refund") == 1


@pytest.mark.postgres_only
async def test_a_refund_the_database_aborts_as_a_deadlock_is_a_503_to_retry(
    live: Scenario, database: Database
) -> None:
    """Another transaction holds the order and then wants the return the refund holds.

    The refund waits first, so its deadlock check runs first and PostgreSQL aborts it: the
    client gets a 503 to retry (once a 500), nothing of the refund is kept, and the retry pays.
    """
    if not database.is_postgres:
        pytest.skip("row locks and deadlock detection are PostgreSQL's")
    received = await received_return(live)
    return_id, order_id = received["id"], received["order_id"]
    other = create_async_engine(database.url)
    try:
        async with other.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(
                select(OrderRow.id).where(OrderRow.id == order_id).with_for_update()
            )
            refund = asyncio.create_task(live.act(return_id, "refund", live.merchant))
            await waiting_on_a_lock(connection, refund)
            try:
                await connection.execute(
                    select(ReturnRow.id).where(ReturnRow.id == return_id).with_for_update()
                )
            finally:
                aborted = await refund
                await transaction.rollback()
    finally:
        await other.dispose()

    assert aborted.status_code == 503, aborted.text
    assert aborted.json()["code"] == "service_unavailable"
    assert aborted.headers["Retry-After"]
    row, events = await stored(database, return_id)
    assert (row.status, row.refunded_amount) == ("received", None)
    assert "refund" not in [e.type for e in events]
    retried = await live.act(return_id, "refund", live.merchant)
    assert retried.status_code == 200, retried.text
    assert retried.json()["refund"]["amount"] == received["refund_amount"]


async def waiting_on_a_lock(connection: AsyncConnection, request: asyncio.Task[Response]) -> None:
    """Until another session of this database waits on a lock (the request reached it)."""
    statement = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while not (await connection.execute(statement)).scalar_one():
        assert not request.done(), request.result().text
        await asyncio.sleep(0.01)


async def _offered(live: Scenario, amount: int = 3000) -> str:
    created = await live.open_return()
    offered = await live.act(created["id"], "offer", live.merchant, {"amount": amount})
    assert offered.status_code == 200, offered.text
    return_id: str = created["id"]
    return return_id


async def test_of_16_simultaneous_acceptances_of_an_offer_exactly_one_pays_and_only_once(
    live: Scenario, database: Database
) -> None:
    return_id = await _offered(live)
    responses = await all_at_once(
        [live.act(return_id, "accept_offer", live.buyer) for _ in range(16)]
    )
    assert statuses(responses) == {200: 1, 409: 15}
    assert set(codes(responses)) == {"invalid_transition"}
    row, events = await stored(database, return_id)
    assert (row.status, row.refunded_amount) == ("refunded", 3000)
    assert [e.type for e in events].count("accept_offer") == 1


async def test_an_acceptance_racing_the_offer_timer_ends_one_way_only(
    live: Scenario, database: Database
) -> None:
    """The buyer accepts as the sweep declines for them: accepted and paid, or declined and
    back to review, never both, never paid twice."""
    await set_policy(live, offer_timeout="PT1S")
    return_ids = [await _offered(live, 1000 + n) for n in range(4)]
    accepts = [live.act(return_id, "accept_offer", live.buyer) for return_id in return_ids]
    sweeps = [sweep(database, from_now(60)) for _ in range(2)]
    results = await asyncio.gather(*accepts, *sweeps)
    answers: list[Response] = list(results[: len(accepts)])
    assert all(r.status_code in (200, 409) for r in answers), [r.text for r in answers]
    swept = sum(int(n) for n in results[len(accepts) :])
    for return_id, answer in zip(return_ids, answers, strict=True):
        row, events = await stored(database, return_id)
        kinds = [e.type for e in events]
        if answer.status_code == 200:
            assert (row.status, kinds.count("accept_offer"), kinds.count("decline_offer")) == (
                "refunded",
                1,
                0,
            )
            assert row.refunded_amount == answer.json()["refund"]["amount"]
        else:
            assert answer.json()["code"] == "invalid_transition"
            assert (row.status, kinds.count("accept_offer"), kinds.count("decline_offer")) == (
                "requested",
                0,
                1,
            )
            assert row.refunded_amount is None
    assert swept == sum(1 for r in answers if r.status_code == 409)
