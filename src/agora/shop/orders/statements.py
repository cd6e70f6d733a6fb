"""The checkout's statements, built once with bound parameters and run as Core on the unit of
work's connection (as the cart's, ``cart/statements.py``, and for the same reason: built per
request and run through the ORM session, they cost the checkout more than their execution)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Insert,
    Integer,
    Select,
    String,
    TextClause,
    Update,
    bindparam,
    exists,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from agora.platform.db import UTCDateTime
from agora.shop.cart import statements as cart_statements
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


# PostgreSQL only: every line's reservation in one statement (SQLite runs ``reserve`` a line at
# a time, in id order). The rows are locked first, in id order (``locked``: the sort comes before
# the locks), so two checkouts sharing variants wait for each other as ``stock.py`` says, never in
# a circle; the UPDATE then writes only rows already held, each where its condition holds on the
# row as it is now (a row changed since the statement's snapshot is read again, as any UPDATE's).
# A row that falls short is simply not written: the caller compares the rows back with its lines
# and rolls the whole transaction back when one is missing.
_RESERVE_ALL = """
WITH wanted AS (
    SELECT * FROM unnest(CAST(:variant_ids AS integer[]), CAST(:quantities AS integer[]))
        AS wanted(id, quantity)
), locked AS MATERIALIZED (
    SELECT v.id, wanted.quantity
    FROM shop_variants AS v JOIN wanted ON wanted.id = v.id
    ORDER BY v.id
    FOR UPDATE OF v
)
UPDATE shop_variants AS v SET stock_reserved = v.stock_reserved + locked.quantity
FROM locked
WHERE v.id = locked.id AND v.stock_on_hand - v.stock_reserved >= locked.quantity
RETURNING v.id, v.product_id, v.price_minor, v.currency
"""


@cache
def reserve_all_postgresql() -> TextClause:
    """``quantities[i]`` more of ``variant_ids[i]`` reserved for each i where that many may still
    be sold; a row (id, product, price, currency) for each variant reserved, none for one that
    falls short."""
    return text(_RESERVE_ALL).bindparams(
        bindparam("variant_ids", type_=ARRAY(Integer)),
        bindparam("quantities", type_=ARRAY(Integer)),
    )


@cache
def claim_key_and_lines_postgresql() -> Select[*tuple[Any, ...]]:
    """PostgreSQL: ``claimed`` claimed for ``owner`` (as ``claim_key``) and, when it was, the
    owner's cart's lines and the cart's id (as ``cart_statements.lines_of_user``), in one
    statement: the checkout's first. The first column, ``claimed``, says whether the key was; one
    row of NULL lines when it was not (an earlier request holds it) or the cart is empty."""
    made = (
        postgresql_insert(IdempotencyKey)
        .values(
            user_id=_user_id(),
            key=_key(),
            request_hash=bindparam("request_hash", type_=String),
            created_at=bindparam("now", type_=UTCDateTime()),
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
        .cte("made")
    )
    claimed = exists(select(made.c.key))
    lines = cart_statements.lines_of_user().subquery("line")
    one = select(literal_column("1").label("one")).subquery("one")
    return (
        select(claimed.label("claimed"), *(column for column in lines.c))
        .select_from(one.outerjoin(lines, claimed))
        .order_by(lines.c.variant_id)
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


# PostgreSQL only: everything a checkout writes after its reservations, in one statement (data-
# modifying CTEs, which SQLite lacks: there they are the statements above, one each). Each part
# sees the order's id through ``o``; none reads what another writes, so the snapshot they share
# changes nothing. Four round trips fewer a checkout.
_RECORD_ORDER = """
WITH o AS (
    INSERT INTO shop_orders (
        user_id, status, currency, subtotal_minor, discount_minor, shipping_minor, tax_minor,
        total_minor, tax_rate_basis_points, voucher_code, shipping_method, shipping_address,
        created_at, updated_at
    ) VALUES (
        :user_id, :status, :currency, :subtotal_minor, :discount_minor, :shipping_minor,
        :tax_minor, :total_minor, :tax_rate_basis_points, :voucher_code, :shipping_method,
        CAST(:shipping_address AS json), :created_at, :updated_at
    )
    RETURNING id
), lines AS (
    INSERT INTO shop_order_lines (
        order_id, variant_id, sku, name, unit_price_minor, quantity, total_minor
    )
    SELECT o.id, line.variant_id, line.sku, line.name, line.unit_price_minor, line.quantity,
           line.total_minor
    FROM o, unnest(
        CAST(:line_variant_ids AS integer[]), CAST(:line_skus AS varchar[]),
        CAST(:line_names AS varchar[]), CAST(:line_unit_prices AS bigint[]),
        CAST(:line_quantities AS integer[]), CAST(:line_totals AS bigint[])
    ) WITH ORDINALITY AS line(
        variant_id, sku, name, unit_price_minor, quantity, total_minor, position
    )
    ORDER BY line.position
), event AS (
    INSERT INTO shop_order_events (
        order_id, from_status, to_status, actor_kind, actor_id, reason, created_at
    )
    SELECT o.id, CAST(:from_status AS varchar), CAST(:to_status AS varchar),
           CAST(:actor_kind AS varchar), CAST(:actor_id AS integer), CAST(:reason AS varchar),
           CAST(:event_at AS timestamptz)
    FROM o
), claimed AS (
    UPDATE shop_idempotency_keys SET order_id = (SELECT id FROM o)
    WHERE user_id = :user_id AND key = :idempotency_key
), emptied AS (
    DELETE FROM shop_cart_lines WHERE cart_id = :cart_id
)
SELECT id FROM o
"""


@cache
def record_order_postgresql() -> TextClause:
    """The order (its columns but the id), its lines (``line_*``, one array a column, in order), its
    first event (``from_status`` … ``event_at``), the claimed ``idempotency_key`` (None: none)
    and ``cart_id``'s lines emptied; the order's id."""
    return text(_RECORD_ORDER).bindparams(
        bindparam("shipping_address", type_=JSON),
        bindparam("created_at", type_=UTCDateTime()),
        bindparam("updated_at", type_=UTCDateTime()),
        bindparam("event_at", type_=UTCDateTime()),
        bindparam("line_variant_ids", type_=ARRAY(Integer)),
        bindparam("line_skus", type_=ARRAY(String)),
        bindparam("line_names", type_=ARRAY(String)),
        bindparam("line_unit_prices", type_=ARRAY(BigInteger)),
        bindparam("line_quantities", type_=ARRAY(Integer)),
        bindparam("line_totals", type_=ARRAY(BigInteger)),
    )
