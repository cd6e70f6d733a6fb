"""Staff's writes to products: create, change, publish, delete. Variants, prices and stock are in
``variants.py``. One unit of work per call; every write says ``CatalogChanged`` after its commit.

Each answer is the product as staff see it, read in the same transaction as the write.
"""

from __future__ import annotations

import secrets
from typing import TypeVar

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from agora.platform.errors import Conflict, Invalid, NotFound
from agora.platform.uow import UnitOfWork
from agora.shop.catalog.categories import category_by_slug
from agora.shop.catalog.events import CatalogChanged
from agora.shop.catalog.models import Product, Variant, VariantOption
from agora.shop.catalog.queries import staff_product_detail
from agora.shop.catalog.schemas import NewProduct, NewVariant, ProductChange, StaffProductDetail
from agora.shop.catalog.slugs import slug_from
from agora.shop.search.terms import add_terms

T = TypeVar("T")


async def product_by_slug(session: AsyncSession, slug: str) -> Product:
    product = await session.scalar(select(Product).where(Product.slug == slug))
    if product is None:
        raise NotFound("not found", field="product")
    return product


async def _slug_taken(session: AsyncSession, slug: str, *, but: int = 0) -> bool:
    taken = await session.scalar(select(exists().where(Product.slug == slug, Product.id != but)))
    return bool(taken)


async def _free_slug(session: AsyncSession, body_slug: str | None, name: str) -> str:
    """The slug asked for (409 when taken), or one made from the name (made unique)."""
    if body_slug is not None:
        if await _slug_taken(session, body_slug):
            raise Conflict("has already been taken", field="slug")
        return body_slug
    slug = slug_from(name)
    if await _slug_taken(session, slug):
        slug = f"{slug[:110]}-{secrets.token_hex(4)}"
    return slug


async def refresh_prices(session: AsyncSession | AsyncConnection, product_ids: list[int]) -> None:
    """Sets each product's price range and currency from its variants (None when it has none),
    in one statement."""
    of_product = Variant.product_id == Product.id

    def aggregate(column: ColumnElement[T]) -> ScalarSelect[T]:
        return select(column).where(of_product).scalar_subquery()

    await session.execute(
        update(Product)
        .where(Product.id.in_(product_ids))
        .values(
            price_min_minor=aggregate(func.min(Variant.price_minor)),
            price_max_minor=aggregate(func.max(Variant.price_minor)),
            currency=aggregate(func.min(Variant.currency)),
        )
        .execution_options(synchronize_session=False)
    )


def check_variants(variants: list[NewVariant], *, currency: str | None = None) -> None:
    """One currency per product, and no SKU twice in one request."""
    skus = [variant.sku for variant in variants]
    if len(set(skus)) != len(skus):
        raise Invalid("must differ between the variants", field="sku")
    currencies = {variant.price.currency for variant in variants} | (
        {currency} if currency else set()
    )
    if len(currencies) > 1:
        raise Conflict(
            "must be the same for every variant of a product "
            f"({', '.join(sorted(currencies))} given)",
            field="currency",
        )


async def check_skus_free(session: AsyncSession, skus: list[str]) -> None:
    taken = list(await session.scalars(select(Variant.sku).where(Variant.sku.in_(skus))))
    if taken:
        raise Conflict(f"has already been taken: {', '.join(sorted(taken))}", field="sku")


def variant_row(product_id: int, variant: NewVariant) -> Variant:
    title = variant.title
    if title is None:
        title = " / ".join(value for _, value in sorted(variant.options.items()))
    return Variant(
        product_id=product_id,
        sku=variant.sku,
        title=title,
        price_minor=variant.price.amount,
        currency=variant.price.currency,
        stock_on_hand=variant.stock_on_hand,
        position=variant.position,
    )


async def add_variant_rows(uow: UnitOfWork, product_id: int, variants: list[NewVariant]) -> None:
    """Inserts the variants and their option values (a statement per table, not per row)."""
    rows = [variant_row(product_id, variant) for variant in variants]
    uow.session.add_all(rows)
    await flush_or_conflict(uow, "sku")
    uow.session.add_all(
        VariantOption(variant_id=row.id, name=name, value=value)
        for row, variant in zip(rows, variants, strict=True)
        for name, value in variant.options.items()
    )
    await flush_or_conflict(uow, "sku")


async def flush_or_conflict(uow: UnitOfWork, field: str) -> None:
    """Flushes; a unique value or a reference another request took meanwhile is a 409."""
    try:
        await uow.session.flush()
    except IntegrityError:
        await uow.rollback()
        raise Conflict("was changed by another request meanwhile; try again", field=field) from None


async def answer(uow: UnitOfWork, product_id: int) -> StaffProductDetail:
    """The product as it is now, then the commit and its event."""
    detail = await staff_product_detail(uow.session, product_id=product_id)
    uow.emit(CatalogChanged())
    await uow.commit()
    return detail


async def create_product(*, uow: UnitOfWork, body: NewProduct) -> StaffProductDetail:
    session = uow.session
    check_variants(body.variants)
    if body.published and not body.variants:
        raise Conflict("can't be published without a variant to sell", field="product")
    category_id = None
    if body.category is not None:
        category_id = (await category_by_slug(session, body.category, field="category")).id
    if body.variants:
        await check_skus_free(session, [variant.sku for variant in body.variants])
    product = Product(
        slug=await _free_slug(session, body.slug, body.name),
        name=body.name,
        description=body.description,
        category_id=category_id,
        published=body.published,
        popularity=body.popularity,
    )
    session.add(product)
    await flush_or_conflict(uow, "slug")
    await add_variant_rows(uow, product.id, body.variants)
    await refresh_prices(session, [product.id])
    await add_terms(session, [body.name, body.description])
    return await answer(uow, product.id)


async def change_product(*, uow: UnitOfWork, slug: str, body: ProductChange) -> StaffProductDetail:
    session = uow.session
    product = await product_by_slug(session, slug)
    if body.slug is not None and body.slug != product.slug:
        if await _slug_taken(session, body.slug, but=product.id):
            raise Conflict("has already been taken", field="slug")
        product.slug = body.slug
    if body.name is not None:
        product.name = body.name
    if body.description is not None:
        product.description = body.description
    if body.popularity is not None:
        product.popularity = body.popularity
    if "category" in body.model_fields_set:
        product.category_id = None
        if body.category is not None:
            product.category_id = (
                await category_by_slug(session, body.category, field="category")
            ).id
    await flush_or_conflict(uow, "slug")
    await add_terms(session, [product.name, product.description])
    return await answer(uow, product.id)


async def set_published(*, uow: UnitOfWork, slug: str, published: bool) -> StaffProductDetail:
    session = uow.session
    product = await product_by_slug(session, slug)
    if published and product.price_min_minor is None:
        raise Conflict("can't be published without a variant to sell", field="product")
    product.published = published
    await session.flush()
    return await answer(uow, product.id)


async def delete_product(*, uow: UnitOfWork, slug: str) -> None:
    session = uow.session
    product = await product_by_slug(session, slug)
    reserved = await session.scalar(
        select(exists().where(Variant.product_id == product.id, Variant.stock_reserved > 0))
    )
    if reserved:
        raise Conflict("has units reserved for orders: unpublish it instead", field="product")
    await session.delete(product)
    try:
        await session.flush()
    except IntegrityError:  # orders refer to its variants
        await uow.rollback()
        raise Conflict("is part of orders: unpublish it instead", field="product") from None
    uow.emit(CatalogChanged())
    await uow.commit()
