"""Cached reads of the public catalog: the category tree, listings, searches, product pages.

Entries are what every visitor sees (nothing per viewer), keyed by the generations of the data
they were computed from (``platform/cache.py``): ``CATALOG`` ends after any staff write
(``CatalogChanged``), ``STOCK`` after any change to what may be sold (``StockChanged``: staff
counting stock, orders reserving or releasing it). So a change is seen by the next read, on every
node when the cache is Redis; with ``AGORA_READ_CACHE_SECONDS=0`` every read goes to the database.

Everything but the category tree shows stock (a product's "in stock", a variant's units), so it
is keyed by both. A cached page is never what an order is charged: the cart and checkout read
prices from the database.

**The fast path** (with ``early_reads.py``, which answers a hit before the router, the only one
of the shop's reads): an entry is the answer's JSON, made once by the model's own serializer
when the entry is filled, and a hit is sent as those bytes (``json_response``): no model is
built from it, and FastAPI validates and serializes nothing again. The routes still declare
their model (``response_model``), so ``/docs`` is unchanged,
and ``tests/shop/catalog/test_read_cache.py`` holds what is sent equal to the model's JSON. A
hit costs one Redis round trip and no database: the entry is asked for under the generations
this process saw last, in the same ``MGET`` as the generations themselves (``KnownGenerations``),
and served only when they are still the current ones; when one has moved on, the entry of the
new generations is asked for next (two round trips, as every hit cost before). Redis answers an
``MGET`` from one moment, so an entry is never served after its generation ended.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence

import orjson
from fastapi import Response
from pydantic import BaseModel

from agora.platform.cache import Cache, generation_key, generations, start_generation
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


class KnownGenerations:
    """The generations this process saw last, by the names an entry is keyed by: a guess that
    a hit checks in its own round trip, never trusted alone."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, ...], list[str]] = {}

    def get(self, names: tuple[str, ...]) -> list[str] | None:
        return self._seen.get(names)

    def saw(self, names: tuple[str, ...], current: list[str]) -> None:
        self._seen[names] = current


def _entry_key(kind: str, current: Sequence[str], parts: Sequence[object]) -> str:
    digest = hashlib.blake2b(orjson.dumps([*current, *parts]), digest_size=16).hexdigest()
    return f"shop:{kind}:{digest}"


async def _hit(
    cache: Cache, known: KnownGenerations, names: tuple[str, ...], kind: str, parts: list[object]
) -> tuple[bytes | None, str]:
    """The entry of the current generations, if the cache holds it, and its key."""
    guess = known.get(names)
    if guess is not None:
        key = _entry_key(kind, guess, parts)
        *found, entry = await cache.get_many(*(generation_key(n) for n in names), key)
        if found == [token.encode() for token in guess]:
            return entry, key
    current = await generations(cache, *names)
    known.saw(names, current)
    key = _entry_key(kind, current, parts)
    return await cache.get(key), key


def _names(stock: bool) -> tuple[str, ...]:
    return (CATALOG, STOCK) if stock else (CATALOG,)


async def cached_only(
    cache: Cache,
    ttl_seconds: int,
    kind: str,
    parts: Sequence[object],
    *,
    known: KnownGenerations,
    stock: bool = True,
) -> bytes | None:
    """The entry ``cached_json`` would answer from, if the cache holds one of the current
    generations; None otherwise (nothing loaded, nothing filled): the early answer's question."""
    if ttl_seconds <= 0:
        return None
    hit, _key = await _hit(cache, known, _names(stock), kind, list(parts))
    return hit


async def cached_json(
    cache: Cache,
    ttl_seconds: int,
    kind: str,
    parts: Sequence[object],
    load: Callable[[], Awaitable[BaseModel]],
    *,
    known: KnownGenerations,
    stock: bool = True,
) -> bytes:
    """The JSON of ``load()``'s answer, from the cache when an entry of the current generations
    holds it. A failure (a product not found) is raised, and nothing cached."""
    if ttl_seconds <= 0:
        return (await load()).model_dump_json().encode()
    hit, key = await _hit(cache, known, _names(stock), kind, list(parts))
    if hit is not None:
        return hit
    found = (await load()).model_dump_json().encode()
    await cache.set(key, found, ttl_seconds=ttl_seconds)
    return found


def json_response(content: bytes) -> Response:
    """An answer already encoded (``cached_json``): sent as it is."""
    return Response(content, media_type="application/json")
