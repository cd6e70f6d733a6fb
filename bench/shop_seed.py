"""Agora's copy of the shared shop benchmark's catalog: the harness's generated files
(``gen_data.py``: ``categories.jsonl``, ``products.jsonl``) loaded through the shop's own bulk
path (``agora.shop.catalog.seeding``), bench users, and the refs the adapter builds its requests
from (``bench/shop_adapter.py``).

The mapping, field by field: a category's slug and name as generated (the tree through the
parent's slug); a product's ``handle`` is its slug, its ``title`` its name; each variant keeps its
SKU, price (minor units, in EUR: the generator gives none, Medusa's region is EUR too) and stock,
and its option (``Size`` or ``Colour``) becomes an option value (``size: M``); ``rank`` (1 = most
wanted) becomes ``popularity`` (higher = more wanted); products are created a second apart in
the file's order, so "newest" is a total order as it would be in a live shop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from agora.identity.models import User
from agora.platform.db import Database, on_postgresql
from agora.shop.catalog import cursors
from agora.shop.catalog.cursors import Sort
from agora.shop.catalog.filters import ProductFilter, conditions
from agora.shop.catalog.models import Category, Product, Variant
from agora.shop.catalog.seeding import (
    SeedCategory,
    SeedProduct,
    SeedVariant,
    seed_categories,
    seed_products,
)

CURRENCY = "EUR"
START = datetime(2025, 1, 1, tzinfo=UTC)
USERS = 100  # more than the driver's 32 users and R1's 50 buyers
PER_PAGE = 20  # the adapter's page size (the peers')


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def categories(data: Path) -> list[SeedCategory]:
    """The tree, parents first (the file's order), under the generated slugs."""
    rows = list(_lines(data / "categories.jsonl"))
    slugs = {row["idx"]: row["slug"] for row in rows}
    if len(set(slugs.values())) != len(slugs):
        raise SystemExit("bench: the generated category slugs are not unique")
    return [
        SeedCategory(
            slug=row["slug"],
            name=row["name"],
            parent=None if row["parent"] is None else slugs[row["parent"]],
        )
        for row in rows
    ]


def products(data: Path, category_slugs: dict[int, str], count: int) -> Iterator[SeedProduct]:
    for row in _lines(data / "products.jsonl"):
        option = row["option"].lower()
        yield SeedProduct(
            slug=row["handle"],
            name=row["title"],
            description=row["description"],
            category=category_slugs[row["category"]],
            popularity=count - row["rank"] + 1,
            created_at=START + timedelta(seconds=row["idx"]),
            variants=[
                SeedVariant(
                    sku=variant["sku"],
                    price_minor=variant["price"],
                    currency=CURRENCY,
                    stock_on_hand=variant["stock"],
                    options={option: variant["value"]},
                )
                for variant in row["variants"]
            ],
        )


async def seed(db: Database, data: Path) -> dict[str, Any]:
    """Loads the catalog and the bench users into an empty, migrated database; what it took."""
    started = time.perf_counter()
    meta = json.loads((data / "meta.json").read_text(encoding="utf-8"))
    tree = categories(data)
    await seed_categories(db, tree)
    slugs = {row["idx"]: row["slug"] for row in _lines(data / "categories.jsonl")}
    created = await seed_products(db, products(data, slugs, meta["products"]))
    async with db.engine.begin() as connection:
        await connection.execute(
            insert(User),
            [
                {
                    "username": f"shopper{n}",
                    "email": f"shopper{n}@bench.invalid",
                    "password_hash": "!",
                }
                for n in range(USERS)
            ],
        )
    seconds = time.perf_counter() - started
    if on_postgresql(db.engine):
        # fresh statistics and visibility map, as autovacuum would leave a live database
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))
    return {
        "categories": len(tree),
        "products": created,
        "seconds": round(seconds, 1),
        "products_per_s": round(created / seconds),
    }


async def user_ids(db: Database) -> list[int]:
    """The bench users' ids, shopper0 first."""
    names = [f"shopper{n}" for n in range(USERS)]
    async with db.engine.connect() as connection:
        rows = await connection.execute(
            select(User.username, User.id).where(User.username.in_(names))
        )
        found = {row.username: row.id for row in rows}
    return [found[name] for name in names]


async def seeded_counts(db: Database) -> tuple[int, int]:
    """(products, variants) in the database, to tell whether a seed is there already."""
    async with db.engine.connect() as connection:
        products = await connection.scalar(select(func.count()).select_from(Product))
        variants = await connection.scalar(select(func.count()).select_from(Variant))
    return int(products or 0), int(variants or 0)


async def _deep_cursor(db: Database, slug: str, page: int) -> str:
    """The ``nextCursor`` a client holds after following a category listing (newest first,
    ``PER_PAGE`` a page) to page ``page - 1``: the last product of that page, found with the
    listing's own conditions."""
    async with db.engine.connect() as connection:
        path = await connection.scalar(select(Category.path).where(Category.slug == slug))
        where = ProductFilter(category=slug, category_path=path)
        last = (
            await connection.execute(
                select(Product.created_at, Product.id)
                .where(*conditions(where))
                .order_by(Product.created_at.desc(), Product.id.desc())
                .offset((page - 1) * PER_PAGE - 1)
                .limit(1)
            )
        ).one()
    return cursors.encode(Sort.NEWEST, last.created_at, last.id)


async def refs(db: Database, data: Path, tokens: list[str], deep_page: int) -> dict[str, Any]:
    """What the adapter builds its requests from, by the generator's indexes: each product's
    slug, SKUs and variant ids, each category's slug, the cursor of ``deep_page`` of every root
    category, and a token of each bench user."""
    async with db.engine.connect() as connection:
        variant_ids = dict((await connection.execute(select(Variant.sku, Variant.id))).all())
    found: dict[str, Any] = {}
    for row in _lines(data / "products.jsonl"):
        skus = [variant["sku"] for variant in row["variants"]]
        found[str(row["idx"])] = {
            "slug": row["handle"],
            "skus": skus,
            "variants": [variant_ids[sku] for sku in skus],
        }
    rows = list(_lines(data / "categories.jsonl"))
    deep = {
        f"{row['idx']}:{deep_page}": await _deep_cursor(db, row["slug"], deep_page)
        for row in rows
        if row["parent"] is None
    }
    return {
        "products": found,
        "categories": {str(row["idx"]): row["slug"] for row in rows},
        "cursors": deep,
        "tokens": tokens,
    }
