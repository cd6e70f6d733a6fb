"""The early answer: a cached catalog read answered before FastAPI's routing.

The one fast path of the shop's HTTP side, fenced here. A warm listing, search or product page
(``reads.py``, ``read_cache.py``) costs one Redis round trip; around it, FastAPI matched the path
against every route of the app, solved the route's dependencies (the query's validation into a
filter) and called the endpoint, which at 32 connections was most of what a warm read cost
beyond the app's ceiling route. This ASGI layer sits innermost, after every middleware (so the
request id, the access log and metrics, CORS and the security headers are the same) and before
the router, and answers a ``GET`` of

- ``/api/shop/products`` (``category``, ``sort``, ``cursor``, ``limit``),
- ``/api/shop/search`` (``q``, and those four),
- ``/api/shop/products/{slug}``, and ``/api/shop/categories`` without a query,

when, and only when, the read cache holds the entry the route would answer from: the same
bytes, sent as the route sends them (``json_response``: status 200, ``content-length`` and
``content-type: application/json``; no ETag or conditional answer, as on the route), with the
route put in the scope as the router would, so the log and the metrics name it. The entry is
looked up by the same parts the route keys it by (``ShopReads.cached_*``), under the current
generations in the same round trip (an ended generation is never served), so invalidation is
the route's.

Everything else goes to the router untouched: another method, a parameter the route has that
this layer does not read (a price range, ``inStock``, options), one given twice or empty, a
value the route would refuse (checked here with the route's own types, stricter where simpler:
a ``limit`` only as plain digits), a miss (the route loads and fills the entry), a cache that
fails. So a request answered here is one the route accepts, with the same key; 4xx answers,
misses and errors are the route's. ``tests/shop/catalog/test_early_reads.py`` holds both paths
to the same bytes and headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from pydantic import StringConstraints, TypeAdapter, ValidationError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from agora.platform.wire import NoNul, SingleLine
from agora.shop.catalog import api as catalog_api
from agora.shop.catalog.api import PAGE_DEFAULT, PAGE_MAX
from agora.shop.catalog.cursors import CURSOR_MAX, Sort
from agora.shop.catalog.filters import ProductFilter
from agora.shop.catalog.schemas import Slug
from agora.shop.read_cache import json_response
from agora.shop.reads import ShopReads
from agora.shop.search import api as search_api
from agora.shop.search.api import QUERY_MAX

PRODUCTS = "/api/shop/products"
SEARCH = "/api/shop/search"
CATEGORIES = "/api/shop/categories"
PRODUCT_PREFIX = PRODUCTS + "/"

# the routes' own types, for the values this layer reads
_SLUG: TypeAdapter[str] = TypeAdapter(Slug)
_TEXT: TypeAdapter[str] = TypeAdapter(
    Annotated[str, StringConstraints(min_length=1, max_length=QUERY_MAX), SingleLine]
)
_CURSOR: TypeAdapter[str] = TypeAdapter(
    Annotated[str, StringConstraints(max_length=CURSOR_MAX), NoNul]
)
_LIMIT = re.compile(r"[1-9][0-9]{0,2}")
LIST_SORTS = frozenset({Sort.NEWEST.value, Sort.PRICE.value, Sort.PRICE_DESC.value})
SEARCH_SORTS = LIST_SORTS | {Sort.RELEVANCE.value}
LIST_PARAMETERS = frozenset({"category", "sort", "cursor", "limit"})
SEARCH_PARAMETERS = LIST_PARAMETERS | {"q"}


class _NotHere(Exception):
    """The request is the router's."""


def _query(scope: Scope, allowed: frozenset[str]) -> dict[str, str]:
    # as Starlette reads a query string (QueryParams), then only single, non-empty, known names
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    query = dict(pairs)
    if len(query) != len(pairs) or not allowed.issuperset(query) or "" in query.values():
        raise _NotHere
    return query


def _valid(adapter: TypeAdapter[str], value: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        raise _NotHere from None


def _listing(query: dict[str, str], sorts: frozenset[str], default: Sort) -> dict[str, Any]:
    """The arguments the route would pass its read, from the query it would accept."""
    category = query.get("category")
    sort = query.get("sort", default.value)
    cursor = query.get("cursor")
    limit = query.get("limit")
    if sort not in sorts or (limit is not None and not _LIMIT.fullmatch(limit)):
        raise _NotHere
    size = PAGE_DEFAULT if limit is None else int(limit)
    if size > PAGE_MAX:
        raise _NotHere
    return {
        "where": ProductFilter(category=None if category is None else _valid(_SLUG, category)),
        "sort": Sort(sort),
        "cursor": None if cursor is None else _valid(_CURSOR, cursor),
        "limit": size,
    }


class EarlyReads:
    """``app.add_middleware(EarlyReads, reads=…, routes=…)``, added first: the innermost."""

    def __init__(self, app: ASGIApp, *, reads: ShopReads, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.reads = reads
        by_endpoint = {
            route.endpoint: route
            for route in routes
            if isinstance(route, APIRoute) and "GET" in (route.methods or ())
        }
        self.products_route = by_endpoint[catalog_api.list_products]
        self.product_route = by_endpoint[catalog_api.get_product]
        self.categories_route = by_endpoint[catalog_api.categories]
        self.search_route = by_endpoint[search_api.search]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            try:
                found = await self._cached(scope)
            except _NotHere:
                found = None
            except Exception:  # the cache failing: the route does what it always did
                found = None
            if found is not None:
                body, route, path_params = found
                scope["route"], scope["endpoint"] = route, route.endpoint
                scope["path_params"] = path_params
                await json_response(body)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _cached(self, scope: Scope) -> tuple[bytes, APIRoute, dict[str, str]] | None:
        path: str = scope["path"]
        if path == PRODUCTS:
            arguments = _listing(_query(scope, LIST_PARAMETERS), LIST_SORTS, Sort.NEWEST)
            body = await self.reads.cached_products(**arguments)
            return None if body is None else (body, self.products_route, {})
        if path == SEARCH:
            query = _query(scope, SEARCH_PARAMETERS)
            if "q" not in query:
                raise _NotHere
            text = _valid(_TEXT, query.pop("q"))
            arguments = _listing(query, SEARCH_SORTS, Sort.RELEVANCE)
            body = await self.reads.cached_search(text, **arguments)
            return None if body is None else (body, self.search_route, {})
        if path.startswith(PRODUCT_PREFIX):
            slug = path[len(PRODUCT_PREFIX) :]
            if "/" in slug or scope["query_string"]:
                raise _NotHere
            body = await self.reads.cached_product(_valid(_SLUG, slug))
            return None if body is None else (body, self.product_route, {"slug": slug})
        if path == CATEGORIES and not scope["query_string"]:
            body = await self.reads.cached_categories()
            return None if body is None else (body, self.categories_route, {})
        return None
