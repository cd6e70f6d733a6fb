"""An order's figures, computed on the server from prices it read itself.

    subtotal = Σ unit price × quantity                 (each line in the cart's currency)
    discount = the voucher's, capped at the subtotal   (rounded half up once, see shop/money.py)
    shipping = the method's rate to the address's zone
    tax      = tax rate × (subtotal − discount + shipping), rounded half up once
    total    = subtotal − discount + shipping + tax

Tax is added on top (prices are net) at one configured rate; rounding happens once per figure,
never per line, so ``subtotal - discount + shipping + tax == total`` holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from agora.platform.errors import Invalid
from agora.shop.checkout.vouchers import VoucherTerms
from agora.shop.money import AMOUNT_MAX, WHOLE, CurrencyMismatch, Money, MoneyOut


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    unit_price: Money
    quantity: int

    @property
    def total(self) -> Money:
        return self.unit_price.times(self.quantity)


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: Money
    discount: Money
    shipping: Money
    tax: Money
    total: Money

    def wire(self) -> TotalsOut:
        return TotalsOut(
            subtotal=self.subtotal.wire(),
            discount=self.discount.wire(),
            shipping=self.shipping.wire(),
            tax=self.tax.wire(),
            total=self.total.wire(),
        )


class TotalsOut(BaseModel):
    subtotal: MoneyOut
    discount: MoneyOut
    shipping: MoneyOut
    tax: MoneyOut
    total: MoneyOut


def subtotal_of(lines: Sequence[PricedLine], currency: str) -> Money:
    subtotal = Money.zero(currency)
    for line in lines:
        if line.unit_price.currency != currency:
            raise CurrencyMismatch(currency, line.unit_price.currency, field="cart")
        subtotal = subtotal + line.total
    return subtotal


def compute_totals(
    lines: Sequence[PricedLine],
    *,
    currency: str,
    shipping: Money,
    tax_rate_basis_points: int,
    voucher: VoucherTerms | None = None,
    now: datetime,
) -> Totals:
    if not lines:
        raise Invalid("is empty", field="cart")
    if not 0 <= tax_rate_basis_points <= WHOLE:
        raise ValueError("a tax rate is 0 to 10000 basis points")
    subtotal = subtotal_of(lines, currency)
    discount = Money.zero(currency) if voucher is None else voucher.discount(subtotal, now=now)
    taxable = subtotal - discount + shipping
    tax = taxable.share(tax_rate_basis_points)
    total = taxable + tax
    if total.amount > AMOUNT_MAX:
        raise Invalid("comes to more than the shop can charge at once", field="cart")
    return Totals(subtotal=subtotal, discount=discount, shipping=shipping, tax=tax, total=total)
