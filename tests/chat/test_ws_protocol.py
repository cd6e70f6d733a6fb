"""The chat's WebSocket speaks JSON-RPC 2.0 as the spec says, through a real WebSocket client
against the app served by uvicorn: authentication first, every kind of bad input answered with
its error, and the connection still usable wherever the spec says it should be."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from httpx import AsyncClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from agora.chat.gateway import tickets
from agora.platform.cache import MemoryCache
from agora.platform.errors import Unauthorized
from agora.settings import ChatGatewaySettings, Settings
from tests.conftest import auth, register
from tests.support.chat_ws import (
    Disconnected,
    RpcClient,
    RpcError,
    rpc_client,
    served_app,
    ws_url,
)


class Served:
    def __init__(self, base_url: str, http: AsyncClient) -> None:
        self.base_url = base_url
        self.http = http

    async def token(self, username: str = "ann") -> str:
        return await register(self.http, username)

    async def ticket(self, token: str) -> str:
        response = await self.http.post("/api/chat/tickets", headers=auth(token))
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["expiresIn"] > 0
        ticket: str = body["ticket"]
        return ticket

    def url(self, **query: str) -> str:
        return ws_url(self.base_url, **query)


ServeWith = Callable[..., Any]


@pytest.fixture
async def serve_with(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    """``async with serve_with(**gateway_settings) as served``: the app on uvicorn."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def serve(**gateway: Any) -> AsyncIterator[Served]:
        settings = make_settings(chat_gateway=ChatGatewaySettings(**gateway))
        async with served_app(settings) as (base_url, http):
            yield Served(base_url, http)

    return serve


@pytest.fixture
async def served(serve_with: ServeWith) -> AsyncIterator[Served]:
    async with serve_with() as running:
        yield running


@pytest.fixture
async def signed_in(served: Served) -> AsyncIterator[RpcClient]:
    """A connection authenticated with a ticket."""
    ticket = await served.ticket(await served.token())
    async with rpc_client(served.url(ticket=ticket)) as client:
        yield client


async def _is_usable(client: RpcClient) -> None:
    result = await client.call("ping")
    assert result["pong"] is True


# --- authentication ------------------------------------------------------------------------------


async def test_a_ticket_needs_a_signed_in_user(served: Served) -> None:
    response = await served.http.post("/api/chat/tickets")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_ticket_signs_the_connection_in_once(served: Served) -> None:
    ticket = await served.ticket(await served.token())
    async with rpc_client(served.url(ticket=ticket)) as client:
        assert await client.call("unsubscribe", room=1) == {"room": 1}  # signed in

    async with rpc_client(served.url(ticket=ticket)) as reused:
        assert await reused.closed() == 4001
        assert "ticket" in reused.close_reason


async def test_one_ticket_used_by_two_connections_at_once_lets_one_in(served: Served) -> None:
    token = await served.token()

    async def try_it(ticket: str) -> bool:
        async with rpc_client(served.url(ticket=ticket)) as client:
            try:
                await client.call("unsubscribe", room=1)
            except Disconnected:
                assert client.close_code == 4001
                return False
            return True

    for _ in range(3):
        ticket = await served.ticket(token)
        outcomes = await asyncio.gather(try_it(ticket), try_it(ticket))
        assert sorted(outcomes) == [False, True]


async def test_a_token_in_the_query_signs_in_for_tools_that_cannot_set_headers(
    served: Served,
) -> None:
    token = await served.token()
    async with rpc_client(served.url(token=token)) as client:
        assert await client.call("unsubscribe", room=1) == {"room": 1}
    async with rpc_client(served.url(token="forged")) as forged:
        assert await forged.closed() == 4001


async def test_an_unknown_ticket_closes_with_4001(served: Served) -> None:
    async with rpc_client(served.url(ticket="made-up")) as client:
        assert await client.closed() == 4001


