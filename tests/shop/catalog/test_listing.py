"""Customers browse the catalog: a category with everything below it, price ranges, what is in
stock, option values; newest or by price; page after page with opaque cursors. Bad parameters
are a clear 422."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from httpx import AsyncClient

from tests.shop.catalog.conftest import SHOP, Staff, get, slugs, variant
from tests.shop.conftest import problem


@pytest.fixture
async def catalog(staff: Staff) -> Staff:
    """Clothes > Shirts > Linen shirts, and Shoes: seven products, one a draft."""
    await staff.category("Clothes")
    await staff.category("Shirts", parent="clothes")
    await staff.category("Linen Shirts", parent="shirts")
    await staff.category("Shoes")
    await staff.product(
        "Oxford Shirt",
        category="shirts",
        variants=[
            variant(price=3000, stock=0, size="M", colour="blue"),
            variant(price=3200, stock=4, size="L", colour="blue"),
        ],
    )
    await staff.product(
        "Linen Shirt", category="linen-shirts", variants=[variant(price=4500, size="M")]
    )
    await staff.product("Wool Coat", category="clothes", variants=[variant(price=12000, size="L")])
    await staff.product("Runner", category="shoes", variants=[variant(price=8000, size="42")])
    await staff.product("Loafer", category="shoes", variants=[variant(price=9000, stock=0)])
    await staff.product("Sock", variants=[variant(price=500, size="M", colour="red")])
    await staff.product("Prototype", category="shirts", published=False)
    return staff


async def test_newest_first_by_default_without_drafts(client: AsyncClient, catalog: Staff) -> None:
    page = await get(client, "/products")
    assert slugs(page) == [
        "sock",
        "loafer",
        "runner",
        "wool-coat",
        "linen-shirt",
        "oxford-shirt",
    ]
    assert page["nextCursor"] is None


async def test_a_category_includes_everything_below_it(client: AsyncClient, catalog: Staff) -> None:
    assert slugs(await get(client, "/products", category="clothes")) == [
        "wool-coat",
        "linen-shirt",
        "oxford-shirt",
    ]
    assert slugs(await get(client, "/products", category="shirts")) == [
        "linen-shirt",
        "oxford-shirt",
    ]
    assert slugs(await get(client, "/products", category="linen-shirts")) == ["linen-shirt"]
    problem(await client.get(f"{SHOP}/products", params={"category": "hats"}), 404)


async def test_price_stock_and_option_filters(client: AsyncClient, catalog: Staff) -> None:
    assert slugs(await get(client, "/products", minPrice=4000, maxPrice=9000)) == [
        "loafer",
        "runner",
        "linen-shirt",
    ]
    assert "loafer" not in slugs(await get(client, "/products", inStock="true"))
    assert slugs(await get(client, "/products", option="size:M")) == [
        "sock",
        "linen-shirt",
        "oxford-shirt",
    ]
    # one variant must meet every condition: the blue M is out of stock, the blue L is not M
    assert slugs(await get(client, "/products", option="size:M", inStock="true")) == [
        "sock",
        "linen-shirt",
    ]
    # values of one option are alternatives; different options must all hold
    both = await client.get(f"{SHOP}/products", params={"option": ["size:M", "size:L"]})
    assert len(slugs(both.json())) == 4
    blue_m = {"option": ["size:M", "colour:blue"]}
    assert slugs((await client.get(f"{SHOP}/products", params=blue_m)).json()) == ["oxford-shirt"]


async def test_a_crossed_price_range_is_empty(client: AsyncClient, catalog: Staff) -> None:
    assert slugs(await get(client, "/products", minPrice=5000, maxPrice=100)) == []


async def test_price_orders(client: AsyncClient, catalog: Staff) -> None:
    cheapest = slugs(await get(client, "/products", sort="price"))
    assert cheapest == ["sock", "oxford-shirt", "linen-shirt", "runner", "loafer", "wool-coat"]
    assert slugs(await get(client, "/products", sort="-price")) == cheapest[::-1]


@pytest.mark.parametrize("sort", ["newest", "price", "-price"])
async def test_pages_follow_each_other_without_gaps_or_repeats(
    client: AsyncClient, catalog: Staff, sort: str
) -> None:
    whole = slugs(await get(client, "/products", sort=sort, limit=100))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await get(client, "/products", **params)
        seen += slugs(page)
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == whole


async def test_a_product_added_meanwhile_does_not_shift_the_pages(
    client: AsyncClient, catalog: Staff
) -> None:
    first = await get(client, "/products", limit=3)
    await catalog.product("Brand New")
    second = await get(client, "/products", limit=3, cursor=first["nextCursor"])
    assert slugs(second) == ["wool-coat", "linen-shirt", "oxford-shirt"]


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "%%%",
        _cursor("hello"),
        _cursor(["newest", "yesterday", 1]),
        _cursor(["newest", "2026-01-01T00:00:00", 1]),  # no time zone
        _cursor(["newest", "2026-01-01T00:00:00+00:00", -5]),
        _cursor(["newest", "2026-01-01T00:00:00+00:00", 2**40]),
        _cursor(["sideways", 1, 1]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
async def test_a_malformed_cursor_is_a_clear_422(
    client: AsyncClient, catalog: Staff, cursor: str
) -> None:
    refused = problem(await client.get(f"{SHOP}/products", params={"cursor": cursor}), 422)
    assert refused["errors"][0]["field"] == "cursor"


async def test_a_cursor_of_another_order_is_refused(client: AsyncClient, catalog: Staff) -> None:
    cursor = (await get(client, "/products", limit=1, sort="price"))["nextCursor"]
    refused = problem(
        await client.get(f"{SHOP}/products", params={"cursor": cursor, "sort": "newest"}), 422
    )
    assert refused["detail"] == "cursor belongs to the order 'price', not 'newest'"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"sort": "relevance"}, "sort"),
        ({"minPrice": -1}, "minPrice"),
        ({"minPrice": 1.5}, "minPrice"),
        ({"currency": "euro"}, "currency"),
        ({"option": "size"}, "option"),
        ({"option": ":M"}, "option"),
        ({"category": "Not A Slug"}, "category"),
        ({"cursor": "x" * 500}, "cursor"),
    ],
)
async def test_bad_parameters_are_a_clear_422(
    client: AsyncClient, catalog: Staff, params: dict[str, Any], field: str
) -> None:
    refused = problem(await client.get(f"{SHOP}/products", params=params), 422)
    assert field in {error["field"] for error in refused["errors"]}, refused
