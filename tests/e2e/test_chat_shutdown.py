"""SIGTERM with chat clients connected: each is told to reconnect elsewhere (close code 1012,
"service restart"), and the node exits cleanly."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.chat_ws import rpc_client, ws_url
from tests.support.servers import LiveServer

pytestmark = pytest.mark.e2e


async def _ticket(http: httpx.AsyncClient, username: str) -> str:
    registered = await http.post(
        "/api/users",
        json={
            "user": {"username": username, "email": f"{username}@example.com", "password": "x" * 12}
        },
    )
    assert registered.status_code == 201, registered.text
    token = registered.json()["user"]["token"]
    response = await http.post("/api/chat/tickets", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def test_sigterm_closes_chat_sockets_with_1012_then_exits(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
        tickets = [await _ticket(http, f"user{n}") for n in range(3)]
    async with (
        rpc_client(ws_url(server.base_url, ticket=tickets[0])) as first,
        rpc_client(ws_url(server.base_url, ticket=tickets[1])) as second,
        rpc_client(ws_url(server.base_url, ticket=tickets[2])) as third,
    ):
        clients = (first, second, third)
        for client in clients:
            assert (await client.call("ping"))["pong"] is True
        server.terminate()
        codes = await asyncio.gather(*(client.closed() for client in clients))
    assert codes == [1012, 1012, 1012]
    assert await asyncio.to_thread(server.wait_exit) == 0, server.log_tail()
