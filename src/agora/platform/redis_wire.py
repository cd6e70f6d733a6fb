"""Redis spoken directly (asyncio protocols, hiredis parsing the replies), past redis-py: the
fan-out's two connections, on the hottest path of a chat node.

``RedisPublisher``: every committed chat message is published once, and under load a batch of
sends is a batch of publishes. Through redis-py a batch was a pipeline object, its command
stack, the retry wrapper, a connection taken from and given back to the pool and a reply object
per command: at 16,000 deliveries/s (scenario B) that machinery was most of the 8 % of the
nodes' samples the publish took. Here a batch is its commands framed into one buffer, one
``transport.write``, and the replies counted as hiredis parses them (a PUBLISH's reply is only
how many listened). Batches from concurrent callers share the connection: Redis answers in
order, so each waits for as many replies as it sent after those of the batches before it.

``RedisSubscriber``: the node's pub/sub connection. redis-py's reader awaited each message
(``get_message``), built a dict for it and walked its handlers; here the connection hands each
message to the fan-out as hiredis parses it, in the callback that received the bytes.

What a failure does is the client's as before: a connection lost, refused or silent past its
timeout fails what waits on it with redis-py's ``ConnectionError`` or ``TimeoutError`` (for the
breaker); the publisher connects again for the next batch, the subscriber comes back on its own
(pausing longer after each failed attempt) subscribed again to every channel it had. Pub/sub
delivers at most once anyway: what was published meanwhile is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar, cast

import hiredis
import structlog
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger("agora.redis")

P = TypeVar("P", bound=asyncio.Protocol)

# what connecting fails with (``RedisEndpoint.connect``)
REDIS_CONNECT_FAILURES = (RedisConnectionError, RedisTimeoutError)


def publish_commands(messages: Sequence[tuple[bytes, bytes]]) -> bytes:
    """``PUBLISH channel payload`` for each, in RESP, in order."""
    parts: list[bytes] = []
    for channel, payload in messages:
        parts.append(b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n" % len(channel))
        parts.append(channel)
        parts.append(b"\r\n$%d\r\n" % len(payload))
        parts.append(payload)
        parts.append(b"\r\n")
    return b"".join(parts)


def _command(*args: bytes) -> bytes:
    head = [b"*%d\r\n" % len(args)]
    return b"".join(head + [b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args])


class _Connection(asyncio.Protocol):
    """A connection to Redis: its replies parsed by hiredis, kept alive by the kernel."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader(replyError=ResponseError)
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream's transport (uvloop's is not a subclass of asyncio's, so no isinstance)
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            # idle whenever nobody talks: the kernel tells a dead peer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    def write(self, data: bytes) -> None:
        if self.transport is None or self.lost:
            raise RedisConnectionError("the connection to Redis is lost")
        self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # connection_lost follows

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


C = TypeVar("C", bound=_Connection)


class _Kept(Generic[C]):
    """One connection, opened by ``open`` when first needed and again once it is lost: however
    many callers find none at once, one is opened."""

    def __init__(self, open_one: Callable[[], Awaitable[C]]) -> None:
        self._open = open_one
        self.current: C | None = None
        self._opening: asyncio.Lock | None = None

    async def get(self) -> C:
        if self.current is not None and not self.current.lost:
            return self.current
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self.current is None or self.current.lost:
                self.current = await self._open()
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
        self.current = None


class _Replies(_Connection):
    """The publisher's connection: counts the replies as they come, for the batches in the
    order sent."""

    def __init__(self) -> None:
        super().__init__()
        # each batch sent and not fully answered: [replies still due, its caller's future]
        self._due: deque[list[Any]] = deque()

    def send(self, commands: bytes, replies: int) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.write(commands)
        self._due.append([replies, done])
        return done

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            batch = self._due[0]
            if isinstance(reply, ResponseError) and not batch[1].done():
                batch[1].set_exception(reply)  # the rest of its replies still counted below
            batch[0] -= 1
            if batch[0] == 0:
                self._due.popleft()
                if not batch[1].done():  # done: its caller gave up
                    batch[1].set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        error = RedisConnectionError(f"the publishing connection was lost: {exc!r}")
        while self._due:
            _, done = self._due.popleft()
            if not done.done():
                done.set_exception(error)


class RedisEndpoint:
    """Where Redis is (a ``redis://``, ``rediss://`` or ``unix://`` URL), and a connection to
    it: authenticated and named (``CLIENT LIST`` tells the connections apart)."""

    def __init__(self, url: str, *, connect_timeout_seconds: float) -> None:
        options = parse_url(url)  # type: ignore[no-untyped-call]  # untyped upstream
        self._path: str | None = options.get("path")
        self._host: str = options.get("host", "localhost")
        self._port: int = options.get("port", 6379)
        self._ssl = ssl.create_default_context() if url.startswith("rediss:") else None
        self._auth: list[bytes] = []
        if password := options.get("password"):
            user = options.get("username")
            self._auth = [_command(b"AUTH", *([user.encode()] if user else []), password.encode())]
        self._timeout = connect_timeout_seconds

    def hello(self, client_name: str) -> list[bytes]:
        """The commands a new connection sends first: one reply each."""
        return [*self._auth, _command(b"CLIENT", b"SETNAME", client_name.encode())]

    async def connect(self, protocol: Callable[[], P]) -> P:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                if self._path is not None:
                    _, connection = await loop.create_unix_connection(protocol, self._path)
                else:
                    _, connection = await loop.create_connection(
                        protocol, self._host, self._port, ssl=self._ssl
                    )
        except TimeoutError:
            raise RedisTimeoutError("connecting to Redis timed out") from None
        except OSError as exc:
            raise RedisConnectionError(f"could not connect to Redis: {exc!r}") from exc
        return connection


