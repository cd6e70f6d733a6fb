"""uvicorn's sans-I/O WebSocket protocol, holding less for an idle connection.

A chat node holds tens of thousands of WebSockets that say nothing for hours, so what each one
keeps is the node's memory. uvicorn's protocol keeps, per connection, an ``asyncio.Queue`` for
the messages to the app (four deques, with their first blocks: about 3 KB, for a queue that
holds one message now and then), an ``asyncio.Event`` for the socket's flow control (another
deque), and the handshake's request and response, headers and all, for the connection's life.
This subclass changes that: a queue and a flag that hold nothing while idle, and the
handshake dropped once it is answered; and it writes the frames a sender has ready together
(``_frame``). Everything else, frames, close codes, keepalive pings, limits, is uvicorn's own
(``cli.py`` names it as ``uvicorn.run(ws=...)``; the tests' live servers run the same).

A WebSocket's request reaches it as uvicorn's HTTP protocol parsed it (``LeanHttpProtocol``):
uvicorn's own upgrade writes the parsed request back out as bytes for the ``websockets`` protocol
to parse again, and looks up the socket's two addresses again (several per cent of a chat node
taking thousands of connections a second), and what it kept of that made each idle connection
about 2.5 KB larger.

It also offers the application a way past the ASGI ``send`` for its hottest path (a fan-out:
one message to every subscriber): ``write_now`` in the scope's extensions (``WRITE_NOW``) writes
a text frame to the socket at once, without a task switch or an ASGI message, when nothing is
in its way; the frame's bytes are built once for a text however many sockets it goes to
(``text_frame``). An application that finds no such extension (another server, a test client)
sends as ASGI says.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, State

# a key of a ``websocket.send`` message (servers ignore keys they do not know): true when the
# sender has more frames ready to send right after this one
MORE_FRAMES = "agora.more_frames"
# an ASGI scope extension of the protocol: {"text": write_now, "texts": write_all_now,
# "answer": write_answer}; see ``write_now_of``
WRITE_NOW = "agora.write_now"

WriteNow = Callable[[str], bool]
WriteAllNow = Callable[[Sequence[str]], bool]

# what the kernel may hold unsent for one socket (Linux doubles it for its bookkeeping). Without
# it the send buffer grows by itself up to tcp_wmem's maximum (4 MB here): a client that stops
# reading would hold that much of the node's memory before the transport's high-water mark and
# the application's queue (a slow consumer's close) ever saw a byte of it
SEND_BUFFER_BYTES = 64 * 1024


def write_now_of(scope: Mapping[str, Any]) -> WriteNow | None:
    """The server's ``write_now`` for this WebSocket, or None when the server offers none."""
    offered = scope.get("extensions", {}).get(WRITE_NOW)
    return offered["text"] if offered else None


def write_all_now_of(scope: Mapping[str, Any]) -> WriteAllNow | None:
    """The server's ``write_all_now`` for this WebSocket, or None when the server offers none."""
    offered = scope.get("extensions", {}).get(WRITE_NOW)
    return offered["texts"] if offered else None


def write_answer_of(scope: Mapping[str, Any]) -> WriteNow | None:
    """The server's ``write_answer`` for this WebSocket, or None when the server offers none."""
    offered = scope.get("extensions", {}).get(WRITE_NOW)
    return offered["answer"] if offered else None


