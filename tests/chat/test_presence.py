"""The presence port (``platform/presence.py``): in-process, and Redis shared by nodes.

A node that dies is simulated with a clock: the surviving node's clock runs past the dead node's
last heartbeat, so nothing waits for real time to pass.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from agora.platform.presence import MemoryPresence, Presence, RedisPresence
from agora.platform.redis_breaker import RedisBreaker
from tests.support.config import TEST_REDIS_URL

needs_redis = pytest.mark.skipif(
    TEST_REDIS_URL is None, reason="set AGORA_TEST_REDIS_URL to test against a real Redis"
)
TTL = 15.0

NodeFactory = Callable[..., Presence]


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
async def presence(request: pytest.FixtureRequest) -> AsyncIterator[Presence]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    assert TEST_REDIS_URL is not None
    redis = Redis.from_url(TEST_REDIS_URL)
    node = RedisPresence(
        redis, breaker=RedisBreaker(), namespace=f"agora-test-{uuid.uuid4().hex}", ttl_seconds=TTL
    )
    yield node
    await node.close()
    await redis.aclose()


async def test_a_user_is_online_from_the_first_connection_to_the_last(presence: Presence) -> None:
    assert await presence.connected(1) is True  # came online
    assert await presence.connected(1) is False  # a second tab
    assert await presence.online([1, 2]) == {1}

    assert await presence.disconnected(1) is False  # one tab is left
    assert await presence.online([1]) == {1}
    assert await presence.disconnected(1) is True  # went offline
    assert await presence.online([1]) == set()


@pytest.fixture
async def redis_nodes() -> AsyncIterator[Callable[..., RedisPresence]]:
    assert TEST_REDIS_URL is not None
    namespace = f"agora-test-{uuid.uuid4().hex}"
    built: list[RedisPresence] = []
    clients: list[Redis] = []

    def node(clock: Callable[[], float] = time.time) -> RedisPresence:
        assert TEST_REDIS_URL is not None
        redis = Redis.from_url(TEST_REDIS_URL)
        clients.append(redis)
        made = RedisPresence(
            redis, breaker=RedisBreaker(), namespace=namespace, ttl_seconds=TTL, clock=clock
        )
        built.append(made)
        return made

    yield node
    for made in built:
        await made.close()
    for redis in clients:
        await redis.aclose()


@needs_redis
async def test_presence_holds_across_nodes(redis_nodes: Callable[..., RedisPresence]) -> None:
    one, two = redis_nodes(), redis_nodes()
    assert await one.connected(5) is True
    assert await two.connected(5) is False  # online already, through node one
    assert await two.online([5]) == {5}

    assert await one.disconnected(5) is False  # still connected to node two
    assert await one.online([5]) == {5}
    assert await two.disconnected(5) is True
    assert await one.online([5]) == set()


@needs_redis
async def test_a_dead_nodes_users_go_offline_within_its_lifetime(
    redis_nodes: Callable[..., RedisPresence],
) -> None:
    later = 0.0

    def survivor_clock() -> float:
        return time.time() + later

    dead, survivor = redis_nodes(), redis_nodes(clock=survivor_clock)
    reported: list[list[int]] = []

    async def on_offline(users: list[int]) -> None:
        reported.append(users)

    await dead.connected(7)
    await dead.connected(8)
    await survivor.connected(8)  # 8 has a second connection on a live node
    await dead.heartbeat(on_offline)  # the dead node's last heartbeat
    await survivor.heartbeat(on_offline)
    assert reported == []

    later = TTL + 1  # the dead node never beats again; the survivor does
    await survivor.heartbeat(on_offline)
    assert reported == [[7]]
    assert await survivor.online([7, 8]) == {8}

    await survivor.heartbeat(on_offline)
    assert reported == [[7]]  # reported once
