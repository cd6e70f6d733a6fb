"""The read cache: a warm listing, search or product page costs no SQL statement, and every change
is seen by the next read (never a stale price or stock), whoever made it: staff, or an order
changing stock and saying so with ``StockChanged``."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from pydantic import BaseModel
from sqlalchemy import update

from agora.platform.cache import MemoryCache, start_generation
from agora.platform.provided import ProvidingApp
from agora.shop.catalog.events import StockChanged
from agora.shop.catalog.models import Variant
from agora.shop.catalog.schemas import CategoriesOut, ProductDetail, ProductPage
from agora.shop.read_cache import STOCK, KnownGenerations, cached_json
from agora.shop.search.schemas import SearchResults
from tests.shop.catalog.conftest import SHOP, Staff, get, variant
from tests.support.apps import events_of, platform_of
from tests.support.statements import recorded_statements


@pytest.fixture
async def catalog(staff: Staff) -> Staff:
    await staff.category("Kitchen")
    await staff.product(
        "Espresso Machine",
        category="kitchen",
        description="Twin boiler espresso",
        variants=[variant(price=49900, stock=2, sku="ESPRESSO")],
    )
    return staff


READS = [
    pytest.param("/products", {"category": "kitchen"}, ProductPage, id="listing"),
    pytest.param("/search", {"q": "espresso"}, SearchResults, id="search"),
    pytest.param("/products/espresso-machine", {}, ProductDetail, id="product"),
    pytest.param("/categories", {}, CategoriesOut, id="categories"),
]


@pytest.mark.parametrize(("path", "params", "model"), READS)
async def test_a_read_sends_its_models_json_cold_and_warm_alike(
    client: AsyncClient,
    catalog: Staff,
    path: str,
    params: dict[str, str],
    model: type[BaseModel],
) -> None:
    """The fast path sends the cached bytes as they are: they must be what the route documents."""
    cold = await client.get(SHOP + path, params=params)
    warm = await client.get(SHOP + path, params=params)
    assert cold.headers["content-type"] == warm.headers["content-type"] == "application/json"
    assert warm.content == cold.content
    assert model.model_validate_json(cold.content).model_dump(mode="json") == cold.json()


@pytest.mark.parametrize(("path", "params", "model"), READS)
async def test_a_warm_read_costs_no_statement(
    app: ProvidingApp,
    client: AsyncClient,
    catalog: Staff,
    path: str,
    params: dict[str, str],
    model: type[BaseModel],
) -> None:
    cold = await get(client, path, **params)
    with recorded_statements(app) as statements:
        warm = await get(client, path, **params)
    assert warm == cold
    assert statements == []


async def test_a_new_price_is_seen_by_the_next_read(client: AsyncClient, catalog: Staff) -> None:
    await get(client, "/products/espresso-machine")
    await get(client, "/products", category="kitchen")
    await get(client, "/search", q="espresso")

    await catalog.ok("PUT", "/variants/ESPRESSO/price", json={"amount": 44900, "currency": "EUR"})

    assert (await get(client, "/products/espresso-machine"))["variants"][0]["price"][
        "amount"
    ] == 44900
    listed = (await get(client, "/products", category="kitchen"))["products"][0]
    assert listed["price"]["min"]["amount"] == 44900
    found = (await get(client, "/search", q="espresso"))["products"][0]
    assert found["price"]["min"]["amount"] == 44900


async def test_staff_changes_are_seen_at_once(client: AsyncClient, catalog: Staff) -> None:
    assert len((await get(client, "/products"))["products"]) == 1
    await catalog.ok("POST", "/products/espresso-machine/unpublish")
    assert (await get(client, "/products"))["products"] == []
    assert (await client.get(f"{SHOP}/products/espresso-machine")).status_code == 404
    await catalog.category("Garden")
    assert len((await get(client, "/categories"))["categories"]) == 2


async def test_stock_an_order_reserved_is_seen_once_it_says_so(
    app: ProvidingApp, client: AsyncClient, catalog: Staff
) -> None:
    assert (await get(client, "/products/espresso-machine"))["variants"][0]["available"] == 2
    assert len((await get(client, "/products", inStock="true"))["products"]) == 1

    # what the orders module does: reserve in its transaction, then say so after the commit
    async with platform_of(app).db.engine.begin() as connection:
        product_id = await connection.scalar(
            update(Variant)
            .where(Variant.sku == "ESPRESSO")
            .values(stock_reserved=Variant.stock_reserved + 2)
            .returning(Variant.product_id)
        )
    assert product_id is not None
    await events_of(app).publish(StockChanged((product_id,)))

    page = await get(client, "/products/espresso-machine")
    assert (page["inStock"], page["variants"][0]["available"]) == (False, 0)
    assert (await get(client, "/products", inStock="true"))["products"] == []


async def test_staff_counting_stock_is_seen_at_once(client: AsyncClient, catalog: Staff) -> None:
    await get(client, "/products/espresso-machine")
    await catalog.ok("PUT", "/variants/ESPRESSO/stock", json={"stockOnHand": 7})
    assert (await get(client, "/products/espresso-machine"))["variants"][0]["available"] == 7


class CountingCache(MemoryCache):
    """The in-process cache, counting the round trips a Redis cache would make."""

    def __init__(self) -> None:
        super().__init__()
        self.round_trips = 0

    async def get(self, key: str) -> bytes | None:
        self.round_trips += 1
        return await super().get(key)

    async def get_many(self, *keys: str) -> list[bytes | None]:
        self.round_trips += 1
        return [await MemoryCache.get(self, key) for key in keys]


async def test_a_hit_is_one_round_trip_and_never_of_an_ended_generation() -> None:
    cache, known = CountingCache(), KnownGenerations()
    answers = iter(["first", "second"])

    async def load() -> BaseModel:
        return _Named(name=next(answers))

    async def read() -> bytes:
        return await cached_json(cache, 60, "test", ["a"], load, known=known)

    assert await read() == b'{"name":"first"}'
    cache.round_trips = 0
    assert await read() == b'{"name":"first"}'
    assert cache.round_trips == 1

    await start_generation(cache, STOCK)  # what an order's StockChanged does
    assert await read() == b'{"name":"second"}'
    cache.round_trips = 0
    assert await read() == b'{"name":"second"}'
    assert cache.round_trips == 1


class _Named(BaseModel):
    name: str
