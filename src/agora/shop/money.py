"""Money: an integer number of minor units and an ISO 4217 currency. Never a float.

``Money(1999, "EUR")`` is 19.99 EUR. Amounts of different currencies never mix: adding them is a
``CurrencyMismatch`` (a 422), not a silent conversion.

Rounding rule (one for the whole shop): a share of an amount (a percentage voucher, a tax rate) is
given in basis points (1/100 of a percent, an integer) and computed in integers, rounded half up
to the minor unit: 12.345 -> 12.35, 12.344 -> 12.34. It is applied once per figure of an order
(the discount, the tax), never per line, so the parts always add up to the total exactly.

On the wire an amount is ``{"amount": 1999, "currency": "EUR"}``: an integer, never ``19.99``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from agora.platform.errors import Invalid
from agora.platform.wire import VERBATIM, matching

# the currencies the shop takes, with their number of minor units (ISO 4217's "exponent")
MINOR_UNITS: dict[str, int] = {
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "JPY": 0,
    "KWD": 3,
    "NOK": 2,
    "PLN": 2,
    "SEK": 2,
    "USD": 2,
}
# 100 % in basis points
WHOLE = 10_000
# the largest amount the shop handles, in minor units: fits a 64-bit column with room for sums
AMOUNT_MAX = 10**15


class CurrencyMismatch(Invalid):
    """Two amounts of different currencies met where one currency is required."""

    def __init__(self, expected: str, got: str, *, field: str | None = "currency") -> None:
        super().__init__(f"must be {expected}, not {got}", field=field)


def check_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        # a ValueError too, with words a client can act on
        raise PydanticCustomError(
            VERBATIM,
            "is not an ISO 4217 currency the shop takes (one of {known})",
            {"known": ", ".join(MINOR_UNITS)},
        )
    return code


Currency = Annotated[
    str,
    Field(examples=["EUR"], json_schema_extra={"enum": sorted(MINOR_UNITS)}),
    matching(r"^[A-Z]{3}$", "must be three capital letters (ISO 4217), such as EUR"),
    AfterValidator(check_currency),
]


def share_half_up(amount: int, basis_points: int) -> int:
    """``amount`` × ``basis_points`` / 10,000, rounded half up, in integers only (amount ≥ 0)."""
    if amount < 0 or basis_points < 0:
        raise ValueError("a share is taken of non-negative amounts at non-negative rates")
    return (amount * basis_points + WHOLE // 2) // WHOLE


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:  # bool and float are refused: money is never either
            raise TypeError(f"an amount is an int of minor units, not {type(self.amount)}")
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def share(self, basis_points: int) -> Money:
        """A percentage of this amount (see the module's rounding rule)."""
        return Money(share_half_up(self.amount, basis_points), self.currency)

    def at_most(self, cap: Money) -> Money:
        self._same(cap)
        return self if self.amount <= cap.amount else cap

    def wire(self) -> MoneyOut:
        return MoneyOut(amount=self.amount, currency=self.currency)


class MoneyOut(BaseModel):
    """An amount on the wire: integer minor units and the currency (``1999`` EUR is 19.99 €)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: StrictInt = Field(description="Minor units (cents): an integer, never a decimal")
    currency: str = Field(description="ISO 4217 code", examples=["EUR"])


def _set_by_the_server(_value: object) -> None:
    raise PydanticCustomError(
        "set_by_the_server", "is set by the server from the catalog: leave it out"
    )


# a price field a client sent: refused by name with a clear message (not a generic "unknown
# field"), and left out of the documentation
_Refused = SkipJsonSchema[Annotated[object | None, BeforeValidator(_set_by_the_server)]]


class NoClientPrices(BaseModel):
    """A request that may not carry prices: the server reads every price from the catalog, so a
    client that sends one (``price``, ``unitPrice``, ``total``…) is told plainly, with a 422."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    price: _Refused = None
    unit_price: _Refused = Field(default=None, alias="unitPrice")
    price_minor: _Refused = Field(default=None, alias="priceMinor")
    amount: _Refused = None
    total: _Refused = None
    subtotal: _Refused = None
