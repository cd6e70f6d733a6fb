"""Redis as a dependency the service can live without: a client that gives up quickly, and a
circuit breaker that the cache and the rate limiter share.

Redis only makes the service faster (the read cache) or shares state between processes (rate
limits). So when it fails, a call is answered without it, and for ``retry_seconds`` after a
failure no call tries it at all: an unreachable Redis, whether it refuses connections or accepts
them and never answers, costs one timeout per interval, not one per request. Then one call tries
it again; if it answers, everything uses it again. The change each way is logged once, and
``agora_redis_up`` / ``agora_redis_errors_total`` tell it to Prometheus.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = structlog.get_logger("agora.redis")

T = TypeVar("T")

# what a call to Redis raises when Redis, or the way to it, fails
REDIS_FAILURES: tuple[type[Exception], ...] = (RedisError, OSError)


class RedisUnavailable(Exception):
    """Redis failed just now, or failed a moment ago and is being left alone."""


# how long a command waits for a free connection of the pool (a burst queues, it does not open
# more connections); longer than a command's timeout, so that a slow Redis fails its commands
# (and trips the breaker) before waiting for the pool does
POOL_WAIT_SECONDS = 5.0


def connect_redis(url: str, *, timeout_seconds: float, pool_size: int = 32) -> Redis:
    """A client that takes a silent Redis for down after ``timeout_seconds``, and retries a
    command once, on a new connection, when its pooled connection turns out to be dead (the
    server restarted since): that costs nothing when Redis is really down, since the breaker
    stops asking. Not on a timeout, which would only double the wait.

    At most ``pool_size`` connections, opened as needed and kept: a burst of a thousand calls
    waits its turn for them instead of opening a connection each (redis-py's default pool has
    no bound; a reconnect storm's profile had a fifth of the node in opening Redis
    connections)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=POOL_WAIT_SECONDS,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,)),
    )
    return Redis.from_pool(pool)


class RedisBreaker:
    def __init__(
        self,
        *,
        retry_seconds: float = 2.0,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._up = True
        self._down_since = 0.0
        self._next_try = 0.0
        registry = registry if registry is not None else CollectorRegistry()
        self._up_gauge = Gauge(
            "agora_redis_up",
            "1 while Redis answers, 0 while the cache is bypassed and rate limits fall back",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self._up_gauge.set(1)
        self._errors = Counter(
            "agora_redis_errors",
            "Calls to Redis that failed, by what they were for",
            ["operation"],
            registry=registry,
        )

    @property
    def up(self) -> bool:
        return self._up

    def _may_try(self) -> bool:
        if self._up:
            return True
        now = self._clock()
        if now < self._next_try:
            return False
        # this call tries Redis again; the others go on without it until it reports
        self._next_try = now + self.retry_seconds
        return True

    async def call(self, operation: str, action: Callable[[], Awaitable[T]]) -> T:
        """``action()``'s result; ``RedisUnavailable`` when Redis fails or is being left alone."""
        if not self._may_try():
            raise RedisUnavailable
        return await self.probe(operation, action)

    async def probe(self, operation: str, action: Callable[[], Awaitable[T]]) -> T:
        """Like ``call``, but asks Redis even while it is being left alone (``/readyz``, the
        replay of invalidations): an answer closes the breaker."""
        try:
            result = await action()
        except REDIS_FAILURES as exc:
            self.failed(operation, exc)
            raise RedisUnavailable from exc
        self.succeeded()
        return result

    def failed(self, operation: str, exc: BaseException) -> None:
        self._errors.labels(operation).inc()
        now = self._clock()
        self._next_try = now + self.retry_seconds
        if self._up:
            self._up = False
            self._down_since = now
            self._up_gauge.set(0)
            log.warning(
                "redis unavailable",
                operation=operation,
                error=repr(exc),
                retry_in_seconds=self.retry_seconds,
            )

    def succeeded(self) -> None:
        if not self._up:
            self._up = True
            self._up_gauge.set(1)
            log.info(
                "redis available again", down_seconds=round(self._clock() - self._down_since, 3)
            )


async def stop_task(task: asyncio.Task[None], *, timeout_seconds: float = 2.0) -> None:
    """Cancels a background task that talks to Redis and waits for it, a bounded time: a
    cancellation that lands inside a redis-py call can be swallowed there, so the task must
    also check a flag of its own to end."""
    task.cancel()
    await asyncio.wait({task}, timeout=timeout_seconds)
    if not task.done():
        log.warning("a Redis task did not stop in time", task=task.get_name())
    elif not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("a Redis task ended with an error", task=task.get_name(), error=repr(exc))
