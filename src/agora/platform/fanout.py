"""The fan-out port: bytes published on a channel reach every listener of that channel, on every
node. In-process on the embedded default, Redis pub/sub when ``AGORA_REDIS_URL`` is set.

A node listens only to the channels its own listeners want: the first local listener of a
channel makes the node SUBSCRIBE, the last one to leave makes it UNSUBSCRIBE, so a node never
receives what none of its clients watches, and nodes can be added without every node receiving
every message. One pub/sub connection per node, read by one task.

Delivery is at most once (pub/sub keeps nothing for a listener that was not there, nor across a
lost connection); whoever needs every message keeps a sequence and reads the gaps from where
the messages are kept (the chat: its rooms' event log).

``subscribe`` returns once the node's subscription is in force, so what is published after it
returns reaches the listener: a reader may subscribe first, then read what it missed, without a
gap between the two.

A publisher that hands a message to its own node's listeners itself (``delivered_here``) gets
no copy back: the message carries the node's tag, and the node's reader drops it before
decoding anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram

from agora.platform.errors import Unavailable
from agora.platform.redis_breaker import (
    REDIS_FAILURES,
    RedisBreaker,
    RedisUnavailable,
)
from agora.platform.redis_wire import RedisEndpoint, RedisPublisher, RedisSubscriber

log = structlog.get_logger("agora.fanout")

# called on the reader's task for every message of its channel: must not block (queue it)
Listener = Callable[[bytes], None]

# every published payload is prefixed with its publisher's tag (zeros unless the publisher
# delivered it to its own node's listeners itself) and its publication time, so a receiver drops
# its own copies and measures the lag
_HEADER = struct.Struct("!8sd")
_NO_ORIGIN = bytes(8)
# how long `subscribe` waits for Redis to confirm a subscription
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
_SUBSCRIBE_FAILURES: tuple[type[Exception], ...] = (*REDIS_FAILURES, TimeoutError)
# the reader's pause after a lost connection, doubling up to the maximum
RECONNECT_SECONDS, RECONNECT_MAX_SECONDS = 0.1, 2.0


class Subscription(Protocol):
    async def close(self) -> None:
        """The listener gets nothing more; the node leaves the channel if it was the last."""
        ...


class Fanout(Protocol):
    async def publish(self, channel: str, payload: bytes, *, delivered_here: bool = False) -> None:
        """To every listener of ``channel`` on every node; at most once, never raises for an
        unreachable Redis (the message is lost, and counted). ``delivered_here``: the publisher
        hands it to this node's listeners itself, so only the other nodes' get it."""
        ...

    async def publish_many(
        self, messages: Sequence[tuple[str, bytes]], *, delivered_here: bool = False
    ) -> None:
        """``publish`` for each (channel, payload), in order, in one round trip."""
        ...

    async def subscribe(self, channel: str, listener: Listener) -> Subscription: ...

    def channels(self) -> frozenset[str]:
        """The channels this node listens to now."""
        ...

    async def close(self) -> None: ...


class FanoutMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "agora_fanout_published", "Messages published to the fan-out", registry=registry
        )
        self.lost = Counter(
            "agora_fanout_publish_failed",
            "Messages the fan-out could not publish (Redis unreachable): at most once",
            registry=registry,
        )
        self.received = Counter(
            "agora_fanout_received",
            "Messages this node received from the fan-out",
            registry=registry,
        )
        self.lag = Histogram(
            "agora_fanout_lag_seconds",
            "From publication to its arrival at this node (pub/sub lag)",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=registry,
        )


class _Listening:
    """The node's local listeners by channel, and the subscriptions that join and leave."""

    def __init__(self, metrics: FanoutMetrics) -> None:
        self._metrics = metrics
        self._listeners: dict[str, dict[int, Listener]] = {}
        self._joined: set[str] = set()
        # channels whose listeners came or went since the node's subscriptions last matched
        self._unsettled: set[str] = set()
        # one settling round at a time, in order: a leave and a new join of one channel must
        # reach the server in the order they were asked
        self._lock = asyncio.Lock()
        self._next_id = 0

    async def _join(self, channels: list[str]) -> None:
        """Subscribes to every one of ``channels``; returns once the server confirmed all."""
        raise NotImplementedError

    async def _leave(self, channels: list[str]) -> None:
        raise NotImplementedError

    def channels(self) -> frozenset[str]:
        return frozenset(self._joined)

    async def subscribe(self, channel: str, listener: Listener) -> Subscription:
        self._next_id += 1
        key = self._next_id
        self._listeners.setdefault(channel, {})[key] = listener
        if channel not in self._joined:
            try:
                await self._settle(channel)
            except BaseException:
                await self._remove(channel, key)
                raise
        return _Handle(self, channel, key)

    async def _remove(self, channel: str, key: int) -> None:
        listeners = self._listeners.get(channel)
        if listeners is None or listeners.pop(key, None) is None:
            return
        if not listeners:
            del self._listeners[channel]
            await self._settle(channel)

    async def _settle(self, channel: str) -> None:
        """Makes the node's subscriptions match whether anyone here listens to ``channel``, and
        to every other channel that changed meanwhile: the calls that wait while a round is at
        the server are settled together in the next one (a thousand clients reconnecting at
        once are a few SUBSCRIBE commands of many channels, not a thousand round trips one
        after another)."""
        self._unsettled.add(channel)
        async with self._lock:
            # this channel too: a round that settled it may have failed
            changed = self._unsettled | {channel}
            self._unsettled = set()
            joins = [c for c in changed if c in self._listeners and c not in self._joined]
            leaves = [c for c in changed if c not in self._listeners and c in self._joined]
            if leaves:
                self._joined.difference_update(leaves)
                await self._leave(leaves)
            if joins:
                await self._join(joins)
                self._joined.update(joins)

    def _deliver(self, channel: str, data: bytes) -> None:
        if len(data) < _HEADER.size:
            return
        self._metrics.received.inc()
        _, published_at = _HEADER.unpack_from(data)
        self._metrics.lag.observe(max(0.0, time.time() - published_at))
        payload = data[_HEADER.size :]
        # a copy: a listener may unsubscribe (or another subscribe) while we go through them
        for listener in tuple(self._listeners.get(channel, {}).values()):
            try:
                listener(payload)
            except Exception:
                log.exception("fan-out listener failed", channel=channel)


