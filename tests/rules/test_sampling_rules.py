"""The sample of buyers: a stable bucket per buyer id, and how many buckets a window reads."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from returns_service.rules.sampling import BUYER_BUCKETS, buckets_to_sample, buyer_bucket


def test_a_buyers_bucket_never_changes() -> None:
    """Stored on every order and return: a new hash would need every row filled again."""
    assert BUYER_BUCKETS == 1024
    assert [buyer_bucket(buyer) for buyer in ("buyer-1", "b0", "买家", "")] == [913, 81, 148, 29]


@given(st.text(max_size=64))
def test_every_buyer_falls_in_one_of_the_buckets(buyer_id: str) -> None:
    bucket = buyer_bucket(buyer_id)
    assert 0 <= bucket < BUYER_BUCKETS
    assert buyer_bucket(buyer_id) == bucket


def test_ids_that_differ_by_a_counter_spread_evenly_over_the_buckets() -> None:
    """100 ids a bucket on average: each bucket holds between half and twice that, and the
    first tenth of the buckets about a tenth of the ids (a sample is a fair share)."""
    counts = Counter(buyer_bucket(f"buyer-{number}") for number in range(102_400))
    assert len(counts) == BUYER_BUCKETS
    assert min(counts.values()) >= 50 and max(counts.values()) <= 200
    first_tenth = sum(counts[bucket] for bucket in range(102))
    assert abs(first_tenth - 10_200) <= 600


@given(orders=st.integers(min_value=0, max_value=10**6), sample=st.integers(1, 10**5))
def test_a_window_within_the_threshold_is_counted_exactly(orders: int, sample: int) -> None:
    if orders <= sample:
        assert buckets_to_sample(orders, sample) is None


@given(
    sample=st.integers(min_value=1, max_value=10**5),
    extra=st.integers(min_value=1, max_value=10**9),
)
def test_beyond_it_the_expected_orders_read_stay_within_the_threshold(
    sample: int, extra: int
) -> None:
    orders = sample + extra
    buckets = buckets_to_sample(orders, sample)
    assert buckets is not None and 1 <= buckets < BUYER_BUCKETS
    # The most buckets whose expected orders stay within the threshold, but at least one.
    assert buckets == 1 or orders * buckets <= sample * BUYER_BUCKETS
    assert orders * (buckets + 1) > sample * BUYER_BUCKETS


def test_at_the_boundary_one_order_more_starts_the_sample() -> None:
    assert buckets_to_sample(4000, 4000) is None
    assert buckets_to_sample(4001, 4000) == 1023
    assert buckets_to_sample(8000, 4000) == 512
    assert buckets_to_sample(4000 * 1024 * 10, 4000) == 1
