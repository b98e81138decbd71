"""Deadlines as data on the return, and the timers that act as `system` when they pass."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient

from returns_service.app import create_app
from returns_service.returns import repository
from returns_service.timers.sweep import sweep_once
from tests.api.conftest import test_settings as settings_for
from tests.api.scenario import ADDRESS, Scenario
from tests.api.timekeeping import (
    at,
    deliver,
    from_now,
    sessions,
    set_policy,
    stored,
    sweep,
    system_events,
)
from tests.conftest import Database

SHORT = {
    "review_timeout": "PT1S",
    "ship_timeout": "PT2S",
    "receive_timeout": "PT3S",
    "escalation_timeout": "PT4S",
    # Without one the review timer leaves goods-back returns to the merchant.
    "return_address": ADDRESS,
}
LATER = 60  # seconds: every SHORT clock has run out by then, and no default one
SHIPMENT = {"carrier": "SF", "tracking_number": "SF1001"}
REJECTION = {"reason_code": "item_stained", "note": "The photos show stains."}
VENV_BIN = Path(sys.executable).parent


async def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def requested(scenario: Scenario, **overrides: Any) -> dict[str, Any]:
    return await scenario.open_return(**overrides)


async def approved(scenario: Scenario, **overrides: Any) -> dict[str, Any]:
    created = await scenario.open_return(**overrides)
    body = {"return_address": ADDRESS} if overrides.get("type") != "refund_only" else {}
    return await _ok(await scenario.act(created["id"], "approve", scenario.merchant, body))


async def shipped(scenario: Scenario) -> dict[str, Any]:
    return_id = (await approved(scenario))["id"]
    return await _ok(await scenario.act(return_id, "ship", scenario.buyer, SHIPMENT))


async def rejected(scenario: Scenario) -> dict[str, Any]:
    created = await scenario.open_return()
    return await _ok(await scenario.act(created["id"], "reject", scenario.merchant, REJECTION))


REFUND_ONLY = {"type": "refund_only", "reason": "quality_defect"}


# --- Deadlines as data -----------------------------------------------------------------------


async def test_each_state_shows_its_deadline_from_the_shop_policy(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(
        scenario,
        review_timeout="PT1H",
        ship_timeout="PT2H",
        receive_timeout="PT3H",
        escalation_timeout="PT4H",
    )
    created = await requested(scenario)
    assert created["deadline"]["action"] == "review"
    assert created["deadline"]["actor"] == "merchant"
    assert at(created["deadline"]["due_at"]) == at(created["created_at"]) + timedelta(hours=1)

    ok = await _ok(
        await scenario.act(created["id"], "approve", scenario.merchant, {"return_address": ADDRESS})
    )
    assert (ok["deadline"]["action"], ok["deadline"]["actor"]) == ("ship", "buyer")
    assert at(ok["deadline"]["due_at"]) == at(ok["updated_at"]) + timedelta(hours=2)

    gone = await _ok(await scenario.act(created["id"], "ship", scenario.buyer, SHIPMENT))
    assert gone["deadline"] is None  # the merchant's clock waits for the carrier

    delivered_at = from_now(-600)
    await deliver(database, created["id"], delivered_at)
    arrived = await _ok(await scenario.get(created["id"]))
    assert (arrived["deadline"]["action"], arrived["deadline"]["actor"]) == ("receive", "merchant")
    assert at(arrived["deadline"]["due_at"]) == delivered_at + timedelta(hours=3)

    received = await _ok(
        await scenario.act(created["id"], "receive", scenario.merchant, {"inspection": "passed"})
    )
    assert received["deadline"] is None
    refunded = await _ok(await scenario.act(created["id"], "refund", scenario.merchant))
    assert refunded["deadline"] is None

    refusal = await rejected(scenario)
    assert (refusal["deadline"]["action"], refusal["deadline"]["actor"]) == ("escalate", "buyer")
    assert at(refusal["deadline"]["due_at"]) == at(refusal["updated_at"]) + timedelta(hours=4)

    unpaid = await approved(scenario, **REFUND_ONLY)
    assert (unpaid["deadline"]["action"], unpaid["deadline"]["actor"]) == ("refund", "merchant")
    assert at(unpaid["deadline"]["due_at"]) == at(unpaid["updated_at"]) + timedelta(hours=1)


async def test_changing_the_policy_later_does_not_move_running_deadlines(
    scenario: Scenario,
) -> None:
    await set_policy(scenario, review_timeout="PT1H")
    running = await requested(scenario)
    await set_policy(scenario, review_timeout="PT5H")

    still = await _ok(await scenario.get(running["id"]))
    assert still["deadline"] == running["deadline"]
    assert at(still["deadline"]["due_at"]) == at(running["created_at"]) + timedelta(hours=1)

    newer = await requested(scenario)
    assert at(newer["deadline"]["due_at"]) == at(newer["created_at"]) + timedelta(hours=5)


# --- Each timer, once, as the system ---------------------------------------------------------


async def _timed_out(
    scenario: Scenario, database: Database, return_id: str, action: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sweep past the one short deadline; the return was acted on once, by the system."""
    assert await sweep(database, from_now(LATER)) == 1
    assert await sweep(database, from_now(LATER)) == 0  # nothing is acted on twice
    after = await _ok(await scenario.get(return_id))
    by_system = system_events(await scenario.events(return_id))
    assert by_system, "the system wrote no event"
    assert by_system[0]["type"] == action
    return after, by_system[0]


