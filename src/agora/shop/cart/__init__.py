"""Carts of signed-in users and of anonymous visitors (by a cart token)."""
