"""Days summed in aligned blocks, so that a long window reads a few dozen blocks, not every day.

Each cell is kept for its day and also summed over the aligned block of 8 and of 64 days
that holds it (blocks are counted from 1970-01-01). A window of whole days is then the
largest blocks that fit in its middle and smaller ones towards its ends: at most 7 + 7 days,
7 + 7 eight-day blocks and 5 sixty-four-day blocks for a year, whatever the size of the shop.
"""

from __future__ import annotations

from datetime import date, timedelta

SPANS = (64, 8, 1)  # days per block, largest first
_EPOCH = date(1970, 1, 1)


def block_start(day: date, span: int) -> date:
    """The first day of the aligned block of `span` days that holds `day`."""
    number = (day - _EPOCH).days
    return _EPOCH + timedelta(days=number - number % span)


def blocks(first: date, end: date) -> dict[int, list[tuple[date, date]]]:
    """The blocks that cover the days [first, end) exactly, as ranges of block starts
    [from, to) per span: every day is in exactly one chosen block."""
    chosen: dict[int, list[tuple[date, date]]] = {span: [] for span in SPANS}
    day = first
    while day < end:
        for span in SPANS:
            if block_start(day, span) == day and day + timedelta(days=span) <= end:
                ranges = chosen[span]
                if ranges and ranges[-1][1] == day:
                    ranges[-1] = (ranges[-1][0], day + timedelta(days=span))
                else:
                    ranges.append((day, day + timedelta(days=span)))
                day += timedelta(days=span)
                break
    return {span: ranges for span, ranges in chosen.items() if ranges}
