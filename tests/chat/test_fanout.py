"""The fan-out port (``platform/fanout.py``): in-process, and Redis pub/sub between nodes.

Each Redis test builds two or three fan-outs as separate nodes on one Redis, each with its own
pub/sub connection, exactly as separate processes would be.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
import uvloop
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from agora.platform.fanout import Fanout, MemoryFanout, RedisFanout
from agora.platform.redis_breaker import RedisBreaker
from tests.support.config import TEST_REDIS_URL

needs_redis = pytest.mark.skipif(
    TEST_REDIS_URL is None, reason="set AGORA_TEST_REDIS_URL to test against a real Redis"
)
DEADLINE = 5.0

NodeFactory = Callable[[], Fanout]


class Inbox:
    """A listener that keeps what it got, and waits for it with a deadline."""

    def __init__(self) -> None:
        self.got: list[bytes] = []
        self._changed = asyncio.Event()

    def __call__(self, payload: bytes) -> None:
        self.got.append(payload)
        self._changed.set()

    async def wait_for(self, count: int) -> list[bytes]:
        async with asyncio.timeout(DEADLINE):
            while len(self.got) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.got


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
async def nodes(request: pytest.FixtureRequest) -> AsyncIterator[NodeFactory]:
    """Builds nodes on one bus: with Redis, each has its own connection; in memory, one process
    has one fan-out, so every "node" is the same object."""
    namespace = f"agora-test-{uuid.uuid4().hex}"
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            shared = MemoryFanout()
            stack.push_async_callback(shared.close)

            def memory_node() -> Fanout:
                return shared

            yield memory_node
            return

        assert TEST_REDIS_URL is not None

        def redis_node() -> Fanout:
            assert TEST_REDIS_URL is not None
            node = RedisFanout(
                TEST_REDIS_URL,
                breaker=RedisBreaker(),
                namespace=namespace,
                registry=CollectorRegistry(),
            )
            stack.push_async_callback(node.close)
            return node

        yield redis_node


async def test_a_message_reaches_every_listener_of_its_channel_and_no_other(
    nodes: NodeFactory,
) -> None:
    sender, receiver = nodes(), nodes()
    first, second, elsewhere = Inbox(), Inbox(), Inbox()
    await receiver.subscribe("room:1", first)
    await receiver.subscribe("room:1", second)
    await receiver.subscribe("room:2", elsewhere)

    await sender.publish("room:1", b"hello")
    await sender.publish("room:2", b"other")

    assert await first.wait_for(1) == [b"hello"]
    assert await second.wait_for(1) == [b"hello"]
    assert await elsewhere.wait_for(1) == [b"other"]


async def test_messages_published_together_arrive_each_on_its_channel_in_order(
    nodes: NodeFactory,
) -> None:
    """``publish_many``: one round trip for many (a thousand users' presence at once)."""
    sender, receiver = nodes(), nodes()
    one, two = Inbox(), Inbox()
    await receiver.subscribe("room:1", one)
    await receiver.subscribe("room:2", two)
    await sender.publish_many([("room:1", b"a"), ("room:2", b"b"), ("room:1", b"c")])
    await sender.publish_many([])
    assert await one.wait_for(2) == [b"a", b"c"]
    assert await two.wait_for(1) == [b"b"]


async def test_what_is_published_after_subscribe_returns_arrives_in_order(
    nodes: NodeFactory,
) -> None:
    """subscribe returns once the subscription is in force: a reader that subscribes, then reads
    what it missed elsewhere, has no gap between the two."""
    sender, receiver = nodes(), nodes()
    for round_ in range(20):
        inbox = Inbox()
        subscription = await receiver.subscribe(f"room:{round_}", inbox)
        for n in range(3):
            await sender.publish(f"room:{round_}", str(n).encode())
        assert await inbox.wait_for(3) == [b"0", b"1", b"2"]
        await subscription.close()


async def test_many_channels_joined_at_once_each_get_what_is_published_after(
    nodes: NodeFactory,
) -> None:
    """A node's clients reconnecting at once: their joins are settled together, and each
    ``subscribe`` still returns only once its channel is in force."""
    sender, receiver = nodes(), nodes()
    inboxes = [Inbox() for _ in range(200)]
    await asyncio.gather(
        *(receiver.subscribe(f"room:{n}", inbox) for n, inbox in enumerate(inboxes))
    )
    assert {f"room:{n}" for n in range(200)} <= receiver.channels()
    await sender.publish_many([(f"room:{n}", str(n).encode()) for n in range(200)])
    for n, inbox in enumerate(inboxes):
        assert await inbox.wait_for(1) == [str(n).encode()]


async def test_a_node_listens_only_while_a_local_listener_wants_the_channel(
    nodes: NodeFactory,
) -> None:
    node = nodes()
    one, two = Inbox(), Inbox()
    first = await node.subscribe("room:7", one)
    second = await node.subscribe("room:7", two)
    assert "room:7" in node.channels()

    await first.close()
    assert "room:7" in node.channels()  # one listener is left
    await second.close()
    assert "room:7" not in node.channels()

    await node.publish("room:7", b"nobody listens")
    again = Inbox()
    await node.subscribe("room:7", again)
    await node.publish("room:7", b"back")
    assert await again.wait_for(1) == [b"back"]
    assert one.got == []
    assert two.got == []


async def test_joins_and_leaves_at_once_leave_the_subscription_matching_the_listeners(
    nodes: NodeFactory,
) -> None:
    sender, node = nodes(), nodes()
    for _ in range(5):
        subscriptions = await asyncio.gather(*(node.subscribe("room:9", Inbox()) for _ in range(8)))
        closing = [subscription.close() for subscription in subscriptions[:-1]]
        last = Inbox()
        # the last listeners leave while a new one joins: the node must stay subscribed
        _, kept = await asyncio.gather(
            asyncio.gather(*closing, subscriptions[-1].close()), node.subscribe("room:9", last)
        )
        assert node.channels() >= {"room:9"}
        await sender.publish("room:9", b"still here")
        assert await last.wait_for(1) == [b"still here"]
        await kept.close()
        assert "room:9" not in node.channels()


@needs_redis
async def test_redis_subscribes_each_node_only_to_its_own_clients_rooms() -> None:
    assert TEST_REDIS_URL is not None
    namespace = f"agora-test-{uuid.uuid4().hex}"
    observer = Redis.from_url(TEST_REDIS_URL)
    node_one = RedisFanout(TEST_REDIS_URL, breaker=RedisBreaker(), namespace=namespace)
    node_two = RedisFanout(TEST_REDIS_URL, breaker=RedisBreaker(), namespace=namespace)
    channel_a, channel_b = f"{namespace}:fanout:room:a", f"{namespace}:fanout:room:b"
    try:
        subscription = await node_one.subscribe("room:a", Inbox())
        await node_two.subscribe("room:b", Inbox())
        await node_two.subscribe("room:b", Inbox())  # a second local listener: no second SUBSCRIBE
        counts = dict(await observer.pubsub_numsub(channel_a, channel_b))
        assert counts == {channel_a.encode(): 1, channel_b.encode(): 1}

        await subscription.close()
        counts = dict(await observer.pubsub_numsub(channel_a))
        assert counts == {channel_a.encode(): 0}
    finally:
        await node_one.close()
        await node_two.close()
        await observer.aclose()


async def test_what_a_node_delivered_itself_reaches_the_other_nodes_only(
    nodes: NodeFactory,
) -> None:
    """``delivered_here``: the publisher handed the message to its own listeners already, so
    the fan-out brings it to the other nodes only; what follows without it reaches everyone."""
    sender, receiver = nodes(), nodes()
    own, other = Inbox(), Inbox()
    await sender.subscribe("room:1", own)
    await receiver.subscribe("room:1", other)
    await sender.publish_many([("room:1", b"a"), ("room:1", b"b")], delivered_here=True)
    await sender.publish("room:1", b"c", delivered_here=True)
    await sender.publish("room:1", b"d")
    # in memory there is one node: the "receiver" is the sender
    elsewhere = [b"d"] if receiver is sender else [b"a", b"b", b"c", b"d"]
    assert await other.wait_for(len(elsewhere)) == elsewhere
    assert await own.wait_for(1) == [b"d"]


@needs_redis
async def test_redis_fanout_measures_the_lag_of_what_it_receives() -> None:
    assert TEST_REDIS_URL is not None
    registry = CollectorRegistry()
    node = RedisFanout(
        TEST_REDIS_URL,
        breaker=RedisBreaker(),
        namespace=f"agora-test-{uuid.uuid4().hex}",
        registry=registry,
    )
    try:
        inbox = Inbox()
        await node.subscribe("room:1", inbox)
        await node.publish("room:1", b"x")
        await inbox.wait_for(1)
        assert registry.get_sample_value("agora_fanout_lag_seconds_count") == 1
        assert registry.get_sample_value("agora_fanout_published_total") == 1
    finally:
        await node.close()


@needs_redis
async def test_redis_fanout_listens_again_after_its_connection_is_cut() -> None:
    """Redis drops the node's pub/sub connection (a restart, a failover, a network cut): the
    reader reconnects, subscribes again to every channel, and messages flow on."""
    assert TEST_REDIS_URL is not None
    admin = Redis.from_url(TEST_REDIS_URL)
    node = RedisFanout(
        TEST_REDIS_URL,
        breaker=RedisBreaker(),
        namespace=f"agora-test-{uuid.uuid4().hex}",
    )
    try:
        inbox = Inbox()
        await node.subscribe("room:1", inbox)
        await node.publish("room:1", b"before")
        await inbox.wait_for(1)

        clients = await admin.client_list()
        ours = [c["id"] for c in clients if c.get("name") == node.client_name]
        assert len(ours) == 1
        await admin.client_kill_filter(_id=ours[0])

        async with asyncio.timeout(DEADLINE):
            while len(inbox.got) < 2:
                await node.publish("room:1", b"after")  # lost while the reader is away
                await asyncio.sleep(0.05)  # polling a condition, bounded by the deadline
        assert inbox.got[-1] == b"after"
        again = [c["id"] for c in await admin.client_list() if c.get("name") == node.client_name]
        assert len(again) == 1
        assert again != ours  # a new connection
    finally:
        await node.close()
        await admin.aclose()


@needs_redis
async def test_redis_fanout_publishes_again_after_its_publishing_connection_is_cut() -> None:
    """The publishing connection is its own (``RedisPublisher``): Redis drops it, the next
    publish connects again, and messages flow on (what was in flight may be lost: at most once)."""
    assert TEST_REDIS_URL is not None
    admin = Redis.from_url(TEST_REDIS_URL)
    registry = CollectorRegistry()
    node = RedisFanout(
        TEST_REDIS_URL,
        breaker=RedisBreaker(retry_seconds=0),
        namespace=f"agora-test-{uuid.uuid4().hex}",
        registry=registry,
    )
    try:
        inbox = Inbox()
        await node.subscribe("room:1", inbox)
        await node.publish_many([("room:1", b"a"), ("room:1", b"b")])
        assert await inbox.wait_for(2) == [b"a", b"b"]
        publishing = f"{node.client_name}-pub"
        ours = [c["id"] for c in await admin.client_list() if c.get("name") == publishing]
        assert len(ours) == 1
        await admin.client_kill_filter(_id=ours[0])

        async with asyncio.timeout(DEADLINE):
            while inbox.got[-1] != b"after":
                await node.publish("room:1", b"after")  # lost until it has connected again
                await asyncio.sleep(0.05)  # polling a condition, bounded by the deadline
        again = [c["id"] for c in await admin.client_list() if c.get("name") == publishing]
        assert len(again) == 1
        assert again != ours
    finally:
        await node.close()
        await admin.aclose()


async def test_an_unreachable_redis_loses_the_publishes_without_raising() -> None:
    """At most once: a publish to a Redis nobody answers for is counted as lost, not raised to
    the send that made it, and the breaker stops asking."""
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    registry = CollectorRegistry()
    breaker = RedisBreaker(registry=registry)
    node = RedisFanout(
        f"redis://127.0.0.1:{port}/0",
        breaker=breaker,
        namespace=f"agora-test-{uuid.uuid4().hex}",
        registry=registry,
    )
    try:
        await node.publish_many([("room:1", b"a"), ("room:1", b"b")])
        await node.publish("room:1", b"c")
        assert registry.get_sample_value("agora_fanout_publish_failed_total") == 3
        assert not breaker.up
    finally:
        await node.close()


@needs_redis
def test_redis_fanout_runs_on_the_servers_event_loop() -> None:
    """The server runs on uvloop, whose transports are not asyncio's classes: both of the
    fan-out's connections work there too (two nodes, a message each way)."""
    assert TEST_REDIS_URL is not None
    url = TEST_REDIS_URL

    async def both_ways() -> list[list[bytes]]:
        namespace = f"agora-test-{uuid.uuid4().hex}"
        one = RedisFanout(url, breaker=RedisBreaker(), namespace=namespace)
        two = RedisFanout(url, breaker=RedisBreaker(), namespace=namespace)
        try:
            at_one, at_two = Inbox(), Inbox()
            await one.subscribe("room:1", at_one)
            await two.subscribe("room:1", at_two)
            await one.publish_many([("room:1", b"a"), ("room:1", b"b")], delivered_here=True)
            await two.publish("room:1", b"c", delivered_here=True)
            return [await at_one.wait_for(1), await at_two.wait_for(2)]
        finally:
            await one.close()
            await two.close()

    assert uvloop.run(both_ways()) == [[b"c"], [b"a", b"b"]]
