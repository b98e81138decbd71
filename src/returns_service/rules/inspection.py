"""What became of each returned unit: restocked, refurbished, scrapped or missing from the parcel.

Only restocked units go back to stock; the rest is the merchant's loss (商品损耗). The outcomes
of a receipt must account for exactly the units the return names, line by line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from returns_service.rules.facts import Violation
from returns_service.rules.vocabulary import Disposition, Inspection

DISPOSITIONS_DO_NOT_ADD_UP = "dispositions_do_not_add_up"
DISPOSITION_OF_UNKNOWN_LINE = "disposition_of_unknown_line"


@dataclass(frozen=True)
class UnitOutcome:
    line_id: str
    quantity: int
    disposition: Disposition


def check_outcomes(
    returned: Mapping[str, int], outcomes: Sequence[UnitOutcome]
) -> tuple[Violation, ...]:
    """Every violation of "the outcomes account for each returned unit exactly once".

    `returned` maps each line the return names to its quantity. A line may be split over
    several outcomes (2 restocked, 1 scrapped); quantities below 1 are refused too.
    """
    violations: list[Violation] = []
    counted: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.line_id not in returned:
            violations.append(
                Violation(
                    DISPOSITION_OF_UNKNOWN_LINE,
                    f"the return names no line {outcome.line_id!r}",
                )
            )
            continue
        if outcome.quantity < 1:
            violations.append(
                Violation(
                    DISPOSITIONS_DO_NOT_ADD_UP,
                    f"line {outcome.line_id!r}: a quantity of {outcome.quantity} is no unit",
                )
            )
            continue
        counted[outcome.line_id] = counted.get(outcome.line_id, 0) + outcome.quantity
    for line_id, quantity in returned.items():
        got = counted.get(line_id, 0)
        if got != quantity:
            violations.append(
                Violation(
                    DISPOSITIONS_DO_NOT_ADD_UP,
                    f"line {line_id!r}: the return names {quantity} unit(s), "
                    f"the outcomes account for {got}",
                )
            )
    return tuple(violations)


def default_outcomes(
    returned: Mapping[str, int], inspection: Inspection
) -> tuple[UnitOutcome, ...]:
    """Outcomes left out: a passed inspection restocks everything, a failed one says nothing
    about where the units went (none of them is restocked)."""
    if inspection is Inspection.FAILED:
        return ()
    return tuple(
        UnitOutcome(line_id, quantity, Disposition.RESTOCK)
        for line_id, quantity in returned.items()
    )


def restocked(outcomes: Sequence[UnitOutcome]) -> dict[str, int]:
    """Units going back to stock per line, in the order lines first appear; lines with none
    are left out."""
    units: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.disposition is Disposition.RESTOCK:
            units[outcome.line_id] = units.get(outcome.line_id, 0) + outcome.quantity
    return units