class RedisPublisher:
    def __init__(
        self, endpoint: RedisEndpoint, *, timeout_seconds: float, client_name: str
    ) -> None:
        self._endpoint = endpoint
        self._hello = endpoint.hello(client_name)  # answered with the first batch
        self._timeout = timeout_seconds
        self._connection = _Kept(self._connect)

    async def publish_many(self, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Each (channel, payload), in order, once Redis has taken them all; raises redis-py's
        ``ConnectionError`` or ``TimeoutError`` when it could not tell."""
        connection: _Replies | None = None
        try:
            async with asyncio.timeout(self._timeout):
                connection = await self._connection.get()
                await connection.send(publish_commands(messages), len(messages))
        except TimeoutError:
            if connection is not None:
                # what it answers from now on would be counted for the wrong batches
                connection.abort()
            raise RedisTimeoutError("Redis did not take the publishes in time") from None

    async def _connect(self) -> _Replies:
        connection = await self._endpoint.connect(_Replies)
        try:
            await connection.send(b"".join(self._hello), len(self._hello))
        except BaseException:
            connection.abort()
            raise
        return connection

    async def close(self) -> None:
        self._connection.close()


# called with a message's channel and data, as they arrive; must not block
OnMessage = Callable[[bytes, bytes], None]
# called with a channel once Redis has confirmed its subscription
OnSubscribed = Callable[[bytes], None]


class _PubSub(_Connection):
    def __init__(self, subscriber: RedisSubscriber) -> None:
        super().__init__()
        self._subscriber = subscriber

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        on_message, on_subscribed = self._subscriber.on_message, self._subscriber.on_subscribed
        while (reply := self._reader.gets()) is not False:
            try:
                # the hottest case first: [b"message", channel, data]
                if type(reply) is list and len(reply) == 3:
                    kind = reply[0]
                    if kind == b"message":
                        on_message(reply[1], reply[2])
                    elif kind == b"subscribe":
                        on_subscribed(reply[1])
                elif isinstance(reply, ResponseError):
                    log.warning("redis pub/sub refused a command", error=str(reply))
            except Exception:  # one message's failure is not the connection's
                log.exception("redis pub/sub message not handled")

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._subscriber.lost(self, exc)


def _subscribe(command: bytes, channels: Iterable[bytes]) -> bytes:
    return _command(command, *channels)


class RedisSubscriber:
    """One pub/sub connection, opened by the first ``subscribe``: each message to
    ``on_message``, each confirmed subscription to ``on_subscribed``. After a lost connection
    it connects again on its own, subscribed again to what ``channels()`` names then."""

    def __init__(
        self,
        endpoint: RedisEndpoint,
        *,
        client_name: str,
        on_message: OnMessage,
        on_subscribed: OnSubscribed,
        channels: Callable[[], Iterable[bytes]],
        reconnect_seconds: float,
        reconnect_max_seconds: float,
    ) -> None:
        self._endpoint = endpoint
        self._hello = endpoint.hello(client_name)
        self.on_message = on_message
        self.on_subscribed = on_subscribed
        self._channels = channels
        self._pauses = (reconnect_seconds, reconnect_max_seconds)
        self._connection = _Kept(self._open)
        self._coming_back: asyncio.Task[None] | None = None
        self._closing = False

    async def subscribe(self, channels: Sequence[bytes]) -> None:
        """Asks for ``channels`` (confirmed later, to ``on_subscribed``); raises redis-py's
        ``ConnectionError`` or ``TimeoutError`` when Redis cannot be reached."""
        connection = await self._connection.get()
        connection.write(_subscribe(b"SUBSCRIBE", channels))

    def unsubscribe(self, channels: Sequence[bytes]) -> None:
        """Leaves ``channels``; nothing to do while disconnected (the next connection subscribes
        only to what ``channels()`` names)."""
        connection = self._connection.current
        if connection is not None and not connection.lost:
            connection.write(_subscribe(b"UNSUBSCRIBE", channels))

    async def _open(self) -> _PubSub:
        if self._closing:
            raise RedisConnectionError("the pub/sub connection is closed")
        connection = await self._endpoint.connect(lambda: _PubSub(self))
        channels = list(self._channels())
        first = self._hello + ([_subscribe(b"SUBSCRIBE", channels)] if channels else [])
        connection.write(b"".join(first))
        return connection

    def lost(self, connection: _PubSub, exc: Exception | None) -> None:
        current = self._connection.current
        if self._closing or (
            current is not None and current is not connection and not current.lost
        ):
            return  # closing, or an older connection than the one in use
        log.warning("redis pub/sub connection lost", error=repr(exc))
        if self._coming_back is None or self._coming_back.done():
            self._coming_back = asyncio.get_running_loop().create_task(self._come_back())

    async def _come_back(self) -> None:
        pause, most = self._pauses
        while not self._closing:
            await asyncio.sleep(pause)
            try:
                await self._connection.get()
            except REDIS_CONNECT_FAILURES as exc:
                log.warning(
                    "redis pub/sub still unreachable", error=repr(exc), retry_in_seconds=pause
                )
                pause = min(pause * 2, most)
                continue
            return

    async def close(self) -> None:
        self._closing = True
        if self._coming_back is not None:
            self._coming_back.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._coming_back
        self._connection.close()
