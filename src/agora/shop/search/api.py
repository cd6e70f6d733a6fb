"""The search route: ``GET /api/shop/search?q=…``, on the listing's filters, with facets."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.platform.openapi import errors
from agora.platform.wire import SingleLine
from agora.shop.catalog.api import PAGE_DEFAULT, Cursor, Filter, Limit
from agora.shop.catalog.cursors import Sort
from agora.shop.deps import ShopReadsDep
from agora.shop.read_cache import json_response
from agora.shop.search.schemas import SearchResults

router = APIRouter(prefix="/api/shop", tags=["shop catalog"])

QUERY_MAX = 200


@router.get(
    "/search",
    response_model=SearchResults,  # sent as the read side encoded it (shop/read_cache.py)
    summary="Search published products (typos tolerated), with facet counts",
    responses=errors(404, 422),
)
async def search(
    reads: ShopReadsDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=QUERY_MAX,
            description="Words to find in names and descriptions; all must match",
        ),
        SingleLine,
    ],
    where: Filter,
    sort: Annotated[
        Literal["relevance", "newest", "price", "-price"],
        Query(description="`relevance` (the best match first) unless another order is asked"),
    ] = "relevance",
    cursor: Cursor = None,
    limit: Limit = PAGE_DEFAULT,
) -> Response:
    return json_response(await reads.search(q, where, sort=Sort(sort), cursor=cursor, limit=limit))


api = Api(router, errors=PROBLEM_DETAILS)
