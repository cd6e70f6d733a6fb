"""Shipping zones, methods and their rates: configuration, not tables.

A zone is a set of countries (ISO 3166-1 alpha-2); one zone may be the catch-all (``"*"``) for
every country no other zone names. A method (``standard``, ``express``) has a rate per zone and
currency, in minor units. The configuration is validated once at start-up (``AGORA_SHOP_SHIPPING``
as JSON replaces the default below), so a checkout never meets a zone without a rate by surprise:
it meets a clear 422 ("no express delivery to this country in JPY") instead.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from agora.platform.errors import Invalid
from agora.platform.wire import matching
from agora.shop.money import AMOUNT_MAX, Currency, Money

CountryCode = Annotated[
    str,
    matching(r"^[A-Z]{2}$", "must be two capital letters (ISO 3166-1 alpha-2), such as FR"),
]
CATCH_ALL = "*"
Code = Annotated[
    str,
    matching(
        r"^[a-z][a-z0-9_-]{0,39}$",
        "must be a code of lower-case letters, digits, '_' and '-', such as standard",
    ),
]


class Zone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    # the countries of the zone, or ["*"]: every country no other zone names
    countries: list[CountryCode | Annotated[str, StringConstraints(pattern=r"^\*$")]]


class Rate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zone: Code
    amount: int = Field(ge=0, le=AMOUNT_MAX)
    currency: Currency


class Method(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: str = Field(min_length=1, max_length=100)
    rates: list[Rate]


class ShippingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zones: list[Zone] = Field(min_length=1)
    methods: list[Method] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        zone_codes = [zone.code for zone in self.zones]
        if len(set(zone_codes)) != len(zone_codes):
            raise ValueError("two zones share a code")
        countries = [country for zone in self.zones for country in zone.countries]
        if len(set(countries)) != len(countries):
            raise ValueError("a country (or the catch-all) is in two zones")
        method_codes = [method.code for method in self.methods]
        if len(set(method_codes)) != len(method_codes):
            raise ValueError("two methods share a code")
        for method in self.methods:
            for rate in method.rates:
                if rate.zone not in zone_codes:
                    raise ValueError(f"method {method.code} has a rate for no zone: {rate.zone}")
        return self

    def zone_of(self, country: str) -> str:
        """The zone that ships to ``country``; a 422 when none does."""
        catch_all = None
        for zone in self.zones:
            if country in zone.countries:
                return zone.code
            if CATCH_ALL in zone.countries:
                catch_all = zone.code
        if catch_all is None:
            raise Invalid(f"we do not ship to {country}", field="shippingAddress.country")
        return catch_all

    def method(self, code: str) -> Method:
        for method in self.methods:
            if method.code == code:
                return method
        known = ", ".join(method.code for method in self.methods)
        raise Invalid(f"is unknown (one of: {known})", field="shippingMethod")

    def rate(self, *, method: str, country: str, currency: str) -> Money:
        """What ``method`` costs to ``country`` in ``currency``; a 422 when it does not ship."""
        chosen = self.method(method)
        zone = self.zone_of(country)
        for rate in chosen.rates:
            if rate.zone == zone and rate.currency == currency:
                return Money(rate.amount, rate.currency)
        raise Invalid(
            f"{chosen.name} does not ship to {country} in {currency}", field="shippingMethod"
        )

    def offers(self, *, country: str, currency: str) -> list[tuple[Method, Money]]:
        """The methods that ship to ``country`` in ``currency``, with their rates."""
        zone = self.zone_of(country)
        return [
            (method, Money(rate.amount, rate.currency))
            for method in self.methods
            for rate in method.rates
            if rate.zone == zone and rate.currency == currency
        ]


_EU = ["AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "LU", "NL", "PL", "PT", "SE"]


def _rates(zone: str, eur: int, usd: int, gbp: int) -> list[Rate]:
    return [
        Rate(zone=zone, amount=eur, currency="EUR"),
        Rate(zone=zone, amount=usd, currency="USD"),
        Rate(zone=zone, amount=gbp, currency="GBP"),
    ]


# the embedded default: three zones, two methods, rates in EUR, USD and GBP
DEFAULT_SHIPPING = ShippingConfig(
    zones=[
        Zone(code="eu", countries=_EU),
        Zone(code="uk", countries=["GB"]),
        Zone(code="world", countries=[CATCH_ALL]),
    ],
    methods=[
        Method(
            code="standard",
            name="Standard delivery",
            rates=[
                *_rates("eu", 490, 550, 420),
                *_rates("uk", 690, 790, 390),
                *_rates("world", 1490, 1590, 1290),
            ],
        ),
        Method(
            code="express",
            name="Express delivery",
            rates=[*_rates("eu", 1290, 1390, 1090), *_rates("uk", 1490, 1590, 990)],
        ),
    ],
)