async def test_the_review_timeout_approves_as_the_system(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, review_timeout="PT1S", return_address=ADDRESS)
    created = await requested(scenario)
    after, event = await _timed_out(scenario, database, created["id"], "approve")
    assert after["status"] == "approved"
    assert after["version"] == 2
    assert event["data"]["timer"] == "review"
    # Times in event data are written as the API writes them, in UTC with a Z.
    assert event["data"]["due_at"].endswith("Z")
    assert at(event["data"]["due_at"]) == at(created["deadline"]["due_at"])
    assert (event["from_status"], event["to_status"]) == ("requested", "approved")
    # Approval starts the buyer's clock from when it happened.
    assert after["deadline"]["action"] == "ship"


async def test_the_review_timeout_approves_and_refunds_a_refund_only(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, review_timeout="PT1S")
    created = await requested(scenario, **REFUND_ONLY)

    after, _ = await _timed_out(scenario, database, created["id"], "approve")
    assert after["status"] == "refunded"
    assert after["refund"]["amount"] == created["refund_amount"]
    moves = [(e["type"], e["to_status"]) for e in system_events(await scenario.events(after["id"]))]
    assert moves == [("approve", "approved"), ("refund", "refunded")]
    row, _ = await stored(database, created["id"])
    assert row.refunded_amount == created["refund_amount"]
    assert row.deadline_due_at is None


async def test_the_ship_timeout_closes_a_return_never_sent(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, ship_timeout="PT1S")
    ok = await approved(scenario)
    after, event = await _timed_out(scenario, database, ok["id"], "close")
    assert after["status"] == "closed"
    assert after["deadline"] is None
    assert event["data"]["timer"] == "ship"


async def test_the_receive_timeout_refunds_only_after_the_carrier_reports_delivery(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, receive_timeout="PT1S")
    parcel = await shipped(scenario)
    assert await sweep(database, from_now(LATER)) == 0  # no delivery, no clock

    await deliver(database, parcel["id"], from_now(0))
    after, event = await _timed_out(scenario, database, parcel["id"], "refund")
    assert after["status"] == "refunded"
    assert after["refund"]["amount"] == parcel["refund_amount"]
    assert event["data"]["timer"] == "receive"
    assert (event["from_status"], event["to_status"]) == ("shipped", "refunded")


async def test_the_escalation_timeout_makes_a_rejection_final(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, escalation_timeout="PT1S")
    refusal = await rejected(scenario)
    after, event = await _timed_out(scenario, database, refusal["id"], "close")
    assert after["status"] == "closed"
    assert event["data"]["timer"] == "escalate"
    # A closed rejection gives its units back: the buyer may apply again.
    again = await scenario.apply(
        refusal["order_id"], items=[{"line_id": "l1", "quantity": 2, "condition": "unopened"}]
    )
    assert again.status_code == 201, again.text


