"""A voucher's terms and what it takes off an order: plain rules, no database.

- ``percentage``: ``value`` basis points of the subtotal (1000 = 10 %), rounded half up;
- ``fixed``: ``value`` minor units off, in the voucher's currency only.

Either way the discount never exceeds the subtotal (shipping and tax are not discounted), the
order's subtotal must reach ``minimum`` (in the voucher's currency, when it has one), and a
voucher past ``expires_at`` takes nothing off: it is refused with a 422. Its usage limit is not
checked here: only the database can count uses under concurrency (``checkout/vouchers_store``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from agora.platform.errors import Invalid
from agora.shop.money import WHOLE, CurrencyMismatch, Money

FIELD = "voucherCode"


class VoucherKind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED = "fixed"


@dataclass(frozen=True, slots=True)
class VoucherTerms:
    code: str
    kind: VoucherKind
    value: int  # basis points (percentage) or minor units (fixed)
    currency: str | None  # required for fixed; for a percentage, restricts it when set
    minimum: int  # minor units of the subtotal required, in ``currency`` (0: none)
    expires_at: datetime | None

    def __post_init__(self) -> None:
        if self.kind is VoucherKind.PERCENTAGE and not 0 < self.value <= WHOLE:
            raise ValueError("a percentage voucher takes 1 to 10000 basis points")
        if self.kind is VoucherKind.FIXED and (self.value <= 0 or self.currency is None):
            raise ValueError("a fixed voucher takes a positive amount in a currency")
        if self.minimum < 0 or (self.minimum and self.currency is None):
            raise ValueError("a minimum order is a non-negative amount in the voucher's currency")

    def discount(self, subtotal: Money, *, now: datetime) -> Money:
        """What this voucher takes off ``subtotal`` at ``now``; a 422 when it does not apply."""
        if self.expires_at is not None and now >= self.expires_at:
            raise Invalid("has expired", field=FIELD)
        if self.currency is not None and self.currency != subtotal.currency:
            raise CurrencyMismatch(self.currency, subtotal.currency, field=FIELD)
        if subtotal.amount < self.minimum:
            raise Invalid(
                f"needs an order of at least {self.minimum} minor units of {self.currency}",
                field=FIELD,
            )
        if self.kind is VoucherKind.PERCENTAGE:
            off = subtotal.share(self.value)
        else:
            off = Money(self.value, subtotal.currency)
        return off.at_most(subtotal)
