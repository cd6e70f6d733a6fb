"""The checkout's statements, built once with bound parameters and run as Core on the unit of
work's connection (as the cart's, ``cart/statements.py``, and for the same reason: built per
request and run through the ORM session, they cost the checkout more than their execution)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Integer, Select, String, Update, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from agora.shop.catalog.models import Variant
from agora.shop.orders.models import IdempotencyKey, Order, OrderEvent, OrderLine


def _user_id() -> Any:
    return bindparam("owner", type_=Integer)


def _key() -> Any:
    return bindparam("claimed", type_=String)


@cache
def _claim_key(dialect: str) -> Any:
    """``key`` claimed for ``user_id`` (a row made), or no row when an earlier request holds it."""
    # the columns are the parameters: user_id, key, request_hash, created_at
    made = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(IdempotencyKey)
    return made.on_conflict_do_nothing().returning(IdempotencyKey.key)


def claim_key(connection: AsyncConnection) -> Any:
    return _claim_key(connection.dialect.name)


@cache
def earlier_claim() -> Select[str, int | None]:
    return select(IdempotencyKey.request_hash, IdempotencyKey.order_id).where(
        IdempotencyKey.user_id == _user_id(), IdempotencyKey.key == _key()
    )


@cache
def key_made() -> Update:
    """The ``claimed`` key of ``owner`` now names the order it ``made``."""
    return (
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == _user_id(), IdempotencyKey.key == _key())
        .values(order_id=bindparam("made", type_=Integer))
    )


@cache
def reserve() -> ReturningUpdate[int, int, str]:
    """``quantity`` more of ``variant_id`` reserved where that many may still be sold; the
    product, price and currency the row holds (no row: not enough)."""
    quantity = bindparam("quantity", type_=Integer)
    return (
        update(Variant)
        .where(
            Variant.id == bindparam("variant_id", type_=Integer),
            Variant.stock_on_hand - Variant.stock_reserved >= quantity,
        )
        .values(stock_reserved=Variant.stock_reserved + quantity)
        .returning(Variant.product_id, Variant.price_minor, Variant.currency)
    )


# The order's columns a checkout writes (every one: the INSERT takes them as bound parameters).
ORDER_COLUMNS = (
    "user_id",
    "status",
    "currency",
    "subtotal_minor",
    "discount_minor",
    "shipping_minor",
    "tax_minor",
    "total_minor",
    "tax_rate_basis_points",
    "voucher_code",
    "shipping_method",
    "shipping_address",
    "created_at",
    "updated_at",
)


@cache
def new_order() -> ReturningInsert[int]:
    return insert(Order).returning(Order.id)


@cache
def new_lines() -> Insert:
    """Every line in one statement (a list of rows runs as one multi-row INSERT)."""
    return insert(OrderLine)


@cache
def new_event() -> Insert:
    return insert(OrderEvent)
