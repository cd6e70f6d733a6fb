"""Cached reads of the public catalog: the category tree, listings, searches, product pages.

Entries are what every visitor sees (nothing per viewer), keyed by the generations of the data
they were computed from (``platform/cache.py``): ``CATALOG`` ends after any staff write
(``CatalogChanged``), ``STOCK`` after any change to what may be sold (``StockChanged``: staff
counting stock, orders reserving or releasing it). So a change is seen by the next read, on every
node when the cache is Redis; with ``AGORA_READ_CACHE_SECONDS=0`` every read goes to the database.

Everything but the category tree shows stock (a product's "in stock", a variant's units), so it
is keyed by both. A cached page is never what an order is charged: the cart and checkout read
prices from the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import orjson
from pydantic import BaseModel

from agora.platform.cache import Cache, generations, start_generation
from agora.platform.events import EventHandlers
from agora.shop.catalog.events import CatalogChanged, StockChanged

CATALOG = "shop:catalog"
STOCK = "shop:stock"

M = TypeVar("M", bound=BaseModel)


def register_event_handlers(events: EventHandlers, cache: Cache) -> None:
    """What the cache forgets after the shop's writes; called once, by the composition root."""

    async def catalog_changed(_: CatalogChanged) -> None:
        await start_generation(cache, CATALOG)

    async def stock_changed(_: StockChanged) -> None:
        await start_generation(cache, STOCK)

    events.on(CatalogChanged, catalog_changed)
    events.on(StockChanged, stock_changed)


async def cached(
    cache: Cache,
    ttl_seconds: int,
    model: type[M],
    kind: str,
    parts: Sequence[object],
    load: Callable[[], Awaitable[M]],
    *,
    stock: bool = True,
) -> M:
    """``load()``'s answer, from the cache when an entry of the current generations holds it.
    A failure (a product not found) is raised, and nothing cached."""
    if ttl_seconds <= 0:
        return await load()
    names = (CATALOG, STOCK) if stock else (CATALOG,)
    current = await generations(cache, *names)
    digest = hashlib.blake2b(orjson.dumps([*current, *parts]), digest_size=16).hexdigest()
    key = f"shop:{kind}:{digest}"
    hit = await cache.get(key)
    if hit is not None:
        return model.model_validate_json(hit)
    found = await load()
    await cache.set(key, found.model_dump_json().encode(), ttl_seconds=ttl_seconds)
    return found
