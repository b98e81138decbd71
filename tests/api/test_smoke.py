from tests.api.scenario import ADDRESS, Scenario


async def test_a_return_is_applied_for_and_approved(scenario: Scenario) -> None:
    created = await scenario.open_return()
    assert created["status"] == "requested"
    response = await scenario.act(
        created["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"
    assert response.headers["ETag"] == '"2"'
