"""The arithmetic of statistics: rates, shares, nearest-rank percentiles, histograms,
repurchase impact. Hypothesis at the edges: empty, one, ties, huge."""

from __future__ import annotations

import math
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from returns_service.rules.statistics import (
    HISTOGRAM_BUCKETS,
    BuyerActivity,
    RepurchaseCounts,
    bucket_seconds,
    count_repurchases,
    duration_bucket,
    nearest_rank,
    nearest_rank_from_histogram,
    rate,
    repurchase_impact,
    shares,
)
from returns_service.statistics.periods import block_start, blocks

durations = st.integers(min_value=0, max_value=10 * 365 * 86400)
percents = st.integers(min_value=1, max_value=100)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_a_rate_of_a_part_is_between_0_and_1_and_none_of_nothing(part: int, extra: int) -> None:
    value = rate(part, part + extra)
    if part + extra == 0:
        assert value is None
    else:
        assert value is not None and 0.0 <= value <= 1.0


def test_a_rate_of_nothing_is_none() -> None:
    assert rate(0, 0) is None


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(min_value=0, max_value=10**6)))
def test_shares_sum_to_1_most_frequent_first_ties_by_name(counts: dict[str, int]) -> None:
    result = shares(counts)
    present = {name: count for name, count in counts.items() if count > 0}
    assert {share.name for share in result} == set(present)
    if present:
        assert math.isclose(sum(share.share for share in result), 1.0, rel_tol=1e-9)
    keys = [(-share.count, share.name) for share in result]
    assert keys == sorted(keys)
    assert all(0 < share.share <= 1 for share in result)


@given(st.lists(durations, min_size=1, max_size=200), percents)
def test_a_nearest_rank_percentile_is_a_member_with_enough_at_or_below(
    values: list[int], percent: int
) -> None:
    value = nearest_rank(values, percent)
    assert value in values
    at_or_below = sum(1 for v in values if v <= value)
    below = sum(1 for v in values if v < value)
    assert at_or_below >= percent * len(values) / 100
    assert below < percent * len(values) / 100


def test_percentiles_of_nothing_are_none() -> None:
    assert nearest_rank([], 50) is None
    assert nearest_rank_from_histogram({}, 90) is None
    assert nearest_rank_from_histogram({3: 0}, 90) is None


def test_nearest_rank_by_hand() -> None:
    assert nearest_rank([15, 20, 35, 40, 50], 50) == 35
    assert nearest_rank([15, 20, 35, 40, 50], 90) == 50
    assert nearest_rank([86_400, 172_800], 50) == 86_400
    assert nearest_rank([7], 1) == 7


@given(durations)
def test_a_bucket_stands_for_every_duration_in_it_within_5_percent(seconds: int) -> None:
    bucket = duration_bucket(seconds)
    assert 0 <= bucket < HISTOGRAM_BUCKETS
    assert abs(bucket_seconds(bucket) - seconds) <= 0.05 * seconds
    assert duration_bucket(bucket_seconds(bucket)) == bucket


@given(durations, durations)
def test_buckets_keep_the_order_of_durations(a: int, b: int) -> None:
    if a <= b:
        assert duration_bucket(a) <= duration_bucket(b)


def test_short_durations_are_exact_and_negative_ones_count_as_zero() -> None:
    assert [bucket_seconds(duration_bucket(s)) for s in range(32)] == list(range(32))
    assert duration_bucket(-5) == duration_bucket(0)


@given(st.lists(durations, min_size=1, max_size=300), percents)
def test_a_percentile_read_from_a_histogram_is_within_5_percent_of_the_exact_one(
    values: list[int], percent: int
) -> None:
    histogram: dict[int, int] = {}
    for value in values:
        histogram[duration_bucket(value)] = histogram.get(duration_bucket(value), 0) + 1
    exact = nearest_rank(values, percent)
    assert exact is not None
    approximate = nearest_rank_from_histogram(histogram, percent)
    assert approximate is not None
    assert abs(approximate - exact) <= 0.05 * exact


activities = st.builds(
    lambda repurchased, returned, after: BuyerActivity(
        repurchased=repurchased, returned=returned, repurchased_after_return=returned and after
    ),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


@given(st.lists(activities, max_size=100))
def test_repurchase_impact_is_the_ratio_of_two_rates_or_none(
    buyers: list[BuyerActivity],
) -> None:
    counts = count_repurchases(buyers)
    assert counts.buyers == len(buyers)
    assert counts.returners <= counts.buyers
    impact = repurchase_impact(counts)
    of_returners = rate(counts.returners_repurchased, counts.returners)
    of_everyone = rate(counts.repurchased, counts.buyers)
    if of_returners is None or not of_everyone:
        assert impact is None
    else:
        assert impact is not None and impact >= 0
        assert math.isclose(impact * of_everyone, of_returners)


def test_repurchase_impact_by_hand() -> None:
    # The source articles' case: returning buyers come back less often than the rest.
    assert repurchase_impact(RepurchaseCounts(100, 50, 10, 3)) == 0.6
    assert repurchase_impact(RepurchaseCounts(3, 1, 2, 1)) == 1.5
    assert repurchase_impact(RepurchaseCounts(3, 0, 2, 0)) is None  # nobody came back
    assert repurchase_impact(RepurchaseCounts(3, 1, 0, 0)) is None  # nobody returned
    assert repurchase_impact(RepurchaseCounts(0, 0, 0, 0)) is None


days = st.dates(min_value=date(1970, 1, 1), max_value=date(2199, 1, 1))


@given(days, st.integers(min_value=0, max_value=800))
def test_blocks_cover_every_day_of_a_window_once_and_stay_few(first: date, length: int) -> None:
    end = first + timedelta(days=length)
    chosen = blocks(first, end)
    covered: list[date] = []
    for span, ranges in chosen.items():
        for start, stop in ranges:
            assert block_start(start, span) == start
            block = start
            while block < stop:
                covered += [block + timedelta(days=n) for n in range(span)]
                block += timedelta(days=span)
    assert sorted(covered) == [first + timedelta(days=n) for n in range(length)]
    count = sum((stop - start).days // span for span, r in chosen.items() for start, stop in r)
    assert count <= 7 + 7 + 7 + 7 + length // 64 + 1
