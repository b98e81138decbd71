"""HTTP routes for orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from returns_service.auth import CurrentCaller, allow
from returns_service.db import Session, TransactionalRoute
from returns_service.http_problems import problem_responses
from returns_service.orders import service
from returns_service.orders.schemas import OrderIn, OrderOut
from returns_service.rules.vocabulary import Role

router = APIRouter(prefix="/v1/orders", tags=["orders"], route_class=TransactionalRoute)

OrderId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]


@router.put(
    "/{order_id}",
    dependencies=[allow(Role.STOREFRONT, Role.PLATFORM)],
    operation_id="putOrder",
    responses={
        **problem_responses(403, 409),
        201: {"model": OrderOut, "description": "The order was registered"},
    },
)
async def put_order(
    order_id: OrderId, body: OrderIn, caller: CurrentCaller, session: Session, response: Response
) -> OrderOut:
    """Register an order snapshot, or update it while no return holds its lines."""
    order, created = await service.register_order(session, caller, order_id, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return order


@router.get("/{order_id}", operation_id="getOrder", responses=problem_responses(404))
async def get_order(order_id: OrderId, caller: CurrentCaller, session: Session) -> OrderOut:
    """Read an order with the units of each line that can still be returned."""
    return await service.read_order(session, caller, order_id)
