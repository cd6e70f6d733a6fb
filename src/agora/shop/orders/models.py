"""Orders, their lines and their history; vouchers and idempotency keys: the only module of
orders and checkout that knows tables.

An order keeps what was bought as it was at checkout (SKU, name, unit price), so its figures
never change when the catalog does. Every amount is an integer of minor units in the order's
currency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base, UTCDateTime, utcnow

STATUS_MAX = 20
REASON_MAX = 500
VOUCHER_CODE_MAX = 40
IDEMPOTENCY_KEY_MAX = 200
STATUSES = "('pending_payment', 'paid', 'fulfilled', 'delivered', 'cancelled', 'refunded')"


class Order(Base):
    __tablename__ = "shop_orders"
    __table_args__ = (
        # a customer's orders, newest first (keyset on id)
        Index("ix_shop_orders_user_id_id", "user_id", "id"),
        # staff's lists by state
        Index("ix_shop_orders_status_id", "status", "id"),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint(
            "total_minor = subtotal_minor - discount_minor + shipping_minor + tax_minor",
            name="figures_add_up",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(STATUS_MAX))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger)
    shipping_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    tax_rate_basis_points: Mapped[int] = mapped_column(Integer)
    voucher_code: Mapped[str | None] = mapped_column(String(VOUCHER_CODE_MAX), default=None)
    shipping_method: Mapped[str] = mapped_column(String(40))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderLine(Base):
    __tablename__ = "shop_order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_orders.id", ondelete="CASCADE"))
    # None once the variant left the catalog; the line keeps what it was
    variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("shop_variants.id", ondelete="SET NULL")
    )
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(BigInteger)


Index("ix_shop_order_lines_order_id", OrderLine.order_id)


class OrderEvent(Base):
    """One step of an order's history: who moved it, when, from, to, and why."""

    __tablename__ = "shop_order_events"
    __table_args__ = (Index("ix_shop_order_events_order_id_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_orders.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(STATUS_MAX))
    to_status: Mapped[str] = mapped_column(String(STATUS_MAX))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Voucher(Base):
    __tablename__ = "shop_vouchers"
    __table_args__ = (
        CheckConstraint("kind IN ('percentage', 'fixed')", name="kind"),
        CheckConstraint("value > 0", name="value_positive"),
        # the limit holds in the database too, not only in the UPDATE that counts a use
        CheckConstraint("usage_limit IS NULL OR uses <= usage_limit", name="within_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # upper case: codes are matched without regard to case
    code: Mapped[str] = mapped_column(String(VOUCHER_CODE_MAX), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    minimum_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    usage_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(Base):
    """A checkout's ``Idempotency-Key``: its first request (as a hash) and the order it made.

    Written first in the checkout's transaction: a second request with the key waits for the
    first to commit (the primary key), then finds its order; if the first failed, nothing of it
    stays, and the second one tries for itself."""

    __tablename__ = "shop_idempotency_keys"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_MAX), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("shop_orders.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
