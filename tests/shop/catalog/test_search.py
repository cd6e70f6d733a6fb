"""Search: words in names and descriptions, best match first, small typos forgiven, facet
counts beside the results, on the listing's filters. The same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.shop.catalog.conftest import SHOP, Staff, get, slugs, variant
from tests.shop.conftest import problem


@pytest.fixture
async def catalog(staff: Staff) -> Staff:
    await staff.category("Computers")
    await staff.category("Laptops", parent="computers")
    await staff.category("Bags")
    await staff.product(
        "Laptop Pro 14",
        category="laptops",
        description="A light laptop with a bright screen",
        variants=[
            variant(price=149900, size="14", colour="silver"),
            variant(price=159900, size="14", colour="black"),
        ],
    )
    await staff.product(
        "Gaming Laptop",
        category="laptops",
        description="Fast graphics for games",
        variants=[variant(price=199900, size="17", colour="black", stock=0)],
    )
    await staff.product(
        "Laptop Sleeve",
        category="bags",
        description="Protects laptops up to 14 inches",
        variants=[variant(price=2900, colour="grey")],
    )
    await staff.product(
        "Desk Lamp",
        category="computers",
        description="Warm light for late work next to your laptop",
        variants=[variant(price=3900, colour="white")],
    )
    await staff.product("Office Chair", description="Sit well", variants=[variant(price=25000)])
    await staff.product("Secret Laptop", description="Not yet announced", published=False)
    return staff


async def test_words_in_the_name_rank_first(client: AsyncClient, catalog: Staff) -> None:
    results = await get(client, "/search", q="laptop")

    found = slugs(results)
    assert set(found) == {"laptop-pro-14", "gaming-laptop", "laptop-sleeve", "desk-lamp"}
    # named "laptop" before mentioning one in the description
    assert found[-1] == "desk-lamp"
    assert results["corrected"] is False
    assert results["query"] == "laptop"


async def test_every_word_must_match_and_stemming_applies(
    client: AsyncClient, catalog: Staff
) -> None:
    assert slugs(await get(client, "/search", q="laptops graphics")) == ["gaming-laptop"]
    assert slugs(await get(client, "/search", q="protect")) == ["laptop-sleeve"]
    assert slugs(await get(client, "/search", q="the chair")) == ["office-chair"]


async def test_a_small_typo_is_corrected(client: AsyncClient, catalog: Staff) -> None:
    results = await get(client, "/search", q="laptpo")

    assert results["corrected"] is True
    assert "laptop" in results["query"]
    assert "laptop-pro-14" in slugs(results)
    assert slugs(await get(client, "/search", q="gamign laptpo")) == ["gaming-laptop"]


async def test_nothing_close_finds_nothing(client: AsyncClient, catalog: Staff) -> None:
    results = await get(client, "/search", q="xylophone")
    assert results["products"] == []
    assert results["corrected"] is False
    assert results["facets"] == {"categories": [], "price": [], "options": []}


@pytest.mark.parametrize("q", ["!!! ???", "the", "_"])
async def test_a_query_of_no_word_finds_nothing(
    client: AsyncClient, catalog: Staff, q: str
) -> None:
    results = await get(client, "/search", q=q)
    assert (results["products"], results["query"]) == ([], "")


async def test_drafts_are_never_found(client: AsyncClient, catalog: Staff) -> None:
    assert slugs(await get(client, "/search", q="announced")) == []


async def test_facets_count_the_matches(client: AsyncClient, catalog: Staff) -> None:
    facets = (await get(client, "/search", q="laptop"))["facets"]

    assert facets["categories"] == [
        {"slug": "laptops", "name": "Laptops", "count": 2},
        {"slug": "bags", "name": "Bags", "count": 1},
        {"slug": "computers", "name": "Computers", "count": 1},
    ]
    assert facets["price"] == [
        {"minAmount": 2500, "maxAmount": 5000, "count": 2},
        {"minAmount": 100000, "maxAmount": 250000, "count": 2},
    ]
    colours = {f["value"]: f["count"] for f in facets["options"] if f["name"] == "colour"}
    assert colours == {"black": 2, "grey": 1, "silver": 1, "white": 1}


async def test_filters_and_orders_apply_to_a_search(client: AsyncClient, catalog: Staff) -> None:
    in_laptops = await get(client, "/search", q="laptop", category="computers", inStock="true")
    assert set(slugs(in_laptops)) == {"laptop-pro-14", "desk-lamp"}
    counts = {facet["slug"]: facet["count"] for facet in in_laptops["facets"]["categories"]}
    assert counts == {"laptops": 1, "computers": 1}
    cheap_first = await get(client, "/search", q="laptop", sort="price")
    assert slugs(cheap_first) == ["laptop-sleeve", "desk-lamp", "laptop-pro-14", "gaming-laptop"]
    black = await get(client, "/search", q="laptop", option="colour:black")
    assert set(slugs(black)) == {"laptop-pro-14", "gaming-laptop"}


@pytest.mark.parametrize("sort", ["relevance", "price", "newest"])
async def test_search_pages_follow_each_other(
    client: AsyncClient, catalog: Staff, sort: str
) -> None:
    whole = slugs(await get(client, "/search", q="laptop", sort=sort))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "laptop", "sort": sort, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = await get(client, "/search", **params)
        seen += slugs(page)
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == whole


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "lamp\u0000"}, "q"),
        ({"q": "lamp", "limit": 1000}, "limit"),
        ({"q": "lamp", "cursor": "garbage"}, "cursor"),
        ({"q": "lamp", "sort": "cheapest"}, "sort"),
    ],
)
async def test_bad_searches_are_a_clear_422(
    client: AsyncClient, catalog: Staff, params: dict[str, Any], field: str
) -> None:
    refused = problem(await client.get(f"{SHOP}/search", params=params), 422)
    assert field in {error["field"] for error in refused["errors"]}, refused


async def test_a_renamed_product_is_found_by_its_new_name(
    client: AsyncClient, catalog: Staff
) -> None:
    await catalog.ok("PATCH", "/products/office-chair", json={"name": "Ergonomic Throne"})
    assert slugs(await get(client, "/search", q="throne")) == ["office-chair"]
    assert slugs(await get(client, "/search", q="ergonomc")) == ["office-chair"]
    await catalog.ok("DELETE", "/products/office-chair", 204)
    assert slugs(await get(client, "/search", q="throne")) == []
