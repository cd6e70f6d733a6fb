"""The rate-limit port, on the `limits` library: a moving window in process memory or in Redis."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from agora.platform.errors import TooManyRequests


class RateLimiter:
    def __init__(
        self,
        storage: Storage,
        *,
        enabled: bool = True,
        prefix: str = "agora",
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._enabled = enabled
        self._prefix = prefix
        self._on_close = on_close

    async def hit(self, rule: str, *identifiers: str) -> None:
        """Count one attempt; raise ``TooManyRequests`` (with ``Retry-After``) past the limit."""
        if not self._enabled:
            return
        item = parse(rule)
        if await self._limiter.hit(item, self._prefix, *identifiers):
            return
        stats = await self._limiter.get_window_stats(item, self._prefix, *identifiers)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"too many attempts; try again in {retry_after} seconds", retry_after=retry_after
        )

    async def ping(self) -> None:
        if not await self._storage.check():
            raise ConnectionError("the rate-limit storage does not answer")

    async def close(self) -> None:
        if self._on_close is not None:
            await self._on_close()


def create_rate_limiter(
    redis_url: str | None, *, enabled: bool = True, prefix: str = "agora"
) -> RateLimiter:
    if redis_url is None:
        return RateLimiter(MemoryStorage(), enabled=enabled, prefix=prefix)
    uri = "async+" + redis_url if redis_url.startswith("redis") else redis_url
    # our own client lends `limits` its connection pool, so closing the limiter closes them
    redis = Redis.from_url(redis_url)
    options: dict[str, Any] = {"connection_pool": redis.connection_pool}
    storage = RedisStorage(uri, implementation="redispy", **options)
    return RateLimiter(storage, enabled=enabled, prefix=prefix, on_close=redis.aclose)
