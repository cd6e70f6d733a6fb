"""The cart's statements, built once with bound parameters and run as Core on the unit of work's
connection (``await uow.session.connection()``): the cart's and checkout's hot path.

A profile of the shop benchmark's adds had the server's time in building statements and in the
ORM's execution around them (entities, identity map, flush): an add cost about four times the
blog's comment write. Built once here and run on the connection, a statement costs its execution
only; the ORM session still owns the transaction, so the unit of work commits (and writes its
outbox rows) as before. Upserts differ by dialect: one statement per dialect, each built once.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    Delete,
    Integer,
    Select,
    String,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from agora.platform.db import UTCDateTime
from agora.shop.cart.models import Cart, CartLine
from agora.shop.catalog.models import Product, Variant

# what ``views.Line`` holds, in this order
LINE_COLUMNS = (
    CartLine.quantity,
    CartLine.variant_id,
    Variant.sku,
    Variant.title,
    Variant.price_minor,
    Variant.currency,
    (Variant.stock_on_hand - Variant.stock_reserved).label("available"),
    Product.name,
    Product.published,
)


def _now() -> Any:
    return bindparam("now", type_=UTCDateTime())


def _dialect(connection: AsyncConnection) -> str:
    return connection.dialect.name


@cache
def lines_of_cart() -> Select[*tuple[Any, ...]]:
    """``cart``'s lines with their variants and products, in variant order."""
    return (
        select(*LINE_COLUMNS)
        .join(Variant, Variant.id == CartLine.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(CartLine.cart_id == bindparam("cart", type_=Integer))
        .order_by(CartLine.variant_id)
    )


@cache
def lines_of_user() -> Select[*tuple[Any, ...]]:
    """``owner``'s cart's lines (as ``lines_of_cart``) and the cart's id, in one statement: a
    checkout's first read (no row: no cart, or an empty one)."""
    return (
        select(*LINE_COLUMNS, Cart.id.label("cart_id"))
        .join(CartLine, CartLine.cart_id == Cart.id)
        .join(Variant, Variant.id == CartLine.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(Cart.user_id == bindparam("owner", type_=Integer))
        .order_by(CartLine.variant_id)
    )


@cache
def touch_anonymous() -> ReturningUpdate[int]:
    """The cart of ``hash`` with ``updated_at`` set to ``now`` (what the purge of forgotten
    carts goes by); its id."""
    return (
        update(Cart)
        .where(Cart.token_hash == bindparam("hash", type_=String))
        .values(updated_at=_now())
        .returning(Cart.id)
    )


@cache
def find_anonymous() -> Select[int]:
    return select(Cart.id).where(Cart.token_hash == bindparam("hash", type_=String))


@cache
def new_anonymous() -> ReturningInsert[int]:
    # the columns are the parameters: token_hash, created_at, updated_at
    return insert(Cart).returning(Cart.id)


@cache
def find_user_cart() -> Select[int]:
    return select(Cart.id).where(Cart.user_id == bindparam("owner", type_=Integer))


@cache
def touch_user_cart() -> ReturningUpdate[int]:
    return (
        update(Cart)
        .where(Cart.user_id == bindparam("owner", type_=Integer))
        .values(updated_at=_now())
        .returning(Cart.id)
    )


@cache
def _user_cart_upsert(dialect: str) -> Any:
    """The user's cart made when missing (two first requests at once make one), touched when
    there; its id. The columns are the parameters: user_id, created_at, updated_at."""
    made = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(Cart)
    return made.on_conflict_do_update(
        index_elements=[Cart.user_id], set_={"updated_at": made.excluded.updated_at}
    ).returning(Cart.id)


def user_cart_upsert(connection: AsyncConnection) -> Any:
    return _user_cart_upsert(_dialect(connection))


@cache
def _add_to_line(dialect: str) -> Any:
    """``wanted`` units of the published variant ``sku`` added to ``cart``'s line of it (the line
    made when missing), in one statement: two adds at once both count. Returns the variant's id
    and the line's quantity now; no row when no published variant has that SKU."""
    now = _now()
    buyable = (
        select(bindparam("cart", type_=Integer), Variant.id, bindparam("wanted", Integer), now)
        .join(Product, Product.id == Variant.product_id)
        # a WHERE also keeps SQLite from reading the ON CONFLICT below as the join's ON
        .where(Variant.sku == bindparam("sku", type_=String), Product.published)
    )
    made = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(CartLine).from_select(
        ["cart_id", "variant_id", "quantity", "added_at"], buyable
    )
    return made.on_conflict_do_update(
        index_elements=[CartLine.cart_id, CartLine.variant_id],
        set_={"quantity": CartLine.quantity + made.excluded.quantity},
    ).returning(CartLine.variant_id, CartLine.quantity)


def add_to_line(connection: AsyncConnection) -> Any:
    return _add_to_line(_dialect(connection))


@cache
def _put_line(dialect: str) -> Any:
    """A line set to its ``quantity`` (made when missing): a merge's write. The columns are the
    parameters: cart_id, variant_id, quantity, added_at."""
    made = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(CartLine)
    return made.on_conflict_do_update(
        index_elements=[CartLine.cart_id, CartLine.variant_id],
        set_={"quantity": made.excluded.quantity},
    )


def put_line(connection: AsyncConnection) -> Any:
    return _put_line(_dialect(connection))


@cache
def set_line() -> ReturningUpdate[int, int]:
    """``cart``'s line of the published variant ``sku`` set to ``wanted``; the variant's id
    and the quantity, no row when the cart holds no such line."""
    variant = (
        select(Variant.id)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.sku == bindparam("sku", type_=String), Product.published)
        .scalar_subquery()
    )
    return (
        update(CartLine)
        .where(CartLine.cart_id == bindparam("cart", type_=Integer))
        .where(CartLine.variant_id == variant)
        .values(quantity=bindparam("wanted", type_=Integer))
        .returning(CartLine.variant_id, CartLine.quantity)
    )


@cache
def empty_cart() -> Delete:
    return delete(CartLine).where(CartLine.cart_id == bindparam("cart", type_=Integer))


@cache
def delete_cart() -> Delete:
    return delete(Cart).where(Cart.id == bindparam("cart", type_=Integer))


@cache
def variant_of_sku() -> Select[int]:
    return select(Variant.id).where(Variant.sku == bindparam("sku", type_=String))


@cache
def remove_line() -> Delete:
    return delete(CartLine).where(
        CartLine.cart_id == bindparam("cart", type_=Integer),
        CartLine.variant_id == bindparam("variant", type_=Integer),
    )
