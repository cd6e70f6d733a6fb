"""Filling a catalog in bulk, for demos and benchmarks: categories, then products with their
variants and option values, a batch per transaction and a few statements per batch (inserts of
many rows each), not a request per product.

The rules of the staff routes hold (one currency per product, prices and stock as integers, a
price range and the search vocabulary kept), but nothing is checked against what is already
there: slugs and SKUs must be new, as they are in a fresh database. After seeding a running
server, publish ``CatalogChanged`` (``events``) so its cache forgets what it held.

Products may come from any iterable, a generator reading a file for instance: they are taken a
batch at a time, so a catalog of any size is never held in memory whole (``bench/shop_seed.py``
streams the shared benchmark's 100,000 products this way).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from agora.platform.db import Database, utcnow
from agora.platform.events import EventHandlers
from agora.shop.catalog.events import CatalogChanged
from agora.shop.catalog.models import Category, Product, Variant, VariantOption
from agora.shop.catalog.products import refresh_prices
from agora.shop.search.terms import add_terms

BATCH = 1_000


@dataclass(frozen=True, slots=True)
class SeedCategory:
    slug: str
    name: str
    parent: str | None = None  # the parent's slug, seeded before it


@dataclass(frozen=True, slots=True)
class SeedVariant:
    sku: str
    price_minor: int
    currency: str = "EUR"
    stock_on_hand: int = 0
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SeedProduct:
    slug: str
    name: str
    description: str = ""
    category: str | None = None  # a category's slug
    published: bool = True
    popularity: int = 0
    created_at: datetime | None = None
    variants: Sequence[SeedVariant] = ()


async def seed_categories(db: Database, categories: Sequence[SeedCategory]) -> dict[str, int]:
    """Creates the categories in order (parents first); their ids by slug."""
    async with db.engine.begin() as connection:
        paths = {
            slug: (id_, path)
            for slug, id_, path in await connection.execute(
                select(Category.slug, Category.id, Category.path)
            )
        }
        for position, category in enumerate(categories):
            parent_id, parent_path = paths[category.parent] if category.parent else (None, "/")
            id_ = await connection.scalar(
                insert(Category)
                .values(
                    slug=category.slug,
                    name=category.name,
                    parent_id=parent_id,
                    path=f"new:{category.slug}",
                    position=position,
                    created_at=utcnow(),
                )
                .returning(Category.id)
            )
            assert id_ is not None
            path = f"{parent_path}{id_}/"
            await connection.execute(update(Category).where(Category.id == id_).values(path=path))
            paths[category.slug] = (id_, path)
    return {slug: id_ for slug, (id_, _) in paths.items()}


async def seed_products(
    db: Database,
    products: Iterable[SeedProduct],
    *,
    batch: int = BATCH,
    events: EventHandlers | None = None,
) -> int:
    """Creates the products, ``batch`` to a transaction; how many were created."""
    async with db.engine.connect() as connection:
        categories = dict((await connection.execute(select(Category.slug, Category.id))).all())
    created = 0
    pending = iter(products)
    while chunk := list(islice(pending, batch)):
        async with db.engine.begin() as connection:
            await _seed_batch(connection, chunk, categories)
        created += len(chunk)
    if events is not None:
        await events.publish(CatalogChanged())
    return created


async def _seed_batch(
    connection: AsyncConnection, products: Sequence[SeedProduct], categories: dict[str, int]
) -> None:
    now = utcnow()
    rows = [
        {
            "slug": product.slug,
            "name": product.name,
            "description": product.description,
            "category_id": categories[product.category] if product.category else None,
            "published": product.published,
            "popularity": product.popularity,
            "created_at": product.created_at or now,
            "updated_at": now,
        }
        for product in products
    ]
    # matched by slug and SKU, not by order: rows come back in batches of many, in any order
    result = await connection.execute(insert(Product).returning(Product.slug, Product.id), rows)
    ids = dict(result.all())
    variants = [
        (ids[product.slug], position, variant)
        for product in products
        for position, variant in enumerate(product.variants)
    ]
    if variants:
        created = await connection.execute(
            insert(Variant).returning(Variant.sku, Variant.id),
            [
                {
                    "product_id": product_id,
                    "sku": variant.sku,
                    "title": " / ".join(value for _, value in sorted(variant.options.items())),
                    "price_minor": variant.price_minor,
                    "currency": variant.currency,
                    "stock_on_hand": variant.stock_on_hand,
                    "stock_reserved": 0,
                    "position": position,
                    "created_at": now,
                    "updated_at": now,
                }
                for product_id, position, variant in variants
            ],
        )
        variant_ids = dict(created.all())
        options = [
            {"variant_id": variant_ids[variant.sku], "name": name, "value": value}
            for _, _, variant in variants
            for name, value in variant.options.items()
        ]
        if options:
            await connection.execute(insert(VariantOption), options)
        await refresh_prices(connection, list(ids.values()))
    await add_terms(connection, [f"{p.name} {p.description}" for p in products])
