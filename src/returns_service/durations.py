"""ISO 8601 durations as the API speaks them ("PT48H", "P7D")."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
# Years and months have no fixed length; deadlines must be exact, so they are refused.
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """Parse a week/day/time ISO 8601 duration; raise ValueError for anything else."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT48H or P7D")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    duration = timedelta(**parts)
    if duration > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than ten years")
    return duration
