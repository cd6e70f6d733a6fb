"""The cache port: a byte-string store with expiry, in-process or Redis, chosen by settings."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

import orjson
import structlog
from redis.asyncio import Redis

from agora.platform.redis_breaker import RedisBreaker, RedisUnavailable

log = structlog.get_logger("agora.cache")

T = TypeVar("T")

# how often a process with invalidations to replay tries Redis, whether requests come or not
REPLAY_INTERVAL_SECONDS = 1.0


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """Several keys in one round trip, in the order asked."""
        ...

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None: ...

    async def set_many(self, values: Mapping[str, bytes], *, ttl_seconds: int) -> None:
        """Several keys in one round trip, each with the same lifetime."""
        ...

    async def delete(self, *keys: str) -> None: ...

    async def take(self, key: str) -> bytes | None:
        """The value, deleted in the same step: of two callers at once, one gets it (a ticket
        that works once)."""
        ...

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

    async def set_many(self, values: Mapping[str, bytes], *, ttl_seconds: int) -> None:
        for key, value in values.items():
            await self.set(key, value, ttl_seconds=ttl_seconds)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def take(self, key: str) -> bytes | None:
        # nothing awaited between the read and the removal: no other task runs in between
        entry = self._entries.pop(key, None)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._entries.clear()

    def _evict_oldest(self) -> None:
        # O(1), as every write of a full cache comes here: dicts keep insertion order, so the
        # first key is the oldest write (expired or not); expired entries elsewhere go on `get`
        del self._entries[next(iter(self._entries))]


class RedisCache:
    """Shared by every node; keys are namespaced so one Redis can serve several apps.

    Redis failing is a cache miss, never an error: reads go to the database, writes are dropped.
    A ``delete`` is an invalidation (see the generations below), so one that cannot reach Redis
    is remembered and replayed before this process uses the cache again, and in the background
    until Redis takes it: a paused Redis keeps its keys, and the entries it invalidates must not
    be read when it answers again. Other nodes may serve them until the replay lands (about
    ``REPLAY_INTERVAL_SECONDS``), and never longer than the entries' own lifetime.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str = "agora:cache:",
        breaker: RedisBreaker | None = None,
        max_unreplayed: int = 10_000,
    ) -> None:
        """``max_unreplayed``: invalidations kept to replay; past this many, the whole namespace
        is dropped instead when Redis answers again."""
        self._redis = redis  # owned: closed with the cache, though the rate limiter borrows it
        self._namespace = namespace
        self._breaker = breaker if breaker is not None else RedisBreaker()
        self._max_unreplayed = max_unreplayed
        self._unreplayed: set[str] = set()
        self._forget_everything = False  # too many to remember: drop the namespace instead
        self._replayer: asyncio.Task[None] | None = None

    async def _use(self, action: Callable[[], Awaitable[T]]) -> T:
        async def replay_then_act() -> T:
            await self._replay()
            return await action()

        return await self._breaker.call("cache", replay_then_act)

    async def get(self, key: str) -> bytes | None:
        return (await self.get_many(key))[0]

    async def get_many(self, *keys: str) -> list[bytes | None]:
        try:
            values = await self._use(lambda: self._redis.mget([self._namespace + k for k in keys]))
        except RedisUnavailable:
            return [None] * len(keys)
        return [v if isinstance(v, bytes) or v is None else v.encode() for v in values]

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        with contextlib.suppress(RedisUnavailable):
            await self._use(lambda: self._redis.set(self._namespace + key, value, ex=ttl_seconds))

    async def set_many(self, values: Mapping[str, bytes], *, ttl_seconds: int) -> None:
        if not values:
            return

        async def write() -> Any:
            # MSET has no expiry: a pipeline of SETs, one round trip, not a transaction
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, value in values.items():
                    pipe.set(self._namespace + key, value, ex=ttl_seconds)
                return await pipe.execute()

        with contextlib.suppress(RedisUnavailable):
            await self._use(write)

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self._use(lambda: self._redis.delete(*(self._namespace + key for key in keys)))
        except RedisUnavailable:
            self._remember(keys)

    async def take(self, key: str) -> bytes | None:
        try:
            value = await self._use(lambda: self._redis.getdel(self._namespace + key))
        except RedisUnavailable:
            return None
        return value if isinstance(value, bytes) or value is None else str(value).encode()

    async def ping(self) -> None:
        """Asks Redis even while the breaker leaves it alone; an answer replays what waits."""
        try:
            await self._breaker.probe("ping", self._redis.ping)
            await self._breaker.probe("cache", self._replay)
        except RedisUnavailable as exc:
            raise ConnectionError("Redis does not answer") from exc.__cause__

    async def close(self) -> None:
        if self._replayer is not None:
            self._replayer.cancel()
        await self._redis.aclose()

    def _remember(self, keys: Iterable[str]) -> None:
        self._unreplayed.update(keys)
        if len(self._unreplayed) > self._max_unreplayed:
            self._unreplayed.clear()
            self._forget_everything = True
        if self._replayer is None or self._replayer.done():
            self._replayer = asyncio.create_task(self._replay_when_back())

    async def _replay(self) -> None:
        if self._forget_everything:
            async for batch in self._batches(self._redis.scan_iter(match=self._namespace + "*")):
                await self._redis.unlink(*batch)
            self._forget_everything = False
        if self._unreplayed:
            keys = list(self._unreplayed)
            await self._redis.delete(*(self._namespace + key for key in keys))
            # what was remembered meanwhile stays for the next replay
            self._unreplayed.difference_update(keys)
            log.info("cache invalidations replayed", keys=len(keys))

    @staticmethod
    async def _batches(keys: AsyncIterator[Any], size: int = 1000) -> AsyncIterator[list[Any]]:
        batch = []
        async for key in keys:
            batch.append(key)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    async def _replay_when_back(self) -> None:
        while self._unreplayed or self._forget_everything:
            await asyncio.sleep(REPLAY_INTERVAL_SECONDS)
            with contextlib.suppress(RedisUnavailable):
                await self._breaker.probe("cache", self._replay)


