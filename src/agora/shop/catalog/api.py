"""The catalog's public routes under ``/api/shop``: the category tree, listings and product pages.
Anyone may read them; they show published products only, from the read cache."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.platform.openapi import errors
from agora.platform.wire import NoNul
from agora.shop.catalog.cursors import CURSOR_MAX, Sort
from agora.shop.catalog.filters import ProductFilter
from agora.shop.catalog.models import OPTION_NAME_MAX, OPTION_VALUE_MAX
from agora.shop.catalog.schemas import (
    PRICE_MAX,
    CategoriesOut,
    ProductDetail,
    ProductPage,
    Slug,
)
from agora.shop.deps import ShopReadsDep
from agora.shop.money import Currency
from agora.shop.read_cache import json_response

router = APIRouter(prefix="/api/shop", tags=["shop catalog"])

PAGE_MAX = 100
PAGE_DEFAULT = 24
OPTION_FILTERS_MAX = 20

SlugPath = Annotated[Slug, Path(description="The product's slug")]
Cursor = Annotated[
    Annotated[str, NoNul] | None,
    Query(max_length=CURSOR_MAX, description="`nextCursor` of the previous page"),
]
Limit = Annotated[
    int, Query(ge=1, le=PAGE_MAX, description=f"Products per page, at most {PAGE_MAX}")
]
# a name without ':', then the value: neither empty, no control character in either
_OPTION = r"^[^:\x00-\x1f\x7f]+:[^\x00-\x1f\x7f]+$"
OptionFilter = Annotated[
    str,
    Query(
        max_length=OPTION_NAME_MAX + OPTION_VALUE_MAX + 1,
        pattern=_OPTION,
        description="`name:value`, e.g. `size:M`; repeat it: values of one option are "
        "alternatives, different options must all hold",
    ),
]


def _options(pairs: list[str]) -> dict[str, tuple[str, ...]]:
    options: dict[str, list[str]] = {}
    for pair in pairs:
        name, _, value = pair.partition(":")  # the pattern made sure both are there
        options.setdefault(name, []).append(value)
    return {name: tuple(values) for name, values in options.items()}


async def product_filter(
    category: Annotated[
        Slug | None, Query(description="A category: it and every category below it")
    ] = None,
    min_price: Annotated[
        int | None,
        Query(alias="minPrice", ge=0, le=PRICE_MAX, description="Lowest price, in minor units"),
    ] = None,
    max_price: Annotated[
        int | None,
        Query(alias="maxPrice", ge=0, le=PRICE_MAX, description="Highest price, in minor units"),
    ] = None,
    currency: Annotated[Currency | None, Query()] = None,
    in_stock: Annotated[
        bool, Query(alias="inStock", description="Only what may be ordered now")
    ] = False,
    option: Annotated[list[OptionFilter] | None, Query(max_length=OPTION_FILTERS_MAX)] = None,
) -> ProductFilter:
    """The filters a listing and a search share, from the query string (a price range with its
    bounds crossed is empty, not an error)."""
    return ProductFilter(
        category=category,
        min_price_minor=min_price,
        max_price_minor=max_price,
        currency=currency,
        in_stock=in_stock,
        options=_options(option or []),
    )


Filter = Annotated[ProductFilter, Depends(product_filter)]


# the reads answer JSON already encoded (shop/read_cache.py): each route names its model for /docs
@router.get(
    "/categories",
    response_model=CategoriesOut,
    summary="The category tree, each parent before its children",
)
async def categories(reads: ShopReadsDep) -> Response:
    return json_response(await reads.categories())


@router.get(
    "/products",
    response_model=ProductPage,
    summary="Published products, filtered, sorted, a page at a time (keyset)",
    responses=errors(404, 422),
)
async def list_products(
    reads: ShopReadsDep,
    where: Filter,
    sort: Annotated[
        Literal["newest", "price", "-price"],
        Query(description="`newest` first, `price` lowest first, `-price` highest first"),
    ] = "newest",
    cursor: Cursor = None,
    limit: Limit = PAGE_DEFAULT,
) -> Response:
    return json_response(await reads.products(where, sort=Sort(sort), cursor=cursor, limit=limit))


@router.get(
    "/products/{slug}",
    response_model=ProductDetail,
    summary="A published product: its variants, prices, stock and images",
    responses=errors(404, 422),
)
async def get_product(slug: SlugPath, reads: ShopReadsDep) -> Response:
    return json_response(await reads.product(slug))


# the shop's clients read failures as RFC 9457 problem details
api = Api(router, errors=PROBLEM_DETAILS)
