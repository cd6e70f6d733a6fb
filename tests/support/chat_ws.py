"""A JSON-RPC client of the chat's WebSocket for tests: it reads every frame as it comes, keeps
answers by id and notifications in order, and waits for either with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from httpx import AsyncClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from agora.app import create_app
from agora.container import Container
from agora.settings import Settings
from tests.support.apps import client_of
from tests.support.database import empty_tables
from tests.support.serving import serving

DEADLINE = 10.0


class Disconnected(AssertionError):
    """The connection closed while a call or a notification was awaited."""


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error
        self.code: int = error["code"]


class RpcClient:
    def __init__(self, websocket: ClientConnection) -> None:
        self.websocket = websocket
        self.notifications: list[dict[str, Any]] = []
        self.answers: list[Any] = []  # every answer frame, decoded (an object or a batch)
        self._by_id: dict[Any, dict[str, Any]] = {}
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self.close_code: int | None = None
        self.close_reason = ""
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.websocket:
                decoded = orjson.loads(frame)
                if isinstance(decoded, dict) and "method" in decoded:
                    self.notifications.append(decoded)
                else:
                    self.answers.append(decoded)
                    for answer in decoded if isinstance(decoded, list) else [decoded]:
                        self._by_id[answer.get("id")] = answer
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            code = self.websocket.close_code
            self.close_code = code if code is not None else 1006
            self.close_reason = self.websocket.close_reason or ""
            self._changed.set()

    async def _until(self, done: Any, what: str) -> Any:
        try:
            async with asyncio.timeout(DEADLINE):
                while (value := done()) is None:
                    if self._reader.done():
                        raise Disconnected(f"closed ({self.close_code}) waiting for {what}")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {DEADLINE} s") from None
        return value

    async def send_text(self, text: str | bytes) -> None:
        await self.websocket.send(text)

    async def next_answer(self) -> Any:
        """The next answer frame (after those already taken with this method)."""
        count = len(self.answers)
        return await self._until(
            lambda: self.answers[count] if len(self.answers) > count else None, "answer"
        )

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole response to a call."""
        request_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.websocket.send(orjson.dumps(message).decode())
        answer: dict[str, Any] = await self._until(
            lambda: self._by_id.pop(request_id, None), f"answer to {method}"
        )
        return answer

    async def call(self, method: str, **params: Any) -> Any:
        """The result of a call; ``RpcError`` for an error."""
        answer = await self.request(method, params)
        if "error" in answer:
            raise RpcError(answer["error"])
        return answer["result"]

    async def notify(self, method: str, **params: Any) -> None:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        await self.websocket.send(orjson.dumps(message).decode())

    async def notification(self, method: str, **match: Any) -> dict[str, Any]:
        """The first notification of ``method`` whose params hold ``match`` (waits for it)."""

        def found() -> dict[str, Any] | None:
            for note in self.notifications:
                params = note.get("params", {})
                if note["method"] == method and all(params.get(k) == v for k, v in match.items()):
                    return note
            return None

        note: dict[str, Any] = await self._until(found, f"{method} notification {match}")
        return note

    def events(self, room: int) -> list[dict[str, Any]]:
        """The room's log events received, in order (notifications carrying a seq)."""
        return [
            note["params"]
            for note in self.notifications
            if note["params"].get("room") == room and "seq" in note["params"]
        ]

    async def wait_events(self, room: int, last_seq: int) -> list[dict[str, Any]]:
        await self._until(
            lambda: True if any(e["seq"] >= last_seq for e in self.events(room)) else None,
            f"room {room} up to seq {last_seq}",
        )
        return self.events(room)

    async def closed(self) -> int:
        """The close code the server sent (waits for it)."""
        await self._until(lambda: self.close_code, "close")
        assert self.close_code is not None
        return self.close_code

    async def close(self) -> None:
        await self.websocket.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def open_client(url: str, **options: Any) -> RpcClient:
    """A client of ``url`` (``ws://…/api/chat/ws?…``); ``await client.close()`` at the end."""
    websocket = await connect(url, open_timeout=DEADLINE, max_size=None, **options)
    return RpcClient(websocket)


@asynccontextmanager
async def rpc_client(url: str, **options: Any) -> AsyncIterator[RpcClient]:
    """A client of ``url``, closed at the end."""
    client = await open_client(url, **options)
    try:
        yield client
    finally:
        await client.close()


def ws_url(base_url: str, **query: str) -> str:
    url = base_url.replace("http://", "ws://", 1) + "/api/chat/ws"
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


@asynccontextmanager
async def served_app(settings: Settings) -> AsyncIterator[tuple[str, AsyncClient]]:
    """The app for ``settings`` on uvicorn, its tables emptied first: the server's base URL, and
    an HTTP client of the same app."""
    container = Container.from_settings(settings)
    await empty_tables(container.platform.db)
    app = create_app(container=container)
    async with serving(app) as base_url, client_of(app) as http:
        yield base_url, http