async def test_a_ticket_expires() -> None:
    now = 1000.0
    cache = MemoryCache(clock=lambda: now)
    ticket = await tickets.issue(cache, user_id=7, ttl_seconds=30)
    now += 31
    with pytest.raises(Unauthorized):
        await tickets.redeem(cache, ticket)


async def test_nothing_but_auth_is_served_before_authentication(served: Served) -> None:
    token = await served.token()
    async with rpc_client(served.url()) as client:
        with pytest.raises(RpcError) as refused:
            await client.call("subscribe", room=1)
        assert refused.value.code == 401
        assert refused.value.error["data"]["kind"] == "unauthorized"

        with pytest.raises(RpcError) as bad:
            await client.call("auth", token="not-a-token")
        assert bad.value.code == 401

        assert (await client.call("auth", token=token))["user"] > 0
        assert await client.call("unsubscribe", room=1) == {"room": 1}
        with pytest.raises(RpcError) as twice:
            await client.call("auth", token=token)
        assert twice.value.code == 409


async def test_a_token_in_the_header_signs_in(served: Served) -> None:
    token = await served.token()
    async with rpc_client(
        served.url(), additional_headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert await client.call("unsubscribe", room=1) == {"room": 1}


async def test_a_connection_that_never_authenticates_is_closed(serve_with: ServeWith) -> None:
    async with serve_with(auth_timeout_seconds=0.2) as served, rpc_client(served.url()) as client:
        assert await client.closed() == 4001
        assert "timed out" in client.close_reason


# --- JSON-RPC errors -----------------------------------------------------------------------------


async def test_a_frame_that_is_not_json_is_a_parse_error(signed_in: RpcClient) -> None:
    await signed_in.send_text('{"jsonrpc": "2.0", "method": "ping", "id": 1')
    answer = await signed_in.next_answer()
    assert answer["error"]["code"] == -32700
    assert answer["id"] is None
    await _is_usable(signed_in)


@pytest.mark.parametrize(
    "request_",
    [
        42,
        "ping",
        {"method": "ping", "id": 1},
        {"jsonrpc": "1.0", "method": "ping", "id": 1},
        {"jsonrpc": "2.0", "method": 7, "id": 1},
        {"jsonrpc": "2.0", "method": "ping", "params": "x", "id": 1},
        {"jsonrpc": "2.0", "method": "ping", "id": True},
        {"jsonrpc": "2.0", "method": "ping", "id": {"a": 1}},
        {"jsonrpc": "2.0", "method": "ping", "id": 1.5},
    ],
)
async def test_an_invalid_request_is_answered_with_32600(
    signed_in: RpcClient, request_: object
) -> None:
    await signed_in.send_text(orjson.dumps(request_).decode())
    answer = await signed_in.next_answer()
    assert answer["error"]["code"] == -32600
    assert answer["id"] is None
    await _is_usable(signed_in)


async def test_an_empty_batch_is_one_invalid_request(signed_in: RpcClient) -> None:
    await signed_in.send_text("[]")
    answer = await signed_in.next_answer()
    assert isinstance(answer, dict)
    assert answer["error"]["code"] == -32600
    await _is_usable(signed_in)


async def test_a_batch_is_answered_call_by_call_without_its_notifications(
    signed_in: RpcClient,
) -> None:
    batch = [
        {"jsonrpc": "2.0", "method": "ping", "id": "a"},
        {"jsonrpc": "2.0", "method": "ping"},  # a notification: no answer
        1,
        {"jsonrpc": "2.0", "method": "nope", "id": "b"},
        {"jsonrpc": "2.0", "method": "unsubscribe", "params": {"room": "x"}, "id": "c"},
    ]
    await signed_in.send_text(orjson.dumps(batch).decode())
    answers = await signed_in.next_answer()
    assert isinstance(answers, list)
    assert [answer["id"] for answer in answers] == ["a", None, "b", "c"]
    assert answers[0]["result"]["pong"] is True
    assert [answer["error"]["code"] for answer in answers[1:]] == [-32600, -32601, -32602]


async def test_a_batch_of_notifications_gets_no_answer(signed_in: RpcClient) -> None:
    batch = [{"jsonrpc": "2.0", "method": "ping"}, {"jsonrpc": "2.0", "method": "nope"}]
    await signed_in.send_text(orjson.dumps(batch).decode())
    await signed_in.send_text(orjson.dumps({"jsonrpc": "2.0", "method": "ping", "id": 9}).decode())
    answer = await signed_in.next_answer()
    assert answer["id"] == 9  # nothing came before it


async def test_an_unknown_method_is_32601(signed_in: RpcClient) -> None:
    with pytest.raises(RpcError) as unknown:
        await signed_in.call("delete_everything")
    assert unknown.value.code == -32601
    await _is_usable(signed_in)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"room": "abc"}, "room"),
        ({}, "room"),
        ({"room": 0}, "room"),
        ({"room": 1, "since": -1}, "since"),
        ({"room": 1, "color": "red"}, "color"),
        ([1], "params"),
    ],
)
async def test_wrong_params_are_32602_by_field(
    signed_in: RpcClient, params: Any, field: str
) -> None:
    answer = await signed_in.request("subscribe", params)
    error = answer["error"]
    assert error["code"] == -32602
    assert field in error["data"]["errors"]
    await _is_usable(signed_in)


