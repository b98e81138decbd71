"""The sweep writes a shop's batch of timers in a few statements; one bad return still cannot
stop the rest, many sweepers still act once per deadline, and subscribers hear exactly what
one return at a time would have told them."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import event, update

from returns_service.models import ReturnRow
from returns_service.timers import sweep as sweep_module
from returns_service.timers.sweep import sweep_once
from tests.api.negotiation_support import outbox_events
from tests.api.scenario import ADDRESS, Scenario
from tests.api.timekeeping import from_now, sessions, set_policy, stored, sweep
from tests.conftest import Database

LATER = 60  # seconds: every clock of SHORT has run out by then
SHORT = {
    "review_timeout": "PT1S",
    "escalation_timeout": "PT1S",
    "offer_timeout": "PT1S",
    "return_address": ADDRESS,
}
REJECTION = {"reason_code": "item_stained", "note": "The photos show stains."}
REFUND_ONLY = {"type": "refund_only", "reason": "quality_defect"}


async def _change_row(database: Database, return_id: str, **values: Any) -> None:
    """Change the stored return behind the service's back (a row made invalid)."""
    async with sessions(database) as sessionmaker, sessionmaker() as session, session.begin():
        await session.execute(update(ReturnRow).where(ReturnRow.id == return_id).values(**values))


async def _due_returns(scenario: Scenario, count: int) -> list[dict[str, Any]]:
    """Returns whose timers the sweep takes in a batch: reviews, rejections, offers."""
    made: list[dict[str, Any]] = []
    for n in range(count):
        created = await scenario.open_return()
        if n % 3 == 1:
            response = await scenario.act(created["id"], "reject", scenario.merchant, REJECTION)
            assert response.status_code == 200, response.text
        elif n % 3 == 2:
            response = await scenario.act(created["id"], "offer", scenario.merchant, {"amount": 10})
            assert response.status_code == 200, response.text
        made.append(created)
    return made


EXPECTED_MOVE = {
    0: ("approve", "approved"),
    1: ("close", "closed"),
    2: ("decline_offer", "requested"),
}


async def _assert_acted_once(
    scenario: Scenario,
    database: Database,
    made: list[dict[str, Any]],
    left: frozenset[str] = frozenset(),
) -> None:
    """Each return but `left` moved once by the system, as its timer says, with one outbox
    event that carries the return as it now stands and the event as the timeline has it."""
    for n, created in enumerate(made):
        return_id = created["id"]
        timeline = await scenario.events(return_id)
        by_system = [e for e in timeline if e["actor"]["role"] == "system"]
        outbox = await outbox_events(database, return_id)
        assert [e["seq"] for e in timeline] == list(range(1, len(timeline) + 1))
        assert len(outbox) == len(timeline), return_id
        if return_id in left:
            assert by_system == []
            continue
        assert [(e["type"], e["to_status"]) for e in by_system] == [EXPECTED_MOVE[n % 3]], n
        now = (await scenario.get(return_id)).json()
        last = outbox[-1]
        assert last.payload["data"]["event"] == timeline[-1]
        assert last.payload["data"]["return"] == now
        assert last.payload["occurred_at"] == timeline[-1]["at"]
        assert last.payload["id"] == last.id
        assert last.type == last.payload["type"]


async def test_a_batch_acts_on_reviews_rejections_and_offers_and_tells_subscribers_each(
    scenario: Scenario, database: Database
) -> None:
    await set_policy(scenario, **SHORT)
    made = await _due_returns(scenario, 6)
    assert await sweep(database, from_now(LATER)) == 6
    await _assert_acted_once(scenario, database, made)
    lapsed = (await scenario.get(made[2]["id"])).json()
    assert lapsed["offer"]["outcome"] == "lapsed"
    approved = (await scenario.get(made[0]["id"])).json()
    assert approved["return_address"] == {**ADDRESS, "postal_code": None}
    assert (approved["version"], approved["deadline"]["action"]) == (2, "ship")
    types = [row.type for row in await outbox_events(database, made[0]["id"])]
    assert types == ["return.requested", "return.approved"]


