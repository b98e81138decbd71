"""Returns, their actions and their timelines as the API speaks them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from returns_service.fields import Identifier, Money, ReturnAddressIn, ReturnAddressOut
from returns_service.http_problems import Problem
from returns_service.rules.evidence import MAX_EVIDENCE, MAX_EVIDENCE_URL_LENGTH, is_evidence_url
from returns_service.rules.vocabulary import (
    Condition,
    Disposition,
    Fault,
    Inspection,
    Reason,
    ReturnStatus,
    ReturnType,
    ShippingPayer,
)
from returns_service.shapes import ResponseShape

Note = Annotated[str, Field(max_length=2000)]
Carrier = Annotated[str, Field(min_length=1, max_length=64)]
TrackingNumber = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9\-]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _https_url(url: str) -> str:
    if not is_evidence_url(url):
        raise ValueError("evidence must be an https URL with a host")
    return url


EvidenceUrl = Annotated[
    str,
    Field(max_length=MAX_EVIDENCE_URL_LENGTH, examples=["https://img.example.com/photo1.jpg"]),
    AfterValidator(_https_url),
]
Evidence = Annotated[
    list[EvidenceUrl],
    Field(max_length=MAX_EVIDENCE, description="Photos or videos: at most 9 https URLs"),
]


class ReturnItemIn(_Body):
    line_id: Identifier
    quantity: int = Field(strict=True, ge=1, le=100_000)
    condition: Condition


class ReturnApplication(_Body):
    order_id: Identifier
    type: ReturnType
    reason: Reason
    items: list[ReturnItemIn] = Field(min_length=1, max_length=100)
    description: Note | None = None
    evidence: list[Annotated[AnyHttpUrl, Field(max_length=2000)]] = Field(
        default_factory=list, max_length=20
    )


class ViolationOut(BaseModel):
    rule: str
    message: str


class ReturnPreview(BaseModel):
    eligible: bool
    violations: list[ViolationOut]
    refund_amount: int
    currency: str
    fault: Fault
    return_shipping_paid_by: ShippingPayer


class ApproveBody(_Body):
    return_address: ReturnAddressIn | None = None
    instructions: Note | None = None
    keep_goods: bool = Field(
        default=False,
        strict=True,
        description="return_refund only: a returnless refund, the goods stay with the buyer",
    )


class RejectBody(_Body):
    reason_code: str = Field(
        min_length=1,
        max_length=64,
        examples=["used"],
        description="A standard code (GET /v1/reject-reasons) or the shop's own",
    )
    note: str = Field(min_length=1, max_length=2000)
    evidence: Evidence = Field(default_factory=list)


class EscalateBody(_Body):
    note: Note | None = None
    evidence: Evidence = Field(default_factory=list)


class OfferBody(_Body):
    amount: int = Field(strict=True, ge=1, le=10**12, description="1 … the refundable amount")
    keep_goods: bool = Field(
        default=True,
        strict=True,
        description="false: the goods travel back first, and are refunded this amount",
    )
    note: Note | None = None
    return_address: ReturnAddressIn | None = Field(
        default=None, description="Where the goods go when keep_goods is false"
    )


class NoteBody(_Body):
    note: Note | None = None


class ShipmentBody(_Body):
    carrier: Carrier
    tracking_number: TrackingNumber


class DeductionIn(_Body):
    kind: str = Field(min_length=1, max_length=64, examples=["damage"])
    amount: Money
    note: Note = ""


class DispositionIn(_Body):
    line_id: Identifier
    quantity: int = Field(strict=True, ge=1, le=100_000)
    disposition: Disposition


class ReceiveBody(_Body):
    inspection: Inspection
    deductions: list[DeductionIn] = Field(default_factory=list, max_length=20)
    note: Note | None = None
    items: list[DispositionIn] | None = Field(
        default=None,
        max_length=200,
        description="What became of each unit; they must add up to the return's items. Left "
        "out, a passed inspection restocks everything and a failed one nothing.",
    )


class RefundBody(_Body):
    amount: int | None = Field(default=None, strict=True, ge=1, le=10**12)


class ArbitrateBody(_Body):
    decision: Literal["buyer", "merchant"]
    amount: int | None = Field(default=None, strict=True, ge=1, le=10**12)
    note: str = Field(min_length=1, max_length=2000)
    evidence: Evidence = Field(default_factory=list)


class MessageBody(_Body):
    body: str = Field(min_length=1, max_length=4000)
    evidence: Evidence = Field(default_factory=list)


class ReturnItemOut(BaseModel):
    line_id: str
    quantity: int
    condition: Condition
    unit_price: int


class DeductionOut(BaseModel):
    kind: str
    amount: int
    note: str


class ShipmentOut(ResponseShape):
    carrier: str
    tracking_number: str
    shipped_at: datetime | None
    status: str | None = None
    delivered_at: datetime | None = None


class RefundOut(ResponseShape):
    amount: int
    currency: str
    method: Literal["original_payment"] = "original_payment"
    reference: str
    refunded_at: datetime


class DeadlineOut(BaseModel):
    action: str
    actor: str
    due_at: datetime


class RejectionOut(BaseModel):
    reason_code: str
    note: str
    evidence: list[str]


class OfferOut(BaseModel):
    number: int = Field(description="1 for the first offer of the return, up to 3")
    amount: int
    keep_goods: bool
    note: str | None
    offered_at: datetime
    outcome: Literal["pending", "accepted", "declined", "lapsed"]


class DispositionOut(BaseModel):
    line_id: str
    quantity: int
    disposition: Disposition


class ReturnOut(BaseModel):
    id: str
    order_id: str
    shop_id: str
    buyer_id: str
    type: ReturnType
    reason: Reason
    fault: Fault
    status: ReturnStatus
    version: int
    items: list[ReturnItemOut]
    refund_amount: int = Field(description="What the return refunds (or may still refund)")
    currency: str
    deductions: list[DeductionOut]
    return_shipping_paid_by: ShippingPayer
    buyer_flagged: bool
    description: str | None
    evidence: list[str]
    return_address: ReturnAddressOut | None
    instructions: str | None
    inspection: Inspection | None
    dispositions: list[DispositionOut] | None = Field(
        description="What became of each unit at inspection"
    )
    rejection: RejectionOut | None
    keep_goods: bool = Field(description="A returnless refund: the goods stay with the buyer")
    offer: OfferOut | None = Field(description="The latest offer and what became of it")
    offers_made: int
    shipment: ShipmentOut | None
    replacement_shipment: ShipmentOut | None
    refund: RefundOut | None
    deadline: DeadlineOut | None
    receive_extended: bool
    created_at: datetime
    updated_at: datetime


class ReturnPage(BaseModel):
    items: list[ReturnOut]
    next_cursor: str | None


class ActorOut(BaseModel):
    role: str
    id: str


class ReturnEventOut(BaseModel):
    seq: int
    type: str
    from_status: ReturnStatus | None
    to_status: ReturnStatus | None
    actor: ActorOut
    data: dict[str, Any]
    at: datetime


class ReturnEventPage(BaseModel):
    items: list[ReturnEventOut]
    next_cursor: str | None


BatchActionName = Literal["approve", "reject", "receive", "refund"]
ReturnId = Annotated[str, Field(min_length=1, max_length=64)]


class BatchRequest(_Body):
    """One action on many returns; `body` is the action's own body, the same for every one."""

    action: BatchActionName
    ids: list[ReturnId] = Field(min_length=1, max_length=100)
    body: dict[str, Any] = Field(
        default_factory=dict,
        description="The body the action takes for one return (ApproveBody, RejectBody, "
        "ReceiveBody or RefundBody); checked once, before any return is touched.",
    )

    @field_validator("ids")
    @classmethod
    def _ids_are_unique(cls, ids: list[str]) -> list[str]:
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        return ids


class BatchItemResult(BaseModel):
    """What became of one return of a batch: the return as it is now, or why not."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: int = Field(description="200, or the status one request for this return would get")
    return_: ReturnOut | None = Field(alias="return")
    error: Problem | None


class BatchResult(BaseModel):
    items: list[BatchItemResult] = Field(description="One result per id, in the order asked")
