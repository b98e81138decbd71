"""A shop's automation rules as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from returns_service.policies.schemas import Category
from returns_service.rules.automations import MAX_RULES, AutomationAction, OrderStage
from returns_service.rules.vocabulary import Reason, ReturnType
from returns_service.shapes import ResponseShape

RuleName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        # Shown on the timeline: printable text, no control characters.
        pattern=r"^[^\x00-\x1f\x7f]+$",
        examples=["small refunds keep the goods"],
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutomationConditions(_Body):
    """Each condition left out holds for every return; a stated list holds for the listed."""

    types: list[ReturnType] | None = Field(default=None, min_length=1, max_length=4)
    reasons: list[Reason] | None = Field(default=None, min_length=1, max_length=8)
    max_refund_amount: int | None = Field(default=None, strict=True, ge=0, le=10**12)
    categories: list[Category] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="holds when every returned item's category is listed",
    )
    order: OrderStage | None = None
    buyer_in_good_standing: bool | None = Field(default=None, strict=True)


class AutomationRuleSchema(_Body):
    name: RuleName
    when: AutomationConditions = Field(default_factory=AutomationConditions)
    then: AutomationAction


class AutomationsIn(_Body):
    rules: list[AutomationRuleSchema] = Field(max_length=MAX_RULES)


class AutomationConditionsOut(ResponseShape):
    """Every condition, null where the rule leaves it out."""

    types: list[ReturnType] | None = None
    reasons: list[Reason] | None = None
    max_refund_amount: int | None = None
    categories: list[str] | None = None
    order: OrderStage | None = None
    buyer_in_good_standing: bool | None = None


class AutomationRuleOut(ResponseShape):
    name: str
    when: AutomationConditionsOut
    then: AutomationAction


class AutomationsOut(BaseModel):
    shop_id: str
    rules: list[AutomationRuleOut]
    # 0 until the shop writes its first rules.
    version: int
    updated_at: datetime | None
