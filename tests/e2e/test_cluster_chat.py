"""The chat through ``make cluster``'s nginx: WebSockets are upgraded by the proxy and spread over
both nodes; a message sent on one node reaches clients on the other. A node stopped with SIGTERM
tells its clients to reconnect (1012) through the proxy; they reconnect through nginx, which sends
them to the other node, and recover what they missed, nothing twice. (A node killed with SIGKILL
mid-stream, through nginx too: ``tests/e2e/test_chat_cluster.py::test_the_same_through_nginx``.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.cluster import Cluster
from tests.conftest import auth, register
from tests.support.chat_ws import RpcClient, open_client, ws_url
from tests.support.cluster import NEEDS_CLUSTER, cluster_under_test
from tests.support.metrics import samples
from tests.support.servers import POLL_INTERVAL, LiveServer

pytestmark = [pytest.mark.e2e, *NEEDS_CLUSTER]

READERS = 3  # bob's connections, besides alice's one
DEADLINE = 15.0


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Cluster]:
    with cluster_under_test(tmp_path) as started:
        yield started


def connections_on(node: LiveServer) -> float:
    metrics = httpx.get(f"{node.base_url}/metrics", timeout=10.0)
    return samples(metrics.text)[("agora_chat_connections", frozenset())]


class Reader:
    """One of bob's connections, and what it received over every connection it had."""

    def __init__(self, client: RpcClient) -> None:
        self.clients = [client]

    @property
    def client(self) -> RpcClient:
        return self.clients[-1]

    def seqs(self, room: int) -> list[int]:
        return [event["seq"] for client in self.clients for event in client.events(room)]


async def open_as(base_url: str, token: str) -> RpcClient:
    # a client that can set headers signs in with them (a browser would use a ticket)
    return await open_client(
        ws_url(base_url), additional_headers={"Authorization": f"Bearer {token}"}
    )


async def test_chat_through_nginx_spreads_over_nodes_and_outlives_one_stopping(
    running: Cluster,
) -> None:
    entry = running.proxy.base_url
    async with httpx.AsyncClient(base_url=entry, timeout=10.0) as http:
        alice, bob = await register(http, "alice"), await register(http, "bob")
        created = await http.post(
            "/api/chat/rooms", json={"name": "lobby", "kind": "public"}, headers=auth(alice)
        )
        assert created.status_code == 201, created.text
        room: int = created.json()["id"]
        joined = await http.post(f"/api/chat/rooms/{room}/join", headers=auth(bob))
        assert joined.status_code == 200, joined.text

    sender = await open_as(entry, alice)
    readers = [Reader(await open_as(entry, bob)) for _ in range(READERS)]
    clients: list[RpcClient] = [sender, *(reader.client for reader in readers)]
    try:
        # every upgrade went through nginx, round robin: both nodes hold some of them
        held = [int(await asyncio.to_thread(connections_on, node)) for node in running.nodes]
        assert sum(held) == len(clients)
        assert all(count > 0 for count in held), held
        for client in clients:
            await client.call("subscribe", room=room, since=0)

        before: dict[str, Any] = await sender.call("send", room=room, body="before", clientId="m-1")
        for reader in readers:  # those on the other node too
            await reader.client.wait_events(room, before["seq"])

        # node 1 stops: its clients are told to reconnect elsewhere, through the proxy
        stopping = running.nodes[0]
        stopping.terminate()
        assert await asyncio.to_thread(stopping.wait_exit) == 0, stopping.log_tail()
        deadline = time.monotonic() + DEADLINE
        while sum(client.close_code is not None for client in clients) < held[0]:
            assert time.monotonic() < deadline, "node 1's clients were not all closed"
            await asyncio.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
        closed = [client for client in clients if client.close_code is not None]
        assert [client.close_code for client in closed] == [1012] * held[0]

        if sender.close_code is not None:
            sender = await open_as(entry, alice)
            clients.append(sender)
            await sender.call("subscribe", room=room)
        after: dict[str, Any] = await sender.call("send", room=room, body="after", clientId="m-2")
        for reader in readers:
            if reader.client.close_code is not None:
                # back through nginx, which has only node 2 left, from the last seq it has
                reader.clients.append(await open_as(entry, bob))
                clients.append(reader.client)
                await reader.client.call("subscribe", room=room, since=reader.seqs(room)[-1])
            await reader.client.wait_events(room, after["seq"])

        # the room's whole log, once each, in order, over the connections each reader had
        for reader in readers:
            assert reader.seqs(room) == list(range(1, after["seq"] + 1))
    finally:
        for client in clients:
            await client.close()
