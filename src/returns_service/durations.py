"""ISO 8601 durations as the API speaks them ("PT48H", "P7D")."""

from __future__ import annotations

import re
from datetime import timedelta

# ASCII digits only (\d would take "٣" or "²"), at most 9 before the point and 9 after: every
# part then fits a timedelta and the float, and the total is checked against the bound.
_NUMBER = r"[0-9]{1,9}"
_DURATION = re.compile(
    rf"P(?!$)(?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?=[0-9])(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?"
    rf"(?:(?P<seconds>{_NUMBER}(?:\.[0-9]{{1,9}})?)S)?)?",
    re.ASCII,
)
# Years and months have no fixed length; deadlines must be exact, so they are refused.
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """Parse a week/day/time ISO 8601 duration; raise ValueError for anything else."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT48H or P7D")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    try:
        duration = timedelta(**parts)
    except OverflowError as error:
        raise ValueError(f"{text!r} is longer than ten years") from error
    if duration > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than ten years")
    return duration


def format_duration(duration: timedelta) -> str:
    """The shortest day/hour ISO 8601 text of a whole number of hours ("P7D", "PT48H").

    Written for the platform defaults (rules.facts.ReturnPolicy), which are whole hours: a
    whole number of days above two reads as days, anything else as hours.
    """
    hours, rest = divmod(duration, timedelta(hours=1))
    if rest:
        raise ValueError(f"{duration} is not a whole number of hours")
    if hours % 24 == 0 and hours > 48:
        return f"P{hours // 24}D"
    return f"PT{hours}H"
