"""Seeding in bulk: categories and products with variants land as the staff routes would leave
them (price ranges, option values, the search's vocabulary), a batch at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from httpx import AsyncClient

from agora.platform.provided import ProvidingApp
from agora.shop.catalog.seeding import (
    SeedCategory,
    SeedProduct,
    SeedVariant,
    seed_categories,
    seed_products,
)
from tests.shop.catalog.conftest import get, slugs
from tests.support.apps import events_of, platform_of
from tests.support.statements import recorded_statements

START = datetime(2026, 1, 1, tzinfo=UTC)


def _product(number: int) -> SeedProduct:
    return SeedProduct(
        slug=f"kettle-{number}",
        name=f"Kettle {number}",
        description="Boils water quickly" if number % 2 else "A quiet whistle",
        category="kettles" if number % 3 else "kitchen",
        created_at=START + timedelta(minutes=number),
        variants=[
            SeedVariant(
                f"K{number}-{size}", 2000 + number + n, stock_on_hand=n, options={"size": size}
            )
            for n, size in enumerate(["1l", "2l"])
        ],
    )


async def test_a_seeded_catalog_reads_like_one_built_by_staff(
    app: ProvidingApp, client: AsyncClient
) -> None:
    db = platform_of(app).db
    await get(client, "/products")  # cached before the seeding: the event makes it forget
    ids = await seed_categories(
        db, [SeedCategory("kitchen", "Kitchen"), SeedCategory("kettles", "Kettles", "kitchen")]
    )
    assert set(ids) == {"kitchen", "kettles"}

    with recorded_statements(app) as statements:
        created = await seed_products(
            db, (_product(n) for n in range(50)), batch=20, events=events_of(app)
        )
    assert created == 50
    # a few statements per batch of twenty, not per product
    assert len(statements) <= 3 * 8

    page = await get(client, "/products", category="kitchen", limit=100)
    assert len(page["products"]) == 50
    assert slugs(page)[0] == "kettle-49"
    newest = page["products"][0]
    assert newest["price"]["min"] == {"amount": 2049, "currency": "EUR"}
    assert newest["price"]["max"]["amount"] == 2050
    assert len((await get(client, "/products", category="kettles", limit=100))["products"]) == 33
    assert (
        len(slugs(await get(client, "/products", option="size:2l", inStock="true", limit=100)))
        == 50
    )
    assert (await get(client, "/products", option="size:1l", inStock="true"))["products"] == []
    found = await get(client, "/search", q="whistel", limit=100)
    assert found["corrected"] is True
    assert len(found["products"]) == 25
