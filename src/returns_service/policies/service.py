"""Read and replace shop policies; turn them into the facts the rules decide on."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.durations import parse_duration
from returns_service.errors import Conflict, NotFound, RuleViolation, VersionMismatch
from returns_service.fields import ReturnAddressOut
from returns_service.models import ShopPolicyRow
from returns_service.models.base import utcnow
from returns_service.policies import cache, repository
from returns_service.policies.schemas import (
    AbuseThresholdOut,
    ReturnPolicyIn,
    ReturnPolicyOut,
)
from returns_service.rules.eligibility import LEGAL_EXCLUDED_CATEGORIES, check_policy
from returns_service.rules.facts import AbuseThreshold, ReturnPolicy
from returns_service.rules.vocabulary import Role

DEFAULTS = ReturnPolicyIn()  # the API's view of rules.facts.PLATFORM_DEFAULTS


def _rules_policy(source: ReturnPolicyIn | ShopPolicyRow) -> ReturnPolicy:
    if isinstance(source, ShopPolicyRow):
        threshold = AbuseThreshold(source.abuse_threshold_returns, source.abuse_threshold_days)
    else:
        threshold = AbuseThreshold(source.abuse_threshold.returns, source.abuse_threshold.days)
    return ReturnPolicy(
        window_days=source.window_days,
        defect_window_days=source.defect_window_days,
        extra_excluded_categories=frozenset(source.extra_excluded_categories),
        restocking_fee_percent=source.restocking_fee_percent,
        review_timeout=parse_duration(source.review_timeout),
        ship_timeout=parse_duration(source.ship_timeout),
        receive_timeout=parse_duration(source.receive_timeout),
        escalation_timeout=parse_duration(source.escalation_timeout),
        offer_timeout=parse_duration(source.offer_timeout),
        auto_refund_unshipped=source.auto_refund_unshipped,
        fast_refund=source.fast_refund,
        abuse_threshold=threshold,
    )


async def _in_force(session: AsyncSession, shop_id: str) -> cache.CachedPolicy:
    """The shop's policy (or the platform defaults) as rules facts, with its return address.

    From the process cache when this transaction already saw the policy's version (loading a
    return selects it); read otherwise. Within one transaction the answer cannot change except
    through replace_policy, which forgets the version it replaced.
    """
    entry = cache.cached(session, shop_id)
    if entry is not None:
        return entry
    row = await repository.find_policy(session, shop_id)
    return cache.store(
        session,
        shop_id,
        cache.CachedPolicy(
            version=row.version if row is not None else cache.DEFAULTS_VERSION,
            policy=_rules_policy(row if row is not None else DEFAULTS),
            return_address=dict(row.return_address)
            if row is not None and row.return_address
            else None,
        ),
    )


async def policy_for_shop(session: AsyncSession, shop_id: str) -> ReturnPolicy:
    """The policy in force for a shop: its own, or the platform defaults."""
    return (await _in_force(session, shop_id)).policy


async def default_return_address(session: AsyncSession, shop_id: str) -> dict[str, Any] | None:
    """The address the shop's policy names for goods coming back, if it names one."""
    address = (await _in_force(session, shop_id)).return_address
    return dict(address) if address is not None else None


def _view(shop_id: str, row: ShopPolicyRow | None) -> ReturnPolicyOut:
    source: ReturnPolicyIn | ShopPolicyRow = row if row is not None else DEFAULTS
    return ReturnPolicyOut(
        shop_id=shop_id,
        window_days=source.window_days,
        defect_window_days=source.defect_window_days,
        extra_excluded_categories=list(source.extra_excluded_categories),
        legal_excluded_categories=sorted(LEGAL_EXCLUDED_CATEGORIES),
        restocking_fee_percent=source.restocking_fee_percent,
        review_timeout=source.review_timeout,
        ship_timeout=source.ship_timeout,
        receive_timeout=source.receive_timeout,
        escalation_timeout=source.escalation_timeout,
        offer_timeout=source.offer_timeout,
        auto_refund_unshipped=source.auto_refund_unshipped,
        fast_refund=source.fast_refund,
        abuse_threshold=AbuseThresholdOut(**asdict(_rules_policy(source).abuse_threshold)),
        return_address=(
            ReturnAddressOut(**source.return_address)
            if isinstance(source, ShopPolicyRow) and source.return_address is not None
            else None
        ),
        version=row.version if row is not None else 0,
        updated_at=row.updated_at if row is not None else None,
    )


POLICY_READERS = (Role.MERCHANT, Role.STOREFRONT, Role.PLATFORM)


def _ensure_may_see(caller: Caller, shop_id: str) -> None:
    caller.require(*POLICY_READERS)
    if not caller.can_see_shop(shop_id):
        raise NotFound(f"no return policy for shop {shop_id}")


async def read_policy(session: AsyncSession, caller: Caller, shop_id: str) -> ReturnPolicyOut:
    _ensure_may_see(caller, shop_id)
    return _view(shop_id, await repository.find_policy(session, shop_id))


async def replace_policy(
    session: AsyncSession,
    caller: Caller,
    shop_id: str,
    body: ReturnPolicyIn,
    expected_version: int | None,
) -> ReturnPolicyOut:
    """Replace the whole policy; refuse anything below the legal floor, listing every breach."""
    _ensure_may_see(caller, shop_id)
    violations = [{"rule": v.rule, "message": v.message} for v in check_policy(_rules_policy(body))]
    if body.legal_excluded_categories is not None:
        removed = LEGAL_EXCLUDED_CATEGORIES - set(body.legal_excluded_categories)
        if removed:
            violations.append(
                {
                    "rule": "legal_exclusion_removed",
                    "message": "the legally excluded categories cannot be removed: "
                    + ", ".join(sorted(removed)),
                }
            )
    if violations:
        raise RuleViolation("the policy breaks the platform rules", violations)

    cache.writes_policy(session, shop_id)
    row = await repository.find_policy(session, shop_id, for_update=True)
    current_version = row.version if row is not None else 0
    if expected_version is not None and expected_version != current_version:
        raise VersionMismatch(f"the policy is at version {current_version}, not {expected_version}")
    if row is None:
        row = ShopPolicyRow(shop_id=shop_id, version=0)
        session.add(row)
    row.window_days = body.window_days
    row.defect_window_days = body.defect_window_days
    row.extra_excluded_categories = sorted(set(body.extra_excluded_categories))
    row.restocking_fee_percent = body.restocking_fee_percent
    row.review_timeout = body.review_timeout
    row.ship_timeout = body.ship_timeout
    row.receive_timeout = body.receive_timeout
    row.escalation_timeout = body.escalation_timeout
    row.offer_timeout = body.offer_timeout
    row.auto_refund_unshipped = body.auto_refund_unshipped
    row.fast_refund = body.fast_refund
    row.abuse_threshold_returns = body.abuse_threshold.returns
    row.abuse_threshold_days = body.abuse_threshold.days
    row.return_address = body.return_address.model_dump() if body.return_address else None
    row.version = current_version + 1
    row.updated_at = utcnow()
    try:
        await session.flush()
    except IntegrityError as error:
        # Two first writes of the same shop's policy at once: one wins.
        raise Conflict("the policy was written by someone else at the same time") from error
    return _view(shop_id, row)
