"""An app served by a real uvicorn on a free port of 127.0.0.1, in the test's own event loop, and
a client that keeps one connection alive and reports exactly what the server did with it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11
import uvicorn
from fastapi import FastAPI

from agora.cli import HTTP_IMPLEMENTATION, WEBSOCKET_IMPLEMENTATION
from tests.support.servers import POLL_INTERVAL, READY_TIMEOUT, free_port

IO_TIMEOUT = 10.0


@asynccontextmanager
async def serving(
    app: FastAPI, *, http: str = HTTP_IMPLEMENTATION, **options: Any
) -> AsyncIterator[str]:
    """Yields the base URL (``http://127.0.0.1:PORT``) of a started server; stops it on exit.

    ``http``: uvicorn's HTTP implementation (``h11``, ``httptools``, ``auto``; by default the one
    ``agora serve`` runs); ``options``:
    further ``uvicorn.Config`` options (``ws_max_size``, ...).
    """
    port = free_port()
    # log_config=None: uvicorn's loggers propagate to the root logger, so caplog sees them
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=http,
        ws=WEBSOCKET_IMPLEMENTATION,  # as `agora serve` runs it
        lifespan="on",
        log_config=None,
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + READY_TIMEOUT
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            server.should_exit = True
            await task
            raise AssertionError(f"uvicorn did not start on port {port}")
        await asyncio.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def says_close(self) -> bool:
        return "close" in self.headers.get("connection", "").lower()


class ServerClosedConnection(AssertionError):
    """The server closed the connection instead of answering the request sent on it."""


class KeepAliveClient:
    """HTTP/1.1 over one TCP connection, reused for every request, like a browser or httpx.

    It reconnects only when the previous answer said ``Connection: close``; a server that closes
    without saying so makes the next request fail with ``ServerClosedConnection``, as a real
    client's would (deterministically here, instead of depending on who is faster).
    """

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.connections_opened = 0
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._protocol = h11.Connection(h11.CLIENT)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        await self.close()
        self._streams = await asyncio.open_connection(self.host, self.port)
        self._protocol = h11.Connection(h11.CLIENT)
        self.connections_opened += 1
        return self._streams

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None
    ) -> Reply:
        if self._streams is None or self._protocol.our_state is h11.MUST_CLOSE:
            reader, writer = await self._connect()
        else:
            reader, writer = self._streams
            self._protocol.start_next_cycle()
        fields = [("Host", f"{self.host}:{self.port}"), *(headers or {}).items()]
        writer.write(self._protocol.send(h11.Request(method=method, target=path, headers=fields)))
        writer.write(self._protocol.send(h11.EndOfMessage()))
        try:
            await writer.drain()
            return await asyncio.wait_for(self._read_reply(reader), IO_TIMEOUT)
        except (h11.RemoteProtocolError, ConnectionError) as exc:
            raise ServerClosedConnection(
                f"the server closed the kept-alive connection without answering ({exc!r})"
            ) from exc

    async def _read_reply(self, reader: asyncio.StreamReader) -> Reply:
        status, headers, body = 0, {}, b""
        while True:
            event = self._protocol.next_event()
            if event is h11.NEED_DATA:
                self._protocol.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {name.decode(): value.decode() for name, value in event.headers}
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return Reply(status, headers, body)
            elif isinstance(event, h11.ConnectionClosed):
                raise ServerClosedConnection(
                    "the server closed the kept-alive connection without answering"
                )

    async def __aenter__(self) -> KeepAliveClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            writer.close()
            await writer.wait_closed()
            self._streams = None
