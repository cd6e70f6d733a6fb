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
    TextClause,
    bindparam,
    delete,
    insert,
    select,
    text,
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


# PostgreSQL only: an add as one statement on an autocommit connection (no BEGIN, no COMMIT: four
# round trips fewer than the transaction below it). The cart is touched (made, for a user) only
# if its row is still the version the statement's snapshot saw (``xmin``): a write to the cart
# committed since (every add touches it, under that row's lock) makes the statement change
# nothing and answer no row, and so does any refusal; the caller then runs the transaction,
# which waits for the lock, sees that write and explains a refusal. With the cart unchanged
# since the snapshot, the snapshot's lines are the cart's, so the checks (published, another
# currency held, at most LINE_QUANTITY_MAX and what is in stock) and the answer read them; the
# line's own quantity is the locked row's (two adds of one SKU at once both count). The cart is
# touched only when the add passes those checks on the snapshot's lines (``fits``): a refused add
# leaves the cart's ``updated_at`` as it was and makes no empty cart (a check that a concurrent
# change makes stale only sends the add to the transaction). Answers the cart's lines after the
# write as ``lines_of_cart`` does, or no row.
_ADD_ALONE = """
WITH seen AS (
    SELECT id, xmin AS version FROM shop_carts WHERE {owner}
), variant AS (
    SELECT v.id, v.currency, LEAST(v.stock_on_hand - v.stock_reserved, :most) AS room
    FROM shop_variants AS v JOIN shop_products AS p ON p.id = v.product_id
    WHERE v.sku = :sku AND p.published
), fits AS (
    SELECT FROM variant
    WHERE :wanted + COALESCE((
        SELECT quantity FROM shop_cart_lines
        WHERE cart_id = (SELECT id FROM seen) AND variant_id = variant.id
    ), 0) <= variant.room AND NOT EXISTS (
        SELECT FROM shop_cart_lines AS held JOIN shop_variants AS v ON v.id = held.variant_id
        WHERE held.cart_id = (SELECT id FROM seen) AND v.currency <> variant.currency
    )
), cart AS (
    {touch}
    RETURNING id
), line AS (
    INSERT INTO shop_cart_lines (cart_id, variant_id, quantity, added_at)
    SELECT cart.id, variant.id, :wanted, :now FROM cart, variant
    WHERE :wanted <= variant.room AND NOT EXISTS (
        SELECT FROM shop_cart_lines AS held JOIN shop_variants AS v ON v.id = held.variant_id
        WHERE held.cart_id = cart.id AND v.currency <> variant.currency
    )
    ON CONFLICT (cart_id, variant_id) DO UPDATE
    SET quantity = shop_cart_lines.quantity + excluded.quantity
    WHERE shop_cart_lines.quantity + excluded.quantity <= (SELECT room FROM variant)
    RETURNING variant_id, quantity
)
SELECT held.quantity, held.variant_id, v.sku, v.title, v.price_minor, v.currency,
       v.stock_on_hand - v.stock_reserved AS available, p.name, p.published
FROM (
    SELECT variant_id, quantity FROM line
    UNION ALL
    SELECT variant_id, quantity FROM shop_cart_lines
    WHERE cart_id = (SELECT id FROM cart) AND variant_id <> (SELECT variant_id FROM line)
) AS held
JOIN shop_variants AS v ON v.id = held.variant_id
JOIN shop_products AS p ON p.id = v.product_id
ORDER BY held.variant_id
"""

_TOUCH_USER_CART = """INSERT INTO shop_carts (user_id, created_at, updated_at)
    SELECT :owner, :now, :now WHERE EXISTS (SELECT FROM fits)
    ON CONFLICT (user_id) DO UPDATE SET updated_at = excluded.updated_at
    WHERE shop_carts.xmin = (SELECT version FROM seen)"""

_TOUCH_ANONYMOUS_CART = """UPDATE shop_carts SET updated_at = :now
    WHERE id = (SELECT id FROM seen) AND xmin = (SELECT version FROM seen)
    AND EXISTS (SELECT FROM fits)"""


def _add_alone(owner: str, touch: str) -> TextClause:
    return text(_ADD_ALONE.format(owner=owner, touch=touch)).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("sku", type_=String),
        bindparam("wanted", type_=Integer),
        bindparam("most", type_=Integer),
    )


@cache
def add_alone_for_user() -> TextClause:
    """``wanted`` of ``sku`` into ``owner``'s cart (made when missing), as ``_ADD_ALONE``."""
    statement = _add_alone("user_id = :owner", _TOUCH_USER_CART)
    return statement.bindparams(bindparam("owner", type_=Integer))


@cache
def add_alone_for_token() -> TextClause:
    """``wanted`` of ``sku`` into the cart of token ``hash``, as ``_ADD_ALONE``."""
    statement = _add_alone("token_hash = :hash", _TOUCH_ANONYMOUS_CART)
    return statement.bindparams(bindparam("hash", type_=String))