class _Handle:
    def __init__(self, listening: _Listening, channel: str, key: int) -> None:
        self._listening, self._channel, self._key = listening, channel, key

    async def close(self) -> None:
        await self._listening._remove(self._channel, self._key)


def _stamped(payload: bytes, origin: bytes = _NO_ORIGIN) -> bytes:
    return _HEADER.pack(origin, time.time()) + payload


class MemoryFanout(_Listening):
    """One process: publishing is calling the listeners, on the publisher's task."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        super().__init__(FanoutMetrics(registry if registry is not None else CollectorRegistry()))

    async def _join(self, channels: list[str]) -> None:
        return None

    async def _leave(self, channels: list[str]) -> None:
        return None

    async def publish(self, channel: str, payload: bytes, *, delivered_here: bool = False) -> None:
        self._metrics.published.inc()
        if channel in self._joined and not delivered_here:  # the only node
            self._deliver(channel, _stamped(payload))

    async def publish_many(
        self, messages: Sequence[tuple[str, bytes]], *, delivered_here: bool = False
    ) -> None:
        for channel, payload in messages:
            await self.publish(channel, payload, delivered_here=delivered_here)

    async def close(self) -> None:
        self._listeners.clear()
        self._joined.clear()


class RedisFanout(_Listening):
    """Redis pub/sub, spoken directly (``redis_wire``): publishes on a connection of its own (a
    batch is one write; through the breaker, so an unreachable Redis costs no request more than
    a lost message), listens on another, whose messages are handed to the listeners as they
    are parsed.

    The listening connection has no read timeout (it is idle whenever nobody talks) and comes
    back on its own after Redis restarts, subscribed again to every channel the node listens
    to. What was published meanwhile is lost, as pub/sub always may.
    """

    def __init__(
        self,
        url: str,
        *,
        breaker: RedisBreaker,
        namespace: str,
        registry: CollectorRegistry | None = None,
        connect_timeout_seconds: float = 2.0,
        publish_timeout_seconds: float = 2.0,
    ) -> None:
        super().__init__(FanoutMetrics(registry if registry is not None else CollectorRegistry()))
        self._breaker = breaker
        self._prefix = f"{namespace}:fanout:"
        self._prefix_bytes = self._prefix.encode()
        # a channel of this node alone: where a message for this node would go
        node = uuid.uuid4().hex
        # what this node's own copies start with (never zeros: a version 4 UUID has a 4 in them)
        self._origin = bytes.fromhex(node)[: len(_NO_ORIGIN)]
        self.node_channel = f"node:{node}"
        self.client_name = f"{namespace}-fanout-{node}"  # CLIENT LIST tells the nodes apart
        endpoint = RedisEndpoint(url, connect_timeout_seconds=connect_timeout_seconds)
        self._publisher = RedisPublisher(
            endpoint, timeout_seconds=publish_timeout_seconds, client_name=f"{self.client_name}-pub"
        )
        self._subscriber = RedisSubscriber(
            endpoint,
            client_name=self.client_name,
            on_message=self._on_message,
            on_subscribed=self._on_subscribed,
            channels=self._subscribed_channels,
            reconnect_seconds=RECONNECT_SECONDS,
            reconnect_max_seconds=RECONNECT_MAX_SECONDS,
        )
        self._confirmations: dict[str, asyncio.Future[None]] = {}

    def _tag(self, delivered_here: bool) -> bytes:
        return self._origin if delivered_here else _NO_ORIGIN

    async def publish(self, channel: str, payload: bytes, *, delivered_here: bool = False) -> None:
        await self.publish_many([(channel, payload)], delivered_here=delivered_here)

    async def publish_many(
        self, messages: Sequence[tuple[str, bytes]], *, delivered_here: bool = False
    ) -> None:
        if not messages:
            return
        origin = self._tag(delivered_here)
        commands = [
            ((self._prefix + channel).encode(), _stamped(payload, origin))
            for channel, payload in messages
        ]
        try:
            await self._breaker.call("fanout", lambda: self._publisher.publish_many(commands))
        except RedisUnavailable:
            self._metrics.lost.inc(len(messages))
            return
        self._metrics.published.inc(len(messages))

    def _subscribed_channels(self) -> list[bytes]:
        """What a new listening connection subscribes to: the node's channel (a connection
        that subscribes to nothing would not be told apart from any other) and every joined
        one."""
        return [(self._prefix + c).encode() for c in (self.node_channel, *self._joined)]

    async def _join(self, channels: list[str]) -> None:
        loop = asyncio.get_running_loop()
        confirmed = {channel: loop.create_future() for channel in channels}
        self._confirmations.update(confirmed)
        try:
            await self._subscriber.subscribe([(self._prefix + c).encode() for c in channels])
            # Redis answers in order: once it confirms, what is published later reaches us
            await asyncio.wait_for(
                asyncio.shield(asyncio.gather(*confirmed.values())), SUBSCRIBE_TIMEOUT_SECONDS
            )
        except _SUBSCRIBE_FAILURES as exc:
            log.warning("fan-out subscription failed", channels=len(channels), error=repr(exc))
            raise Unavailable("the fan-out is unreachable", retry_after=1) from exc
        finally:
            for channel, future in confirmed.items():
                self._confirmations.pop(channel, None)
                future.cancel()  # a confirmation that never came: nobody waits for it now

    async def _leave(self, channels: list[str]) -> None:
        with contextlib.suppress(*REDIS_FAILURES):
            self._subscriber.unsubscribe([(self._prefix + c).encode() for c in channels])

    def _on_message(self, channel: bytes, data: bytes) -> None:
        if data.startswith(self._origin):
            return  # this node's own, handed to its listeners when it was published
        self._deliver(channel[len(self._prefix_bytes) :].decode(), data)

    def _on_subscribed(self, channel: bytes) -> None:
        confirmed = self._confirmations.get(channel[len(self._prefix_bytes) :].decode())
        if confirmed is not None and not confirmed.done():
            confirmed.set_result(None)

    async def close(self) -> None:
        await self._subscriber.close()
        await self._publisher.close()
        self._listeners.clear()
        self._joined.clear()


def create_fanout(
    redis_url: str | None,
    *,
    breaker: RedisBreaker | None,
    namespace: str,
    registry: CollectorRegistry,
    timeout_seconds: float = 2.0,
) -> Fanout:
    if redis_url is None or breaker is None:
        return MemoryFanout(registry=registry)
    return RedisFanout(
        redis_url,
        breaker=breaker,
        namespace=namespace,
        registry=registry,
        publish_timeout_seconds=timeout_seconds,
    )
