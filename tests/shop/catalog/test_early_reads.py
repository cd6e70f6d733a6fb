"""The early answer (``shop/early_reads.py``): a cached catalog read answered before the router
must be the route's answer to the byte (body, status, headers), named as the route in the logs
and metrics, invalidated as the route's; everything it is not sure of goes to the route."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from httpx import AsyncClient, Response
from starlette.requests import Request
from starlette.routing import Match

from agora.app import APIS
from agora.platform.provided import ProvidingApp
from agora.shop.deps import get_shop_reads
from agora.shop.reads import ShopReads
from tests.shop.catalog.conftest import SHOP, Staff, get, variant
from tests.support.apps import platform_of

# what differs between any two answers: the request's own id
PER_REQUEST = {"x-request-id"}


@pytest.fixture
async def catalog(staff: Staff) -> Staff:
    await staff.category("Kitchen")
    await staff.category("Espresso", parent="kitchen")
    for name, price in (("Espresso Machine", 49900), ("Espresso Grinder", 19900)):
        await staff.product(
            name,
            category="espresso",
            description="Twin boiler espresso",
            variants=[variant(price=price, stock=2)],
        )
    return staff


class RouteCalls:
    """How many requests reached a shop read route (the early answer calls none)."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def route_calls(app: ProvidingApp) -> Iterator[RouteCalls]:
    calls = RouteCalls()
    real = get_shop_reads

    async def counted(request: Request) -> ShopReads:
        calls.count += 1
        return await real(request)

    app.dependency_overrides[get_shop_reads] = counted
    yield calls
    del app.dependency_overrides[get_shop_reads]


def _same(route: Response, early: Response) -> None:
    assert early.status_code == route.status_code == 200
    assert early.content == route.content
    headers = {k: v for k, v in route.headers.multi_items() if k not in PER_REQUEST}
    assert {k: v for k, v in early.headers.multi_items() if k not in PER_REQUEST} == headers


# (path, query) pairs the early answer serves once the route has filled the entry
WARM = [
    pytest.param("/products", "", id="listing"),
    pytest.param("/products", "category=kitchen&limit=1", id="listing-category-limit"),
    pytest.param("/products", "sort=-price&limit=20", id="listing-sorted"),
    pytest.param("/search", "q=espresso", id="search"),
    pytest.param("/search", "q=espresso&category=espresso&limit=20", id="search-in-category"),
    pytest.param("/search", "q=+Espresso+&sort=price", id="search-spaces-sorted"),
    pytest.param("/products/espresso-machine", "", id="product"),
    pytest.param("/categories", "", id="categories"),
]


@pytest.mark.parametrize(("path", "query"), WARM)
async def test_a_warm_read_is_answered_early_with_the_routes_bytes_and_headers(
    client: AsyncClient, catalog: Staff, route_calls: RouteCalls, path: str, query: str
) -> None:
    url = f"{SHOP}{path}?{query}" if query else SHOP + path
    cold = await client.get(url)  # the route: loads, fills the entry
    assert route_calls.count == 1
    warm = await client.get(url)
    assert route_calls.count == 1, "the warm read went to the route"
    _same(cold, warm)


async def test_the_next_page_is_answered_early_too(
    client: AsyncClient, catalog: Staff, route_calls: RouteCalls
) -> None:
    first = await get(client, "/products", limit=1)
    cursor = first["nextCursor"]
    cold = await client.get(SHOP + "/products", params={"limit": 1, "cursor": cursor})
    warm = await client.get(SHOP + "/products", params={"limit": 1, "cursor": cursor})
    assert route_calls.count == 2
    _same(cold, warm)


async def test_an_early_answer_is_logged_and_counted_as_its_route(
    app: ProvidingApp, client: AsyncClient, catalog: Staff, route_calls: RouteCalls
) -> None:
    for _ in range(3):
        await get(client, "/products/espresso-machine")
    assert route_calls.count == 1
    exposition = platform_of(app).metrics.exposition().decode()
    counted = (
        'agora_http_requests_total{method="GET",route="/api/shop/products/{slug}",status="200"}'
    )
    assert f"{counted} 3.0" in exposition


