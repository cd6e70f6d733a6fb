"""The catalog of ``agora seed``: a few categories and products, enough to browse, filter,
search and check out on ``make run``."""

from __future__ import annotations

from agora.platform.db import Database
from agora.platform.events import EventHandlers
from agora.shop.catalog.seeding import (
    SeedCategory,
    SeedProduct,
    SeedVariant,
    seed_categories,
    seed_products,
)

CATEGORIES = [
    SeedCategory("computers", "Computers"),
    SeedCategory("laptops", "Laptops", "computers"),
    SeedCategory("accessories", "Accessories", "computers"),
    SeedCategory("clothes", "Clothes"),
    SeedCategory("shirts", "Shirts", "clothes"),
]


def _sizes(sku: str, price: int, stock: dict[str, int], **options: str) -> list[SeedVariant]:
    return [
        SeedVariant(f"{sku}-{size}", price, stock_on_hand=units, options={"size": size, **options})
        for size, units in stock.items()
    ]


def _one(sku: str, price: int, units: int, colour: str) -> list[SeedVariant]:
    return [SeedVariant(sku, price, stock_on_hand=units, options={"colour": colour})]


# slug, name, description, category, popularity, variants
_PRODUCTS: list[tuple[str, str, str, str, int, list[SeedVariant]]] = [
    (
        "laptop-pro-14",
        "Laptop Pro 14",
        "A light laptop with a bright 14-inch screen and a battery for the whole day.",
        "laptops",
        120,
        _one("LP14-SLV", 149_900, 5, "silver") + _one("LP14-BLK", 154_900, 2, "black"),
    ),
    (
        "gaming-laptop-17",
        "Gaming Laptop 17",
        "Fast graphics and a 17-inch screen for games and video work.",
        "laptops",
        45,
        _one("GL17", 219_900, 1, "black"),
    ),
    (
        "laptop-sleeve",
        "Laptop Sleeve",
        "Protects laptops up to 14 inches; recycled felt.",
        "accessories",
        80,
        _one("SLEEVE-GRY", 2_900, 40, "grey"),
    ),
    (
        "wireless-mouse",
        "Wireless Mouse",
        "A silent mouse that pairs with any laptop.",
        "accessories",
        200,
        _one("MOUSE-1", 3_490, 0, "white"),
    ),
    (
        "oxford-shirt",
        "Oxford Shirt",
        "A cotton shirt for the office and the weekend.",
        "shirts",
        60,
        _sizes("OXF", 3_900, {"S": 4, "M": 10, "L": 0}, colour="blue"),
    ),
    (
        "linen-shirt",
        "Linen Shirt",
        "Cool in summer, better with every wash.",
        "shirts",
        30,
        _sizes("LIN", 4_500, {"M": 3, "L": 6}, colour="white"),
    ),
]
PRODUCTS = [
    SeedProduct(slug, name, description, category, popularity=popularity, variants=variants)
    for slug, name, description, category, popularity, variants in _PRODUCTS
]


async def load(db: Database, *, events: EventHandlers | None = None) -> None:
    await seed_categories(db, CATEGORIES)
    await seed_products(db, PRODUCTS, events=events)