def _uncompressed_frame(text: str) -> bytes:
    """A server's text frame (final, unmasked, uncompressed: RFC 7692 lets an endpoint send any
    message uncompressed) holding ``text``."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


@functools.lru_cache(maxsize=16)
def text_frame(text: str) -> bytes:
    """``_uncompressed_frame``, cached: a fan-out frames a message once, not once a
    recipient."""
    return _uncompressed_frame(text)


class Inbox:
    """What ``asyncio.Queue`` does for the protocol (``put_nowait``, ``get``, ``empty``), for
    one reader: the messages in a deque made on the first one, the reader waiting on a future
    made while it waits."""

    __slots__ = ("_messages", "_waiter")

    def __init__(self) -> None:
        self._messages: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, message: Any) -> None:
        if self._messages is None:
            self._messages = deque()
        self._messages.append(message)
        if self._waiter is not None:
            if not self._waiter.done():
                self._waiter.set_result(None)
            self._waiter = None

    async def get(self) -> Any:
        while not self._messages:
            if self._waiter is None or self._waiter.done():  # done: its reader was cancelled
                self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        message = self._messages.popleft()
        if not self._messages:
            self._messages = None  # an idle connection keeps no deque
        return message

    def empty(self) -> bool:
        return not self._messages


class Flag:
    """What ``asyncio.Event`` does for the protocol's flow control (``set``, ``clear``,
    ``wait``): set almost always, so nobody waits and nothing is kept for waiters."""

    __slots__ = ("_waiter", "up")

    def __init__(self) -> None:
        self.up = True  # read as an attribute by ``write_now``: no call a frame
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self.up = True
        if self._waiter is not None:
            if not self._waiter.done():
                self._waiter.set_result(None)
            self._waiter = None

    def clear(self) -> None:
        self.up = False

    def is_set(self) -> bool:
        return self.up

    async def wait(self) -> None:
        if self.up:
            return
        if self._waiter is None:  # shared by every sender waiting for the socket to drain
            self._waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._waiter)


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self._flow = Flag()  # uvicorn's ``writable``, typed as ours
        self.writable = self._flow  # type: ignore[assignment]
        self._flush_pending = False
        # an answer framed, waiting for the next one (``write_answer``)
        self._held: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        _limit_send_buffer(transport)

    def shutdown(self) -> None:
        if self._held is not None:
            self._write_held()  # before the server's close
        super().shutdown()

    def schedule_ping(self) -> None:
        """One keepalive timer a connection. uvicorn schedules a ping at the handshake and again
        for every message received, without cancelling the one pending: a client that says
        two things on connecting kept three timers (and got three pings an interval), each a
        timer handle made on the connection's path."""
        if self.ping_timer is None:
            super().schedule_ping()

    def take_over(
        self,
        transport: asyncio.Transport,
        *,
        server: tuple[str, int | None] | None,
        client: tuple[str, int] | None,
        scheme: str,
        request: Request,
    ) -> None:
        """Takes the connection from the HTTP protocol with its request parsed already: what
        ``connection_made`` and ``data_received`` would do with the request written out again,
        without writing it out, parsing it again or asking the socket for its addresses again.
        The handshake itself (``handle_connect``: the checks, the key, the scope) is unchanged."""
        self.connections.add(self)
        self.transport = transport
        self.server, self.client = server, client
        self.scheme = "wss" if scheme == "https" else "ws"
        _limit_send_buffer(transport)
        # the `websockets` protocol's parser waits for the request's bytes first, then reads
        # frames: it reads frames from the start
        self.conn.parser = Protocol.parse(self.conn)
        next(self.conn.parser)
        self.handle_connect(request)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if hasattr(self, "scope"):  # the handshake goes on to the application
            self.scope["extensions"][WRITE_NOW] = {
                "text": self.write_now,
                "texts": self.write_all_now,
                "answer": self.write_answer,
            }

    def write_now(self, text: str) -> bool:
        """Writes ``text`` as a frame at once if the socket is open and takes writes (below the
        transport's high-water mark); False otherwise, and the caller queues it for ``send``,
        which waits. What the protocol framed earlier goes out first, so frames keep their
        order."""
        if not self._make_way():
            return False
        self.transport.write(text_frame(text))
        return True

    def write_all_now(self, texts: Sequence[str]) -> bool:
        """``write_now`` for several texts, framed each and written together with one system
        call (a replay's page); not cached, as each is sent once."""
        if not self._make_way():
            return False
        self.transport.write(b"".join(_uncompressed_frame(text) for text in texts))
        return True

    def write_answer(self, text: str) -> bool:
        """``write_now`` for the answer to a client's call. A client that sent its next calls
        without waiting for this answer (``auth`` and ``subscribe`` in one packet, as clients
        connect) has them in the inbox still: then the answer is framed and held, and goes out
        with the next answer, or with anything else written before it, or once the
        application waits for the client with nothing left to read: one write for two
        answers. One at most is held: a client that keeps sending without reading still fills
        the socket, and the transport's flow control stops its answers as before."""
        if not self._make_way(holding=True):
            return False
        frame = _uncompressed_frame(text)
        if self._held is not None:
            frame, self._held = self._held + frame, None
        elif not self.queue.empty():
            self._held = frame
            return True
        self.transport.write(frame)
        return True

    async def receive(self) -> Any:
        if self._held is not None and self.queue.empty():
            self._write_held()  # every call the client sent is answered
        return await super().receive()

    def _make_way(self, *, holding: bool = False) -> bool:
        """Whether a frame written now goes out in order (the socket open and below its
        high-water mark); if so, what was framed before it is flushed first (a held answer
        too, unless the caller writes it ``holding``)."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or not self._flow.up
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        if self._flush_pending:
            self._flush()
        elif self._held is not None and not holding:
            self._write_held()
        return True

    def _write_held(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self.transport.is_closing():
            self.transport.write(held)

    async def send(self, message: Any) -> None:
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        if self._held is not None:
            self._write_held()  # before this message, a close included
        if (
            message["type"] == "websocket.send"
            and self.handshake_complete
            and not self.close_sent
            and self.initial_response is None
        ):
            self._frame(message)
            return
        await super().send(message)
        if self.handshake_complete and hasattr(self, "response"):
            # answered (accepted or refused): uvicorn reads neither again
            del self.request, self.response

    def _frame(self, message: Any) -> None:
        """Frames the message now; writes it at once, unless the sender says more frames
        follow (``MORE_FRAMES``): then they go out together, with the last one or before the
        loop turns, whichever comes first. A replay of a hundred events is one write to the
        socket, not a hundred system calls. Every other write of the protocol (pings, close)
        takes what is framed with it, in order: the ``websockets`` protocol buffers all it has
        to send."""
        try:
            if (data := message.get("bytes")) is not None:
                self.conn.send_binary(data)
            elif (text := message.get("text")) is not None:
                self.conn.send_text(text.encode())
        except InvalidState:
            raise ClientDisconnected() from None
        if not message.get(MORE_FRAMES):
            self._flush()
        elif not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self._write_held()  # held before anything the `websockets` protocol framed since
        output = self.conn.data_to_send()
        if output and not self.transport.is_closing():
            self.transport.write(b"".join(output))


def _limit_send_buffer(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


class LeanHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools), handing a WebSocket upgrade to the lean protocol as
    parsed (``LeanWebSocketProtocol.take_over``). A request the ``websockets`` parser would
    refuse (not a GET, a body, a target that is not ASCII) goes uvicorn's way, which answers it
    as before."""

    def handle_websocket_upgrade(self) -> None:
        request = self._websocket_request()
        protocol_class = self.ws_protocol_class
        if (
            request is None
            or protocol_class is None
            or not issubclass(protocol_class, LeanWebSocketProtocol)
        ):
            super().handle_websocket_upgrade()
            return
        self.connections.discard(self)
        protocol = protocol_class(
            config=self.config, server_state=self.server_state, app_state=self.app_state
        )
        protocol.take_over(
            self.transport,
            server=self.server,
            client=self.client,
            scheme=self.scheme or "http",
            request=request,
        )
        self.transport.set_protocol(protocol)

    def _websocket_request(self) -> Request | None:
        if self.scope["method"] != "GET":
            return None
        headers = self.scope["headers"]
        if any(name in (b"content-length", b"transfer-encoding") for name, _ in headers):
            return None
        try:
            target = self.url.decode("ascii")
        except UnicodeDecodeError:
            return None
        # ISO-8859-1, as the `websockets` parser decodes header values
        return Request(
            target, Headers((n.decode("latin-1"), v.decode("latin-1")) for n, v in headers)
        )
