"""The wire shapes of checkout and orders; every amount is ``{"amount": <int>, "currency"}``."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agora.platform.wire import SingleLine, Timestamp, matching
from agora.shop.checkout.address import Address
from agora.shop.checkout.shipping import Code
from agora.shop.money import MoneyOut, NoClientPrices
from agora.shop.orders.models import IDEMPOTENCY_KEY_MAX, REASON_MAX, VOUCHER_CODE_MAX
from agora.shop.orders.state_machine import ActorKind, OrderStatus

VoucherCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, min_length=1, max_length=VOUCHER_CODE_MAX
    ),
    SingleLine,
]
Reason = Annotated[str, Field(min_length=1, max_length=REASON_MAX), SingleLine]
# printable ASCII without spaces, as the IETF draft and Stripe take it
IdempotencyKeyText = Annotated[
    str,
    matching(
        rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}$",
        f"must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters without spaces",
    ),
]


class CheckoutRequest(NoClientPrices):
    """Where and how to ship the signed-in user's cart, and a voucher; the prices, tax and
    totals are the server's."""

    shipping_address: Address = Field(alias="shippingAddress")
    shipping_method: Code = Field(alias="shippingMethod", examples=["standard"])
    voucher_code: VoucherCode | None = Field(default=None, alias="voucherCode")

    def fingerprint(self) -> str:
        """The same for the same request, whatever the order of its fields (for the
        ``Idempotency-Key`` check)."""
        canonical = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


class Figures(BaseModel):
    subtotal: MoneyOut
    discount: MoneyOut
    shipping: MoneyOut
    tax: MoneyOut
    total: MoneyOut


class QuoteOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    currency: str
    figures: Figures
    tax_rate_basis_points: int = Field(alias="taxRateBasisPoints")


class OrderLineOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    sku: str
    name: str
    quantity: int
    unit_price: MoneyOut = Field(alias="unitPrice", description="As charged at checkout")
    line_total: MoneyOut = Field(alias="lineTotal")


class ActorOut(BaseModel):
    kind: ActorKind
    id: int | None


class OrderEventOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    from_status: OrderStatus | None = Field(alias="from")
    to_status: OrderStatus = Field(alias="to")
    actor: ActorOut
    reason: str | None
    at: Timestamp


class OrderOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    id: int
    status: OrderStatus
    currency: str
    lines: list[OrderLineOut]
    figures: Figures
    tax_rate_basis_points: int = Field(alias="taxRateBasisPoints")
    voucher_code: str | None = Field(alias="voucherCode")
    shipping_method: str = Field(alias="shippingMethod")
    shipping_address: dict[str, Any] = Field(alias="shippingAddress")
    created_at: Timestamp = Field(alias="createdAt")
    updated_at: Timestamp = Field(alias="updatedAt")
    events: list[OrderEventOut] = Field(description="The order's history, oldest first")


class OrderResult(BaseModel):
    order: OrderOut


class OrderSummary(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    id: int
    status: OrderStatus
    total: MoneyOut
    created_at: Timestamp = Field(alias="createdAt")
    updated_at: Timestamp = Field(alias="updatedAt")


class OrdersPage(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    orders: list[OrderSummary]
    next_cursor: str | None = Field(
        alias="nextCursor", description="Pass as ?cursor= for the next page; null on the last"
    )


class CancelRequest(NoClientPrices):
    reason: Reason | None = None


class TransitionRequest(NoClientPrices):
    to: OrderStatus
    reason: Reason | None = None
