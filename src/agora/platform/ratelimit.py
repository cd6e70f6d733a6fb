"""The rate-limit port, on the `limits` library: a moving window in process memory or in Redis."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from agora.platform.errors import TooManyRequests


class RateLimiter:
    def __init__(self, storage: Storage, *, enabled: bool = True, prefix: str = "agora") -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._enabled = enabled
        self._prefix = prefix

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


def create_rate_limiter(
    redis_url: str | None, *, enabled: bool = True, prefix: str = "agora"
) -> RateLimiter:
    if redis_url is None:
        return RateLimiter(MemoryStorage(), enabled=enabled, prefix=prefix)
    uri = "async+" + redis_url if redis_url.startswith("redis") else redis_url
    storage = RedisStorage(uri, implementation="redispy")
    return RateLimiter(storage, enabled=enabled, prefix=prefix)
