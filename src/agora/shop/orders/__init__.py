"""Checkout and orders: stock reserved atomically, an order's life as a state machine."""
