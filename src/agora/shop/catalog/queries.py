"""The catalog's read side: listings (filtered, sorted, a keyset page at a time) and a product's
page. A listing is one statement whatever its page size, and so is a product's page (the product,
its variants with their options, its images). Searches build on the same pieces
(``shop/search/queries.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    CompoundSelect,
    Row,
    Select,
    SQLColumnExpression,
    bindparam,
    literal,
    null,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement, Label

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
    # one statement (one snapshot, one round trip), prebuilt, run as Core on the session's
    # connection: plain columns, never a session's stale copy; what the session holds unwritten
    # is written first, as its own execute would
    await session.flush()
    connection = await session.connection()
    statement = _page_statement(by_id=slug is None, staff=staff)
    values = {"slug": slug} if slug is not None else {"product_id": product_id}
    rows = (await connection.execute(statement, values)).all()
    if not rows:
        raise NotFound("not found", field="product")
    product = rows[0]
    variants: dict[int, VariantOut] = {}
    images: list[ImageOut] = []
    for row in rows:
        if row.kind == _IMAGE:
            images.append(ImageOut(id=row.image_id, url=row.image_url, alt=row.image_alt))
        elif row.variant_id is not None:
            _add_variant(variants, variant_type, row)
    return detail(
        slug=product.slug,
        name=product.name,
        description=product.description,
        category=_category(product.category_slug, product.category_name),
        price=_price(product.price_min_minor, product.price_max_minor, product.currency),
        in_stock=any(variant.available > 0 for variant in variants.values()),
        published=product.published,
        popularity=product.popularity,
        variants=list(variants.values()),
        images=images,
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


def _add_variant(variants: dict[int, VariantOut], variant_type: type[VariantOut], row: Any) -> None:
    """A row of the page's statement into its variant (a row per option of a variant)."""
    out = variants.get(row.variant_id)
    if out is None:
        out = variants[row.variant_id] = variant_type(
            sku=row.sku,
            title=row.title,
            options={},
            price=MoneyOut(amount=row.price_minor, currency=row.variant_currency),
            available=max(row.stock_on_hand - row.stock_reserved, 0),
            # read by StaffVariantOut only (a customer's answer has no field for them)
            stock_on_hand=row.stock_on_hand,
            stock_reserved=row.stock_reserved,
        )
    if row.option_name is not None:
        out.options[row.option_name] = row.option_value


_VARIANT, _IMAGE = 0, 1  # the kinds of row of a product's page


@functools.cache
def _page_statement(*, by_id: bool, staff: bool) -> CompoundSelect[*tuple[Any, ...]]:
    """A product's page as one statement: a row per variant and option (one row when it has
    none), then a row per image, each carrying the product and its category; no row when
    there is no such product (or, for a customer, it is a draft)."""
    found = Product.id == bindparam("product_id") if by_id else Product.slug == bindparam("slug")
    where = [found] if staff else [found, Product.published == true()]
    product = (
        Product.id.label("product_id"),
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
    )
    variant: tuple[Label[Any], ...] = (
        Variant.id.label("variant_id"),
        Variant.position.label("variant_position"),
        Variant.sku.label("sku"),
        Variant.title.label("title"),
        Variant.price_minor.label("price_minor"),
        Variant.currency.label("variant_currency"),
        Variant.stock_on_hand.label("stock_on_hand"),
        Variant.stock_reserved.label("stock_reserved"),
        VariantOption.name.label("option_name"),
        VariantOption.value.label("option_value"),
    )
    image: tuple[Label[Any], ...] = (
        ProductImage.id.label("image_id"),
        ProductImage.position.label("image_position"),
        ProductImage.url.label("image_url"),
        ProductImage.alt.label("image_alt"),
    )

    def nulls(columns: tuple[Label[Any], ...]) -> list[Label[Any]]:
        return [type_coerce(null(), column.type).label(column.name) for column in columns]

    with_category = (Category, Category.id == Product.category_id)
    variants = (
        select(literal(_VARIANT).label("kind"), *product, *variant, *nulls(image))
        .select_from(Product)
        .outerjoin(*with_category)
        .outerjoin(Variant, Variant.product_id == Product.id)
        .outerjoin(VariantOption, VariantOption.variant_id == Variant.id)
        .where(*where)
    )
    images = (
        select(literal(_IMAGE).label("kind"), *product, *nulls(variant), *image)
        .select_from(ProductImage)
        .join(Product, Product.id == ProductImage.product_id)
        .outerjoin(*with_category)
        .where(*where)
    )
    page = union_all(variants, images)
    order = ("kind", "variant_position", "variant_id", "option_name", "image_position", "image_id")
    return page.order_by(*(page.selected_columns[name] for name in order))
