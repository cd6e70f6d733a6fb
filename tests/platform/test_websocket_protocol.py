"""The lean WebSocket protocol's queue and flag (``platform/websocket_protocol.py``) do what
uvicorn asks of ``asyncio.Queue`` and ``asyncio.Event``: messages in order, none lost to a
reader that was cancelled, senders held while the socket is full and let go when it drains.
The protocol itself serves every live-server test of the chat (``tests/support/serving.py``);
below, what a WebSocket sees of its request when uvicorn's HTTP protocol hands it over parsed."""

from __future__ import annotations

import asyncio
import json

from fastapi import FastAPI, WebSocket
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from agora.cli import HTTP_IMPLEMENTATION
from agora.platform.websocket_protocol import (
    Flag,
    Inbox,
    LeanWebSocketProtocol,
    write_answer_of,
)
from tests.support.serving import serving


async def test_messages_come_out_in_order_and_wait_when_there_are_none() -> None:
    inbox = Inbox()
    assert inbox.empty()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)  # the reader waits
    assert not reader.done()
    inbox.put_nowait("first")
    inbox.put_nowait("second")
    assert await reader == "first"
    assert not inbox.empty()
    assert await inbox.get() == "second"
    assert inbox.empty()


async def test_a_cancelled_reader_loses_nothing() -> None:
    inbox = Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    inbox.put_nowait("kept")
    assert await asyncio.wait_for(inbox.get(), 1) == "kept"


async def test_senders_wait_while_the_socket_is_full_and_go_on_once_it_drains() -> None:
    writable = Flag()
    await asyncio.wait_for(writable.wait(), 1)  # set from the start
    writable.clear()
    senders = [asyncio.create_task(writable.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    senders[0].cancel()  # one sender gives up; the others still wait
    await asyncio.sleep(0)
    assert not any(sender.done() for sender in senders[1:])
    writable.set()
    await asyncio.wait_for(asyncio.gather(*senders[1:]), 1)
    assert writable.is_set()


# --- the upgrade: a WebSocket's request handed over as parsed (``LeanHttpProtocol``) ---------


def _echo_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        scope = websocket.scope
        await websocket.send_json(
            {
                "text": text,
                "path": scope["path"],
                "query": scope["query_string"].decode(),
                "header": websocket.headers.get("x-note"),
                "client": scope["client"][0],
                "server": scope["server"][1],
                "scheme": scope["scheme"],
            }
        )
        await websocket.close()

    return app


def _handshake(method: str = "GET", *extra: str, version: str = "13") -> bytes:
    lines = [
        f"{method} /echo?x=1 HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        f"Sec-WebSocket-Version: {version}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _status_of(base_url: str, request: bytes) -> int:
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        status_line = await asyncio.wait_for(reader.readline(), 5)
        return int(status_line.split()[1])
    finally:
        writer.close()


async def test_a_websocket_sees_its_request_as_sent_through_the_handed_over_upgrade() -> None:
    async with serving(_echo_app()) as base_url:
        url = base_url.replace("http://", "ws://") + "/echo?x=1"
        async with connect(url, additional_headers={"X-Note": "café"}) as socket:
            await socket.send("hello")
            answer = json.loads(await asyncio.wait_for(socket.recv(), 5))
    port = int(base_url.rsplit(":", 1)[1])
    assert answer == {
        "text": "hello",
        "path": "/echo",
        "query": "x=1",
        "header": "café",
        "client": "127.0.0.1",
        "server": port,
        "scheme": "ws",
    }


async def test_every_handshake_is_answered_as_uvicorn_answers_it() -> None:
    requests = {
        "plain": _handshake(),
        "a body's length of 0 (uvicorn's own way)": _handshake("GET", "Content-Length: 0"),
        "an unknown version": _handshake(version="8"),
        "not a GET": _handshake("POST"),
    }
    answers: dict[str, list[int]] = {}
    for http in ("httptools", HTTP_IMPLEMENTATION):
        async with serving(_echo_app(), http=http) as base_url:
            answers[http] = [await _status_of(base_url, request) for request in requests.values()]
    assert answers["httptools"] == [101, 101, 400, 405]
    assert answers[HTTP_IMPLEMENTATION] == answers["httptools"]


# --- answers to calls sent together go out together (``write_answer``) ---------------------


def _answering_app() -> FastAPI:
    """Answers each text with the text in capitals, as the chat answers calls."""
    app = FastAPI()

    @app.websocket("/echo")
    async def answer(websocket: WebSocket) -> None:
        await websocket.accept()
        write_answer = write_answer_of(websocket.scope)
        assert write_answer is not None
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            assert write_answer(message["text"].upper())

    return app


def _text_frames(data: bytes) -> list[str]:
    texts = []
    while data:
        length, start = data[1] & 0x7F, 2
        assert length < 126  # short answers only
        texts.append(data[start : start + length].decode())
        data = data[start + length :]
    return texts


async def _answers_of_a_client(base_url: str, *, together: bool) -> list[list[str]]:
    """What each read gets: the client sends two calls in one packet, then a third after."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(_handshake())
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        frames = [Frame(Opcode.TEXT, text.encode()).serialize(mask=True) for text in "ab"]
        writer.write(b"".join(frames) if together else frames[0])
        reads = [_text_frames(await asyncio.wait_for(reader.read(65536), 5))]
        if not together:
            writer.write(frames[1])
            reads.append(_text_frames(await asyncio.wait_for(reader.read(65536), 5)))
        writer.write(Frame(Opcode.TEXT, b"c").serialize(mask=True))
        reads.append(_text_frames(await asyncio.wait_for(reader.read(65536), 5)))
        return reads
    finally:
        writer.close()


async def test_the_answers_to_calls_sent_together_come_in_one_write() -> None:
    async with serving(_answering_app()) as base_url:
        # the first answer waited for the second: both arrive in the client's first read
        assert await _answers_of_a_client(base_url, together=True) == [["A", "B"], ["C"]]
        # a client that waits for each answer gets each at once
        assert await _answers_of_a_client(base_url, together=False) == [["A"], ["B"], ["C"]]


def test_a_connection_keeps_one_keepalive_timer_however_much_it_hears() -> None:
    """uvicorn schedules a ping for every message received, without cancelling the one
    pending."""
    loop = asyncio.new_event_loop()
    try:
        config = Config(app=_echo_app(), ws_ping_interval=20.0)
        protocol = LeanWebSocketProtocol(config, ServerState(), {}, _loop=loop)
        protocol.start_keepalive()
        timer = protocol.ping_timer
        assert timer is not None
        for _ in range(3):  # three messages
            protocol.schedule_ping()
        assert protocol.ping_timer is timer
        assert not timer.cancelled()
        protocol.stop_keepalive()
    finally:
        loop.close()
