"""Carts and their lines: the only module of the cart that knows tables.

A line holds a variant and a quantity, never a price: prices are read from the catalog at every
step (``cart/views.py``, ``orders/placing.py``), so what a cart shows is what checkout charges.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base, UTCDateTime, utcnow

# sha256 hex of an anonymous cart's token: the token itself is a bearer secret, stored nowhere
TOKEN_HASH_LENGTH = 64


class Cart(Base):
    __tablename__ = "shop_carts"
    __table_args__ = (
        # exactly one owner: a user, or whoever holds the token
        CheckConstraint("(user_id IS NULL) <> (token_hash IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, default=None
    )
    token_hash: Mapped[str | None] = mapped_column(
        String(TOKEN_HASH_LENGTH), unique=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CartLine(Base):
    __tablename__ = "shop_cart_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_shop_cart_lines_variant_id", "variant_id"),
    )

    cart_id: Mapped[int] = mapped_column(
        ForeignKey("shop_carts.id", ondelete="CASCADE"), primary_key=True
    )
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("shop_variants.id", ondelete="CASCADE"), primary_key=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
