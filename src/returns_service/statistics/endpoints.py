"""GET /v1/statistics: what merchants watch, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from returns_service.auth import CurrentCaller
from returns_service.db import TransactionalRoute
from returns_service.http_problems import problem_responses
from returns_service.replicas import ReadSession
from returns_service.statistics import service
from returns_service.statistics.schemas import GroupBy, Statistics
from returns_service.statistics.spreadsheet import statistics_csv
from returns_service.timestamps import Timestamp

router = APIRouter(prefix="/v1/statistics", tags=["statistics"], route_class=TransactionalRoute)

CSV = "text/csv"


async def repurchase_sample_orders(request: Request) -> int:
    """The app's Settings.repurchase_sample_orders (async: no worker thread for a lookup)."""
    return int(request.app.state.settings.repurchase_sample_orders)


RepurchaseSampleOrders = Annotated[int, Depends(repurchase_sample_orders)]


@router.get(
    "",
    operation_id="getStatistics",
    response_model=Statistics,
    responses={
        **problem_responses(403, 404),
        200: {
            "description": "The statistics; with `Accept: text/csv`, the totals row first, "
            "then one row per group",
            "content": {CSV: {"schema": {"type": "string"}}},
        },
    },
)
async def get_statistics(
    caller: CurrentCaller,
    session: ReadSession,
    sample_orders: RepurchaseSampleOrders,
    shop_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    start: Annotated[Timestamp | None, Query(alias="from")] = None,
    end: Annotated[Timestamp | None, Query(alias="to")] = None,
    group_by: GroupBy | None = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Read the statistics of the half-open window [from, to) (default the last 30 days)."""
    answer = await service.read_statistics(
        session, caller, shop_id, start, end, group_by, repurchase_sample_orders=sample_orders
    )
    if accept is not None and CSV in accept.lower():
        body = statistics_csv(answer, group_by.value if group_by else None)
        return Response(body, media_type=f"{CSV}; charset=utf-8")
    return answer
