"""GET /v1/statistics over a known history, on both databases, every field checked."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient, Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.scenario import PROBLEM, Party, Scenario, order_body
from tests.api.statistics_history import W_FROM, W_TO, History, build_history, t
from tests.api.timekeeping import Clock, pinned_clock
from tests.conftest import Database


@pytest.fixture
def clock() -> Iterator[Clock]:
    with pinned_clock(t(1)) as pinned:
        yield pinned


@pytest.fixture
async def history(scenario: Scenario, clock: Clock, database: Database) -> History:
    return await build_history(scenario, clock, database)


async def statistics(
    client: AsyncClient, by: Party, expect: int = 200, **params: Any
) -> dict[str, Any]:
    response = await client.get("/v1/statistics", params=params, headers=by.headers)
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


def window(**more: Any) -> dict[str, Any]:
    return {"from": W_FROM.isoformat(), "to": W_TO.isoformat(), **more}


def close_to(value: int | None, exact: int) -> bool:
    return value is not None and abs(value - exact) <= 0.05 * exact


async def refunded_total(history: History) -> int:
    total = 0
    for name in ("R1", "R2"):
        response = await history.scenario.get(history.returns[name])
        total += response.json()["refund"]["amount"]
    return total


async def test_the_totals_of_a_known_week_count_every_figure(history: History) -> None:
    scenario = history.scenario
    answer = await statistics(scenario.client, scenario.merchant, **window())
    processing = answer.pop("processing_time")
    response = answer.pop("first_response")
    assert answer == {
        "shop_id": scenario.shop_id,
        "from": "2026-03-01T00:00:00Z",
        "to": "2026-03-08T00:00:00Z",
        "orders": 4,  # O6 at the window's start is in, O5 at its end is out, O4 before it
        "orders_with_returns": 2,  # O1, O2 (R3 was cancelled, but R2 was not)
        "return_rate": 0.5,
        "units_sold": 8,
        "units_returned": 2,
        "returns": 4,
        "by_status": {
            "requested": 0,
            "offered": 0,
            "approved": 1,
            "rejected": 0,
            "cancelled": 1,
            "shipped": 0,
            "received": 0,
            "refunded": 2,
            "completed": 0,
            "arbitration": 0,
            "closed": 0,
        },
        "disputes": 1,
        "dispute_rate": 0.25,
        "refunds": [{"currency": "CNY", "count": 2, "amount": await refunded_total(history)}],
        "reasons": [
            {"reason": "no_reason", "count": 2, "share": 0.5},
            {"reason": "quality_defect", "count": 1, "share": 0.25},
            {"reason": "size_mismatch", "count": 1, "share": 0.25},
        ],
        "automatic_actions": 1,
        "approximate": True,
        # A and B returned, A bought again: 1/2; of A, B, D only A bought again: 1/3.
        "repurchase_impact": pytest.approx(1.5),
        "groups": [],
    }
    assert processing["count"] == 2 and processing["approximate"] is True
    assert close_to(processing["median_seconds"], 86_400)
    assert close_to(processing["p90_seconds"], 172_800)
    assert response["count"] == 2 and response["within_2h_share"] == 0.5
    assert close_to(response["median_seconds"], 1_800)
    assert close_to(response["p90_seconds"], 14_400)


def groups(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            g["key"],
            g["orders"],
            g["orders_with_returns"],
            g["return_rate"],
            g["units_sold"],
            g["units_returned"],
            g["returns"],
        )
        for g in answer["groups"]
    ]


async def test_groups_by_category_count_each_groups_lines_only(history: History) -> None:
    scenario = history.scenario
    answer = await statistics(scenario.client, scenario.merchant, **window(group_by="category"))
    assert groups(answer) == [
        ("apparel", 2, 1, 0.5, 3, 1, 2),  # O1 and O3; R1 and R4 name apparel
        ("home", 2, 1, 0.5, 4, 1, 2),  # O2 and O6; R2 and R3
        ("shoes", 1, 0, 0.0, 1, 0, 0),  # O1's shoes were kept
    ]
    by_sku = await statistics(scenario.client, scenario.merchant, **window(group_by="sku"))
    assert groups(by_sku) == [
        ("MUG", 2, 1, 0.5, 4, 1, 2),
        ("SHOE", 1, 0, 0.0, 1, 0, 0),
        ("TSHIRT", 2, 1, 0.5, 3, 1, 2),
    ]


async def test_groups_by_region_use_the_orders_region(history: History) -> None:
    scenario = history.scenario
    answer = await statistics(scenario.client, scenario.merchant, **window(group_by="region"))
    assert groups(answer) == [
        ("CN-BJ", 1, 1, 1.0, 3, 1, 2),
        ("CN-GD", 2, 1, 0.5, 4, 1, 1),
        ("CN-SH", 0, 0, None, 0, 0, 1),  # only R4, of an order paid before the window
        (None, 1, 0, 0.0, 1, 0, 0),  # O6 names no region
    ]


async def test_groups_by_reason_fill_only_the_return_figures(history: History) -> None:
    scenario = history.scenario
    answer = await statistics(scenario.client, scenario.merchant, **window(group_by="reason"))
    assert groups(answer) == [
        ("no_reason", None, None, None, None, None, 2),
        ("quality_defect", None, None, None, None, None, 1),
        ("size_mismatch", None, None, None, None, None, 1),
    ]


async def test_groups_by_day_put_orders_on_their_paid_day_and_returns_on_their_application_day(
    history: History,
) -> None:
    scenario = history.scenario
    answer = await statistics(scenario.client, scenario.merchant, **window(group_by="day"))
    assert groups(answer) == [
        ("2026-03-01", 3, 2, pytest.approx(2 / 3), 7, 2, 0),
        ("2026-03-02", 0, 0, None, 0, 0, 2),
        ("2026-03-03", 0, 0, None, 0, 0, 1),
        ("2026-03-04", 0, 0, None, 0, 0, 1),
        ("2026-03-05", 1, 0, 0.0, 1, 0, 0),
        ("2026-03-06", 0, 0, None, 0, 0, 0),
        ("2026-03-07", 0, 0, None, 0, 0, 0),
    ]


async def test_the_window_is_half_open_at_both_ends_to_the_second(history: History) -> None:
    scenario = history.scenario

    async def counts(start: str, end: str) -> tuple[int, int]:
        answer = await statistics(scenario.client, scenario.merchant, **{"from": start, "to": end})
        return answer["orders"], answer["returns"]

    # O1 was paid at 03-01 10:00 and R1 applied for at 03-02 09:00; O2 paid at 11:00.
    assert await counts("2026-03-01T10:00:00Z", "2026-03-02T09:00:00Z") == (2, 0)
    assert await counts("2026-03-01T10:00:01Z", "2026-03-02T09:00:01Z") == (1, 1)
    # Whole days from the rollups, partial days at both ends from the rows.
    assert await counts("2026-03-01T10:30:00Z", "2026-03-05T12:00:00Z") == (1, 4)
    assert await counts("2026-03-01T10:30:00Z", "2026-03-05T12:00:01Z") == (2, 4)
    # The same instants written in another zone.
    assert await counts("2026-03-01T18:00:00+08:00", "2026-03-02T17:00:00+08:00") == (2, 0)


async def test_the_csv_has_the_totals_row_first_then_one_row_per_group(history: History) -> None:
    scenario = history.scenario
    response = await scenario.client.get(
        "/v1/statistics",
        params=window(group_by="category"),
        headers={**scenario.merchant.headers, "Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["row"], row["key"]) for row in rows] == [
        ("total", ""),
        ("group", "apparel"),
        ("group", "home"),
        ("group", "shoes"),
    ]
    total = rows[0]
    assert (total["orders"], total["orders_with_returns"], total["return_rate"]) == (
        "4",
        "2",
        "0.5",
    )
    assert (total["returns"], total["status_refunded"], total["disputes"]) == ("4", "2", "1")
    assert total["refunds_CNY_count"] == "2"
    assert total["reason_no_reason_count"] == "2"
    assert total["first_response_within_2h_share"] == "0.5"
    assert rows[1]["units_sold"] == "3" and rows[1]["group_by"] == "category"
    assert rows[3]["return_rate"] == "0.0" and rows[3]["disputes"] == ""


async def test_a_window_of_366_days_is_the_longest(history: History) -> None:
    scenario = history.scenario
    start = W_TO - timedelta(days=366)
    answer = await statistics(
        scenario.client, scenario.merchant, **{"from": start.isoformat(), "to": W_TO.isoformat()}
    )
    assert answer["orders"] == 5  # O4 too
    problem = await statistics(
        scenario.client,
        scenario.merchant,
        422,
        **{"from": (start - timedelta(seconds=1)).isoformat(), "to": W_TO.isoformat()},
    )
    assert problem["code"] == "validation_error"
    backwards = await statistics(
        scenario.client,
        scenario.merchant,
        422,
        **{"from": W_TO.isoformat(), "to": W_FROM.isoformat()},
    )
    assert backwards["code"] == "validation_error"


async def test_the_default_window_is_the_last_30_days(history: History) -> None:
    scenario = history.scenario
    history.clock.at(t(31, 1))  # 03-31 01:00: the default window starts 03-01 01:00
    answer = await statistics(scenario.client, scenario.merchant)
    assert answer["from"] == "2026-03-01T01:00:00Z" and answer["to"] == "2026-03-31T01:00:00Z"
    assert (answer["orders"], answer["returns"]) == (4, 4)  # O1, O2, O3, O5; not O6 at 00:00


async def test_merchants_see_their_own_shop_and_the_platform_any_or_all(
    history: History,
) -> None:
    scenario = history.scenario
    other = scenario.other_shop()
    history.clock.at(t(3, 12))
    await other.order(paid_at=t(3, 11).isoformat(), delivered_at=t(3, 11).isoformat())

    own = await statistics(scenario.client, scenario.merchant, **window(shop_id=scenario.shop_id))
    assert own["orders"] == 4
    refused = await statistics(
        scenario.client, scenario.merchant, 404, **window(shop_id=other.shop_id)
    )
    assert refused["code"] == "not_found"
    assert (await statistics(scenario.client, other.merchant, **window()))["orders"] == 1
    buyer = await statistics(scenario.client, scenario.buyer, 403, **window())
    assert buyer["code"] == "forbidden"
    for staff in (scenario.platform, scenario.storefront):
        everything = await statistics(scenario.client, staff, **window())
        assert everything["shop_id"] is None
        assert (everything["orders"], everything["returns"]) == (5, 4)
        one = await statistics(scenario.client, staff, **window(shop_id=other.shop_id))
        assert (one["shop_id"], one["orders"], one["returns"]) == (other.shop_id, 1, 0)
    response: Response = await scenario.client.get("/v1/statistics")
    assert response.status_code == 401


async def test_an_empty_window_answers_nulls_not_divisions_by_zero(
    scenario: Scenario, clock: Clock
) -> None:
    answer = await statistics(scenario.client, scenario.merchant, **window(group_by="day"))
    assert (answer["orders"], answer["returns"]) == (0, 0)
    for rate in ("return_rate", "dispute_rate", "repurchase_impact"):
        assert answer[rate] is None
    assert answer["processing_time"] == {
        "count": 0,
        "median_seconds": None,
        "p90_seconds": None,
        "approximate": False,
    }
    assert answer["approximate"] is False
    assert answer["first_response"]["within_2h_share"] is None
    assert answer["reasons"] == [] and answer["refunds"] == []
    assert len(answer["groups"]) == 7


query_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["category", "region", "sku", "reason", "day", "week", "", "DAY"]),
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.timezones()
    ).map(lambda at: at.isoformat()),
    st.integers().map(str),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.dictionaries(
        st.sampled_from(["shop_id", "from", "to", "group_by"]), query_values, max_size=4
    ),
    csv_wanted=st.booleans(),
)
async def test_hostile_queries_are_answered_with_problems_never_a_500(
    scenario: Scenario, params: dict[str, str], csv_wanted: bool
) -> None:
    headers = dict(scenario.merchant.headers)
    if csv_wanted:
        headers["Accept"] = "text/csv"
    response = await scenario.client.get("/v1/statistics", params=params, headers=headers)
    assert response.status_code in (200, 404, 422), response.text
    if response.status_code != 200:
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["status"] == response.status_code


async def test_a_key_that_looks_like_a_formula_opens_as_text_in_the_csv(
    scenario: Scenario, clock: Clock
) -> None:
    formula = '=HYPERLINK("http://evil.example","x")'
    lines = [{**line, "sku": formula} for line in order_body("s", "b")["lines"]]
    await scenario.order(lines=lines, paid_at=t(2).isoformat(), delivered_at=t(2).isoformat())
    response = await scenario.client.get(
        "/v1/statistics",
        params=window(group_by="sku"),
        headers={**scenario.merchant.headers, "Accept": "text/csv"},
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["key"] for row in rows] == ["", "'" + formula]
    json_answer = await statistics(scenario.client, scenario.merchant, **window(group_by="sku"))
    assert [group["key"] for group in json_answer["groups"]] == [formula]


async def test_every_shop_at_once_counts_partial_days_shop_by_shop(history: History) -> None:
    scenario = history.scenario
    other = scenario.other_shop()
    history.clock.at(t(3, 12))
    await other.order(paid_at=t(1, 10, 30).isoformat(), delivered_at=t(1, 11).isoformat())
    params = {"from": "2026-03-01T10:00:00Z", "to": "2026-03-02T09:00:01Z"}
    everything = await statistics(scenario.client, scenario.platform, **params)
    assert (everything["orders"], everything["returns"]) == (3, 1)  # O1, O2 and the other's
