"""check_policy: a shop may be more generous than the law, never less, and its clocks must run."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from returns_service.rules.eligibility import (
    LEGAL_MINIMUM_DEFECT_WINDOW_DAYS,
    LEGAL_MINIMUM_WINDOW_DAYS,
    check_policy,
)
from returns_service.rules.facts import AbuseThreshold, ReturnPolicy


def rules_broken(policy: ReturnPolicy) -> list[str]:
    return [v.rule for v in check_policy(policy)]


def with_timeout(field: str, timeout: timedelta) -> ReturnPolicy:
    overrides: dict[str, Any] = {field: timeout}
    return replace(ReturnPolicy(), **overrides)


def test_the_platform_defaults_are_a_lawful_policy() -> None:
    assert rules_broken(ReturnPolicy()) == []


def test_the_legal_minimums_are_seven_and_fifteen_days() -> None:
    assert (LEGAL_MINIMUM_WINDOW_DAYS, LEGAL_MINIMUM_DEFECT_WINDOW_DAYS) == (7, 15)


def test_a_shop_cannot_shorten_the_seven_day_window() -> None:
    assert rules_broken(ReturnPolicy(window_days=6)) == ["window_below_legal_minimum"]
    assert rules_broken(ReturnPolicy(window_days=7)) == []


def test_a_shop_cannot_shorten_the_defect_window() -> None:
    assert rules_broken(ReturnPolicy(defect_window_days=14)) == [
        "defect_window_below_legal_minimum"
    ]
    assert rules_broken(ReturnPolicy(defect_window_days=15)) == []


@pytest.mark.parametrize(("percent", "lawful"), [(-1, False), (0, True), (100, True), (101, False)])
def test_the_restocking_fee_is_a_percentage(percent: int, lawful: bool) -> None:
    broken = rules_broken(ReturnPolicy(restocking_fee_percent=percent))
    assert broken == ([] if lawful else ["restocking_fee_out_of_range"])


@pytest.mark.parametrize(
    "field", ["review_timeout", "ship_timeout", "receive_timeout", "escalation_timeout"]
)
def test_every_timeout_must_be_longer_than_zero(field: str) -> None:
    zero = with_timeout(field, timedelta(0))
    (violation,) = check_policy(zero)
    assert violation.rule == "timeout_not_positive"
    assert field in violation.message
    assert rules_broken(with_timeout(field, timedelta(seconds=1))) == []


def test_each_bad_timeout_is_named_on_its_own() -> None:
    negative = ReturnPolicy(review_timeout=timedelta(hours=-1), ship_timeout=timedelta(0))
    assert rules_broken(negative) == ["timeout_not_positive", "timeout_not_positive"]


@pytest.mark.parametrize(
    ("returns", "days", "lawful"), [(0, 30, False), (5, 0, False), (1, 1, True)]
)
def test_the_abuse_threshold_needs_a_count_and_a_period(
    returns: int, days: int, lawful: bool
) -> None:
    broken = rules_broken(ReturnPolicy(abuse_threshold=AbuseThreshold(returns, days)))
    assert broken == ([] if lawful else ["abuse_threshold_invalid"])


def test_every_problem_of_a_policy_is_reported() -> None:
    hopeless = ReturnPolicy(
        window_days=3,
        defect_window_days=3,
        restocking_fee_percent=150,
        receive_timeout=timedelta(0),
        abuse_threshold=AbuseThreshold(0, 0),
    )
    assert rules_broken(hopeless) == [
        "window_below_legal_minimum",
        "defect_window_below_legal_minimum",
        "restocking_fee_out_of_range",
        "timeout_not_positive",
        "abuse_threshold_invalid",
    ]
