"""Field types more than one concept speaks: ids, money, the return address.

Orders, returns, policies and subscriptions all import these from here, so none of those
packages needs another's schemas (which would tie them in a circle).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from returns_service.shapes import ResponseShape

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
# strict: JSON true/false or 1.0 are not amounts (pydantic alone would take them as 1 and 0).
Money = Annotated[int, Field(strict=True, ge=0, le=10**12, description="Minor units (fen, cents)")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217", examples=["CNY"])]


AddressKind = Literal["shop", "warehouse", "supplier"]


# Where goods go back: named on an approval, or the shop policy's default; as received...
class ReturnAddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AddressKind = "shop"
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=32)
    address: str = Field(min_length=1, max_length=500)
    postal_code: str | None = Field(default=None, max_length=16)


# ...and as sent (shapes.ResponseShape).
class ReturnAddressOut(ResponseShape):
    kind: AddressKind = "shop"
    name: str
    phone: str
    address: str
    postal_code: str | None = None
