"""What a cart holds, read with today's catalog: one query for every line, whatever their number.

The lines are read as plain columns by one prebuilt Core statement on the transaction's
connection (``cart/statements.py``), never as ORM entities: nothing for a session to track, and
always the rows as committed or as this transaction's own statements left them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from agora.shop.cart import statements
from agora.shop.cart.schemas import CartLineOut, CartOut
from agora.shop.money import Money


class Line(NamedTuple):
    """One line with its variant and product (``statements.LINE_COLUMNS``, in this order)."""

    quantity: int
    variant_id: int
    sku: str
    title: str
    price_minor: int
    currency: str
    available: int
    name: str
    published: bool

    @classmethod
    def of(cls, row: Sequence[Any], start: int = 0) -> Line:
        """The line in ``row``'s columns from ``start`` on (a SQLAlchemy row or a driver's
        record: both index alike)."""
        return cls(*row[start : start + len(cls._fields)])


async def cart_lines(connection: AsyncConnection, cart_id: int) -> Sequence[Line]:
    """The cart's lines with their variants and products, in variant order."""
    found = await connection.execute(statements.lines_of_cart(), {"cart": cart_id})
    return [Line.of(row) for row in found]


async def cart_view(connection: AsyncConnection, cart_id: int, *, token: str | None) -> CartOut:
    return view_of(await cart_lines(connection, cart_id), token=token)


def view_of(rows: Sequence[Line], *, token: str | None) -> CartOut:
    """The cart's answer from its lines as ``cart_lines`` read them (in one currency)."""
    lines = []
    subtotal: Money | None = None
    for row in rows:
        price = Money(row.price_minor, row.currency)
        total = price.times(row.quantity)
        subtotal = total if subtotal is None else subtotal + total
        lines.append(
            CartLineOut(
                sku=row.sku,
                name=row.name,
                title=row.title,
                quantity=row.quantity,
                unitPrice=price.wire(),
                lineTotal=total.wire(),
                available=max(row.available, 0),
            )
        )
    return CartOut(
        token=token,
        currency=None if subtotal is None else subtotal.currency,
        lines=lines,
        subtotal=None if subtotal is None else subtotal.wire(),
    )
