"""Staff's writes to variants: add, change, delete, and their prices and stock.

Stock is set as what the warehouse holds (``stock_on_hand``); what orders reserved meanwhile is
theirs, so the count may not go below it. That is one conditional ``UPDATE``, not a read and a
write: a reservation landing between the two could otherwise be oversold.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.errors import Conflict, NotFound
from agora.platform.uow import UnitOfWork
from agora.shop.catalog.events import StockChanged
from agora.shop.catalog.locks import lock
from agora.shop.catalog.models import Product, Variant, VariantOption
from agora.shop.catalog.products import (
    add_variant_rows,
    answer,
    check_skus_free,
    check_variants,
    product_by_slug,
    refresh_prices,
)
from agora.shop.catalog.queries import staff_product_detail
from agora.shop.catalog.schemas import (
    MoneyIn,
    NewVariant,
    StaffProductDetail,
    StockChange,
    VariantChange,
)


async def variant_by_sku(session: AsyncSession, sku: str) -> Variant:
    """The variant, its product held until the commit: the product's price range and currency
    are decided from all its variants, which no other write may change meanwhile."""
    product_id = await session.scalar(select(Variant.product_id).where(Variant.sku == sku))
    if product_id is None:
        raise NotFound("not found", field="variant")
    await lock(session, Product, Product.id == product_id)
    variant = await session.scalar(select(Variant).where(Variant.sku == sku))
    if variant is None:  # deleted while the lock was awaited
        raise NotFound("not found", field="variant")
    return variant


async def _currency_of_others(session: AsyncSession, variant: Variant) -> str | None:
    return await session.scalar(
        select(Variant.currency)
        .where(Variant.product_id == variant.product_id, Variant.id != variant.id)
        .limit(1)
    )


async def add_variant(*, uow: UnitOfWork, slug: str, body: NewVariant) -> StaffProductDetail:
    session = uow.session
    product = await product_by_slug(session, slug)
    await lock(session, Product, Product.id == product.id)
    await session.refresh(product)
    check_variants([body], currency=product.currency)
    await check_skus_free(session, [body.sku])
    await add_variant_rows(uow, product.id, [body])
    await refresh_prices(session, [product.id])
    return await answer(uow, product.id)


async def change_variant(*, uow: UnitOfWork, sku: str, body: VariantChange) -> StaffProductDetail:
    session = uow.session
    variant = await variant_by_sku(session, sku)
    if body.title is not None:
        variant.title = body.title
    if body.position is not None:
        variant.position = body.position
    if body.options is not None:
        await session.execute(delete(VariantOption).where(VariantOption.variant_id == variant.id))
        session.add_all(
            VariantOption(variant_id=variant.id, name=name, value=value)
            for name, value in body.options.items()
        )
    await session.flush()
    return await answer(uow, variant.product_id)


async def set_price(*, uow: UnitOfWork, sku: str, body: MoneyIn) -> StaffProductDetail:
    session = uow.session
    variant = await variant_by_sku(session, sku)
    others = await _currency_of_others(session, variant)
    if others is not None and others != body.currency:
        raise Conflict(
            f"must be {others}, the currency of the product's other variants", field="currency"
        )
    variant.price_minor = body.amount
    variant.currency = body.currency
    await session.flush()
    await refresh_prices(session, [variant.product_id])
    return await answer(uow, variant.product_id)


async def set_stock(*, uow: UnitOfWork, sku: str, body: StockChange) -> StaffProductDetail:
    session = uow.session
    counted = body.stock_on_hand
    product_id = await session.scalar(
        update(Variant)
        .where(Variant.sku == sku, Variant.stock_reserved <= counted)
        .values(stock_on_hand=counted)
        .returning(Variant.product_id)
        .execution_options(synchronize_session=False)
    )
    if product_id is None:
        reserved = await session.scalar(select(Variant.stock_reserved).where(Variant.sku == sku))
        if reserved is None:
            raise NotFound("not found", field="variant")
        raise Conflict(
            f"can't be below the {reserved} units reserved for orders", field="stockOnHand"
        )
    detail = await staff_product_detail(session, product_id=product_id)
    uow.emit(StockChanged((product_id,)))
    await uow.commit()
    return detail


async def delete_variant(*, uow: UnitOfWork, sku: str) -> StaffProductDetail:
    session = uow.session
    variant = await variant_by_sku(session, sku)
    if variant.stock_reserved > 0:
        raise Conflict("has units reserved for orders", field="variant")
    product_id = variant.product_id
    await session.delete(variant)
    try:
        await session.flush()
    except IntegrityError:  # orders refer to it
        await uow.rollback()
        raise Conflict("is part of orders and can't be deleted", field="variant") from None
    # a published product left with nothing to sell leaves the public catalog (it has no price)
    # until a variant is added again
    await refresh_prices(session, [product_id])
    return await answer(uow, product_id)
