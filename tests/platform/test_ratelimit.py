"""Rate limits on sign-in and sign-up, and the rate-limit and cache ports they rest on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from httpx import AsyncClient, Response
from limits.aio.storage import MemoryStorage
from redis.asyncio import Redis

from agora.platform.cache import Cache, MemoryCache, RedisCache
from agora.platform.errors import ErrorKind, TooManyRequests
from agora.platform.ports import Platform
from agora.platform.ratelimit import RateLimiter, create_rate_limiter
from agora.settings import Settings
from tests.conftest import register
from tests.support.apps import ClientFor
from tests.support.config import TEST_REDIS_URL

needs_redis = pytest.mark.skipif(
    TEST_REDIS_URL is None, reason="set AGORA_TEST_REDIS_URL to test against a real Redis"
)


def assert_too_many(response: Response) -> int:
    assert response.status_code == 429
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit()
    assert 0 < int(retry_after) <= 60
    messages = response.json()["errors"]["body"]
    assert messages
    assert all(isinstance(message, str) for message in messages)
    return int(retry_after)


async def login(client: AsyncClient, password: str = "password123") -> Response:
    return await client.post(
        "/api/users/login", json={"user": {"email": "jake@example.com", "password": password}}
    )


# --- over HTTP -----------------------------------------------------------------------------------


async def test_the_fourth_login_in_a_minute_is_refused(client_for: ClientFor) -> None:
    client = await client_for(rate_limits_enabled=True, login_rate_limit="3/minute")
    await register(client, "jake")

    attempts = [await login(client, "wrong-password") for _ in range(3)]

    assert [response.status_code for response in attempts] == [401, 401, 401]
    assert_too_many(await login(client, "wrong-password"))
    # even the right password waits: the limit is on attempts, not on failures
    assert_too_many(await login(client))


async def test_successful_logins_count_too(client_for: ClientFor) -> None:
    client = await client_for(rate_limits_enabled=True, login_rate_limit="3/minute")
    await register(client, "jake")

    assert [(await login(client)).status_code for _ in range(3)] == [200, 200, 200]
    assert_too_many(await login(client))


async def test_the_fourth_registration_in_a_minute_is_refused(client_for: ClientFor) -> None:
    client = await client_for(rate_limits_enabled=True, register_rate_limit="3/minute")

    for username in ("ann", "bob", "cid"):
        await register(client, username)
    response = await client.post(
        "/api/users",
        json={"user": {"username": "dan", "email": "dan@example.com", "password": "password123"}},
    )

    assert_too_many(response)
    assert (await client.get("/api/profiles/dan")).status_code == 404


async def test_login_and_register_limits_are_counted_apart(client_for: ClientFor) -> None:
    client = await client_for(
        rate_limits_enabled=True, login_rate_limit="2/minute", register_rate_limit="2/minute"
    )
    await register(client, "jake")
    assert [(await login(client)).status_code for _ in range(2)] == [200, 200]
    assert_too_many(await login(client))

    await register(client, "jane")  # the second registration is still within its own limit


async def test_limits_are_off_when_disabled(client_for: ClientFor) -> None:
    client = await client_for(rate_limits_enabled=False, login_rate_limit="1/minute")
    await register(client, "jake")

    assert [(await login(client, "wrong")).status_code for _ in range(3)] == [401, 401, 401]


async def test_other_routes_are_not_limited(client_for: ClientFor) -> None:
    client = await client_for(rate_limits_enabled=True, login_rate_limit="1/minute")
    await register(client, "jake")
    await login(client)
    assert_too_many(await login(client))

    assert (await client.get("/api/profiles/jake")).status_code == 200
    assert (await client.get("/api/tags")).status_code == 200


# --- the RateLimiter port ------------------------------------------------------------------------


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    prefix = f"agora-test-{uuid.uuid4().hex}"
    redis_url = TEST_REDIS_URL if request.param == "redis" else None
    built = create_rate_limiter(redis_url, prefix=prefix)
    yield built
    await built.close()


async def test_limiter_allows_up_to_the_limit_then_refuses(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("3/minute", "login", "10.0.0.1")

    with pytest.raises(TooManyRequests) as refused:
        await limiter.hit("3/minute", "login", "10.0.0.1")

    assert 0 < refused.value.retry_after <= 60
    assert refused.value.kind is ErrorKind.RATE_LIMITED
    assert str(refused.value.retry_after) in refused.value.message


async def test_limiter_counts_each_identifier_apart(limiter: RateLimiter) -> None:
    await limiter.hit("1/minute", "login", "10.0.0.1")

    await limiter.hit("1/minute", "login", "10.0.0.2")
    await limiter.hit("1/minute", "register", "10.0.0.1")
    with pytest.raises(TooManyRequests):
        await limiter.hit("1/minute", "login", "10.0.0.1")


async def test_limiter_retry_after_follows_the_window(limiter: RateLimiter) -> None:
    await limiter.hit("1/hour", "login", "10.0.0.1")

    with pytest.raises(TooManyRequests) as refused:
        await limiter.hit("1/hour", "login", "10.0.0.1")

    assert 60 < refused.value.retry_after <= 3600


async def test_limiter_storage_answers(limiter: RateLimiter) -> None:
    await limiter.ping()


async def test_limiters_with_different_prefixes_share_nothing() -> None:
    storage = MemoryStorage()
    first, second = RateLimiter(storage, prefix="one"), RateLimiter(storage, prefix="two")
    await first.hit("1/minute", "login", "10.0.0.1")

    await second.hit("1/minute", "login", "10.0.0.1")
    with pytest.raises(TooManyRequests):
        await first.hit("1/minute", "login", "10.0.0.1")


async def test_a_disabled_limiter_never_refuses() -> None:
    limiter = RateLimiter(MemoryStorage(), enabled=False)

    for _ in range(5):
        await limiter.hit("1/minute", "login", "10.0.0.1")


# --- the Cache port ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        memory = MemoryCache()
        yield memory
        await memory.close()
    else:
        assert TEST_REDIS_URL is not None
        redis = RedisCache(Redis.from_url(TEST_REDIS_URL), namespace=f"agora-test-{uuid.uuid4()}:")
        yield redis
        await redis.close()


async def test_cache_get_set_delete(cache: Cache) -> None:
    assert await cache.get("greeting") is None

    await cache.set("greeting", b"hello", ttl_seconds=60)
    await cache.set("other", b"\x00\xff binary", ttl_seconds=60)

    assert await cache.get("greeting") == b"hello"
    assert await cache.get("other") == b"\x00\xff binary"
    await cache.set("greeting", b"hello again", ttl_seconds=60)
    assert await cache.get("greeting") == b"hello again"

    await cache.delete("greeting", "missing")
    assert await cache.get("greeting") is None
    assert await cache.get("other") == b"\x00\xff binary"
    await cache.delete()  # nothing to delete is fine
    await cache.ping()


async def test_memory_cache_entries_expire_after_their_ttl() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    await cache.set("short", b"1", ttl_seconds=10)
    await cache.set("long", b"2", ttl_seconds=100)

    clock.now += 9.9
    assert await cache.get("short") == b"1"
    clock.now += 0.1
    assert await cache.get("short") is None
    assert await cache.get("long") == b"2"
    clock.now += 90
    assert await cache.get("long") is None


async def test_memory_cache_set_renews_the_ttl() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    await cache.set("key", b"old", ttl_seconds=10)

    clock.now += 8
    await cache.set("key", b"new", ttl_seconds=10)
    clock.now += 8

    assert await cache.get("key") == b"new"


async def test_memory_cache_stays_within_its_size() -> None:
    clock = FakeClock()
    cache = MemoryCache(max_entries=3, clock=clock)
    await cache.set("expired", b"0", ttl_seconds=1)
    await cache.set("a", b"1", ttl_seconds=60)
    await cache.set("b", b"2", ttl_seconds=60)
    clock.now += 5

    await cache.set("c", b"3", ttl_seconds=60)  # the expired entry makes room
    assert [await cache.get(key) for key in ("a", "b", "c")] == [b"1", b"2", b"3"]

    await cache.set("d", b"4", ttl_seconds=60)  # then the oldest write goes
    assert await cache.get("a") is None
    assert [await cache.get(key) for key in ("b", "c", "d")] == [b"2", b"3", b"4"]


@needs_redis
async def test_redis_cache_sets_the_ttl_and_namespaces_keys() -> None:
    assert TEST_REDIS_URL is not None
    redis = Redis.from_url(TEST_REDIS_URL)
    namespace = f"agora-test-{uuid.uuid4()}:"
    cache = RedisCache(Redis.from_url(TEST_REDIS_URL), namespace=namespace)
    try:
        await cache.set("key", b"value", ttl_seconds=30)

        assert 0 < await redis.ttl(namespace + "key") <= 30
        assert await redis.get(namespace + "key") == b"value"
        assert await redis.exists("key") == 0
        other = RedisCache(redis, namespace=f"agora-test-{uuid.uuid4()}:")
        assert await other.get("key") is None
        # the TTL runs out now: the value is gone
        await redis.expire(namespace + "key", 0)
        assert await cache.get("key") is None
    finally:
        await cache.close()
        await redis.aclose()


@needs_redis
async def test_deployments_sharing_one_redis_keep_apart_by_namespace(
    make_settings: Callable[..., Settings],
) -> None:
    names = [f"agora-test-{uuid.uuid4().hex}" for _ in range(2)]
    first, second = (
        Platform.from_settings(make_settings(redis_namespace=name, rate_limits_enabled=True))
        for name in names
    )
    redis = Redis.from_url(str(TEST_REDIS_URL))
    try:
        await first.cache.set("greeting", b"hello", ttl_seconds=30)
        await first.rate_limiter.hit("1/minute", "login", "10.0.0.1")

        assert await redis.exists(f"{names[0]}:cache:greeting") == 1
        assert await second.cache.get("greeting") is None
        await second.rate_limiter.hit("1/minute", "login", "10.0.0.1")  # its own count
        with pytest.raises(TooManyRequests):
            await first.rate_limiter.hit("1/minute", "login", "10.0.0.1")
    finally:
        await first.close()
        await second.close()
        await redis.aclose()


async def test_memory_cache_evicts_the_least_recently_written() -> None:
    cache = MemoryCache(max_entries=3, clock=FakeClock())
    for key in ("a", "b", "c"):
        await cache.set(key, key.encode(), ttl_seconds=60)

    await cache.set("a", b"a2", ttl_seconds=60)  # rewriting a full cache's key evicts nothing
    assert [await cache.get(key) for key in ("a", "b", "c")] == [b"a2", b"b", b"c"]
    await cache.set("d", b"d", ttl_seconds=60)

    assert await cache.get("b") is None
    assert [await cache.get(key) for key in ("a", "c", "d")] == [b"a2", b"c", b"d"]
