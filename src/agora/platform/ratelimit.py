"""The rate-limit port, on the `limits` library: a moving window in process memory or in Redis.

While Redis is unreachable the limits follow ``fallback`` (``AGORA_RATE_LIMITS_FALLBACK``):
``memory`` counts in this process alone (the limit still holds against one client hitting one
process; with N processes a client may get up to N times the limit), ``open`` lets every attempt
through, ``closed`` refuses them with 503 and ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from agora.platform.errors import TooManyRequests, Unavailable
from agora.platform.redis_breaker import RedisBreaker, RedisUnavailable
from agora.settings import RateLimitFallback


class RateLimiter:
    def __init__(
        self,
        storage: Storage,
        *,
        enabled: bool = True,
        prefix: str = "agora",
        on_close: Callable[[], Awaitable[None]] | None = None,
        breaker: RedisBreaker | None = None,
        fallback: RateLimitFallback = RateLimitFallback.MEMORY,
    ) -> None:
        """``breaker``: the storage is Redis, and may be down; then ``fallback`` applies."""
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._enabled = enabled
        self._prefix = prefix
        self._on_close = on_close
        self._breaker = breaker
        self._fallback = fallback
        self._local = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, rule: str, *identifiers: str) -> None:
        """Count one attempt; raise ``TooManyRequests`` (with ``Retry-After``) past the limit."""
        if not self._enabled:
            return
        item = parse(rule)
        if self._breaker is None:
            retry_after = await self._count(self._limiter, item, identifiers)
        else:
            try:
                retry_after = await self._breaker.call(
                    "rate_limit", lambda: self._count(self._limiter, item, identifiers)
                )
            except RedisUnavailable:
                retry_after = await self._count_without_storage(item, identifiers)
        if retry_after is not None:
            raise TooManyRequests(
                f"too many attempts; try again in {retry_after} seconds", retry_after=retry_after
            )

    async def _count(
        self, limiter: MovingWindowRateLimiter, item: RateLimitItem, identifiers: tuple[str, ...]
    ) -> int | None:
        """None if the attempt is within the limit, else the seconds until it would be."""
        if await limiter.hit(item, self._prefix, *identifiers):
            return None
        stats = await limiter.get_window_stats(item, self._prefix, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def _count_without_storage(
        self, item: RateLimitItem, identifiers: tuple[str, ...]
    ) -> int | None:
        if self._fallback is RateLimitFallback.OPEN:
            return None
        if self._fallback is RateLimitFallback.CLOSED:
            assert self._breaker is not None
            retry_after = max(1, math.ceil(self._breaker.retry_seconds))
            raise Unavailable(
                f"cannot be checked for now; try again in {retry_after} seconds",
                retry_after=retry_after,
            )
        return await self._count(self._local, item, identifiers)

    async def ping(self) -> None:
        if not await self._storage.check():
            raise ConnectionError("the rate-limit storage does not answer")

    async def close(self) -> None:
        if self._on_close is not None:
            await self._on_close()


def create_rate_limiter(
    redis_url: str | None,
    *,
    redis: Redis | None = None,
    breaker: RedisBreaker | None = None,
    fallback: RateLimitFallback = RateLimitFallback.MEMORY,
    enabled: bool = True,
    prefix: str = "agora",
) -> RateLimiter:
    """``redis``: a client to borrow the connection pool of (its owner closes it); without one,
    the limiter makes its own from ``redis_url`` and closes it."""
    if redis_url is None:
        return RateLimiter(MemoryStorage(), enabled=enabled, prefix=prefix)
    uri = "async+" + redis_url if redis_url.startswith("redis") else redis_url
    owned = redis is None
    client = Redis.from_url(redis_url) if redis is None else redis
    # typed as scalars in `limits`, though a pool is documented
    options: dict[str, Any] = {"connection_pool": client.connection_pool}
    storage = RedisStorage(uri, implementation="redispy", **options)
    return RateLimiter(
        storage,
        enabled=enabled,
        prefix=prefix,
        on_close=client.aclose if owned else None,
        breaker=breaker,
        fallback=fallback,
    )
