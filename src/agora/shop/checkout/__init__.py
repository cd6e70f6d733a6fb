"""Checkout: the rules that turn a cart into an order's figures (money, address, shipping,
vouchers, tax, totals), plain code testable without a database; and the checkout service."""
