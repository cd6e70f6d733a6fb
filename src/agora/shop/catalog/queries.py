"""The catalog's read side: listings (filtered, sorted, a keyset page at a time) and a product's
page. A listing is one statement whatever its page size; a product's page is three (the product,
its variants with their options, its images). Searches build on the same pieces
(``shop/search/queries.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Row, Select, SQLColumnExpression, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from agora.platform.errors import Invalid, NotFound
from agora.shop.catalog import cursors
from agora.shop.catalog.cursors import Sort
from agora.shop.catalog.filters import ProductFilter, available, conditions
from agora.shop.catalog.models import Category, Product, ProductImage, Variant, VariantOption
from agora.shop.catalog.schemas import (
    CategoryRef,
    ImageOut,
    PriceRange,
    ProductDetail,
    ProductPage,
    ProductSummary,
    StaffProductDetail,
    StaffVariantOut,
    VariantOut,
)
from agora.shop.money import MoneyOut

D = TypeVar("D", bound=ProductDetail)


def first_image() -> ColumnElement[str | None]:
    return (
        select(ProductImage.url)
        .where(ProductImage.product_id == Product.id)
        .order_by(ProductImage.position, ProductImage.id)
        .limit(1)
        .scalar_subquery()
    )


def in_stock_flag() -> ColumnElement[bool]:
    """Whether the row's product has a variant to sell, looked up per row of the page. An
    ``EXISTS`` here, PostgreSQL may turn into a hashed subplan over every variant in stock (a
    scan of the table, for a page of 24); ``LIMIT 1`` keeps it one index probe per row."""
    first = (
        select(Variant.id)
        .where(Variant.product_id == Product.id, available() > 0)
        .limit(1)
        .scalar_subquery()
    )
    return first.is_not(None)


def summaries(*extra: ColumnElement[Any]) -> Select[*tuple[Any, ...]]:
    """A product's row in a listing, with its category, stock and first image: one statement
    for the whole page (subqueries per row, no second round trip)."""
    return select(
        Product.id,
        Product.slug,
        Product.name,
        Category.slug.label("category_slug"),
        Category.name.label("category_name"),
        Product.price_min_minor,
        Product.price_max_minor,
        Product.currency,
        in_stock_flag().label("in_stock"),
        first_image().label("image"),
        Product.created_at,
        *extra,
    ).outerjoin(Category, Category.id == Product.category_id)


def _category(slug: str | None, name: str | None) -> CategoryRef | None:
    return None if slug is None or name is None else CategoryRef(slug=slug, name=name)


def _price(low: int | None, high: int | None, currency: str | None) -> PriceRange | None:
    if low is None or high is None or currency is None:
        return None
    return PriceRange(
        min=MoneyOut(amount=low, currency=currency), max=MoneyOut(amount=high, currency=currency)
    )


def summary(row: Row[Any]) -> ProductSummary:
    return ProductSummary(
        slug=row.slug,
        name=row.name,
        category=_category(row.category_slug, row.category_name),
        price=_price(row.price_min_minor, row.price_max_minor, row.currency),
        in_stock=bool(row.in_stock),
        image=row.image,
        created_at=row.created_at,
    )


def sort_key(sort: Sort) -> SQLColumnExpression[Any]:
    if sort is Sort.NEWEST:
        return Product.created_at
    if sort in (Sort.PRICE, Sort.PRICE_DESC):
        return Product.price_min_minor
    raise Invalid("'relevance' sorts a search's results: send q", field="sort")


def page_of(
    matching: Select[*tuple[Any, ...]],
    *,
    sort: Sort,
    key: SQLColumnExpression[Any],
    cursor: str | None,
    limit: int,
) -> Select[*tuple[Any, ...]]:
    """The page's summaries: ``matching`` (the ids of the products that match) ordered by
    ``key`` then id, from after ``cursor``, one row more than a page (so the page knows whether
    another follows).

    The page is chosen first, on ``shop_products`` alone (an index walk for a listing), and only
    its rows are then given their category, stock and first picture: looked up for every match
    before the sort, they cost as much as the matches, not as the page."""
    if cursor is not None:
        matching = matching.where(
            cursors.after(sort, key, Product.id, cursors.decode(cursor, sort))
        )
    chosen = (
        matching.add_columns(key.label("sort_key"))
        .order_by(*cursors.ordering(sort, key, Product.id))
        .limit(limit + 1)
        .subquery("page")
    )
    return (
        summaries(chosen.c.sort_key)
        .join(chosen, chosen.c.id == Product.id)
        .order_by(*cursors.ordering(sort, chosen.c.sort_key, chosen.c.id))
    )


def next_cursor(rows: Sequence[Row[Any]], *, sort: Sort, limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return cursors.encode(sort, last.sort_key, last.id)


async def list_products(
    session: AsyncSession, *, where: ProductFilter, sort: Sort, cursor: str | None, limit: int
) -> ProductPage:
    matching = select(Product.id).where(*conditions(where))
    query = page_of(matching, sort=sort, key=sort_key(sort), cursor=cursor, limit=limit)
    rows = (await session.execute(query)).all()
    return ProductPage(
        products=[summary(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, sort=sort, limit=limit),
    )


async def category_path(session: AsyncSession, slug: str) -> str:
    """The path of the category a listing is narrowed to; 404 when there is none."""
    path = await session.scalar(select(Category.path).where(Category.slug == slug))
    if path is None:
        raise NotFound("not found", field="category")
    return path


async def product_detail(session: AsyncSession, *, slug: str) -> ProductDetail:
    """A published product's page."""
    return await _detail(session, ProductDetail, VariantOut, slug=slug, staff=False)


