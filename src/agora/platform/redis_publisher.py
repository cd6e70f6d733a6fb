"""PUBLISH on a Redis connection of its own, past the client library: the fan-out's publishes.

Every committed chat message is published once, and under load a batch of sends is a batch of
publishes. Through redis-py a batch was a pipeline object, its command stack, the retry wrapper,
a connection taken from and given back to the pool and a reply object per command: at 16,000
deliveries/s (scenario B) that machinery was most of the 8 % of the nodes' samples the publish
took. Here a batch is its commands framed into one buffer, one ``transport.write``, and the
replies counted as hiredis parses them (a PUBLISH's reply is only how many listened).

Batches from concurrent callers share the connection: Redis answers in order, so each waits for
as many replies as it sent after those of the batches before it. What a failure does is the
client's as before: a connection lost, refused or silent past ``timeout_seconds`` fails every
batch waiting on it with redis-py's ``ConnectionError`` or ``TimeoutError`` (for the breaker),
and the next batch connects again. Pub/sub delivers at most once anyway; a batch whose outcome
is unknown is counted as lost by the caller.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


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


class _Replies(asyncio.Protocol):
    """The connection: counts the replies as they come, for the batches in the order sent."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader(replyError=ResponseError)
        # each batch sent and not fully answered: [replies still due, its caller's future]
        self._due: deque[list[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, commands: bytes, replies: int) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._due.append([replies, done])
        assert self.transport is not None
        self.transport.write(commands)
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
        self.lost = True
        error = RedisConnectionError(f"the publishing connection was lost: {exc!r}")
        while self._due:
            _, done = self._due.popleft()
            if not done.done():
                done.set_exception(error)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # connection_lost fails what waits


class RedisPublisher:
    def __init__(self, url: str, *, timeout_seconds: float, client_name: str | None = None) -> None:
        options = parse_url(url)  # type: ignore[no-untyped-call]  # untyped upstream
        self._path: str | None = options.get("path")
        self._host: str = options.get("host", "localhost")
        self._port: int = options.get("port", 6379)
        self._ssl = ssl.create_default_context() if url.startswith("rediss:") else None
        # sent before the first batch, their replies awaited with it
        hello: list[bytes] = []
        if password := options.get("password"):
            user = options.get("username")
            auth = (
                (b"AUTH", user.encode(), password.encode())
                if user
                else (b"AUTH", password.encode())
            )
            hello.append(_command(*auth))
        if client_name:
            hello.append(_command(b"CLIENT", b"SETNAME", client_name.encode()))
        self._hello = hello
        self._timeout = timeout_seconds
        self._connection: _Replies | None = None
        self._connecting: asyncio.Lock | None = None

    async def publish_many(self, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Each (channel, payload), in order, once Redis has taken them all; raises redis-py's
        ``ConnectionError`` or ``TimeoutError`` when it could not tell."""
        connection: _Replies | None = None
        try:
            async with asyncio.timeout(self._timeout):
                connection = await self._connected()
                await connection.send(publish_commands(messages), len(messages))
        except TimeoutError:
            if connection is not None:
                # what it answers from now on would be counted for the wrong batches
                connection.abort()
            raise RedisTimeoutError("Redis did not take the publishes in time") from None

    async def _connected(self) -> _Replies:
        if self._connection is not None and not self._connection.lost:
            return self._connection
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # one connection, however many callers find none
            if self._connection is None or self._connection.lost:
                self._connection = await self._connect()
        return self._connection

    async def _connect(self) -> _Replies:
        loop = asyncio.get_running_loop()
        try:
            if self._path is not None:
                _, connection = await loop.create_unix_connection(_Replies, self._path)
            else:
                _, connection = await loop.create_connection(
                    _Replies, self._host, self._port, ssl=self._ssl
                )
        except OSError as exc:
            raise RedisConnectionError(f"could not connect to publish: {exc!r}") from exc
        try:
            if self._hello:
                await connection.send(b"".join(self._hello), len(self._hello))
        except BaseException:
            connection.abort()
            raise
        return connection

    async def close(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._connection = None
