"""The platform: every outside resource the contexts use, built once from settings."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from agora.platform.cache import Cache, create_cache
from agora.platform.db import Database
from agora.platform.fanout import Fanout, create_fanout
from agora.platform.observability import Metrics
from agora.platform.presence import Presence, create_presence
from agora.platform.ratelimit import RateLimiter, create_rate_limiter
from agora.platform.redis_breaker import RedisBreaker, connect_redis
from agora.platform.storage import FileStorage, LocalFileStorage
from agora.settings import Settings


@dataclass(frozen=True, slots=True)
class Platform:
    settings: Settings
    db: Database
    cache: Cache
    rate_limiter: RateLimiter
    storage: FileStorage
    metrics: Metrics
    # the chat's messages between nodes, and who is connected anywhere
    fanout: Fanout
    presence: Presence

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        namespace = settings.redis_namespace
        db = Database(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            timeout_seconds=settings.database_timeout_seconds,
            busy_timeout_seconds=settings.database_busy_timeout_seconds,
        )
        metrics = Metrics(CollectorRegistry(), db.engine)
        # one client and one breaker for the cache and the rate limits: one Redis, one verdict
        redis, breaker = None, None
        if url := settings.redis_url:
            redis = connect_redis(
                url,
                timeout_seconds=settings.redis_timeout_seconds,
                pool_size=settings.redis_pool_size,
            )
            breaker = RedisBreaker(
                retry_seconds=settings.redis_breaker_seconds, registry=metrics.registry
            )
        return cls(
            settings=settings,
            db=db,
            cache=create_cache(redis, namespace=f"{namespace}:cache:", breaker=breaker),
            rate_limiter=create_rate_limiter(
                settings.redis_url,
                redis=redis,
                breaker=breaker,
                fallback=settings.rate_limits_fallback,
                enabled=settings.rate_limits_enabled,
                prefix=namespace,
            ),
            storage=LocalFileStorage(settings.media_dir, url_prefix=settings.media_url),
            metrics=metrics,
            fanout=create_fanout(
                settings.redis_url,
                breaker=breaker,
                namespace=namespace,
                registry=metrics.registry,
                timeout_seconds=settings.redis_timeout_seconds,
            ),
            presence=create_presence(
                redis,
                breaker=breaker,
                namespace=namespace,
                ttl_seconds=settings.chat_gateway.presence_seconds,
            ),
        )

    async def close(self) -> None:
        await self.presence.close()
        await self.fanout.close()
        await self.rate_limiter.close()
        await self.cache.close()  # and the Redis client the rate limiter borrowed
        await self.db.dispose()
