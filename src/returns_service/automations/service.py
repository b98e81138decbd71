"""Read and replace a shop's automation rules; turn them into the rules the matcher takes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.automations import repository
from returns_service.automations.schemas import (
    AutomationConditions,
    AutomationRuleOut,
    AutomationRuleSchema,
    AutomationsIn,
    AutomationsOut,
)
from returns_service.errors import Conflict, NotFound, RuleViolation, VersionMismatch
from returns_service.models import ShopAutomationsRow
from returns_service.models.base import utcnow
from returns_service.rules.automations import AutomationRule, Conditions, check_rules
from returns_service.rules.vocabulary import Role

T = TypeVar("T")


def _frozen(values: Sequence[T] | None) -> frozenset[T] | None:
    return frozenset(values) if values is not None else None


def _rule(schema: AutomationRuleSchema) -> AutomationRule:
    when = schema.when
    return AutomationRule(
        name=schema.name,
        when=Conditions(
            types=_frozen(when.types),
            reasons=_frozen(when.reasons),
            max_refund_amount=when.max_refund_amount,
            categories=_frozen(when.categories),
            order=when.order,
            buyer_in_good_standing=when.buyer_in_good_standing,
        ),
        then=schema.then,
    )


def _stored(schemas: Sequence[AutomationRuleSchema]) -> list[dict[str, Any]]:
    return [schema.model_dump(mode="json", exclude_none=True) for schema in schemas]


def _schemas(stored: Sequence[dict[str, Any]]) -> list[AutomationRuleSchema]:
    return [
        AutomationRuleSchema(
            name=rule["name"],
            when=AutomationConditions.model_validate(rule.get("when", {})),
            then=rule["then"],
        )
        for rule in stored
    ]


def _view(shop_id: str, row: ShopAutomationsRow | None) -> AutomationsOut:
    return AutomationsOut(
        shop_id=shop_id,
        rules=[
            AutomationRuleOut.model_validate(schema, from_attributes=True)
            for schema in (_schemas(row.rules) if row is not None else [])
        ],
        version=row.version if row is not None else 0,
        updated_at=row.updated_at if row is not None else None,
    )


EDITORS = (Role.MERCHANT, Role.STOREFRONT, Role.PLATFORM)


def _ensure_may_see(caller: Caller, shop_id: str) -> None:
    caller.require(*EDITORS)
    if not caller.can_see_shop(shop_id):
        raise NotFound(f"no automations for shop {shop_id}")


async def shop_rules(session: AsyncSession, shop_id: str) -> tuple[AutomationRule, ...]:
    """The shop's own rules in order, as the matcher takes them."""
    row = await repository.find_automations(session, shop_id)
    return tuple(_rule(schema) for schema in _schemas(row.rules)) if row is not None else ()


async def read_automations(session: AsyncSession, caller: Caller, shop_id: str) -> AutomationsOut:
    _ensure_may_see(caller, shop_id)
    return _view(shop_id, await repository.find_automations(session, shop_id))


async def replace_automations(
    session: AsyncSession,
    caller: Caller,
    shop_id: str,
    body: AutomationsIn,
    expected_version: int | None,
) -> AutomationsOut:
    """Replace every rule at once; refuse a list a return could match and not be acted on."""
    _ensure_may_see(caller, shop_id)
    violations = check_rules([_rule(schema) for schema in body.rules])
    if violations:
        raise RuleViolation(
            "the automation rules cannot stand",
            [{"rule": v.rule, "message": v.message} for v in violations],
        )
    row = await repository.find_automations(session, shop_id, for_update=True)
    current_version = row.version if row is not None else 0
    if expected_version is not None and expected_version != current_version:
        raise VersionMismatch(
            f"the automations are at version {current_version}, not {expected_version}"
        )
    if row is None:
        row = ShopAutomationsRow(shop_id=shop_id, version=0)
        session.add(row)
    row.rules = _stored(body.rules)
    row.version = current_version + 1
    row.updated_at = utcnow()
    try:
        await session.flush()
    except IntegrityError as error:
        # Two first writes of the same shop's rules at once: one wins.
        raise Conflict("the automations were written by someone else at the same time") from error
    return _view(shop_id, row)
