"""The after-sales assistant (售后小助手): a shop's rules, tried in order on a new return.

Each rule is conditions and an action. The first rule whose every stated condition holds acts,
as the `system` actor; a condition left out holds for every return. The policy switches
`auto_refund_unshipped` and `fast_refund` are built-in rules tried after the shop's own.
A flagged buyer gets a person's review, never an automatic action (DOMAIN.md, abuse).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from returns_service.rules.facts import ReturnPolicy, Violation
from returns_service.rules.vocabulary import Reason, ReturnType

MAX_RULES = 50

TOO_MANY_RULES = "too_many_rules"
DUPLICATE_RULE_NAME = "duplicate_rule_name"
ACTION_NOT_FOR_TYPE = "action_not_for_type"
ACTION_NEVER_FITS = "action_never_fits"

AUTO_REFUND_UNSHIPPED = "auto_refund_unshipped"
FAST_REFUND = "fast_refund"


class OrderStage(StrEnum):
    UNSHIPPED = "unshipped"
    SHIPPED = "shipped"  # on its way, not delivered
    DELIVERED = "delivered"


class AutomationAction(StrEnum):
    APPROVE = "approve"
    APPROVE_KEEP_GOODS = "approve_keep_goods"  # a returnless refund, approved
    REFUND = "refund"  # approved and paid at once
    # Approved now; the buyer refuses the parcel on its way and the carrier's word refunds it.
    REFUND_AFTER_REFUSAL = "refund_after_refusal"


# Which types of return each action can act on.
ACTION_TYPES: dict[AutomationAction, frozenset[ReturnType]] = {
    AutomationAction.APPROVE: frozenset(ReturnType),
    AutomationAction.APPROVE_KEEP_GOODS: frozenset({ReturnType.RETURN_REFUND}),
    AutomationAction.REFUND: frozenset({ReturnType.REFUND_ONLY}),
    AutomationAction.REFUND_AFTER_REFUSAL: frozenset({ReturnType.REFUND_ONLY}),
}
# Stages of the order an action fits at all: only a parcel on its way can be refused.
ACTION_STAGES: dict[AutomationAction, frozenset[OrderStage]] = {
    AutomationAction.REFUND_AFTER_REFUSAL: frozenset({OrderStage.SHIPPED}),
}


@dataclass(frozen=True)
class Conditions:
    """None: not stated, holds for every return. A stated set holds when the return is in it."""

    types: frozenset[ReturnType] | None = None
    reasons: frozenset[Reason] | None = None
    max_refund_amount: int | None = None
    categories: frozenset[str] | None = None  # every returned item's category is among them
    order: OrderStage | None = None
    buyer_in_good_standing: bool | None = None


@dataclass(frozen=True)
class AutomationRule:
    name: str
    when: Conditions
    then: AutomationAction


@dataclass(frozen=True)
class NewReturn:
    """What the rules look at on a return just applied for."""

    return_type: ReturnType
    reason: Reason
    refund_amount: int
    categories: frozenset[str]
    order_stage: OrderStage
    buyer_flagged: bool
    # At most 3 refunds in 30 days and not flagged (rules.standing); None when nobody asked.
    buyer_in_good_standing: bool | None = None


def order_stage(shipped_at: datetime | None, delivered_at: datetime | None) -> OrderStage:
    if delivered_at is not None:
        return OrderStage.DELIVERED
    return OrderStage.SHIPPED if shipped_at is not None else OrderStage.UNSHIPPED


def asks_standing(rules: Sequence[AutomationRule]) -> bool:
    """Whether any rule looks at the buyer's standing (which costs a count to know)."""
    return any(rule.when.buyer_in_good_standing is not None for rule in rules)


def holds(when: Conditions, facts: NewReturn) -> bool:
    """Whether every stated condition holds for the return."""
    if when.types is not None and facts.return_type not in when.types:
        return False
    if when.reasons is not None and facts.reason not in when.reasons:
        return False
    if when.max_refund_amount is not None and facts.refund_amount > when.max_refund_amount:
        return False
    if when.categories is not None and not facts.categories <= when.categories:
        return False
    if when.order is not None and facts.order_stage is not when.order:
        return False
    if when.buyer_in_good_standing is not None:
        if facts.buyer_in_good_standing is None:
            raise ValueError("the rule asks for the buyer's standing and it was not given")
        if facts.buyer_in_good_standing is not when.buyer_in_good_standing:
            return False
    return True


def fits(action: AutomationAction, facts: NewReturn) -> bool:
    """Whether the action can act on the return at all, whatever the conditions say."""
    if facts.return_type not in ACTION_TYPES[action]:
        return False
    stages = ACTION_STAGES.get(action)
    return stages is None or facts.order_stage in stages


def first_match(rules: Sequence[AutomationRule], facts: NewReturn) -> AutomationRule | None:
    """The first rule that holds and can act on the return; None for a flagged buyer."""
    if facts.buyer_flagged:
        return None
    for rule in rules:
        if holds(rule.when, facts) and fits(rule.then, facts):
            return rule
    return None


def builtin_rules(policy: ReturnPolicy) -> tuple[AutomationRule, ...]:
    """The policy switches as rules, in the order they always acted: unshipped first."""
    rules: list[AutomationRule] = []
    refund_only = frozenset({ReturnType.REFUND_ONLY})
    if policy.auto_refund_unshipped:
        rules.append(
            AutomationRule(
                AUTO_REFUND_UNSHIPPED,
                Conditions(types=refund_only, order=OrderStage.UNSHIPPED),
                AutomationAction.REFUND,
            )
        )
    if policy.fast_refund:
        rules.append(
            AutomationRule(
                FAST_REFUND,
                Conditions(types=refund_only, buyer_in_good_standing=True),
                AutomationAction.REFUND,
            )
        )
    return tuple(rules)


def check_rules(rules: Sequence[AutomationRule]) -> tuple[Violation, ...]:
    """Every reason a shop's rule list is refused: too many, a name twice, or a rule whose
    action some return it matches could never take (it would match and do nothing)."""
    violations: list[Violation] = []
    if len(rules) > MAX_RULES:
        violations.append(Violation(TOO_MANY_RULES, f"at most {MAX_RULES} rules, not {len(rules)}"))
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        where = f"rule {index} ({rule.name!r})"
        if rule.name in seen:
            violations.append(Violation(DUPLICATE_RULE_NAME, f"{where}: the name is taken"))
        seen.add(rule.name)
        types = rule.when.types if rule.when.types is not None else frozenset(ReturnType)
        cannot = sorted(t.value for t in types - ACTION_TYPES[rule.then])
        if cannot:
            violations.append(
                Violation(
                    ACTION_NOT_FOR_TYPE,
                    f"{where}: a {', '.join(cannot)} return cannot take {rule.then.value}; "
                    f"name the types it applies to ({', '.join(sorted(ACTION_TYPES[rule.then]))})",
                )
            )
        stages = ACTION_STAGES.get(rule.then)
        if stages is not None and rule.when.order is not None and rule.when.order not in stages:
            violations.append(
                Violation(
                    ACTION_NEVER_FITS,
                    f"{where}: {rule.then.value} acts only on an order that is "
                    f"{', '.join(sorted(stages))}, never on one that is {rule.when.order.value}",
                )
            )
    return tuple(violations)
