"""HTTP routes for returns: thin, each one call into a service."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, params, status

from returns_service.auth import CurrentCaller, allow
from returns_service.db import Session, TransactionalRoute
from returns_service.http_problems import problem_responses
from returns_service.models import ReturnRow
from returns_service.replicas import ReadSession
from returns_service.returns import actions, application, batch, negotiation, reading
from returns_service.returns.application import APPLICANTS
from returns_service.returns.repository import ReturnFilters
from returns_service.returns.schemas import (
    ApproveBody,
    ArbitrateBody,
    BatchRequest,
    BatchResult,
    EscalateBody,
    MessageBody,
    NoteBody,
    OfferBody,
    ReceiveBody,
    RefundBody,
    RejectBody,
    ReturnApplication,
    ReturnEventOut,
    ReturnEventPage,
    ReturnOut,
    ReturnPage,
    ReturnPreview,
    ShipmentBody,
)
from returns_service.returns.views import event_view, return_view
from returns_service.rules.transitions import roles_for
from returns_service.rules.vocabulary import Action, Reason, ReturnStatus, ReturnType, Role
from returns_service.timestamps import Timestamp
from returns_service.versions import IfMatch, set_etag

router = APIRouter(prefix="/v1/returns", tags=["returns"], route_class=TransactionalRoute)

_ACTION_ERRORS = problem_responses(403, 404, 409, 412)


def _may(action: Action) -> params.Depends:
    """403 first for a role the state table never lets take this action."""
    return allow(*sorted(roles_for(action) - {Role.SYSTEM}))


def _answer(response: Response, row: ReturnRow) -> ReturnOut:
    set_etag(response, row.version)
    return return_view(row)


@router.post(
    "",
    operation_id="applyForReturn",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 404, 409),
    dependencies=[allow(*APPLICANTS)],
)
async def apply_for_return(
    body: ReturnApplication, caller: CurrentCaller, session: Session, response: Response
) -> ReturnOut:
    """Apply for a return; refused with every rule it breaks."""
    row = await application.apply_for_return(session, caller, body)
    response.headers["Location"] = f"/v1/returns/{row.id}"
    return _answer(response, row)


@router.post(
    "/preview",
    operation_id="previewReturn",
    responses=problem_responses(403, 404),
    dependencies=[allow(*APPLICANTS, Role.MERCHANT)],
)
async def preview_return(
    body: ReturnApplication, caller: CurrentCaller, session: Session
) -> ReturnPreview:
    """Tell what an application would give, without saving anything."""
    return await application.preview_return(session, caller, body)


@router.post(
    "/batch",
    operation_id="batchActOnReturns",
    responses=problem_responses(403),
    dependencies=[allow(Role.MERCHANT, Role.PLATFORM)],
)
async def batch_act_on_returns(
    body: BatchRequest, caller: CurrentCaller, session: Session
) -> BatchResult:
    """Approve, reject, receive or refund up to 100 returns; each stands or falls alone."""
    return await batch.act_on_many(session, caller, body)


@router.get("", operation_id="listReturns", responses=problem_responses(400))
async def list_returns(
    caller: CurrentCaller,
    session: ReadSession,
    shop_id: Annotated[str | None, Query(max_length=64)] = None,
    status: ReturnStatus | None = None,
    type: ReturnType | None = None,
    reason: Reason | None = None,
    buyer_id: Annotated[str | None, Query(max_length=64)] = None,
    buyer_flagged: bool | None = None,
    created_from: Timestamp | None = None,
    created_to: Timestamp | None = None,
    awaiting: Literal["merchant", "buyer", "platform"] | None = None,
    sort: Literal["created_at", "due_at"] = "created_at",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ReturnPage:
    """List returns newest first, or as a work queue (awaiting=…&sort=due_at)."""
    filters = ReturnFilters(
        shop_id=shop_id,
        buyer_id=buyer_id,
        status=status.value if status else None,
        type=type.value if type else None,
        reason=reason.value if reason else None,
        buyer_flagged=buyer_flagged,
        created_from=created_from,
        created_to=created_to,
        awaiting=awaiting,
    )
    return await reading.list_returns(
        session, caller, filters, by_due_at=sort == "due_at", cursor=cursor, limit=limit
    )


@router.get("/{return_id}", operation_id="getReturn", responses=problem_responses(404))
async def get_return(
    return_id: str, caller: CurrentCaller, session: Session, response: Response
) -> ReturnOut:
    """Read one return."""
    view = await reading.read_return(session, caller, return_id)
    set_etag(response, view.version)
    return view


@router.get(
    "/{return_id}/events", operation_id="listReturnEvents", responses=problem_responses(404)
)
async def list_return_events(
    return_id: str,
    caller: CurrentCaller,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ReturnEventPage:
    """Read the timeline, oldest first: state changes, messages, carrier events."""
    return await reading.list_return_events(session, caller, return_id, cursor, limit)


@router.post(
    "/{return_id}/messages",
    operation_id="postReturnMessage",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 404),
    dependencies=[allow(Role.BUYER, Role.MERCHANT, Role.PLATFORM)],
)
async def post_return_message(
    return_id: str, body: MessageBody, caller: CurrentCaller, session: Session
) -> ReturnEventOut:
    """Send a message; it joins the timeline."""
    event = await actions.post_message(session, caller, return_id, body)
    return event_view(event)


@router.post(
    "/{return_id}/approve",
    operation_id="approveReturn",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.APPROVE)],
)
async def approve_return(
    return_id: str,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
    body: ApproveBody | None = None,
) -> ReturnOut:
    """Approve a requested return (merchant, platform)."""
    row = await actions.approve_return(session, caller, return_id, body or ApproveBody(), if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/reject",
    operation_id="rejectReturn",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.REJECT)],
)
async def reject_return(
    return_id: str,
    body: RejectBody,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> ReturnOut:
    """Reject a requested or received return with a reason the buyer can read."""
    row = await actions.reject_return(session, caller, return_id, body, if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/cancel",
    operation_id="cancelReturn",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.CANCEL)],
)
async def cancel_return(
    return_id: str,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
    body: NoteBody | None = None,
) -> ReturnOut:
    """Withdraw a return before the goods are shipped (buyer)."""
    row = await actions.cancel_return(session, caller, return_id, body or NoteBody(), if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/ship",
    operation_id="shipReturn",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.SHIP)],
)
async def ship_return(
    return_id: str,
    body: ShipmentBody,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> ReturnOut:
    """Give the carrier and tracking number of the parcel going back (buyer)."""
    row = await actions.ship_return(session, caller, return_id, body, if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/receive",
    operation_id="receiveReturn",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.RECEIVE)],
)
async def receive_return(
    return_id: str,
    body: ReceiveBody,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> ReturnOut:
    """Confirm the goods arrived and record the inspection and any deductions."""
    row = await actions.receive_return(session, caller, return_id, body, if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/refund",
    operation_id="refundReturn",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.REFUND)],
)
async def refund_return(
    return_id: str,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
    body: RefundBody | None = None,
) -> ReturnOut:
    """Refund along the original payment route, once; at most the refundable amount."""
    row = await actions.refund_return(session, caller, return_id, body or RefundBody(), if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/send_replacement",
    operation_id="sendReplacement",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.SEND_REPLACEMENT)],
)
async def send_replacement(
    return_id: str,
    body: ShipmentBody,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> ReturnOut:
    """Send the replacement (exchange) or the missing items (reship)."""
    row = await actions.send_replacement(session, caller, return_id, body, if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/escalate",
    operation_id="escalateReturn",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.ESCALATE)],
)
async def escalate_return(
    return_id: str,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
    body: EscalateBody | None = None,
) -> ReturnOut:
    """Ask the platform to arbitrate a rejection (buyer), with evidence if any."""
    row = await actions.escalate_return(
        session, caller, return_id, body or EscalateBody(), if_match
    )
    return _answer(response, row)


@router.post(
    "/{return_id}/arbitrate",
    operation_id="arbitrateReturn",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.ARBITRATE)],
)
async def arbitrate_return(
    return_id: str,
    body: ArbitrateBody,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> ReturnOut:
    """Decide an escalated return: for the buyer (refund) or the merchant (close)."""
    row = await actions.arbitrate_return(session, caller, return_id, body, if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/extend",
    operation_id="extendReceiveDeadline",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.EXTEND)],
)
async def extend_receive_deadline(
    return_id: str,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
    body: NoteBody | None = None,
) -> ReturnOut:
    """Move the receive deadline by one more receive_timeout, once (merchant)."""
    row = await actions.extend_receive_deadline(
        session, caller, return_id, body or NoteBody(), if_match
    )
    return _answer(response, row)


@router.post(
    "/{return_id}/offer",
    operation_id="makeOffer",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.OFFER)],
)
async def make_offer(
    return_id: str,
    body: OfferBody,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> ReturnOut:
    """Offer part of the money instead (merchant, platform); at most 3 offers per return."""
    row = await negotiation.make_offer(session, caller, return_id, body, if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/accept_offer",
    operation_id="acceptOffer",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.ACCEPT_OFFER)],
)
async def accept_offer(
    return_id: str,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
    body: NoteBody | None = None,
) -> ReturnOut:
    """Accept the offer (buyer): refunded the offered amount once, the goods kept."""
    row = await negotiation.accept_offer(session, caller, return_id, body or NoteBody(), if_match)
    return _answer(response, row)


@router.post(
    "/{return_id}/decline_offer",
    operation_id="declineOffer",
    responses=_ACTION_ERRORS,
    dependencies=[_may(Action.DECLINE_OFFER)],
)
async def decline_offer(
    return_id: str,
    caller: CurrentCaller,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
    body: NoteBody | None = None,
) -> ReturnOut:
    """Decline the offer (buyer): back to the merchant's review."""
    row = await negotiation.decline_offer(session, caller, return_id, body or NoteBody(), if_match)
    return _answer(response, row)