# --- frames --------------------------------------------------------------------------------------


async def test_a_binary_frame_closes_with_1003(signed_in: RpcClient) -> None:
    await signed_in.send_text(b'{"jsonrpc":"2.0","method":"ping","id":1}')
    assert await signed_in.closed() == 1003


async def test_an_oversized_frame_closes_with_1009(serve_with: ServeWith) -> None:
    async with serve_with(max_frame_bytes=2048) as served:
        ticket = await served.ticket(await served.token())
        async with rpc_client(served.url(ticket=ticket)) as client:
            await _is_usable(client)
            await client.send_text(orjson.dumps({"x": "y" * 3000}).decode())
            assert await client.closed() == 1009


async def test_a_client_that_does_not_read_is_closed_as_a_slow_consumer(
    serve_with: ServeWith,
) -> None:
    """It asks and asks and reads no answer: its queue fills, and it is closed with 4008, while
    the node's memory stays bounded (the queue's frames are dropped). Answers are written at
    once while the socket takes them, so this also checks that the socket's buffers stop it."""
    async with serve_with(send_queue_frames=8, max_frame_bytes=1024 * 1024) as served:
        ticket = await served.ticket(await served.token())
        sock = socket.create_connection(("127.0.0.1", int(served.base_url.rsplit(":", 1)[1])))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills fast
        async with connect(
            served.url(ticket=ticket), sock=sock, max_queue=1, max_size=None
        ) as websocket:
            batch = orjson.dumps(
                [
                    {"jsonrpc": "2.0", "method": "ping", "id": f"{n:04}" + "x" * 1000}
                    for n in range(100)
                ]
            ).decode()
            sent = 0
            for _ in range(400):  # 40,000 answers of 1 KB at most: far more than any buffer
                try:
                    await asyncio.wait_for(websocket.send(batch), 2.0)
                except (TimeoutError, ConnectionClosed):
                    break  # the server stopped reading: it is closing us
                sent += 100
            answered = 0
            async with asyncio.timeout(30):
                try:
                    async for frame in websocket:
                        answered += len(orjson.loads(frame))
                except Exception:  # noqa: S110  # the close is what we wait for
                    pass
            assert websocket.close_code == 4008
            # what reached it: what the node's socket and transport held for it (their buffers
            # are bounded, 64 KB each), a few of its 100 KB frames, not the 4 MB that a send
            # buffer left to grow by itself would have taken before the queue saw a frame
            assert answered <= 1000 < sent
