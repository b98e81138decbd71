"""The arithmetic of what merchants watch: rates, shares, percentiles, repurchase impact.

Every figure that can be undefined (nothing to divide by) is None, never a division by zero.
Durations are kept in rollups as histograms whose buckets are narrow enough that a
nearest-rank percentile read from them is within 5% of the exact one.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FIRST_RESPONSE_TARGET_SECONDS = 7200  # "2 working hours" of the source articles

# Below this, one bucket per second: exact. Above, each bucket is at most 5% wider than its
# lower bound, and the value it stands for is the harmonic mean of its extremes, so the
# relative error is at most 0.05 / 2.05 plus half a second of rounding.
_EXACT_BELOW = 32
_GROWTH = 1.05
_LARGEST = 2**45  # seconds: over a million years, beyond any duration worth counting


def _bucket_bounds() -> tuple[int, ...]:
    bounds = list(range(_EXACT_BELOW + 1))
    while bounds[-1] < _LARGEST:
        bounds.append(max(bounds[-1] + 1, math.ceil(bounds[-1] * _GROWTH)))
    return tuple(bounds)


_BOUNDS = _bucket_bounds()
HISTOGRAM_BUCKETS = len(_BOUNDS) - 1


def duration_bucket(seconds: int) -> int:
    """The histogram bucket a duration in whole seconds falls in (negatives count as 0)."""
    seconds = min(max(seconds, 0), _LARGEST - 1)
    return bisect_right(_BOUNDS, seconds) - 1


def bucket_seconds(bucket: int) -> int:
    """The duration a bucket stands for: within 5% of every duration it holds."""
    low, high = _BOUNDS[bucket], _BOUNDS[bucket + 1] - 1
    if low == high:
        return low
    return round(2 * low * high / (low + high))


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by. Callers count a part of the
    whole, so the rate is between 0 and 1."""
    if whole <= 0:
        return None
    return part / whole


def nearest_rank(values: Sequence[int], percent: int) -> int | None:
    """The nearest-rank percentile: the smallest value with at least `percent`% at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent * len(ordered) / 100))
    return ordered[rank - 1]


def nearest_rank_from_histogram(counts: Mapping[int, int], percent: int) -> int | None:
    """The nearest-rank percentile of the durations a histogram holds, as its bucket's value."""
    total = sum(count for count in counts.values() if count > 0)
    if total == 0:
        return None
    rank = max(1, math.ceil(percent * total / 100))
    seen = 0
    for bucket in sorted(counts):
        if counts[bucket] <= 0:
            continue
        seen += counts[bucket]
        if seen >= rank:
            return bucket_seconds(bucket)
    raise AssertionError("unreachable: the ranks add up to the total")


@dataclass(frozen=True)
class Share:
    name: str
    count: int
    share: float


def shares(counts: Mapping[str, int]) -> list[Share]:
    """Each name's share of the whole, most frequent first, ties by name; zero counts left out.

    The shares sum to 1 (up to float rounding) whenever anything was counted.
    """
    present = {name: count for name, count in counts.items() if count > 0}
    total = sum(present.values())
    ordered = sorted(present.items(), key=lambda item: (-item[1], item[0]))
    return [Share(name, count, count / total) for name, count in ordered]


@dataclass(frozen=True)
class BuyerActivity:
    """One buyer's facts within a window, for repurchase impact.

    `repurchased`: paid a later order of the shop after their first order paid in the window.
    `returned`: applied for a return in the window; `repurchased_after_return`: paid a later
    order after their first return applied for in the window.
    """

    repurchased: bool
    returned: bool
    repurchased_after_return: bool


@dataclass(frozen=True)
class RepurchaseCounts:
    buyers: int
    repurchased: int
    returners: int
    returners_repurchased: int


def count_repurchases(activities: Iterable[BuyerActivity]) -> RepurchaseCounts:
    buyers = repurchased = returners = returners_repurchased = 0
    for activity in activities:
        buyers += 1
        repurchased += activity.repurchased
        if activity.returned:
            returners += 1
            returners_repurchased += activity.repurchased_after_return
    return RepurchaseCounts(buyers, repurchased, returners, returners_repurchased)


def repurchase_impact(counts: RepurchaseCounts) -> float | None:
    """Returning buyers' repurchase rate over everyone's (复购影响系数).

    None when either rate is undefined, or when nobody repurchased at all (the ratio would
    divide by zero). Unlike the other figures it is not bounded by 1.
    """
    of_returners = rate(counts.returners_repurchased, counts.returners)
    of_everyone = rate(counts.repurchased, counts.buyers)
    if of_returners is None or of_everyone is None or of_everyone == 0:
        return None
    return of_returners / of_everyone