async def test_a_return_the_rules_refuse_is_left_and_the_rest_of_its_batch_is_acted_on(
    scenario: Scenario, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await set_policy(scenario, **SHORT)
    made = await _due_returns(scenario, 6)
    refused = made[3]["id"]
    await _change_row(database, refused, deadline_action="no_such_timer")

    assert await sweep(database, from_now(LATER)) == 5

    await _assert_acted_once(scenario, database, made, left=frozenset({refused}))
    row, events = await stored(database, refused)
    assert (row.status, row.version, row.deadline_action) == ("requested", 1, "no_such_timer")
    assert len(events) == 1
    assert any(f"deadline of return {refused} not acted on" in r.message for r in caplog.records)


async def test_a_batch_the_database_refuses_is_taken_one_by_one_and_only_the_bad_one_is_left(
    scenario: Scenario, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await set_policy(scenario, **SHORT)
    made = await _due_returns(scenario, 6)
    made.append(await scenario.open_return(**REFUND_ONLY))  # paid one at a time anyway
    bad = made[4]["id"]
    # Its next timeline event would take seq 1, which its application holds: the batch's
    # INSERT of events fails, and so does this return alone.
    await _change_row(database, bad, last_event_seq=0)

    assert await sweep(database, from_now(LATER)) == 6

    assert any("acting on them one by one" in r.message for r in caplog.records)
    await _assert_acted_once(scenario, database, made[:6], left=frozenset({bad}))
    row, events = await stored(database, bad)
    assert (row.status, row.version, len(events)) == ("rejected", 2, 2)
    paid = (await scenario.get(made[6]["id"])).json()
    assert (paid["status"], paid["refund"]["amount"]) == ("refunded", made[6]["refund_amount"])


async def test_two_sweepers_over_many_batches_act_once_per_deadline(
    scenario: Scenario, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database.is_postgres:
        pytest.skip("SQLite has one writer: two sweepers there take turns")
    # Small batches and pages, so that the two sweepers claim many batches side by side.
    monkeypatch.setattr(sweep_module, "BATCH_SIZE", 3)
    monkeypatch.setattr(sweep_module, "PAGE_SIZE", 7)
    await set_policy(scenario, **SHORT)
    made = await _due_returns(scenario, 18)
    made.append(await scenario.open_return(**REFUND_ONLY))
    now = from_now(LATER)

    async def one_sweeper() -> int:
        async with sessions(database) as sessionmaker:
            return await sweep_once(sessionmaker, now)

    counts = await asyncio.gather(one_sweeper(), one_sweeper())
    assert sum(counts) == len(made), counts
    await _assert_acted_once(scenario, database, made[:18])
    _, events = await stored(database, made[18]["id"])
    by_system = Counter(e.type for e in events if e.actor_role == "system")
    assert by_system == Counter({"approve": 1, "refund": 1})


async def test_a_sweep_over_many_batches_of_a_shop_reads_its_policy_once(
    scenario: Scenario, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so that the shop's batches run side by side (PostgreSQL: several at once).
    monkeypatch.setattr(sweep_module, "BATCH_SIZE", 2)
    monkeypatch.setattr(sweep_module, "PAGE_SIZE", 8)
    await set_policy(scenario, **SHORT)
    made = await _due_returns(scenario, 8)
    # A new version of the policy, which no process has read yet (the applications above
    # read the one before).
    await set_policy(scenario, **SHORT, restocking_fee_percent=5)
    policy_reads = 0

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        nonlocal policy_reads  # a read of the policy itself, not a version in a subquery
        policy_reads += statement.lstrip().startswith("SELECT shop_policies.")

    async with sessions(database) as sessionmaker:
        event.listen(sessionmaker.kw["bind"].sync_engine, "before_cursor_execute", count)
        assert await sweep_once(sessionmaker, from_now(LATER)) == len(made)
    await _assert_acted_once(scenario, database, made)
    assert policy_reads == 1
