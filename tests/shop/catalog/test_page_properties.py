"""Property: for any catalog and any page size, following ``nextCursor`` from the first page
visits every listed product once, in the order asked — ties in price and in time included (the
id breaks them), on the filter asked."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from agora.platform.provided import ProvidingApp
from agora.shop.catalog.models import Product
from agora.shop.catalog.seeding import SeedProduct, SeedVariant, seed_products
from tests.shop.catalog.conftest import get, slugs
from tests.support.apps import events_of, platform_of

START = datetime(2026, 1, 1, tzinfo=UTC)
# few values, so that ties are common
PRICES = (100, 200, 300)
_examples = itertools.count()

catalogs = st.lists(
    st.tuples(st.sampled_from(PRICES), st.integers(0, 2), st.booleans()), max_size=12
)


async def _fresh_catalog(app: ProvidingApp, rows: list[tuple[int, int, bool]]) -> list[str]:
    """The catalog emptied and filled with ``rows`` (price, minutes after START, in stock); the
    new products' slugs, in the order of ``rows``."""
    db = platform_of(app).db
    async with db.engine.begin() as connection:
        await connection.execute(delete(Product))
    example = next(_examples)
    products = [
        SeedProduct(
            slug=f"e{example}-p{number}",
            name=f"Product {number}",
            created_at=START + timedelta(minutes=minutes),
            variants=[SeedVariant(f"E{example}-{number}", price, stock_on_hand=int(stocked))],
        )
        for number, (price, minutes, stocked) in enumerate(rows)
    ]
    await seed_products(db, products, events=events_of(app))
    return [product.slug for product in products]


async def _ids(app: ProvidingApp) -> dict[str, int]:
    async with platform_of(app).db.autocommit_sessions() as session:
        return dict((await session.execute(select(Product.slug, Product.id))).all())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=catalogs,
    sort=st.sampled_from(["newest", "price", "-price"]),
    limit=st.integers(1, 4),
    in_stock=st.booleans(),
)
async def test_following_the_cursors_lists_each_product_once_in_order(
    app: ProvidingApp,
    client: AsyncClient,
    rows: list[tuple[int, int, bool]],
    sort: str,
    limit: int,
    in_stock: bool,
) -> None:
    created = await _fresh_catalog(app, rows)
    ids = await _ids(app)
    example = [
        (slug, price, minutes, ids[slug])
        for (price, minutes, stocked), slug in zip(rows, created, strict=True)
        if stocked or not in_stock
    ]
    if sort == "newest":
        example.sort(key=lambda p: (p[2], p[3]), reverse=True)
    elif sort == "price":
        example.sort(key=lambda p: (p[1], p[3]))
    else:
        example.sort(key=lambda p: (p[1], p[3]), reverse=True)

    seen: list[str] = []
    params: dict[str, object] = {"sort": sort, "limit": limit}
    if in_stock:
        params["inStock"] = "true"
    for _ in range(len(rows) + 2):
        page = await get(client, "/products", **params)
        seen += slugs(page)
        if page["nextCursor"] is None:
            break
        params["cursor"] = page["nextCursor"]
    assert seen == [slug for slug, *_ in example]
