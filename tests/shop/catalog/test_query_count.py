"""The N+1 guard: a listing, a search and a product page each cost a few SQL statements, the same
number whatever the page size or the number of variants and images. Measured on the database
path (the read cache off); ``test_read_cache.py`` shows that a warm read costs none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from httpx import AsyncClient

from agora.platform.provided import ProvidingApp
from agora.settings import Settings
from tests.shop.catalog.conftest import SHOP, Staff, variant
from tests.support.statements import recorded_statements

PRODUCTS = 30


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(read_cache_seconds=0)


@pytest.fixture
async def catalog(staff: Staff) -> Staff:
    await staff.category("Audio")
    await staff.category("Headphones", parent="audio")
    for number in range(PRODUCTS):
        sizes = [variant(price=1000 + number * 10 + n, size=s) for n, s in enumerate("SML")]
        await staff.product(
            f"Headphones {number}",
            category="headphones" if number % 2 else "audio",
            description="Closed back headphones with deep bass",
            variants=sizes,
        )
    return staff


async def _cost(app: ProvidingApp, client: AsyncClient, path: str, **params: Any) -> int:
    with recorded_statements(app) as statements:
        response = await client.get(SHOP + path, params=params)
    assert response.status_code == 200, response.text
    return len(statements)


@pytest.mark.parametrize(
    ("path", "params", "most"),
    [
        pytest.param("/products", {}, 1, id="listing"),
        pytest.param(
            "/products",
            {"category": "audio", "inStock": "true", "option": "size:M", "sort": "price"},
            2,
            id="filtered-listing",
        ),
        pytest.param("/search", {"q": "headphones"}, 2, id="search"),
        pytest.param("/search", {"q": "headphnoes bass"}, 5, id="search-with-typo"),
    ],
)
async def test_a_page_costs_the_same_whatever_its_size(
    app: ProvidingApp,
    client: AsyncClient,
    catalog: Staff,
    path: str,
    params: dict[str, Any],
    most: int,
) -> None:
    small = await _cost(app, client, path, limit=2, **params)
    large = await _cost(app, client, path, limit=PRODUCTS, **params)
    assert small == large <= most


async def test_a_product_page_costs_one_statement(
    app: ProvidingApp, client: AsyncClient, catalog: Staff
) -> None:
    few = await _cost(app, client, "/products/headphones-0")
    for number in range(10):
        await catalog.ok(
            "POST",
            "/products/headphones-0/variants",
            201,
            json=variant(price=2000 + number, colour=f"c{number}"),
        )
    assert await _cost(app, client, "/products/headphones-0") == few == 1
