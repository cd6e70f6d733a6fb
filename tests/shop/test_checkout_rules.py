"""Totals, vouchers, shipping and addresses without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agora.platform.errors import Invalid
from agora.shop.checkout.address import Address
from agora.shop.checkout.shipping import DEFAULT_SHIPPING, ShippingConfig
from agora.shop.checkout.totals import PricedLine, compute_totals
from agora.shop.checkout.vouchers import VoucherKind, VoucherTerms
from agora.shop.money import CurrencyMismatch, Money

NOW = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def eur(amount: int) -> Money:
    return Money(amount, "EUR")


def voucher(kind: VoucherKind, value: int, **terms: object) -> VoucherTerms:
    values: dict[str, object] = {
        "code": "SAVE",
        "kind": kind,
        "value": value,
        "currency": "EUR",
        "minimum": 0,
        "expires_at": None,
        **terms,
    }
    return VoucherTerms(**values)  # type: ignore[arg-type]


LINES = [PricedLine("A-1", eur(1999), 2), PricedLine("B-2", eur(505), 1)]


def test_totals_add_up_with_a_percentage_voucher_and_tax() -> None:
    totals = compute_totals(
        LINES,
        currency="EUR",
        shipping=eur(490),
        tax_rate_basis_points=2000,
        voucher=voucher(VoucherKind.PERCENTAGE, 1000),
        now=NOW,
    )
    assert totals.subtotal == eur(4503)
    assert totals.discount == eur(450)  # 450.3 rounds down
    assert totals.tax == eur(909)  # 20 % of 4543 = 908.6 rounds up
    assert totals.total == eur(4503 - 450 + 490 + 909)
    assert totals.wire().model_dump()["total"] == {"amount": 5452, "currency": "EUR"}


def test_a_fixed_voucher_never_takes_more_than_the_subtotal() -> None:
    totals = compute_totals(
        [PricedLine("A", eur(300), 1)],
        currency="EUR",
        shipping=eur(490),
        tax_rate_basis_points=0,
        voucher=voucher(VoucherKind.FIXED, 1000),
        now=NOW,
    )
    assert totals.discount == eur(300)
    assert totals.total == eur(490)


def test_a_voucher_refuses_an_expired_date_a_small_order_and_another_currency() -> None:
    with pytest.raises(Invalid, match="expired"):
        voucher(VoucherKind.FIXED, 100, expires_at=NOW).discount(eur(5000), now=NOW)
    later = voucher(VoucherKind.FIXED, 100, expires_at=NOW + timedelta(seconds=1))
    assert later.discount(eur(5000), now=NOW) == eur(100)
    with pytest.raises(Invalid, match="at least 5000"):
        voucher(VoucherKind.FIXED, 100, minimum=5000).discount(eur(4999), now=NOW)
    with pytest.raises(CurrencyMismatch):
        voucher(VoucherKind.FIXED, 100).discount(Money(5000, "USD"), now=NOW)


def test_a_cart_of_mixed_currencies_or_no_lines_has_no_totals() -> None:
    with pytest.raises(CurrencyMismatch):
        compute_totals(
            [*LINES, PricedLine("C", Money(100, "USD"), 1)],
            currency="EUR",
            shipping=eur(0),
            tax_rate_basis_points=0,
            now=NOW,
        )
    with pytest.raises(Invalid, match="empty"):
        compute_totals([], currency="EUR", shipping=eur(0), tax_rate_basis_points=0, now=NOW)


@given(
    st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 1000)), min_size=1, max_size=20),
    st.integers(0, 10**5),
    st.integers(0, 10_000),
    st.integers(1, 10_000),
)
def test_the_parts_always_make_the_total(
    lines: list[tuple[int, int]], shipping: int, tax: int, percent: int
) -> None:
    totals = compute_totals(
        [PricedLine(str(n), eur(price), qty) for n, (price, qty) in enumerate(lines)],
        currency="EUR",
        shipping=eur(shipping),
        tax_rate_basis_points=tax,
        voucher=voucher(VoucherKind.PERCENTAGE, percent),
        now=NOW,
    )
    parts = totals.subtotal - totals.discount + totals.shipping + totals.tax
    assert parts == totals.total
    assert 0 <= totals.discount.amount <= totals.subtotal.amount
    assert all(type(m.amount) is int for m in (totals.tax, totals.total))


def test_shipping_rates_follow_the_zone_and_the_currency() -> None:
    assert DEFAULT_SHIPPING.rate(method="standard", country="FR", currency="EUR") == eur(490)
    assert DEFAULT_SHIPPING.rate(method="standard", country="JP", currency="EUR") == eur(1490)
    assert DEFAULT_SHIPPING.zone_of("GB") == "uk"
    with pytest.raises(Invalid, match="does not ship to JP"):
        DEFAULT_SHIPPING.rate(method="express", country="JP", currency="EUR")
    with pytest.raises(Invalid, match="unknown"):
        DEFAULT_SHIPPING.rate(method="teleport", country="FR", currency="EUR")
    with pytest.raises(Invalid, match="does not ship to FR in JPY"):
        DEFAULT_SHIPPING.rate(method="standard", country="FR", currency="JPY")
    offers = DEFAULT_SHIPPING.offers(country="DE", currency="EUR")
    assert [(method.code, rate.amount) for method, rate in offers] == [
        ("standard", 490),
        ("express", 1290),
    ]


def test_a_configuration_without_a_catch_all_refuses_other_countries() -> None:
    config = ShippingConfig.model_validate(
        {
            "zones": [{"code": "fr", "countries": ["FR"]}],
            "methods": [
                {
                    "code": "post",
                    "name": "Post",
                    "rates": [{"zone": "fr", "amount": 500, "currency": "EUR"}],
                }
            ],
        }
    )
    with pytest.raises(Invalid, match="we do not ship to DE"):
        config.rate(method="post", country="DE", currency="EUR")


@pytest.mark.parametrize(
    "config",
    [
        {"zones": [{"code": "a", "countries": ["FR"]}, {"code": "b", "countries": ["FR"]}]},
        {"zones": [{"code": "a", "countries": ["FR"]}], "rate_zone": "nowhere"},
    ],
)
def test_an_inconsistent_configuration_is_refused_at_start_up(config: dict[str, object]) -> None:
    zone = config.get("rate_zone", "a")
    with pytest.raises(ValidationError):
        ShippingConfig.model_validate(
            {
                "zones": config["zones"],
                "methods": [
                    {
                        "code": "post",
                        "name": "Post",
                        "rates": [{"zone": zone, "amount": 1, "currency": "EUR"}],
                    }
                ],
            }
        )


ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postalCode": "SW1Y 4JH",
    "country": "GB",
}


def test_an_address_is_validated() -> None:
    address = Address.model_validate({**ADDRESS, "name": "  Ada Lovelace "})
    assert address.name == "Ada Lovelace"
    assert address.postal_code == "SW1Y 4JH"


@pytest.mark.parametrize(
    "change",
    [
        {"country": "gb"},
        {"country": "GBR"},
        {"name": ""},
        {"name": "Ada\nLovelace"},
        {"postalCode": "!"},
        {"line1": "x" * 101},
        {"phone": "call me"},
        {"price": 1},
    ],
)
def test_a_bad_address_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Address.model_validate({**ADDRESS, **change})