async def test_an_approved_refund_only_is_paid_when_the_merchant_forgets(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, review_timeout="PT1S")
    unpaid = await approved(scenario, **REFUND_ONLY)
    after, event = await _timed_out(scenario, database, unpaid["id"], "refund")
    assert after["status"] == "refunded"
    assert event["data"]["timer"] == "refund"


async def test_a_sweep_acts_on_every_due_return_and_leaves_the_rest(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, **SHORT)
    due = [await requested(scenario), await approved(scenario), await rejected(scenario)]
    other = scenario.other_shop()
    not_due = await other.open_return()  # default policy: 48 hours to review

    assert await sweep(database, from_now(LATER)) == len(due)
    statuses = [(await _ok(await scenario.get(r["id"])))["status"] for r in due]
    assert statuses == ["approved", "closed", "closed"]
    assert (await _ok(await other.get(not_due["id"])))["status"] == "requested"


# --- Many sweepers, the server's own loop, the command ---------------------------------------


async def test_four_sweeps_at_once_act_exactly_once_per_due_return(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(
        scenario, review_timeout="PT1S", escalation_timeout="PT1S", return_address=ADDRESS
    )
    due: list[dict[str, Any]] = []
    for _ in range(6):
        due.append(await requested(scenario))
        due.append(await requested(scenario, **REFUND_ONLY))
        due.append(await rejected(scenario))
    now = from_now(LATER)

    async def one_sweeper() -> int:
        async with sessions(database) as sessionmaker:
            return await sweep_once(sessionmaker, now)

    counts = await asyncio.gather(*(one_sweeper() for _ in range(4)))
    assert sum(counts) == len(due), counts

    for created in due:
        _, events = await stored(database, created["id"])
        by_system = Counter(e.type for e in events if e.actor_role == "system")
        expected = {
            "requested": Counter({"approve": 1}),
            "rejected": Counter({"close": 1}),
        }[created["status"]]
        if created["type"] == "refund_only":
            expected = Counter({"approve": 1, "refund": 1})
        assert by_system == expected, (created["id"], by_system)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert await sweep(database, now) == 0


async def test_a_sweep_passes_over_a_return_someone_holds_and_takes_it_later(
    scenario: Scenario, database: Database
) -> None:
    if not database.is_postgres:
        pytest.skip("SQLite has no row locks: BEGIN IMMEDIATE queues the writers instead")
    await set_policy(scenario, review_timeout="PT1S", return_address=ADDRESS)
    held, free = await requested(scenario), await requested(scenario)
    now = from_now(LATER)
    async with sessions(database) as sessionmaker, sessionmaker() as session, session.begin():
        assert await repository.find_return(session, held["id"], for_update=True) is not None
        # SKIP LOCKED: the sweep neither waits for the lock nor acts on the held return.
        assert await asyncio.wait_for(sweep(database, now), timeout=5) == 1
        assert (await _ok(await scenario.get(free["id"])))["status"] == "approved"
    assert await sweep(database, now) == 1
    assert (await _ok(await scenario.get(held["id"])))["status"] == "approved"


async def test_the_server_sweeps_on_its_own(database: Database) -> None:
    app = create_app(settings_for(database, sweep_interval_seconds=0.2))
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://returns.test") as http:
            scenario = Scenario(http)
            await set_policy(scenario, review_timeout="PT0.5S", return_address=ADDRESS)
            created = await requested(scenario)
            status = created["status"]
            for _ in range(100):  # up to ~5 s
                status = (await _ok(await scenario.get(created["id"])))["status"]
                if status != "requested":
                    break
                await asyncio.sleep(0.05)
            assert status == "approved"
            assert system_events(await scenario.events(created["id"]))[0]["type"] == "approve"


async def test_the_servers_sweep_survives_a_database_failure(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """With no schema the sweep fails each time; the loop logs and keeps going."""
    unmigrated = (
        database.url.rsplit("/", 1)[0] + "/no_such_database_for_sweep_tests"
        if database.is_postgres
        else f"sqlite+aiosqlite:///{Path(str(database.template)).parent / 'empty.db'}"
    )
    app = create_app(settings_for(database, sweep_interval_seconds=0.05, database_url=unmigrated))
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if sum("deadline sweep failed" in r.message for r in caplog.records) >= 2:
                break
            await asyncio.sleep(0.05)
    assert sum("deadline sweep failed" in r.message for r in caplog.records) >= 2


async def test_the_sweep_command_prints_how_many_it_acted_on(
    scenario: Scenario, database: Database
) -> None:
    if database.is_postgres:
        pytest.skip("the command is exercised against a SQLite file")
    await set_policy(scenario, review_timeout="PT0.1S", return_address=ADDRESS)
    created = [await requested(scenario), await requested(scenario)]
    await asyncio.sleep(
        max(0.0, (at(created[-1]["deadline"]["due_at"]) - from_now(0)).total_seconds())
    )
    environment = {**os.environ, "RETURNS_DATABASE_URL": database.url}
    process = await asyncio.create_subprocess_exec(
        str(VENV_BIN / "returns-service"),
        "sweep",
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "acted on 2 due deadlines"
    for item in created:
        assert (await _ok(await scenario.get(item["id"])))["status"] == "approved"


async def test_the_review_timer_sends_goods_to_the_address_the_shop_policy_names(
    scenario: Scenario, database: Database
) -> None:
    policy = await set_policy(scenario, review_timeout="PT1S", return_address=ADDRESS)
    assert policy["return_address"] == {**ADDRESS, "postal_code": None}
    opened = await scenario.open_return()

    acted = await sweep(database, from_now(5))

    assert acted == 1
    approved = (await scenario.get(opened["id"])).json()
    assert approved["status"] == "approved"
    assert approved["return_address"] == {**ADDRESS, "postal_code": None}
    assert approved["deadline"]["action"] == "ship"


async def test_a_merchant_approving_without_an_address_uses_the_policy_default(
    scenario: Scenario,
) -> None:
    await scenario.client.put(
        f"/v1/shops/{scenario.shop_id}/return-policy",
        json={"return_address": ADDRESS},
        headers=scenario.merchant.headers,
    )
    opened = await scenario.open_return()
    approved = await scenario.act(opened["id"], "approve", scenario.merchant, {})
    assert approved.status_code == 200, approved.text
    assert approved.json()["return_address"] == {**ADDRESS, "postal_code": None}


async def test_the_review_timer_leaves_goods_back_with_no_address_at_all_to_the_merchant(
    scenario: Scenario, database: Database
) -> None:
    """Approved by the timer, the buyer would be told to ship to no address. The return stays
    requested, its timer stopped, in the merchant's work queue (awaiting=merchant) with no
    due time, until a person approves it with an address."""
    await set_policy(scenario, review_timeout="PT1S")
    opened = await scenario.open_return()
    refund_only = await scenario.open_return(**REFUND_ONLY)

    acted = await sweep(database, from_now(5))

    assert acted == 2  # the refund-only one refunded, the other one handed to the merchant
    held = await _ok(await scenario.get(opened["id"]))
    assert (held["status"], held["deadline"], held["return_address"]) == ("requested", None, None)
    assert held["version"] == 2
    assert (await _ok(await scenario.get(refund_only["id"])))["status"] == "refunded"
    queue = await scenario.client.get(
        "/v1/returns",
        params={"awaiting": "merchant", "sort": "due_at"},
        headers=scenario.merchant.headers,
    )
    assert [item["id"] for item in queue.json()["items"]] == [opened["id"]]
    assert await sweep(database, from_now(3600)) == 0  # never picked up again
    approved = await scenario.act(
        opened["id"], "approve", scenario.merchant, {"return_address": ADDRESS}, if_match=2
    )
    assert approved.status_code == 200, approved.text
