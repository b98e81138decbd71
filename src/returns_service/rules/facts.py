"""Plain facts the rules decide on: frozen dataclasses built by the service from its rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from returns_service.rules.vocabulary import (
    Condition,
    Fault,
    Reason,
    ReturnType,
    Role,
    ShippingPayer,
)


@dataclass(frozen=True)
class OrderLine:
    line_id: str
    sku: str
    category: str
    unit_price: int  # minor units, what the buyer paid for one unit
    quantity: int


@dataclass(frozen=True)
class Order:
    order_id: str
    currency: str
    shipping_fee: int
    shipping_insurance: bool
    shipped_at: datetime | None
    delivered_at: datetime | None
    lines: tuple[OrderLine, ...]

    def line(self, line_id: str) -> OrderLine | None:
        return next((line for line in self.lines if line.line_id == line_id), None)

    @property
    def paid_total(self) -> int:
        """What the buyer paid for the whole order: the most it can ever get back."""
        return sum(line.unit_price * line.quantity for line in self.lines) + self.shipping_fee


@dataclass(frozen=True)
class AbuseThreshold:
    returns: int = 5
    days: int = 30


@dataclass(frozen=True)
class ReturnPolicy:
    window_days: int = 7
    defect_window_days: int = 15
    extra_excluded_categories: frozenset[str] = frozenset()
    restocking_fee_percent: int = 0
    review_timeout: timedelta = timedelta(hours=48)
    ship_timeout: timedelta = timedelta(days=7)
    receive_timeout: timedelta = timedelta(hours=48)
    escalation_timeout: timedelta = timedelta(days=7)
    offer_timeout: timedelta = timedelta(hours=48)
    auto_refund_unshipped: bool = False
    fast_refund: bool = False
    abuse_threshold: AbuseThreshold = field(default_factory=AbuseThreshold)


# The platform defaults: a shop without a policy of its own has these, and every field a
# policy leaves out takes its value from here (policies.schemas reads them).
PLATFORM_DEFAULTS = ReturnPolicy()


@dataclass(frozen=True)
class ItemRequest:
    line_id: str
    quantity: int
    condition: Condition


@dataclass(frozen=True)
class Application:
    return_type: ReturnType
    reason: Reason
    items: tuple[ItemRequest, ...]


@dataclass(frozen=True)
class Violation:
    rule: str  # stable machine name, e.g. "return_window_expired"
    message: str  # a sentence a buyer can read


@dataclass(frozen=True)
class Deduction:
    kind: str  # "restocking_fee", "damage", "missing_parts", ...
    amount: int
    note: str = ""


@dataclass(frozen=True)
class RefundQuote:
    fault: Fault
    currency: str
    goods_amount: int
    shipping_compensation: int
    deductions: tuple[Deduction, ...]
    amount: int
    return_shipping_paid_by: ShippingPayer


@dataclass(frozen=True)
class Deadline:
    action: str
    actor: Role
    due_at: datetime
