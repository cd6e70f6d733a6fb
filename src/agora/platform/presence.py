"""The presence port: which users have at least one live connection, on any node.

A node says when a user's connections on it go from none to some (``connected``) and back
(``disconnected``); each answer says whether that changed the user's presence everywhere
(the first connection anywhere: online; the last one: offline), so the caller can tell others.

In-process on the embedded default; Redis when ``AGORA_REDIS_URL`` is set:

- ``{ns}:presence:user:{id}``: a sorted set of the nodes the user is connected to, each scored
  with the moment its entry lapses; a user is online while one entry has not lapsed.
- ``{ns}:presence:nodes``: every node, scored with the moment its heartbeat lapses.
- ``{ns}:presence:node:{node}``: the users a node holds.

A node refreshes its entries every third of ``ttl_seconds``. A node that dies stops refreshing:
its entries lapse (so ``online`` says offline) within ``ttl_seconds``, and the next heartbeat of
any other node claims the dead node (a ZREM only one node wins), takes its users out and reports
those who have no other node left, through ``on_offline``: within about ``ttl_seconds`` plus a
third of it, every node's clients hear of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import structlog
from redis.asyncio import Redis

from agora.platform.redis_breaker import REDIS_FAILURES, RedisBreaker, RedisUnavailable, stop_task

log = structlog.get_logger("agora.presence")

_FAILURES: tuple[type[Exception], ...] = (*REDIS_FAILURES, RedisUnavailable)

# called with users who went offline because the node that held them died
OfflineHandler = Callable[[list[int]], Awaitable[None]]


class Presence(Protocol):
    async def connected(self, user_id: int) -> bool:
        """One more connection of ``user_id`` on this node; True if the user was offline."""
        ...

    async def disconnected(self, user_id: int) -> bool:
        """One connection fewer; True if the user has none left anywhere (now offline)."""
        ...

    async def online(self, user_ids: Iterable[int]) -> set[int]: ...

    def start(self, on_offline: OfflineHandler) -> None:
        """Heartbeats (and reports of dead nodes' users) from now until ``close``."""
        ...

    async def close(self) -> None: ...


class MemoryPresence:
    """One process: the connections it counts are all there are."""

    def __init__(self) -> None:
        self._connections: dict[int, int] = {}

    async def connected(self, user_id: int) -> bool:
        count = self._connections.get(user_id, 0)
        self._connections[user_id] = count + 1
        return count == 0

    async def disconnected(self, user_id: int) -> bool:
        count = self._connections.get(user_id, 0) - 1
        if count > 0:
            self._connections[user_id] = count
            return False
        self._connections.pop(user_id, None)
        return count == 0

    async def online(self, user_ids: Iterable[int]) -> set[int]:
        return {user_id for user_id in user_ids if user_id in self._connections}

    def start(self, on_offline: OfflineHandler) -> None:
        return None

    async def close(self) -> None:
        self._connections.clear()


# KEYS: the user's set, the node's set; ARGV: node, now, lapses at, key lifetime, user.
# Returns how many nodes hold the user now.
_JOIN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return redis.call('ZCARD', KEYS[1])
"""
# KEYS: the user's set, the node's set; ARGV: node, now, user. Returns the nodes left.
_LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
return redis.call('ZCARD', KEYS[1])
"""


class RedisPresence:
    def __init__(
        self,
        redis: Redis,
        *,
        breaker: RedisBreaker,
        namespace: str,
        ttl_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis  # borrowed: the platform closes it
        self._breaker = breaker
        self._prefix = f"{namespace}:presence:"
        self._ttl = ttl_seconds
        self._clock = clock
        self.node = uuid.uuid4().hex
        self._local: dict[int, int] = {}
        self._heart: asyncio.Task[None] | None = None
        self._stopping = False
        self._join = redis.register_script(_JOIN)
        self._leave = redis.register_script(_LEAVE)

    def _user_key(self, user_id: int) -> str:
        return f"{self._prefix}user:{user_id}"

    def _node_key(self, node: str) -> str:
        return f"{self._prefix}node:{node}"

    @property
    def _nodes_key(self) -> str:
        return f"{self._prefix}nodes"

    def _key_lifetime(self) -> int:
        return max(2, int(self._ttl * 2))

    async def connected(self, user_id: int) -> bool:
        count = self._local.get(user_id, 0)
        self._local[user_id] = count + 1
        if count:
            return False
        now = self._clock()
        try:
            nodes = await self._breaker.call(
                "presence",
                lambda: self._join(
                    keys=[self._user_key(user_id), self._node_key(self.node)],
                    args=[self.node, now, now + self._ttl, self._key_lifetime(), user_id],
                ),
            )
        except RedisUnavailable:
            return False  # nobody is told; the next heartbeat writes the entry
        return int(nodes) == 1

    async def disconnected(self, user_id: int) -> bool:
        count = self._local.get(user_id, 0) - 1
        if count > 0:
            self._local[user_id] = count
            return False
        self._local.pop(user_id, None)
        if count < 0:
            return False
        try:
            nodes = await self._breaker.call(
                "presence",
                lambda: self._leave(
                    keys=[self._user_key(user_id), self._node_key(self.node)],
                    args=[self.node, self._clock(), user_id],
                ),
            )
        except RedisUnavailable:
            return False  # the entry lapses on its own
        return int(nodes) == 0

    async def online(self, user_ids: Iterable[int]) -> set[int]:
        users = list(user_ids)
        if not users:
            return set()
        now = self._clock()

        async def ask() -> list[object]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in users:
                    pipe.zcount(self._user_key(user_id), f"({now}", "+inf")
                result: list[object] = await pipe.execute()
                return result

        try:
            counts = await self._breaker.call("presence", ask)
        except RedisUnavailable:
            return {user_id for user_id in users if user_id in self._local}
        return {
            user_id
            for user_id, count in zip(users, counts, strict=True)
            if isinstance(count, int) and count > 0
        }

    def start(self, on_offline: OfflineHandler) -> None:
        if self._heart is None:
            self._heart = asyncio.create_task(self._beat(on_offline), name="presence heartbeat")

    async def _beat(self, on_offline: OfflineHandler) -> None:
        # not `while True`: a cancellation that arrives inside a Redis call may be swallowed
        # there (redis-py turns it into a connection error), so `close` also says to stop
        while not self._stopping:
            try:
                await self.heartbeat(on_offline)
            except asyncio.CancelledError:
                raise
            except _FAILURES as exc:
                log.warning("presence heartbeat failed", error=repr(exc))
            except Exception:
                log.exception("presence heartbeat failed")
            if not self._stopping:
                await asyncio.sleep(self._ttl / 3)

    async def heartbeat(self, on_offline: OfflineHandler) -> None:
        """Refreshes this node's entries, then ends the dead nodes' (at most one node each)."""
        now = self._clock()
        lapses = now + self._ttl
        lifetime = self._key_lifetime()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._nodes_key, {self.node: lapses})
            for user_id in self._local:
                pipe.zadd(self._user_key(user_id), {self.node: lapses})
                pipe.expire(self._user_key(user_id), lifetime)
            if self._local:
                pipe.sadd(self._node_key(self.node), *self._local)
                pipe.expire(self._node_key(self.node), lifetime)
            await pipe.execute()
        dead = await self._redis.zrangebyscore(self._nodes_key, "-inf", now)
        for raw in dead:
            node = raw.decode() if isinstance(raw, bytes) else str(raw)
            if node == self.node or not await self._redis.zrem(self._nodes_key, node):
                continue  # another node claimed it first
            offline = await self._end_node(node, now)
            if offline:
                log.info("a dead node's users went offline", node=node, users=len(offline))
                await on_offline(offline)

    async def _end_node(self, node: str, now: float) -> list[int]:
        members = await self._redis.smembers(self._node_key(node))
        offline = []
        for raw in members:
            user_id = int(raw)
            left = await self._leave(
                keys=[self._user_key(user_id), self._node_key(node)], args=[node, now, user_id]
            )
            if int(left) == 0:
                offline.append(user_id)
        await self._redis.delete(self._node_key(node))
        return sorted(offline)

    async def close(self) -> None:
        """Stops the heartbeat and takes this node's users out (they are offline now)."""
        self._stopping = True
        if self._heart is not None:
            await stop_task(self._heart)
            self._heart = None
        with contextlib.suppress(*REDIS_FAILURES):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zrem(self._nodes_key, self.node)
                for user_id in self._local:
                    pipe.zrem(self._user_key(user_id), self.node)
                pipe.delete(self._node_key(self.node))
                await pipe.execute()
        self._local.clear()


def create_presence(
    redis: Redis | None, *, breaker: RedisBreaker | None, namespace: str, ttl_seconds: float
) -> Presence:
    if redis is None or breaker is None:
        return MemoryPresence()
    return RedisPresence(redis, breaker=breaker, namespace=namespace, ttl_seconds=ttl_seconds)
