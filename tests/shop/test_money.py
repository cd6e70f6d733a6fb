"""Money is integers of minor units with a currency: sums, shares and rounding, never a float."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agora.shop.money import AMOUNT_MAX, WHOLE, CurrencyMismatch, Money, share_half_up

amounts = st.integers(min_value=0, max_value=AMOUNT_MAX)
rates = st.integers(min_value=0, max_value=WHOLE)


def test_amounts_of_one_currency_add_up() -> None:
    assert Money(1999, "EUR") + Money(1, "EUR") == Money(2000, "EUR")
    assert Money(500, "EUR").times(3) - Money(1, "EUR") == Money(1499, "EUR")


def test_currencies_never_mix() -> None:
    with pytest.raises(CurrencyMismatch, match="must be EUR, not USD"):
        Money(100, "EUR") + Money(100, "USD")


@pytest.mark.parametrize("amount", [19.99, 1.0, True])
def test_an_amount_is_never_a_float_or_a_bool(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["eur", "EURO", "XXX", ""])
def test_unknown_currencies_are_refused(currency: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(1, currency)


@pytest.mark.parametrize(
    ("amount", "basis_points", "expected"),
    [(1234, 1000, 123), (1235, 1000, 124), (1245, 1000, 125), (1, 5000, 1), (1, 4999, 0)],
)
def test_shares_round_half_up(amount: int, basis_points: int, expected: int) -> None:
    # 123.4 -> 123, 123.5 -> 124, 124.5 -> 125 (half up, not banker's), 0.5 -> 1, 0.4999 -> 0
    assert share_half_up(amount, basis_points) == expected


@given(amounts, rates)
def test_a_share_is_the_exact_quotient_rounded_half_up(amount: int, basis_points: int) -> None:
    share = share_half_up(amount, basis_points)
    exact_times_whole = amount * basis_points
    # within half a minor unit, ties going up: exact - 1/2 < share <= exact + 1/2
    assert exact_times_whole * 2 - WHOLE < share * 2 * WHOLE <= exact_times_whole * 2 + WHOLE
    assert 0 <= share <= amount


def test_the_wire_shape_is_an_integer_and_a_code() -> None:
    assert Money(1999, "EUR").wire().model_dump(mode="json") == {"amount": 1999, "currency": "EUR"}
    assert Money(5, "JPY").wire().model_dump_json() == '{"amount":5,"currency":"JPY"}'
