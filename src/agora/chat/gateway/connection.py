"""One WebSocket connection: a reader (frames in, calls answered one after the other, in the
order they came), a writer (the outgoing queue to the socket), and what the connection watches.

Calls are handled in order: a client's sends are committed in the order it made them. The
writer is a task of its own, so a call that waits (a replay pacing itself) never stops the
notifications, and a client that does not read never stops the node (its queue overflows and
it is closed with 4008). It starts with the first frame the socket could not take at once: most
frames are written as they come (``Outgoing.put``), and an idle connection has no writer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams
from starlette.websockets import WebSocket, WebSocketDisconnect

from agora.chat.gateway import close_codes, rpc
from agora.chat.gateway.auth import Authenticator
from agora.chat.gateway.backend import RoomCalls
from agora.chat.gateway.hub import Hub, WatchingStream
from agora.chat.gateway.outgoing import WRITTEN, Outgoing, QueueClosed
from agora.platform import jsonrpc
from agora.platform.errors import DomainError, Unauthorized
from agora.platform.http_errors import validation_errors
from agora.platform.websocket_protocol import (
    MORE_FRAMES,
    write_all_now_of,
    write_answer_of,
    write_now_of,
)
from agora.settings import ChatGatewaySettings

log = structlog.get_logger("agora.chat.gateway")

# how long closing may wait for a client that does not read (its close frame waits behind the
# frames the socket already holds)
CLOSE_TIMEOUT_SECONDS = 5.0

Handler = Callable[["Connection", Any], Awaitable[object]]

_NO_QUERY = QueryParams()


@dataclass(frozen=True, slots=True)
class Method:
    params: type[BaseModel]
    run: Handler
    # callable before the connection is authenticated (only `auth`)
    anonymous: bool = False


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        *,
        hub: Hub,
        auth: Authenticator,
        calls: RoomCalls,
        methods: Mapping[str, Method],
        settings: ChatGatewaySettings,
    ) -> None:
        self.websocket = websocket
        self.hub = hub
        self.auth = auth
        self.calls = calls
        self.settings = settings
        self._methods = methods
        # done once the connection is to close (a future, lighter than a task waiting an event)
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.outgoing = Outgoing(
            settings.send_queue_frames,
            on_close=self._closing,
            write_now=write_now_of(websocket.scope),
            on_queued=self._start_writer,
            write_answer=write_answer_of(websocket.scope),
        )
        self.user_id = 0  # 0 until authenticated
        self.streams: dict[int, WatchingStream] = {}
        self._writer: asyncio.Task[None] | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id != 0

    # --- what the hub calls -------------------------------------------------------------------

    def deliver(self, frame: str) -> int:
        """1 when the frame went to the socket at once (the hub counts its fan-out's
        together), else 0: queued for the writer, which counts it, or the connection is
        closing (a full queue closes it with 4008)."""
        return 1 if self.outgoing.put(frame) == WRITTEN else 0

    def room_ended(self, room_id: int) -> None:
        stream = self.streams.pop(room_id, None)
        if stream is not None:
            task = asyncio.create_task(self.hub.leave_room(stream))
            task.add_done_callback(_log_failure)

    async def shut(self, code: int, reason: str) -> None:
        self.close(code, reason)

    # --- the connection's life ----------------------------------------------------------------

    def close(self, code: int, reason: str) -> None:
        self.outgoing.close(code, reason)

    def _closing(self) -> None:
        if not self._closed.done():
            self._closed.set_result(None)

    def _ended(self, _task: asyncio.Task[None]) -> None:
        self._closing()

    def _answer(self, frame: str) -> None:
        if self.outgoing.put_answer(frame) == WRITTEN:
            self.hub.metrics.frames_out.inc()

    async def serve(self) -> None:
        await self.websocket.accept()
        reader = asyncio.create_task(self._read(), name="chat reader")
        # whichever of reader and writer ends first ends the connection (a callback each,
        # lighter than asyncio.wait, whose sets and waiters an idle connection would keep)
        reader.add_done_callback(self._ended)
        try:
            await self._closed
        finally:
            tasks = [task for task in (reader, self._writer) if task is not None]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            await self._end()

    def _start_writer(self) -> None:
        # none once the connection ends: what is queued then is never written
        if self._writer is None and not self._closed.done():
            self._writer = asyncio.create_task(self._write(), name="chat writer")
            self._writer.add_done_callback(self._ended)

    async def _end(self) -> None:
        for stream in list(self.streams.values()):
            await self.hub.leave_room(stream)
        self.streams.clear()
        if self.authenticated:
            await self.hub.disconnected(self)
        if self.outgoing.closed is not None:
            code, reason = self.outgoing.closed
            metrics = self.hub.metrics
            metrics.closes.labels(str(code)).inc()
            if code == close_codes.SLOW_CONSUMER:
                metrics.slow_consumers.inc()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.websocket.close(code=code, reason=reason), CLOSE_TIMEOUT_SECONDS
                )

    async def _write(self) -> None:
        send, outgoing = self.websocket.send, self.outgoing
        write_all_now = write_all_now_of(self.websocket.scope)
        frames_out = self.hub.metrics.frames_out
        try:
            while True:
                frames = await outgoing.get_all()
                # what was queued goes out in one write (a replay's page), straight to the
                # socket if it takes it, else as ASGI messages that wait for it
                if write_all_now is not None and write_all_now(frames):
                    frames_out.inc(len(frames))
                    continue
                last = len(frames) - 1
                for n, frame in enumerate(frames):
                    await send({"type": "websocket.send", "text": frame, MORE_FRAMES: n < last})
                    frames_out.inc()
        except QueueClosed:
            return
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client is gone

    async def _read(self) -> None:
        deadline = None
        try:
            if not await self._authenticate_on_connect():
                return
            if not self.authenticated:
                deadline = asyncio.get_running_loop().call_later(
                    self.settings.auth_timeout_seconds, self._auth_timed_out
                )
            await self._read_frames()
        except (WebSocketDisconnect, QueueClosed):
            return
        except Exception:
            log.exception("chat connection failed", user=self.user_id)
            self.close(close_codes.INTERNAL_ERROR, "internal error: reconnect")
        finally:
            if deadline is not None:
                deadline.cancel()

    def _auth_timed_out(self) -> None:
        if not self.authenticated:
            self.close(close_codes.UNAUTHORIZED, "authentication timed out")

    async def _authenticate_on_connect(self) -> bool:
        """A ticket in the URL, or a token (``Authorization`` header, or ``?token=`` for tools
        that cannot set one); none is fine (then an ``auth`` call must come first)."""
        # read from the scope: Starlette's `query_params` and `headers` would be parsed for
        # every connection, most of which have neither, and kept on it for its life
        scope = self.websocket.scope
        query = QueryParams(scope["query_string"]) if scope["query_string"] else _NO_QUERY
        header = next(
            (
                value.decode("latin-1")
                for name, value in scope["headers"]
                if name == b"authorization"
            ),
            "",
        )
        scheme, _, header_token = header.partition(" ")
        try:
            if ticket := query.get("ticket"):
                await self.signed_in(await self.auth.by_ticket(ticket))
            elif header and scheme.lower() in {"bearer", "token"} and header_token.strip():
                await self.signed_in(await self.auth.by_token(header_token.strip()))
            elif token := query.get("token"):
                await self.signed_in(await self.auth.by_token(token))
        except Unauthorized as exc:
            self.close(close_codes.UNAUTHORIZED, jsonrpc.error_object(exc)["message"][:120])
            return False
        return True

    async def signed_in(self, user_id: int) -> None:
        self.user_id = user_id
        await self.hub.connected(self)

    async def _read_frames(self) -> None:
        limit = self.settings.max_frame_bytes
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self.close(close_codes.UNSUPPORTED_DATA, "binary frames are not accepted")
                return
            # the server refuses larger frames before they arrive (uvicorn's ws_max_size);
            # this holds wherever the app runs
            if len(text) > limit or len(text.encode()) > limit:
                self.close(close_codes.MESSAGE_TOO_BIG, f"a frame is at most {limit} bytes")
                return
            answer = await self.answer(text)
            if answer:
                self._answer(answer)

    # --- JSON-RPC -----------------------------------------------------------------------------

    async def answer(self, text: str) -> str | None:
        """What a frame gets back: one answer, a batch of them, or nothing (notifications).
        Decoded here, so the encoder's bytes (orjson gives each at least 4 KB of room) are freed
        at once, not kept by the reading loop until the next frame comes in."""
        try:
            frame = rpc.parse(text)
        except rpc.ParseFailed as failed:
            self.hub.metrics.calls.labels("-", "invalid").inc()
            return rpc.error_frame(None, failed.error).decode()
        answers = []
        for item in frame.items:
            if isinstance(item, rpc.Invalid):
                self.hub.metrics.calls.labels("-", "invalid").inc()
                answers.append(rpc.error_frame(None, item.error))
                continue
            answered = await self.call(item)
            if not item.notification:
                answers.append(answered)
        if not answers:
            return None
        return (rpc.batch_frame(answers) if frame.batch else answers[0]).decode()

    async def call(self, call: rpc.Call) -> bytes:
        method = self._methods.get(call.method)
        name = call.method if method is not None else "-"
        outcome = "error"
        try:
            if method is None:
                return rpc.error_frame(
                    call.id,
                    {"code": jsonrpc.METHOD_NOT_FOUND, "message": f"no method {call.method!r}"},
                )
            if not self.authenticated and not method.anonymous:
                raise Unauthorized(
                    "authenticate first: connect with ?ticket=, or call auth", field="token"
                )
            if isinstance(call.params, list):
                return rpc.error_frame(
                    call.id,
                    jsonrpc.invalid_params({"params": ["must be an object of named members"]}),
                )
            try:
                params = method.params.model_validate(call.params or {})
            except ValidationError as exc:
                problems: dict[str | None, list[str]] = {
                    ("params" if field in {None, "body"} else field): messages
                    for field, messages in validation_errors(exc.errors()).items()
                }
                return rpc.error_frame(call.id, jsonrpc.invalid_params(problems))
            result = await method.run(self, params)
            outcome = "ok"
            return rpc.result_frame(call.id, result)
        except DomainError as exc:
            return rpc.error_frame(call.id, jsonrpc.error_object(exc))
        except QueueClosed:
            return b""  # closing: nobody reads the answer
        except Exception:
            log.exception("chat call failed", method=call.method, user=self.user_id)
            return rpc.error_frame(call.id, jsonrpc.internal_error())
        finally:
            self.hub.metrics.calls.labels(name, outcome).inc()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("chat background step failed", error=repr(exc))
