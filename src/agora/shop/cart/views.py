"""What a cart holds, read with today's catalog: one query for every line, whatever their number."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.shop.cart.models import CartLine
from agora.shop.cart.schemas import CartLineOut, CartOut
from agora.shop.catalog.models import Product, Variant
from agora.shop.money import Money


async def line_variants(
    session: AsyncSession, cart_id: int
) -> Sequence[tuple[CartLine, Variant, Product]]:
    """The cart's lines with their variants and products, in variant order."""
    rows = await session.execute(
        select(CartLine, Variant, Product)
        .join(Variant, Variant.id == CartLine.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(CartLine.cart_id == cart_id)
        .order_by(CartLine.variant_id)
        # as committed or written by this transaction's Core statements, not as first loaded
        .execution_options(populate_existing=True)
    )
    return [(line, variant, product) for line, variant, product in rows]


async def cart_view(session: AsyncSession, cart_id: int, *, token: str | None) -> CartOut:
    return view_of(await line_variants(session, cart_id), token=token)


def view_of(rows: Sequence[tuple[CartLine, Variant, Product]], *, token: str | None) -> CartOut:
    """The cart's answer from its lines as ``line_variants`` read them (in one currency)."""
    lines = []
    subtotal: Money | None = None
    for line, variant, product in rows:
        price = Money(variant.price_minor, variant.currency)
        total = price.times(line.quantity)
        subtotal = total if subtotal is None else subtotal + total
        lines.append(
            CartLineOut(
                sku=variant.sku,
                name=product.name,
                title=variant.title,
                quantity=line.quantity,
                unitPrice=price.wire(),
                lineTotal=total.wire(),
                available=max(variant.stock_on_hand - variant.stock_reserved, 0),
            )
        )
    return CartOut(
        token=token,
        currency=None if subtotal is None else subtotal.currency,
        lines=lines,
        subtotal=None if subtotal is None else subtotal.wire(),
    )
