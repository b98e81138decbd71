"""When to try a failed delivery again: exponential backoff, full jitter, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_delay(
    attempts_made: int, base_seconds: float, cap_seconds: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the n-th failed attempt: uniform in [0, min(cap, base * 2^(n-1))].

    Full jitter spreads the retries of many deliveries that failed together (an endpoint that
    was down for everyone) instead of sending them back in one wave.
    """
    ceiling = min(cap_seconds, base_seconds * 2 ** max(attempts_made - 1, 0))
    return (rng or random).uniform(0, ceiling)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """The wait a Retry-After header asks for: delay-seconds or an HTTP date; None if absent
    or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
