"""One action on many returns at once: each return stands or falls alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import ServiceError, ValidationFailed
from returns_service.http_problems import Problem
from returns_service.models import ReturnRow
from returns_service.returns import actions, repository
from returns_service.returns.schemas import (
    ApproveBody,
    BatchItemResult,
    BatchRequest,
    BatchResult,
    ReceiveBody,
    RefundBody,
    RejectBody,
)
from returns_service.returns.views import return_view
from returns_service.rules.vocabulary import Role

Act = Callable[[AsyncSession, Caller, str, Any, str | None], Awaitable[ReturnRow]]

_ACTIONS: dict[str, tuple[type[BaseModel], Act]] = {
    "approve": (ApproveBody, actions.approve_return),
    "reject": (RejectBody, actions.reject_return),
    "receive": (ReceiveBody, actions.receive_return),
    "refund": (RefundBody, actions.refund_return),
}


def _action_body(request: BatchRequest) -> tuple[BaseModel, Act]:
    """The action and its body, checked once for every return (422 if it does not fit)."""
    model, act = _ACTIONS[request.action]
    try:
        return model.model_validate(request.body), act
    except ValidationError as error:
        raise ValidationFailed(
            f"the body does not fit the {request.action} action",
            [
                {"loc": ["body", "body", *item["loc"]], "msg": item["msg"], "type": item["type"]}
                for item in error.errors()
            ],
        ) from error


async def act_on_many(session: AsyncSession, caller: Caller, request: BatchRequest) -> BatchResult:
    """Take the action on every return named, in order, each under its own SAVEPOINT.

    A return the action refuses (not found, wrong state, rules) is rolled back to its savepoint
    and answered with the problem one request would have got; the others are kept. Anything
    else (the database failing) fails the whole batch, and nothing of it is kept.
    """
    caller.require(Role.MERCHANT, Role.PLATFORM)
    body, act = _action_body(request)
    # Every lock up front, in one order: two batches never deadlock on each other.
    await repository.lock_many(
        session,
        request.ids,
        shop_id=caller.shop_id if caller.role is Role.MERCHANT else None,
        with_orders=request.action == "refund",
    )
    items: list[BatchItemResult] = []
    for return_id in request.ids:
        try:
            async with session.begin_nested():
                view = return_view(await act(session, caller, return_id, body, None))
        except ServiceError as error:
            items.append(
                BatchItemResult(
                    id=return_id,
                    status=error.status,
                    return_=None,
                    error=Problem.model_validate(error.problem()),
                )
            )
        else:
            items.append(BatchItemResult(id=return_id, status=200, return_=view, error=None))
    return BatchResult(items=items)
