"""Searching the public catalog: a page of matches (best first, or by another order) with facet
counts beside it, on the filters of a listing.

At most five statements whatever the page size: the page; when it is empty, the typo
correction's two and the page again with the corrected words; then every facet count in one
statement (a common table of the matches, counted three ways and put together with UNION ALL).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, case, cast, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect

from agora.platform.db import on_postgresql
from agora.shop.catalog.cursors import Sort
from agora.shop.catalog.filters import ProductFilter, conditions
from agora.shop.catalog.models import Category, Product, Variant, VariantOption
from agora.shop.catalog.queries import next_cursor, page_of, sort_key, summary
from agora.shop.search import fulltext, typos
from agora.shop.search.schemas import (
    CategoryFacet,
    Facets,
    OptionFacet,
    PriceBand,
    SearchResults,
)
from agora.shop.search.terms import words as words_of

# the lower bounds of the price bands, in minor units; the last band has no upper bound
PRICE_BANDS = (0, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000)
WORDS_MAX = 10


async def _page(
    session: AsyncSession,
    match: fulltext.Match,
    *,
    where: ProductFilter,
    sort: Sort,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    key = match.score if sort is Sort.RELEVANCE else sort_key(sort)
    matching = match.apply(select(Product.id).where(*conditions(where)))
    query = page_of(matching, sort=sort, key=key, cursor=cursor, limit=limit)
    rows = list((await session.execute(query)).all())
    return rows[:limit], next_cursor(rows, sort=sort, limit=limit)


async def search(
    session: AsyncSession,
    *,
    text: str,
    where: ProductFilter,
    sort: Sort,
    cursor: str | None,
    limit: int,
) -> SearchResults:
    words = words_of(text)[:WORDS_MAX]
    if not words:  # punctuation, or only words such as "the": nothing to look for
        empty = Facets(categories=[], price=[], options=[])
        return SearchResults(query="", corrected=False, products=[], next_cursor=None, facets=empty)
    postgresql = on_postgresql(session)
    match = fulltext.match(words, postgresql=postgresql)
    rows, after = await _page(session, match, where=where, sort=sort, cursor=cursor, limit=limit)
    corrected = False
    if not rows:
        better = await typos.corrected(session, words)
        if better is not None:
            words, corrected = better, True
            match = fulltext.match(words, postgresql=postgresql)
            rows, after = await _page(
                session, match, where=where, sort=sort, cursor=cursor, limit=limit
            )
    return SearchResults(
        query=" ".join(words),
        corrected=corrected,
        products=[summary(row) for row in rows],
        next_cursor=after,
        facets=await facets(session, match, where=where),
    )


def _band() -> ColumnElement[int]:
    # bounds written into the SQL, not bound: the CASE must be the same expression in SELECT
    # and GROUP BY, which PostgreSQL would not see in two sets of parameters
    price = Product.price_min_minor
    whens: list[tuple[ColumnElement[bool], ColumnElement[int]]] = [
        (price < literal_column(str(upper)), literal_column(str(index), Integer()))
        for index, upper in enumerate(PRICE_BANDS[1:])
    ]
    return case(*whens, else_=literal_column(str(len(PRICE_BANDS) - 1), Integer()))


def facets_statement(
    match: fulltext.Match, *, where: ProductFilter
) -> CompoundSelect[*tuple[str, str, str, int]]:
    """Every facet's counts in one statement: (kind, key, label, count) rows."""
    band = _band()
    matched = match.apply(
        select(Product.id, Product.category_id, band.label("band")).where(*conditions(where))
    ).cte("matched")

    def kind(sql: str) -> ColumnElement[str]:
        return literal_column(sql, String())

    by_category = (
        select(
            kind("'category'").label("kind"),
            Category.slug.label("key"),
            Category.name.label("label"),
            func.count().label("n"),
        )
        .select_from(matched.join(Category, Category.id == matched.c.category_id))
        .group_by(Category.slug, Category.name)
    )
    by_price = select(
        kind("'price'"), cast(matched.c.band, String), kind("''"), func.count()
    ).group_by(matched.c.band)
    by_option = (
        select(
            kind("'option'"),
            VariantOption.name,
            VariantOption.value,
            func.count(matched.c.id.distinct()),
        )
        .select_from(
            matched.join(Variant, Variant.product_id == matched.c.id).join(
                VariantOption, VariantOption.variant_id == Variant.id
            )
        )
        .group_by(VariantOption.name, VariantOption.value)
    )
    return union_all(by_category, by_price, by_option)


async def facets(session: AsyncSession, match: fulltext.Match, *, where: ProductFilter) -> Facets:
    """How many of the matches fall in each category, price band and option value."""
    rows = await session.execute(facets_statement(match, where=where))
    found = Facets(categories=[], price=[], options=[])
    for kind_, key, label, count in rows:
        if kind_ == "category":
            found.categories.append(CategoryFacet(slug=key, name=label, count=count))
        elif kind_ == "price":
            index = int(key)
            upper = PRICE_BANDS[index + 1] if index + 1 < len(PRICE_BANDS) else None
            found.price.append(
                PriceBand(min_amount=PRICE_BANDS[index], max_amount=upper, count=count)
            )
        else:
            found.options.append(OptionFacet(name=key, value=label, count=count))
    found.categories.sort(key=lambda facet: (-facet.count, facet.slug))
    found.price.sort(key=lambda band: band.min_amount)
    found.options.sort(key=lambda facet: (facet.name, -facet.count, facet.value))
    return found
