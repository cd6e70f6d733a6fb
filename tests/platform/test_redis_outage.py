"""A Redis outage is not an outage: reads bypass the cache, committed writes answer 2xx, rate
limits follow ``AGORA_RATE_LIMITS_FALLBACK``, ``/readyz`` says "degraded", and once Redis answers
again nothing stale is served and no request fails on a connection pooled before.

Each test uses a ``redis-server`` of the module's own on a free port, without persistence, and
stops it for real: SIGKILL and a restart on the same port (it comes back empty), or SIGSTOP and
SIGCONT (it comes back with every key it held, stale entries included).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from httpx import AsyncClient, Response
from redis.asyncio import Redis

from agora.platform.cache import RedisCache
from agora.platform.redis_breaker import RedisBreaker, connect_redis
from tests.conftest import auth, create_article, register
from tests.support.apps import ClientFor
from tests.support.metrics import samples
from tests.support.services import RedisServer, redis_server

# Long enough that no test sees the breaker let a request try Redis again: recovery comes through
# /readyz, which always asks Redis, or through the background replay of invalidations.
BREAKER_SECONDS = 600
# a paused Redis answers nothing: each attempt costs this long
TIMEOUT_SECONDS = 0.2
# the background replay tries every second or so
REPLAY_DEADLINE_SECONDS = 10.0


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def redis(own_redis: RedisServer) -> RedisServer:
    """The module's Redis, restarted empty (and running, not paused) for each test."""
    own_redis.kill()
    own_redis.start()
    return own_redis


async def client_on(client_for: ClientFor, redis: RedisServer, **settings: Any) -> AsyncClient:
    return await client_for(
        redis_url=redis.url,
        redis_timeout_seconds=TIMEOUT_SECONDS,
        redis_breaker_seconds=BREAKER_SECONDS,
        access_log=False,
        **settings,
    )


def log_events(capsys: pytest.CaptureFixture[str]) -> list[str]:
    lines = capsys.readouterr().out.splitlines()
    return [json.loads(line)["event"] for line in lines if line.startswith("{")]


