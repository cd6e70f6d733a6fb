"""Stock moves of orders, each a conditional statement per variant (see ``Variant``):

- reserve: ``stock_reserved + n`` where ``stock_on_hand - stock_reserved >= n``; the row count
  says whether it held. No read comes first, so nothing can change between a check and the
  write, and no lock is needed: on SQLite the statement is the check.
- release (cancelled, refunded before shipping): ``stock_reserved - n``;
- ship (fulfilled): ``stock_on_hand - n`` and ``stock_reserved - n``.

Each emits the catalog's ``StockChanged`` for the products touched, handled after the commit
(the read cache forgets their pages).

An order of several lines touches its variants in id order, always: two orders that share
variants then wait for each other's rows in the same order on PostgreSQL, and a deadlock (A holds
1 and wants 2 while B holds 2 and wants 1) cannot happen. A checkout's reservation is one
statement on PostgreSQL that locks its rows in that order before it writes any of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update

from agora.platform import driver_statements
from agora.platform.errors import Conflict
from agora.platform.uow import UnitOfWork
from agora.shop.catalog.events import StockChanged
from agora.shop.catalog.models import Variant
from agora.shop.money import Money
from agora.shop.orders import statements

# (variant id, quantity)
Need = tuple[int, int]


def in_lock_order(needs: Iterable[Need]) -> list[Need]:
    return sorted(needs)


async def reserve(
    uow: UnitOfWork, needs: Iterable[Need], *, skus: dict[int, str]
) -> dict[int, Money]:
    """Reserves every need or raises ``Conflict`` (the caller's transaction is rolled back);
    each variant's price as the row held it when reserved (the row stays locked until the
    commit on PostgreSQL, and SQLite has one writer, so it is the price of this moment). One
    statement for every need on PostgreSQL (``statements.reserve_all_postgresql``), one a need
    on SQLite."""
    ordered = in_lock_order(needs)
    connection = await uow.session.connection()
    if connection.dialect.name == "postgresql":
        every = {
            "variant_ids": [variant_id for variant_id, _ in ordered],
            "quantities": [quantity for _, quantity in ordered],
        }
        # on the driver: the transaction began with the checkout's first statement
        found = await driver_statements.rows(connection, statements.reserve_all_postgresql(), every)
        # each row: the variant's id, its product, price and currency
        held = {row[0]: (row[1], row[2], row[3]) for row in found}
    else:
        held = {}
        for variant_id, quantity in ordered:
            # RETURNING says whether the row was updated
            values = {"variant_id": variant_id, "quantity": quantity}
            row = (await connection.execute(statements.reserve(), values)).first()
            if row is None:
                break
            held[variant_id] = (row.product_id, row.price_minor, row.currency)
    # the first that fell short, in lock order: what the client is told
    for variant_id, quantity in ordered:
        if variant_id not in held:
            raise Conflict(
                f"{skus.get(variant_id, variant_id)} has fewer than {quantity} left in stock",
                field="stock",
            )
    _stock_changed(uow, {product_id for product_id, _, _ in held.values()})
    return {variant_id: Money(price, currency) for variant_id, (_, price, currency) in held.items()}


async def release(uow: UnitOfWork, needs: Iterable[Need]) -> None:
    await _move(uow, needs, reserved=-1, on_hand=0)


async def ship(uow: UnitOfWork, needs: Iterable[Need]) -> None:
    await _move(uow, needs, reserved=-1, on_hand=-1)


async def _move(uow: UnitOfWork, needs: Iterable[Need], *, reserved: int, on_hand: int) -> None:
    """Adds ``reserved`` × quantity to each variant's reserved stock, ``on_hand`` × quantity to
    what it holds (the CHECKs refuse a result below zero)."""
    products = set()
    for variant_id, quantity in in_lock_order(needs):
        product_id = await uow.session.scalar(
            update(Variant)
            .where(Variant.id == variant_id)
            .values(
                stock_on_hand=Variant.stock_on_hand + on_hand * quantity,
                stock_reserved=Variant.stock_reserved + reserved * quantity,
            )
            .returning(Variant.product_id)
            .execution_options(synchronize_session=False)
        )
        if product_id is not None:
            products.add(product_id)
    _stock_changed(uow, products)


def _stock_changed(uow: UnitOfWork, products: set[int]) -> None:
    # after the commit: cached product pages and in-stock listings show the new availability
    if products:
        uow.emit(StockChanged(tuple(sorted(products))))
