"""HTTP routes for a shop's automation rules (the after-sales assistant)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from returns_service.auth import CurrentCaller, allow
from returns_service.automations import service
from returns_service.automations.schemas import AutomationsIn, AutomationsOut
from returns_service.db import Session, TransactionalRoute
from returns_service.http_problems import problem_responses
from returns_service.policies.endpoints import ShopId
from returns_service.versions import IfMatch, expected_version, set_etag

router = APIRouter(prefix="/v1/shops", tags=["automations"], route_class=TransactionalRoute)


@router.get(
    "/{shop_id}/automations",
    operation_id="getAutomations",
    responses=problem_responses(403, 404),
)
async def get_automations(
    shop_id: ShopId, caller: CurrentCaller, session: Session, response: Response
) -> AutomationsOut:
    """Read the shop's automation rules, in the order they are tried."""
    automations = await service.read_automations(session, caller, shop_id)
    set_etag(response, automations.version)
    return automations


@router.put(
    "/{shop_id}/automations",
    dependencies=[allow(*service.EDITORS)],
    operation_id="putAutomations",
    responses=problem_responses(403, 404, 409, 412),
)
async def put_automations(
    shop_id: ShopId,
    body: AutomationsIn,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> AutomationsOut:
    """Replace the shop's automation rules (at most 50, each one its return types can take)."""
    automations = await service.replace_automations(
        session, caller, shop_id, body, expected_version(if_match)
    )
    set_etag(response, automations.version)
    return automations