async def test_a_change_is_seen_by_the_next_early_read(
    client: AsyncClient, catalog: Staff, route_calls: RouteCalls
) -> None:
    """Invalidation is the route's: an ended generation's entry is never answered early."""
    before = await get(client, "/products/espresso-machine")
    await get(client, "/search", q="espresso")
    await get(client, "/products", category="kitchen")
    sku = before["variants"][0]["sku"]
    await catalog.ok("PUT", f"/variants/{sku}/price", json={"amount": 100, "currency": "EUR"})
    calls = route_calls.count
    after = await get(client, "/products/espresso-machine")
    found = await get(client, "/search", q="espresso")
    listed = await get(client, "/products", category="kitchen")
    assert route_calls.count == calls + 3  # each a miss: the route loaded it again
    assert after["variants"][0]["price"]["amount"] == 100
    assert {p["price"]["min"]["amount"] for p in found["products"]} == {100, 19900}
    assert {p["price"]["min"]["amount"] for p in listed["products"]} == {100, 19900}


# requests the early answer leaves to the route, even with every entry warm: the route's answer
ROUTES_OWN = [
    pytest.param("/products?limit=0", 422, id="limit-zero"),
    pytest.param("/products?limit=101", 422, id="limit-too-big"),
    pytest.param("/products?limit=1x", 422, id="limit-not-a-number"),
    pytest.param("/products?limit=01", 200, id="limit-not-canonical"),
    pytest.param("/products?sort=relevance", 422, id="listing-by-relevance"),
    pytest.param("/products?category=Kitchen", 422, id="category-not-a-slug"),
    pytest.param("/products?category=nowhere", 404, id="category-unknown"),
    pytest.param("/products?cursor=not-a-cursor", 422, id="cursor-malformed"),
    pytest.param("/products?cursor=", 422, id="cursor-empty"),
    pytest.param("/products?category=kitchen&category=espresso", 200, id="given-twice"),
    pytest.param("/products?inStock=true", 200, id="a-filter-read-by-the-route-only"),
    pytest.param("/products?utm=1", 200, id="an-unknown-parameter"),
    pytest.param("/search", 422, id="search-without-q"),
    pytest.param("/search?q=", 422, id="search-empty"),
    pytest.param("/search?q=+++", 422, id="search-blank"),
    pytest.param("/search?q=esp%0Aresso", 422, id="search-control-character"),
    pytest.param("/search?q=" + "a" * 201, 422, id="search-too-long"),
    pytest.param("/products/Espresso-Machine", 422, id="slug-invalid"),
    pytest.param("/products/no-such-thing", 404, id="product-unknown"),
    pytest.param("/products/espresso-machine?x=1", 200, id="product-with-a-query"),
    pytest.param("/categories?x=1", 200, id="categories-with-a-query"),
]


@pytest.mark.parametrize(("url", "status"), ROUTES_OWN)
async def test_what_the_early_answer_is_not_sure_of_goes_to_the_route(
    client: AsyncClient, catalog: Staff, route_calls: RouteCalls, url: str, status: int
) -> None:
    for warm in ("/products", "/products?category=kitchen", "/search?q=espresso"):
        assert (await client.get(SHOP + warm)).status_code == 200
    calls = route_calls.count
    response = await client.get(SHOP + url)
    assert response.status_code == status, response.text
    assert route_calls.count == calls + 1
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"


async def test_other_methods_go_to_the_route(
    client: AsyncClient, catalog: Staff, route_calls: RouteCalls
) -> None:
    await get(client, "/products")
    assert (await client.head(SHOP + "/products")).status_code == 405
    assert (await client.post(SHOP + "/search?q=espresso")).status_code == 405


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/api/shop/products", "list_products"),
        ("/api/shop/search", "search"),
        ("/api/shop/products/espresso-machine", "get_product"),
        ("/api/shop/categories", "categories"),
    ],
)
def test_the_router_would_choose_the_route_the_early_answer_names(path: str, endpoint: str) -> None:
    """No route mounted before it answers the same GET: the early answer takes no other route's
    request (the app's routes, in the order it mounts them)."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b""}
    routes = [route for api in APIS for route in api.router.routes]
    first = next(route for route in routes if route.matches(scope)[0] is Match.FULL)
    assert isinstance(first, APIRoute)
    assert first.endpoint.__name__ == endpoint