async def staff_product_detail(
    session: AsyncSession, *, slug: str | None = None, product_id: int | None = None
) -> StaffProductDetail:
    """A product as staff see it (drafts too, and the stock figures), by slug or id."""
    return await _detail(
        session, StaffProductDetail, StaffVariantOut, slug=slug, product_id=product_id, staff=True
    )


async def _detail(
    session: AsyncSession,
    detail: type[D],
    variant_type: type[VariantOut],
    *,
    slug: str | None = None,
    product_id: int | None = None,
    staff: bool,
) -> D:
    # plain columns, not entities: nothing to track, and always as committed or as this
    # transaction wrote them (a price range set by one UPDATE), never a session's stale copy
    query = select(
        Product.id,
        Product.slug,
        Product.name,
        Product.description,
        Product.published,
        Product.popularity,
        Product.price_min_minor,
        Product.price_max_minor,
        Product.currency,
        Product.created_at,
        Product.updated_at,
        Category.slug.label("category_slug"),
        Category.name.label("category_name"),
    ).outerjoin(Category, Category.id == Product.category_id)
    query = query.where(Product.slug == slug if slug is not None else Product.id == product_id)
    if not staff:
        query = query.where(Product.published == true())
    product = (await session.execute(query)).first()
    if product is None:
        raise NotFound("not found", field="product")
    variants = await _variants(session, product.id, variant_type)
    images = await session.execute(
        select(ProductImage.id, ProductImage.url, ProductImage.alt)
        .where(ProductImage.product_id == product.id)
        .order_by(ProductImage.position, ProductImage.id)
    )
    return detail(
        slug=product.slug,
        name=product.name,
        description=product.description,
        category=_category(product.category_slug, product.category_name),
        price=_price(product.price_min_minor, product.price_max_minor, product.currency),
        in_stock=any(variant.available > 0 for variant in variants),
        published=product.published,
        popularity=product.popularity,
        variants=variants,
        images=[ImageOut(id=image.id, url=image.url, alt=image.alt) for image in images],
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


async def _variants(
    session: AsyncSession, product_id: int, variant_type: type[VariantOut]
) -> list[VariantOut]:
    rows = await session.execute(
        select(
            Variant.id,
            Variant.sku,
            Variant.title,
            Variant.price_minor,
            Variant.currency,
            Variant.stock_on_hand,
            Variant.stock_reserved,
            VariantOption.name,
            VariantOption.value,
        )
        .outerjoin(VariantOption, VariantOption.variant_id == Variant.id)
        .where(Variant.product_id == product_id)
        .order_by(Variant.position, Variant.id, VariantOption.name)
    )
    variants: dict[int, VariantOut] = {}
    for id_, sku, title, price, currency, on_hand, reserved, option, value in rows:
        out = variants.get(id_)
        if out is None:
            out = variants[id_] = variant_type(
                sku=sku,
                title=title,
                options={},
                price=MoneyOut(amount=price, currency=currency),
                available=max(on_hand - reserved, 0),
                # read by StaffVariantOut only (a customer's answer has no field for them)
                stock_on_hand=on_hand,
                stock_reserved=reserved,
            )
        if option is not None:
            out.options[option] = value
    return list(variants.values())
