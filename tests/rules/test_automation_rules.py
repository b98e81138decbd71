"""The after-sales assistant's matcher: every condition, empty conditions, the order of rules."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returns_service.rules.automations import (
    ACTION_NEVER_FITS,
    ACTION_NOT_FOR_TYPE,
    ACTION_TYPES,
    AUTO_REFUND_UNSHIPPED,
    DUPLICATE_RULE_NAME,
    FAST_REFUND,
    MAX_RULES,
    TOO_MANY_RULES,
    AutomationAction,
    AutomationRule,
    Conditions,
    NewReturn,
    OrderStage,
    builtin_rules,
    check_rules,
    first_match,
    fits,
    holds,
)
from returns_service.rules.facts import ReturnPolicy
from returns_service.rules.vocabulary import Reason, ReturnType

CATEGORIES = ["apparel", "shoes", "books", "toys"]

new_returns = st.builds(
    NewReturn,
    return_type=st.sampled_from(list(ReturnType)),
    reason=st.sampled_from(list(Reason)),
    refund_amount=st.integers(min_value=0, max_value=10**9),
    categories=st.frozensets(st.sampled_from(CATEGORIES), min_size=1),
    order_stage=st.sampled_from(list(OrderStage)),
    buyer_flagged=st.just(False),
    buyer_in_good_standing=st.booleans(),
)


def _maybe(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


conditions = st.builds(
    Conditions,
    types=_maybe(st.frozensets(st.sampled_from(list(ReturnType)), min_size=1)),
    reasons=_maybe(st.frozensets(st.sampled_from(list(Reason)), min_size=1)),
    max_refund_amount=_maybe(st.integers(min_value=0, max_value=10**9)),
    categories=_maybe(st.frozensets(st.sampled_from(CATEGORIES), min_size=1)),
    order=_maybe(st.sampled_from(list(OrderStage))),
    buyer_in_good_standing=_maybe(st.booleans()),
)


def _holds_by_hand(when: Conditions, facts: NewReturn) -> bool:
    """The contract read literally: each stated condition, one by one."""
    checks = [
        when.types is None or facts.return_type in when.types,
        when.reasons is None or facts.reason in when.reasons,
        when.max_refund_amount is None or facts.refund_amount <= when.max_refund_amount,
        when.categories is None or all(c in when.categories for c in facts.categories),
        when.order is None or facts.order_stage == when.order,
        when.buyer_in_good_standing is None
        or facts.buyer_in_good_standing == when.buyer_in_good_standing,
    ]
    return all(checks)


@given(when=conditions, facts=new_returns)
def test_a_rule_holds_exactly_when_every_stated_condition_holds(
    when: Conditions, facts: NewReturn
) -> None:
    assert holds(when, facts) == _holds_by_hand(when, facts)


@given(facts=new_returns)
def test_empty_conditions_hold_for_every_return(facts: NewReturn) -> None:
    assert holds(Conditions(), facts)


# One condition that the return fails, per kind of condition, everything else left out.
def _failing_conditions(facts: NewReturn) -> list[Conditions]:
    other_types = frozenset(ReturnType) - {facts.return_type}
    other_reasons = frozenset(Reason) - {facts.reason}
    failing = [
        Conditions(types=other_types),
        Conditions(reasons=other_reasons),
        Conditions(order=next(s for s in OrderStage if s is not facts.order_stage)),
        Conditions(buyer_in_good_standing=not facts.buyer_in_good_standing),
        Conditions(categories=frozenset(CATEGORIES) - {min(facts.categories)}),
    ]
    if facts.refund_amount > 0:
        failing.append(Conditions(max_refund_amount=facts.refund_amount - 1))
    return failing


@given(facts=new_returns)
def test_each_kind_of_condition_alone_stops_a_rule_that_otherwise_matches(
    facts: NewReturn,
) -> None:
    matching = Conditions(
        types=frozenset({facts.return_type}),
        reasons=frozenset({facts.reason}),
        max_refund_amount=facts.refund_amount,
        categories=facts.categories,
        order=facts.order_stage,
        buyer_in_good_standing=facts.buyer_in_good_standing,
    )
    assert holds(matching, facts)
    for failing in _failing_conditions(facts):
        stated = {k: v for k, v in vars(failing).items() if v is not None}
        assert not holds(replace(matching, **stated), facts)


rules_lists = st.lists(
    st.builds(
        AutomationRule,
        name=st.text(min_size=1, max_size=8),
        when=conditions,
        then=st.sampled_from(list(AutomationAction)),
    ),
    max_size=8,
)


@given(rules=rules_lists, facts=new_returns)
def test_the_first_rule_that_holds_and_fits_wins(
    rules: list[AutomationRule], facts: NewReturn
) -> None:
    expected = next(
        (r for r in rules if _holds_by_hand(r.when, facts) and fits(r.then, facts)), None
    )
    assert first_match(rules, facts) is expected


@given(rules=rules_lists, facts=new_returns)
def test_a_rule_that_matches_puts_every_rule_behind_it_out_of_play(
    rules: list[AutomationRule], facts: NewReturn
) -> None:
    catch_all = AutomationRule("catch all", Conditions(), AutomationAction.APPROVE)
    assert first_match([catch_all, *rules], facts) is catch_all
    winner = first_match([*rules, catch_all], facts)
    assert winner is not None
    assert winner is catch_all or winner in rules


@given(rules=rules_lists, facts=new_returns)
def test_a_flagged_buyer_gets_a_person_never_a_rule(
    rules: list[AutomationRule], facts: NewReturn
) -> None:
    catch_all = AutomationRule("catch all", Conditions(), AutomationAction.APPROVE)
    assert first_match([*rules, catch_all], replace(facts, buyer_flagged=True)) is None


@given(facts=new_returns, then=st.sampled_from(list(AutomationAction)))
def test_a_rule_never_acts_on_a_type_its_action_cannot_take(
    facts: NewReturn, then: AutomationAction
) -> None:
    rule = AutomationRule("any", Conditions(), then)
    if facts.return_type not in ACTION_TYPES[then]:
        assert first_match([rule], facts) is None


def test_refund_after_refusal_acts_only_on_an_order_on_its_way() -> None:
    rule = AutomationRule("refuse it", Conditions(), AutomationAction.REFUND_AFTER_REFUSAL)
    base = NewReturn(
        ReturnType.REFUND_ONLY,
        Reason.NOT_RECEIVED,
        100,
        frozenset({"toys"}),
        OrderStage.SHIPPED,
        buyer_flagged=False,
    )
    assert first_match([rule], base) is rule
    for stage in (OrderStage.UNSHIPPED, OrderStage.DELIVERED):
        assert first_match([rule], replace(base, order_stage=stage)) is None


@pytest.mark.parametrize("then", list(AutomationAction))
@pytest.mark.parametrize("kind", list(ReturnType))
def test_a_then_the_named_type_cannot_take_is_refused(
    then: AutomationAction, kind: ReturnType
) -> None:
    rule = AutomationRule("r", Conditions(types=frozenset({kind})), then)
    rules = {v.rule for v in check_rules([rule])}
    assert (ACTION_NOT_FOR_TYPE in rules) == (kind not in ACTION_TYPES[then])


def test_a_then_with_no_types_named_must_suit_every_type() -> None:
    assert check_rules([AutomationRule("r", Conditions(), AutomationAction.APPROVE)]) == ()
    for then in (AutomationAction.REFUND, AutomationAction.APPROVE_KEEP_GOODS):
        violations = check_rules([AutomationRule("r", Conditions(), then)])
        assert [v.rule for v in violations] == [ACTION_NOT_FOR_TYPE]


def test_refund_after_refusal_on_an_unshipped_or_delivered_order_is_refused() -> None:
    refund_only = frozenset({ReturnType.REFUND_ONLY})
    for stage, refused in (
        (OrderStage.UNSHIPPED, True),
        (OrderStage.DELIVERED, True),
        (OrderStage.SHIPPED, False),
    ):
        rule = AutomationRule(
            "r", Conditions(types=refund_only, order=stage), AutomationAction.REFUND_AFTER_REFUSAL
        )
        assert (ACTION_NEVER_FITS in {v.rule for v in check_rules([rule])}) is refused


def test_at_most_fifty_rules_with_distinct_names() -> None:
    many = [AutomationRule(f"r{i}", Conditions(), AutomationAction.APPROVE) for i in range(51)]
    assert check_rules(many[:MAX_RULES]) == ()
    assert {v.rule for v in check_rules(many)} == {TOO_MANY_RULES}
    twice = [many[0], many[1], many[0]]
    assert [v.rule for v in check_rules(twice)] == [DUPLICATE_RULE_NAME]


def test_the_policy_switches_become_rules_after_the_shops_own_in_their_old_order() -> None:
    assert builtin_rules(ReturnPolicy()) == ()
    both = builtin_rules(ReturnPolicy(auto_refund_unshipped=True, fast_refund=True))
    assert [r.name for r in both] == [AUTO_REFUND_UNSHIPPED, FAST_REFUND]
    assert check_rules(both) == ()
    unshipped_refund_only = NewReturn(
        ReturnType.REFUND_ONLY,
        Reason.NO_REASON,
        100,
        frozenset({"toys"}),
        OrderStage.UNSHIPPED,
        buyer_flagged=False,
        buyer_in_good_standing=True,
    )
    assert first_match(both, unshipped_refund_only) is both[0]
    shipped = replace(unshipped_refund_only, order_stage=OrderStage.SHIPPED)
    assert first_match(both, shipped) is both[1]
    assert first_match(both, replace(shipped, buyer_in_good_standing=False)) is None
    assert first_match(both, replace(shipped, return_type=ReturnType.RETURN_REFUND)) is None
