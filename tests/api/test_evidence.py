"""Evidence on rejections, escalations, arbitrations and messages; the standard reject reasons."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.problem_checks import assert_problem, rules_of
from tests.api.scenario import Scenario
from tests.api.timekeeping import stored
from tests.conftest import Database

PHOTOS = ["https://img.example.com/r/1.jpg", "https://img.example.com/r/2.jpg"]


async def test_the_standard_reject_reasons_say_which_need_evidence(
    scenario: Scenario, database: Database
) -> None:
    response = await scenario.client.get("/v1/reject-reasons", headers=scenario.buyer.headers)
    assert response.status_code == 200, response.text
    reasons = {r["code"]: r for r in response.json()["items"]}
    assert reasons["used"]["needs_evidence"] is True
    assert reasons["outside_window"]["needs_evidence"] is False
    assert all(r["title"] for r in reasons.values())
    assert response.json()["next_cursor"] is None
    assert (await scenario.client.get("/v1/reject-reasons")).status_code == 401


async def test_a_rejection_whose_code_needs_evidence_is_refused_without_it_and_stands_with_it(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]
    bare = await scenario.act(
        return_id, "reject", scenario.merchant, {"reason_code": "used", "note": "worn"}
    )
    assert rules_of(assert_problem(bare, 422, "rule_violation")) == ["evidence_required"]
    row, events = await stored(database, return_id)
    assert (row.status, row.version, len(events)) == ("requested", 1, 1)

    shown = await scenario.act(
        return_id,
        "reject",
        scenario.merchant,
        {"reason_code": "used", "note": "worn", "evidence": PHOTOS},
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["rejection"] == {"reason_code": "used", "note": "worn", "evidence": PHOTOS}
    rejected = (await scenario.events(return_id, by=scenario.buyer))[-1]
    assert rejected["type"] == "reject"
    assert rejected["data"]["evidence"] == PHOTOS


async def test_a_code_that_needs_no_evidence_and_a_shops_own_code_stand_without_it(
    scenario: Scenario, database: Database
) -> None:
    for code in ("outside_window", "item_stained"):
        created = await scenario.open_return()
        response = await scenario.act(
            created["id"], "reject", scenario.merchant, {"reason_code": code, "note": "no"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejection"]["evidence"] == []


async def test_escalation_arbitration_and_messages_carry_evidence_onto_the_timeline(
    scenario: Scenario, database: Database
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]
    steps: list[tuple[str, Any, dict[str, Any]]] = [
        ("reject", scenario.merchant, {"reason_code": "x", "note": "no", "evidence": PHOTOS[:1]}),
        ("escalate", scenario.buyer, {"note": "it was unworn", "evidence": PHOTOS}),
        (
            "arbitrate",
            scenario.platform,
            {"decision": "merchant", "note": "photos show wear", "evidence": PHOTOS[1:]},
        ),
    ]
    for action, by, body in steps:
        response = await scenario.act(return_id, action, by, body)
        assert response.status_code == 200, response.text
    message = await scenario.client.post(
        f"/v1/returns/{return_id}/messages",
        json={"body": "see the tag", "evidence": PHOTOS},
        headers=scenario.buyer.headers,
    )
    assert message.status_code == 201, message.text
    assert message.json()["data"]["evidence"] == PHOTOS
    timeline = await scenario.events(return_id)
    assert [(e["type"], e["data"].get("evidence")) for e in timeline[1:]] == [
        ("reject", PHOTOS[:1]),
        ("escalate", PHOTOS),
        ("arbitrate", PHOTOS[1:]),
        ("message", PHOTOS),
    ]


@pytest.mark.parametrize(
    "evidence",
    [
        ["http://img.example.com/1.jpg"],
        ["javascript:alert(1)"],
        ["https://"],
        [PHOTOS[0]] * 10,
        "https://img.example.com/1.jpg",
        [1],
    ],
    ids=["http", "javascript", "no-host", "ten", "not-a-list", "a-number"],
)
async def test_evidence_that_is_not_up_to_9_https_urls_is_refused_and_nothing_is_written(
    scenario: Scenario, database: Database, evidence: Any
) -> None:
    created = await scenario.open_return()
    return_id = created["id"]
    reject = await scenario.act(
        return_id,
        "reject",
        scenario.merchant,
        {"reason_code": "x", "note": "n", "evidence": evidence},
    )
    assert_problem(reject, 422, "validation_error")
    message = await scenario.client.post(
        f"/v1/returns/{return_id}/messages",
        json={"body": "hi", "evidence": evidence},
        headers=scenario.buyer.headers,
    )
    assert_problem(message, 422, "validation_error")
    row, events = await stored(database, return_id)
    assert (row.status, len(events)) == ("requested", 1)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(evidence=st.lists(st.text(max_size=40), min_size=1, max_size=3))
async def test_any_text_as_evidence_is_an_answer_never_a_server_error(
    scenario: Scenario, database: Database, evidence: list[str]
) -> None:
    created = await scenario.open_return()
    message = await scenario.client.post(
        f"/v1/returns/{created['id']}/messages",
        json={"body": "hi", "evidence": evidence},
        headers=scenario.buyer.headers,
    )
    assert message.status_code in (201, 422), message.text
    if message.status_code == 201:
        assert all(url.startswith("https://") for url in message.json()["data"]["evidence"])
