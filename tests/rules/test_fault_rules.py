"""Who is at fault for each reason (DOMAIN.md, "Reasons and who is at fault")."""

from __future__ import annotations

import pytest

from returns_service.rules.fault import fault_of
from returns_service.rules.vocabulary import Fault, Reason

EXPECTED = {
    Reason.NO_REASON: Fault.BUYER,
    Reason.SIZE_MISMATCH: Fault.BUYER,
    Reason.QUALITY_DEFECT: Fault.MERCHANT,
    Reason.NOT_AS_DESCRIBED: Fault.MERCHANT,
    Reason.WRONG_ITEM: Fault.MERCHANT,
    Reason.MISSING_ITEM: Fault.MERCHANT,
    Reason.DAMAGED_IN_TRANSIT: Fault.LOGISTICS,
    Reason.NOT_RECEIVED: Fault.LOGISTICS,
}


def test_every_reason_has_a_fault() -> None:
    assert set(EXPECTED) == set(Reason)


@pytest.mark.parametrize(("reason", "fault"), EXPECTED.items())
def test_the_fault_of_each_reason(reason: Reason, fault: Fault) -> None:
    assert fault_of(reason) is fault


def test_logistics_faults_are_the_merchants_to_settle() -> None:
    assert Fault.LOGISTICS.on_merchant_side and Fault.MERCHANT.on_merchant_side
    assert not Fault.BUYER.on_merchant_side
