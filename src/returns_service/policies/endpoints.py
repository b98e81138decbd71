"""HTTP routes for shop return policies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from returns_service.auth import CurrentCaller, allow
from returns_service.db import Session, TransactionalRoute
from returns_service.http_problems import problem_responses
from returns_service.policies import service
from returns_service.policies.schemas import ReturnPolicyIn, ReturnPolicyOut
from returns_service.versions import IfMatch, expected_version, set_etag

router = APIRouter(prefix="/v1/shops", tags=["policies"], route_class=TransactionalRoute)

ShopId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]


@router.get(
    "/{shop_id}/return-policy",
    operation_id="getReturnPolicy",
    responses=problem_responses(403, 404),
)
async def get_return_policy(
    shop_id: ShopId, caller: CurrentCaller, session: Session, response: Response
) -> ReturnPolicyOut:
    """Read the shop's return policy (the platform defaults until it sets one)."""
    policy = await service.read_policy(session, caller, shop_id)
    set_etag(response, policy.version)
    return policy


@router.put(
    "/{shop_id}/return-policy",
    dependencies=[allow(*service.POLICY_READERS)],
    operation_id="putReturnPolicy",
    responses=problem_responses(403, 404, 409, 412),
)
async def put_return_policy(
    shop_id: ShopId,
    body: ReturnPolicyIn,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> ReturnPolicyOut:
    """Replace the shop's return policy; never below the legal minimums."""
    policy = await service.replace_policy(
        session, caller, shop_id, body, expected_version(if_match)
    )
    set_etag(response, policy.version)
    return policy