def metric(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def titles(client: AsyncClient, token: str | None = None) -> list[str]:
    response = await client.get("/api/articles", headers=auth(token) if token else {})
    assert response.status_code == 200, response.text
    return sorted(article["title"] for article in response.json()["articles"])


def assert_ok(response: Response) -> dict[str, Any]:
    assert response.is_success, f"{response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def test_a_killed_redis_bypasses_the_cache_then_serves_again_after_a_restart(
    client_for: ClientFor, redis: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await client_on(client_for, redis)
    token = await register(client, "jake")
    await create_article(client, token, title="Before")
    assert await titles(client) == ["Before"]  # cached now
    log_events(capsys)

    redis.kill()
    created = await client.post(
        "/api/articles",
        json={"article": {"title": "During", "description": "d", "body": "b"}},
        headers=auth(token),
    )
    during = [await titles(client), await titles(client, token)]
    me = await client.get("/api/user", headers=auth(token))
    tags = await client.get("/api/tags")
    ready = await client.get("/readyz")
    metrics_during = (await client.get("/metrics")).text

    assert created.status_code == 201, created.text
    assert during == [["Before", "During"]] * 2
    assert me.status_code == 200
    assert tags.status_code == 200
    # the node still serves: ready to take traffic, degraded, and it says what is missing
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["redis"].startswith("unavailable")
    assert metric(metrics_during, "agora_redis_up") == 0
    # the breaker: one cache call found Redis down, the others left it alone
    assert metric(metrics_during, "agora_redis_errors_total", operation="cache") == 1
    # said once, at the transition, not once per request
    assert log_events(capsys).count("redis unavailable") == 1

    redis.start()  # same port, empty: every pooled connection to the old process is dead
    ready_after = await client.get("/readyz")
    after = [await titles(client), await titles(client, token), await titles(client)]
    metrics_after = (await client.get("/metrics")).text

    assert ready_after.status_code == 200
    assert ready_after.json()["status"] == "ready"
    assert ready_after.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert after == [["Before", "During"]] * 3
    assert metric(metrics_after, "agora_redis_up") == 1
    assert log_events(capsys).count("redis available again") == 1


async def test_after_a_quick_restart_no_call_fails_on_a_connection_pooled_before(
    client_for: ClientFor, redis: RedisServer
) -> None:
    client = await client_on(client_for, redis)
    token = await register(client, "jake")
    await create_article(client, token)
    await asyncio.gather(*(titles(client, token) for _ in range(4)))  # a few pooled connections

    redis.kill()
    redis.start()  # before any request noticed: every pooled connection is to a dead process
    after = await asyncio.gather(*(titles(client, token) for _ in range(4)))
    metrics = (await client.get("/metrics")).text

    assert after == [["How to train your dragon"]] * 4
    # each call got through on a new connection: none failed, nothing fell back
    assert metric(metrics, "agora_redis_errors_total", operation="cache") == 0
    assert metric(metrics, "agora_redis_up") == 1


async def test_writes_made_while_redis_was_paused_are_seen_when_it_resumes(
    client_for: ClientFor, redis: RedisServer
) -> None:
    client = await client_on(client_for, redis)
    jake = await register(client, "jake")
    ann = await register(client, "ann")
    slug = (await create_article(client, jake, title="Old title"))["slug"]

    # everything ann's reads depend on is in Redis now: the page, the article, her favorites,
    # whom she follows, jake's profile
    async def as_ann() -> dict[str, Any]:
        article: dict[str, Any] = assert_ok(
            await client.get(f"/api/articles/{slug}", headers=auth(ann))
        )["article"]
        return article

    before = await as_ann()
    assert (before["title"], before["favorited"], before["author"]["following"]) == (
        "Old title",
        False,
        False,
    )
    assert await titles(client, ann) == ["Old title"]

    redis.pause()  # keeps every key, answers nothing
    changed = [
        await client.put(
            f"/api/articles/{slug}",
            json={"article": {"body": "New body"}},
            headers=auth(jake),
        ),
        await client.put("/api/user", json={"user": {"bio": "New bio"}}, headers=auth(jake)),
        await client.post(f"/api/articles/{slug}/favorite", headers=auth(ann)),
        await client.post("/api/profiles/jake/follow", headers=auth(ann)),
    ]
    during = await as_ann()
    redis.resume()
    ready = await client.get("/readyz")
    after = [await as_ann(), await as_ann()]
    page = assert_ok(await client.get("/api/articles", headers=auth(ann)))["articles"]

    for response in changed:
        assert_ok(response)  # committed, so 2xx, though the cache could not be told
    assert ready.json()["status"] == "ready"
    for seen in (during, *after, *page):
        assert seen["favorited"] is True
        assert seen["favoritesCount"] == 1
        assert seen["author"]["following"] is True
        assert seen["author"]["bio"] == "New bio"
    assert [seen["body"] for seen in (during, *after)] == ["New body"] * 3


async def test_a_node_that_could_not_invalidate_replays_it_in_the_background(
    client_for: ClientFor, redis: RedisServer
) -> None:
    # two apps on one Redis, as two nodes; the reader never notices the outage, so only the
    # writer's replay can retire what it cached, and the writer gets no request to do it in
    writer = await client_on(client_for, redis, redis_namespace="two-nodes")
    reader = await client_on(client_for, redis, redis_namespace="two-nodes", clean=False)
    token = await register(writer, "jake")
    slug = (await create_article(writer, token))["slug"]
    assert assert_ok(await reader.get(f"/api/articles/{slug}"))["article"]["body"] != "New body"

    redis.pause()
    await writer.get("/readyz")  # finds Redis down: the writer leaves it alone from now on
    updated = await writer.put(
        f"/api/articles/{slug}", json={"article": {"body": "New body"}}, headers=auth(token)
    )
    redis.resume()

    assert_ok(updated)
    assert await body_becomes(reader, slug, "New body")


async def body_becomes(client: AsyncClient, slug: str, body: str) -> bool:
    deadline = time.monotonic() + REPLAY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if (await client.get(f"/api/articles/{slug}")).json()["article"]["body"] == body:
            return True
        await asyncio.sleep(0.05)  # polling a condition, bounded by the deadline
    return False


async def test_too_many_invalidations_to_remember_drop_the_whole_namespace(
    redis: RedisServer,
) -> None:
    cache = RedisCache(
        connect_redis(redis.url, timeout_seconds=TIMEOUT_SECONDS),
        namespace="mine:",
        breaker=RedisBreaker(retry_seconds=BREAKER_SECONDS),
        max_unreplayed=2,
    )
    async with Redis.from_url(redis.url) as direct:
        for key in ("a", "b", "c", "untouched"):
            await cache.set(key, b"old", ttl_seconds=60)
        await direct.set("theirs:a", b"another app's")

        redis.pause()
        assert await cache.get("a") is None  # finds Redis down: left alone from now on
        await cache.delete("a", "b", "c")  # one more than it keeps
        redis.resume()
        await cache.ping()

        assert await cache.get_many("a", "b", "c", "untouched") == [None] * 4
        assert await direct.get("theirs:a") == b"another app's"
    await cache.close()


LOGIN = {"user": {"email": "jake@example.com", "password": "password123"}}


@pytest.mark.parametrize(
    ("fallback", "expected"),
    [
        # each process counts on its own: the limit still holds against one client
        ("memory", [200, 200, 429]),
        ("open", [200, 200, 200]),
        ("closed", [503, 503, 503]),
    ],
)
async def test_rate_limits_follow_the_fallback_while_redis_is_down(
    client_for: ClientFor, redis: RedisServer, fallback: str, expected: list[int]
) -> None:
    client = await client_on(
        client_for,
        redis,
        rate_limits_enabled=True,
        rate_limits_fallback=fallback,
        login_rate_limit="2/minute",
    )
    await register(client, "jake")

    redis.kill()
    attempts = [await client.post("/api/users/login", json=LOGIN) for _ in expected]

    assert [response.status_code for response in attempts] == expected
    for response in attempts:
        if response.status_code in (429, 503):
            assert int(response.headers["retry-after"]) > 0
            assert response.json()["errors"]["body"]


async def test_the_memory_fallback_still_limits_registrations(
    client_for: ClientFor, redis: RedisServer
) -> None:
    client = await client_on(
        client_for, redis, rate_limits_enabled=True, register_rate_limit="1/minute"
    )
    redis.kill()

    await register(client, "ann")
    refused = await client.post(
        "/api/users",
        json={"user": {"username": "bob", "email": "bob@example.com", "password": "password123"}},
    )

    assert refused.status_code == 429
    assert (await client.get("/api/profiles/bob")).status_code == 404


async def test_a_burst_of_calls_waits_for_the_pool_instead_of_opening_a_connection_each(
    redis: RedisServer,
) -> None:
    cache = RedisCache(
        # a generous timeout: this is about the pool, not a slow Redis (the machine may be busy)
        connect_redis(redis.url, timeout_seconds=5.0, pool_size=4),
        namespace="burst:",
        breaker=RedisBreaker(retry_seconds=BREAKER_SECONDS),
    )
    await cache.set("key", b"value", ttl_seconds=60)
    answers = await asyncio.gather(*(cache.get("key") for _ in range(300)))
    assert answers == [b"value"] * 300  # nobody failed for want of a connection
    async with Redis.from_url(redis.url) as direct:
        clients = (await direct.info("clients"))["connected_clients"]
    assert 1 <= clients - 1 <= 4  # the pool's connections, besides this one
    await cache.close()