def create_cache(
    redis: Redis | None, *, namespace: str = "agora:cache:", breaker: RedisBreaker | None = None
) -> Cache:
    if redis is None:
        return MemoryCache()
    return RedisCache(redis, namespace=namespace, breaker=breaker)


# --- generations: invalidating every entry derived from some data with one write ----------------
#
# A read model keys its entries by the current generation of the data it was computed from;
# a write ends the generation after its commit (the next read starts a new one), and entries of
# older generations are never read again (they expire on their own). Correct across nodes when
# the cache is shared (Redis). Ending is a delete, like every other invalidation, so a cache that
# could not be told replays deletes and nothing else (RedisCache).

GENERATION_TTL_SECONDS = 24 * 3600


def generation_key(name: str) -> str:
    """Where the generation of ``name`` is kept: for a reader that asks for it in the same round
    trip as an entry keyed by it (``shop/read_cache.py``)."""
    return f"generation:{name}"


def _new_token() -> bytes:
    return secrets.token_hex(8).encode()


async def generations(cache: Cache, *names: str) -> list[str]:
    """The current generation of each name (a fresh one where the cache has none)."""
    values = await cache.get_many(*(generation_key(name) for name in names))
    tokens = []
    for name, value in zip(names, values, strict=True):
        token = value
        if token is None:
            token = _new_token()
            await cache.set(generation_key(name), token, ttl_seconds=GENERATION_TTL_SECONDS)
        tokens.append(token.decode())
    return tokens


async def start_generation(cache: Cache, name: str) -> None:
    """Call after the commit that changed the data: entries computed before are left behind.

    The generation is ended, and the next read starts the new one.
    """
    await cache.delete(generation_key(name))


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
