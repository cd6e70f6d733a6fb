"""Cached reads of the public catalog: the category tree, listings, searches, product pages.

Entries are what every visitor sees (nothing per viewer), keyed by the generations of the data
they were computed from (``platform/cache.py``): ``CATALOG`` ends after any staff write
(``CatalogChanged``), ``STOCK`` after any change to what may be sold (``StockChanged``: staff
counting stock, orders reserving or releasing it). So a change is seen by the next read, on every
node when the cache is Redis; with ``AGORA_READ_CACHE_SECONDS=0`` every read goes to the database.

Everything but the category tree shows stock (a product's "in stock", a variant's units), so it
is keyed by both. A cached page is never what an order is charged: the cart and checkout read
prices from the database.

**The fast path** (the only one of the shop's reads): an entry is the answer's JSON, made once by
the model's own serializer when the entry is filled, and a hit is sent as those bytes
(``json_response``): no model is built from it, and FastAPI validates and serializes nothing
again. The routes still declare their model (``response_model``), so ``/docs`` is unchanged,
and ``tests/shop/catalog/test_read_cache.py`` holds what is sent equal to the model's JSON. A
hit costs two Redis round trips (the generations, then the entry) and no database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence

import orjson
from fastapi import Response
from pydantic import BaseModel

from agora.platform.cache import Cache, generations, start_generation
from agora.platform.events import EventHandlers
from agora.shop.catalog.events import CatalogChanged, StockChanged

CATALOG = "shop:catalog"
STOCK = "shop:stock"


def register_event_handlers(events: EventHandlers, cache: Cache) -> None:
    """What the cache forgets after the shop's writes; called once, by the composition root."""

    async def catalog_changed(_: CatalogChanged) -> None:
        await start_generation(cache, CATALOG)

    async def stock_changed(_: StockChanged) -> None:
        await start_generation(cache, STOCK)

    events.on(CatalogChanged, catalog_changed)
    events.on(StockChanged, stock_changed)


async def cached_json(
    cache: Cache,
    ttl_seconds: int,
    kind: str,
    parts: Sequence[object],
    load: Callable[[], Awaitable[BaseModel]],
    *,
    stock: bool = True,
) -> bytes:
    """The JSON of ``load()``'s answer, from the cache when an entry of the current generations
    holds it. A failure (a product not found) is raised, and nothing cached."""
    if ttl_seconds <= 0:
        return (await load()).model_dump_json().encode()
    names = (CATALOG, STOCK) if stock else (CATALOG,)
    current = await generations(cache, *names)
    digest = hashlib.blake2b(orjson.dumps([*current, *parts]), digest_size=16).hexdigest()
    key = f"shop:{kind}:{digest}"
    hit = await cache.get(key)
    if hit is not None:
        return hit
    found = (await load()).model_dump_json().encode()
    await cache.set(key, found, ttl_seconds=ttl_seconds)
    return found


def json_response(content: bytes) -> Response:
    """An answer already encoded (``cached_json``): sent as it is."""
    return Response(content, media_type="application/json")
