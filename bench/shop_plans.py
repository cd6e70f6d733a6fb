"""The query plans of the catalog's listing and search, for ``docs/performance.md``.

    .venv/bin/python -m bench.shop_plans postgresql+asyncpg://postgres@127.0.0.1/agora_plans [N]

Migrates the database, seeds it once with ``N`` products (20,000 by default: three variants
each, 500 categories in two levels, names and descriptions from small word lists, skewed
popularity) through ``agora.shop.catalog.seeding``, and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of
the statements the routes send, built by the same functions, as Markdown. Not the benchmark
(that one loads a live server): a look at what PostgreSQL does with each statement.
"""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from agora.migrations.runner import upgrade
from agora.platform.db import Database
from agora.shop.catalog import queries
from agora.shop.catalog.cursors import Sort
from agora.shop.catalog.filters import ProductFilter, conditions
from agora.shop.catalog.models import Category, Product
from agora.shop.catalog.seeding import (
    SeedCategory,
    SeedProduct,
    SeedVariant,
    seed_categories,
    seed_products,
)
from agora.shop.search import fulltext, typos
from agora.shop.search.queries import facets_statement

NOUNS = [
    "laptop",
    "phone",
    "tablet",
    "monitor",
    "keyboard",
    "mouse",
    "headphones",
    "speaker",
    "camera",
    "lens",
    "charger",
    "cable",
    "backpack",
    "jacket",
    "shirt",
    "shoes",
    "kettle",
    "lamp",
    "chair",
    "desk",
]
ADJECTIVES = [
    "light",
    "fast",
    "silent",
    "wireless",
    "compact",
    "premium",
    "classic",
    "sturdy",
    "bright",
    "warm",
    "slim",
    "rugged",
    "smart",
    "modern",
    "vintage",
]
WORDS = [
    "battery",
    "screen",
    "sound",
    "travel",
    "office",
    "home",
    "outdoor",
    "gaming",
    "studio",
    "kitchen",
    "sport",
    "comfort",
    "design",
    "durable",
    "recycled",
    "steel",
    "cotton",
    "leather",
    "glass",
]


async def _seed(db: Database, count: int) -> None:
    categories = []
    for root in range(20):
        categories.append(SeedCategory(f"root-{root}", f"Root {root}"))
        categories += [
            SeedCategory(f"cat-{root}-{n}", f"Category {root} {n}", f"root-{root}")
            for n in range(24)
        ]
    await seed_categories(db, categories)
    draw = random.Random(1)
    leaves = [category.slug for category in categories if category.parent]
    products = []
    for number in range(count):
        noun = draw.choice(NOUNS)
        words = [draw.choice([*WORDS, *ADJECTIVES, noun]) for _ in range(25)]
        colours = ["black", "white", "red", "blue"]
        variants = [
            SeedVariant(
                f"S{number}-{size}",
                draw.randint(500, 300_000),
                stock_on_hand=draw.choice([0, 0, 3, 10, 50]),
                options={"size": size, "colour": draw.choice(colours)},
            )
            for size in ("S", "M", "L")
        ]
        products.append(
            SeedProduct(
                slug=f"p-{number}",
                name=f"{draw.choice(ADJECTIVES).title()} {noun.title()} {number}",
                description=" ".join(words),
                category=draw.choice(leaves),
                popularity=int(draw.paretovariate(1.2)),
                variants=variants,
            )
        )
    await seed_products(db, products, batch=2_000)
    async with db.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))


def _sql(statement: ClauseElement) -> str:
    compiled = statement.compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
    # the pyformat escaping of '%' (pg_trgm's operator), which text() would send as is
    return str(compiled).replace("%%", "%")


async def _explain(db: Database, title: str, statement: ClauseElement) -> None:
    async with db.engine.connect() as connection:
        rows = await connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {_sql(statement)}"))
        plan = [line for (line,) in rows]
    print(f"\n#### {title}\n\n```")
    print("\n".join(plan))
    print("```")


def _page(where: ProductFilter, sort: Sort, key: Any = None) -> ClauseElement:
    matching = select(Product.id).where(*conditions(where))
    key = queries.sort_key(sort) if key is None else key
    return queries.page_of(matching, sort=sort, key=key, cursor=None, limit=24)


async def main(url: str, count: int) -> None:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            seeded = await connection.scalar(select(Product.id).limit(1))
            if seeded is None:
                await _seed(db, count)
            root = await connection.scalar(select(Category.path).where(Category.slug == "root-0"))
        assert root is not None
        top = ProductFilter(category="root-0", category_path=root, in_stock=True)
        await _explain(db, "Listing: newest first, 24 a page", _page(ProductFilter(), Sort.NEWEST))
        await _explain(
            db, "Listing: a top category and all below it, in stock, cheapest first",
            _page(top, Sort.PRICE),
        )  # fmt: skip
        options = ProductFilter(
            options={"size": ("M",), "colour": ("red",)},
            min_price_minor=1_000,
            max_price_minor=5_000,
        )
        await _explain(db, "Listing: size M and red, 10.00 to 50.00", _page(options, Sort.NEWEST))
        match = fulltext.match(["laptop"], postgresql=True)
        search = match.apply(select(Product.id).where(*conditions(ProductFilter())))
        page = queries.page_of(search, sort=Sort.RELEVANCE, key=match.score, cursor=None, limit=24)
        await _explain(db, "Search: a common word, best first", page)
        await _explain(
            db,
            "Search: the facets of a common word",
            facets_statement(match, where=ProductFilter()),
        )
        candidates = typos.candidates_statement(["laptpo"], postgresql=True)
        await _explain(db, "Typo correction: the candidates for 'laptpo'", candidates)
    finally:
        await db.dispose()


if __name__ == "__main__":
    upgrade(sys.argv[1])  # runs its own event loop
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20_000))
