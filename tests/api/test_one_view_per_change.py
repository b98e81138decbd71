"""An action builds the return's view once, for its outbox event and its answer alike (the
view is kept on the row until the row changes). Whatever an action changes, its answer, the
return its event tells subscribers about and a later read agree, action after action."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.negotiation_support import outbox_events
from tests.api.scenario import ADDRESS, Party, Scenario
from tests.conftest import Database

REJECTION = {"reason_code": "item_stained", "note": "The photos show stains.", "evidence": []}
SHIPMENT = {"carrier": "SF", "tracking_number": "SF1234567890"}


async def _agree(
    scenario: Scenario, database: Database, return_id: str, action: str, by: Party, body: Any
) -> dict[str, Any]:
    answered = await scenario.act(return_id, action, by, body)
    assert answered.status_code == 200, answered.text
    answer: dict[str, Any] = answered.json()
    read = await scenario.get(return_id)
    assert read.status_code == 200, read.text
    assert answer == read.json(), f"{action}: the answer is not what was stored"
    told = (await outbox_events(database, return_id))[-1].payload["data"]["return"]
    assert told == answer, f"{action}: subscribers were told another return than the answer"
    return answer


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(
            [
                ("approve", "merchant", {"return_address": ADDRESS, "instructions": "Box it"}),
                ("ship", "buyer", SHIPMENT),
                ("receive", "merchant", {"inspection": "passed"}),
                ("refund", "merchant", {}),
            ],
            id="goods back, refunded",
        ),
        pytest.param(
            [
                ("reject", "merchant", REJECTION),
                ("escalate", "buyer", {"note": "They are not stained."}),
                ("arbitrate", "platform", {"decision": "buyer", "note": "No stains."}),
            ],
            id="rejected, arbitrated",
        ),
        pytest.param(
            [
                ("offer", "merchant", {"amount": 100}),
                ("accept_offer", "buyer", {}),
            ],
            id="an offer taken",
        ),
    ],
)
async def test_each_answer_is_what_was_stored_and_what_subscribers_heard(
    scenario: Scenario, database: Database, steps: list[tuple[str, str, Any]]
) -> None:
    created = await scenario.open_return()
    parties = {
        "merchant": scenario.merchant,
        "buyer": scenario.buyer,
        "platform": scenario.platform,
    }
    version = created["version"]
    for action, party, body in steps:
        answer = await _agree(scenario, database, created["id"], action, parties[party], body)
        assert answer["version"] > version
        version = answer["version"]
