"""The cache port: a byte-string store with expiry, in-process or Redis, chosen by settings."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import orjson
from redis.asyncio import Redis


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """Several keys in one round trip, in the order asked."""
        ...

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class MemoryCache:
    """One process's cache: right for a single node and for tests; lost on restart."""

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._max_entries = max_entries
        self._clock = clock  # seconds; tests pass a fake clock to see entries expire

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            self._entries.pop(key, None)
            return None
        return value

    async def get_many(self, *keys: str) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        # re-inserted, not updated in place, so the order of the dict stays the order of writes
        self._entries.pop(key, None)
        if len(self._entries) >= self._max_entries:
            self._evict_oldest()
        self._entries[key] = (self._clock() + ttl_seconds, value)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._entries.clear()

    def _evict_oldest(self) -> None:
        # O(1), as every write of a full cache comes here: dicts keep insertion order, so the
        # first key is the oldest write (expired or not); expired entries elsewhere go on `get`
        del self._entries[next(iter(self._entries))]


class RedisCache:
    """Shared by every node; keys are namespaced so one Redis can serve several apps."""

    def __init__(self, redis: Redis, *, namespace: str = "agora:cache:") -> None:
        self._redis = redis
        self._namespace = namespace

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._namespace + key)
        return value if isinstance(value, bytes) or value is None else value.encode()

    async def get_many(self, *keys: str) -> list[bytes | None]:
        values = await self._redis.mget([self._namespace + key for key in keys])
        return [v if isinstance(v, bytes) or v is None else v.encode() for v in values]

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        await self._redis.set(self._namespace + key, value, ex=ttl_seconds)

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._namespace + key for key in keys))

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def create_cache(redis_url: str | None, *, namespace: str = "agora:cache:") -> Cache:
    if redis_url is None:
        return MemoryCache()
    return RedisCache(Redis.from_url(redis_url), namespace=namespace)


# --- generations: invalidating every entry derived from some data with one write ----------------
#
# A read model keys its entries by the current generation of the data it was computed from;
# a write starts a new generation after its commit, and entries of older generations are never
# read again (they expire on their own). Correct across nodes when the cache is shared (Redis).

GENERATION_TTL_SECONDS = 24 * 3600


def _generation_key(name: str) -> str:
    return f"generation:{name}"


def _new_token() -> bytes:
    return secrets.token_hex(8).encode()


async def generations(cache: Cache, *names: str) -> list[str]:
    """The current generation of each name (a fresh one where the cache has none)."""
    values = await cache.get_many(*(_generation_key(name) for name in names))
    tokens = []
    for name, value in zip(names, values, strict=True):
        token = value
        if token is None:
            token = _new_token()
            await cache.set(_generation_key(name), token, ttl_seconds=GENERATION_TTL_SECONDS)
        tokens.append(token.decode())
    return tokens


async def start_generation(cache: Cache, name: str) -> None:
    """Call after the commit that changed the data: entries computed before are left behind."""
    await cache.set(_generation_key(name), _new_token(), ttl_seconds=GENERATION_TTL_SECONDS)


async def cached_ids(
    cache: Cache,
    key: str,
    *,
    ttl_seconds: int,
    load: Callable[[int], Awaitable[list[int]]],
    limit: int,
) -> frozenset[int] | None:
    """A set of ids from the cache, else from ``load(limit + 1)`` (then cached).

    None when there are more than ``limit``: a set that large is not worth keeping in a cache,
    and the caller asks the database directly instead.
    """
    if ttl_seconds > 0 and (cached := await cache.get(key)) is not None:
        cached_list: list[int] = orjson.loads(cached)
        return frozenset(cached_list)
    ids = await load(limit + 1)
    if len(ids) > limit:
        return None
    if ttl_seconds > 0:
        await cache.set(key, orjson.dumps(ids), ttl_seconds=ttl_seconds)
    return frozenset(ids)
