"""The shop's public read side as one object: what the routes read, and what it reads through.

Bound once by the composition root (a factory of autocommit sessions, opened only for what the
cache cannot answer, the cache, its lifetime); a route passes only what the request says. Each
read answers the JSON its route sends (``read_cache.py``'s fast path): the model named beside
each is what the JSON is made from, and what the route documents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.cache import Cache
from agora.platform.db import SessionFactory
from agora.shop.catalog import queries
from agora.shop.catalog.categories import list_categories
from agora.shop.catalog.cursors import Sort
from agora.shop.catalog.filters import ProductFilter
from agora.shop.catalog.schemas import CategoriesOut, ProductDetail, ProductPage
from agora.shop.read_cache import KnownGenerations, cached_json, cached_only
from agora.shop.search import queries as search_queries
from agora.shop.search.schemas import SearchResults


@dataclass(frozen=True, slots=True)
class ShopReads:
    sessions: SessionFactory
    cache: Cache
    ttl_seconds: int
    # this process's last sight of the generations (one round trip a hit, read_cache.py)
    known: KnownGenerations = field(default_factory=KnownGenerations)

    async def categories(self) -> bytes:  # CategoriesOut
        async def load() -> CategoriesOut:
            async with self.sessions() as session:
                return CategoriesOut(categories=await list_categories(session))

        return await cached_json(
            self.cache, self.ttl_seconds, "categories", [], load, known=self.known, stock=False
        )

    async def products(
        self, where: ProductFilter, *, sort: Sort, cursor: str | None, limit: int
    ) -> bytes:  # ProductPage
        async def load() -> ProductPage:
            async with self.sessions() as session:
                narrowed = await _with_category_path(session, where)
                return await queries.list_products(
                    session, where=narrowed, sort=sort, cursor=cursor, limit=limit
                )

        parts = _list_parts(where, sort=sort, cursor=cursor, limit=limit)
        return await cached_json(
            self.cache, self.ttl_seconds, "list", parts, load, known=self.known
        )

    async def search(
        self, text: str, where: ProductFilter, *, sort: Sort, cursor: str | None, limit: int
    ) -> bytes:  # SearchResults
        async def load() -> SearchResults:
            async with self.sessions() as session:
                narrowed = await _with_category_path(session, where)
                return await search_queries.search(
                    session, text=text, where=narrowed, sort=sort, cursor=cursor, limit=limit
                )

        parts = _search_parts(text, where, sort=sort, cursor=cursor, limit=limit)
        return await cached_json(
            self.cache, self.ttl_seconds, "search", parts, load, known=self.known
        )

    async def product(self, slug: str) -> bytes:  # ProductDetail
        async def load() -> ProductDetail:
            async with self.sessions() as session:
                return await queries.product_detail(session, slug=slug)

        return await cached_json(
            self.cache, self.ttl_seconds, "product", [slug], load, known=self.known
        )

    # --- the same entries, only if cached (the early answer, early_reads.py) ----------

    async def cached_categories(self) -> bytes | None:
        return await cached_only(
            self.cache, self.ttl_seconds, "categories", [], known=self.known, stock=False
        )

    async def cached_products(
        self, where: ProductFilter, *, sort: Sort, cursor: str | None, limit: int
    ) -> bytes | None:
        parts = _list_parts(where, sort=sort, cursor=cursor, limit=limit)
        return await cached_only(self.cache, self.ttl_seconds, "list", parts, known=self.known)

    async def cached_search(
        self, text: str, where: ProductFilter, *, sort: Sort, cursor: str | None, limit: int
    ) -> bytes | None:
        parts = _search_parts(text, where, sort=sort, cursor=cursor, limit=limit)
        return await cached_only(self.cache, self.ttl_seconds, "search", parts, known=self.known)

    async def cached_product(self, slug: str) -> bytes | None:
        return await cached_only(self.cache, self.ttl_seconds, "product", [slug], known=self.known)


def _list_parts(
    where: ProductFilter, *, sort: Sort, cursor: str | None, limit: int
) -> list[object]:
    return [where.key(), sort.value, cursor, limit]


def _search_parts(
    text: str, where: ProductFilter, *, sort: Sort, cursor: str | None, limit: int
) -> list[object]:
    return [text, where.key(), sort.value, cursor, limit]


async def _with_category_path(session: AsyncSession, where: ProductFilter) -> ProductFilter:
    """The filter with its category's path (404 for a category that does not exist)."""
    if where.category is None:
        return where
    path = await queries.category_path(session, where.category)
    return dataclasses.replace(where, category_path=path)
