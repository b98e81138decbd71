"""Inspection outcomes: they account for each returned unit once; only restocked units restock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from returns_service.rules.inspection import (
    DISPOSITION_OF_UNKNOWN_LINE,
    DISPOSITIONS_DO_NOT_ADD_UP,
    UnitOutcome,
    check_outcomes,
    default_outcomes,
    restocked,
)
from returns_service.rules.vocabulary import Disposition, Inspection

returned_lines = st.dictionaries(
    st.text(alphabet="abcl123", min_size=1, max_size=4),
    st.integers(min_value=1, max_value=50),
    min_size=1,
    max_size=5,
)


@st.composite
def exact_splits(draw: st.DrawFn) -> tuple[dict[str, int], list[UnitOutcome]]:
    """A return and outcomes that split each of its lines over random dispositions."""
    returned = draw(returned_lines)
    outcomes: list[UnitOutcome] = []
    for line_id, quantity in returned.items():
        left = quantity
        while left:
            part = draw(st.integers(min_value=1, max_value=left))
            outcomes.append(UnitOutcome(line_id, part, draw(st.sampled_from(list(Disposition)))))
            left -= part
    return returned, draw(st.permutations(outcomes))


@given(case=exact_splits())
def test_outcomes_that_account_for_every_unit_stand_and_restock_only_restocked_units(
    case: tuple[dict[str, int], list[UnitOutcome]],
) -> None:
    returned, outcomes = case
    assert check_outcomes(returned, outcomes) == ()
    back_to_stock = restocked(outcomes)
    for line_id, quantity in returned.items():
        expected = sum(
            o.quantity
            for o in outcomes
            if o.line_id == line_id and o.disposition is Disposition.RESTOCK
        )
        assert back_to_stock.get(line_id, 0) == expected <= quantity
    assert all(units > 0 for units in back_to_stock.values())


@given(case=exact_splits(), data=st.data())
def test_one_unit_too_many_or_too_few_on_any_line_is_refused(
    case: tuple[dict[str, int], list[UnitOutcome]], data: st.DataObject
) -> None:
    returned, outcomes = case
    index = data.draw(st.integers(min_value=0, max_value=len(outcomes) - 1))
    changed = outcomes[index]
    delta = data.draw(st.sampled_from([-1, 1]))
    off_by_one = [
        *outcomes[:index],
        UnitOutcome(changed.line_id, changed.quantity + delta, changed.disposition),
        *outcomes[index + 1 :],
    ]
    rules = {v.rule for v in check_outcomes(returned, off_by_one)}
    assert rules == {DISPOSITIONS_DO_NOT_ADD_UP}


@given(returned=returned_lines)
def test_a_line_the_return_does_not_name_is_refused(returned: dict[str, int]) -> None:
    outcomes = [UnitOutcome(line_id, q, Disposition.RESTOCK) for line_id, q in returned.items()]
    outcomes.append(UnitOutcome("not-a-line!", 1, Disposition.SCRAP))
    assert {v.rule for v in check_outcomes(returned, outcomes)} == {DISPOSITION_OF_UNKNOWN_LINE}


def test_no_outcomes_for_a_return_with_units_do_not_add_up() -> None:
    violations = check_outcomes({"l1": 2}, [])
    assert [v.rule for v in violations] == [DISPOSITIONS_DO_NOT_ADD_UP]
    assert "names 2 unit(s)" in violations[0].message


@given(returned=returned_lines)
def test_left_out_a_passed_inspection_restocks_everything_and_a_failed_one_nothing(
    returned: dict[str, int],
) -> None:
    passed = default_outcomes(returned, Inspection.PASSED)
    assert check_outcomes(returned, passed) == ()
    assert restocked(passed) == returned
    assert restocked(default_outcomes(returned, Inspection.FAILED)) == {}
