"""The lean WebSocket protocol's queue and flag (``platform/websocket_protocol.py``) do what
uvicorn asks of ``asyncio.Queue`` and ``asyncio.Event``: messages in order, none lost to a
reader that was cancelled, senders held while the socket is full and let go when it drains.
The protocol itself serves every live-server test of the chat (``tests/support/serving.py``);
below, what a WebSocket sees of its request when uvicorn's HTTP protocol hands it over parsed."""

from __future__ import annotations

import asyncio
import json

from fastapi import FastAPI, WebSocket
from websockets.asyncio.client import connect

from agora.cli import HTTP_IMPLEMENTATION
from agora.platform.websocket_protocol import Flag, Inbox
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
