"""Several chat nodes, end to end: real ``agora serve`` processes on one PostgreSQL and one
Redis. Clients on every node send at once into two rooms; one node is killed with SIGKILL in
the middle; its clients reconnect to a surviving node with the last sequence number they have
of each room, and send again what was not acknowledged (with the same client id). At the end
every client has the complete history of each room, in order, with no gap and no duplicate,
exactly as the database holds it, and every acknowledged message is in it once.

Twice: three nodes the clients reach directly, and ``make cluster``'s two nodes behind nginx
(round robin, no stickiness: a reconnect lands on whichever node nginx finds alive).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.cluster import Cluster, nginx_binary
from tests.support.chat_ws import Disconnected, RpcClient, open_client, ws_url
from tests.support.cluster import cluster_under_test
from tests.support.config import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.support.database import fresh_database
from tests.support.servers import LiveServer, agora_server, migrate, server_environment

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        TEST_DATABASE_URL is None or TEST_REDIS_URL is None,
        reason="needs AGORA_TEST_DATABASE_URL and AGORA_TEST_REDIS_URL (nodes share both)",
    ),
]

NODES = 3
USERS_PER_NODE = 2
MESSAGES_PER_USER = 16
KILL_AFTER_ACKS = 30  # of NODES * USERS_PER_NODE * MESSAGES_PER_USER = 96
DEADLINE = 60.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[LiveServer]]:
    """Three nodes on a new database and one Redis namespace; not asserted to exit 0 (one of
    them is killed)."""
    with fresh_database(tmp_path) as database_url, ExitStack() as stack:
        migrate(database_url, tmp_path)
        environment = {
            **server_environment(database_url, tmp_path),
            "AGORA_REDIS_NAMESPACE": f"agora-e2e-{uuid.uuid4().hex[:12]}",
        }
        yield [
            stack.enter_context(agora_server(environment, tmp_path / f"node{n}.log", cwd=tmp_path))
            for n in range(NODES)
        ]


class Member:
    """A user with one connection at a time, and every event it received, by room."""

    def __init__(self, name: str, token: str, base_url: str) -> None:
        self.name = name
        self.token = token
        self.base_url = base_url  # a node's, or nginx's
        self.clients: list[RpcClient] = []
        self.acked: list[tuple[int, int, str]] = []  # (room, seq, clientId) of acknowledged sends

    @property
    def client(self) -> RpcClient:
        return self.clients[-1]

    def seen(self, room: int) -> list[dict[str, Any]]:
        return [event for client in self.clients for event in client.events(room)]

    def last_seq(self, room: int) -> int:
        seen = self.seen(room)
        return seen[-1]["seq"] if seen else 0

    async def connect(self, base_url: str, rooms: list[int]) -> None:
        self.base_url = base_url
        async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as http:
            response = await http.post(
                "/api/chat/tickets", headers={"Authorization": f"Token {self.token}"}
            )
            assert response.status_code == 201, response.text
        client = await open_client(ws_url(base_url, ticket=response.json()["ticket"]))
        self.clients.append(client)
        for room in rooms:
            await client.call("subscribe", room=room, since=self.last_seq(room))


async def _register(http: httpx.AsyncClient, name: str) -> str:
    response = await http.post(
        "/api/users",
        json={"user": {"username": name, "email": f"{name}@example.com", "password": "x" * 12}},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["user"]["token"]
    return token


async def _database_log(http: httpx.AsyncClient, token: str, room: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        response = await http.get(
            f"/api/chat/rooms/{room}/events",
            params={"after": events[-1]["seq"] if events else 0, "limit": 200},
            headers={"Authorization": f"Token {token}"},
        )
        assert response.status_code == 200, response.text
        page = response.json()["events"]
        events += page
        if len(page) < 200:
            return events


def _shape(event: dict[str, Any]) -> tuple[int, str, str | None]:
    message = event.get("message") or {}
    return event["seq"], event["kind"], message.get("clientId")


async def test_every_client_ends_with_every_rooms_whole_history(
    cluster: list[LiveServer],
) -> None:
    await _chat_through_a_node_killed(
        [node.base_url for node in cluster], survivor=cluster[0].base_url, doomed=cluster[-1]
    )


@pytest.fixture
def behind_nginx(tmp_path: Path) -> Iterator[Cluster]:
    """``make cluster``'s two nodes and nginx (started by its own code)."""
    with cluster_under_test(tmp_path) as running:
        yield running


@pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (make cluster does)")
async def test_the_same_through_nginx(behind_nginx: Cluster) -> None:
    proxy = behind_nginx.proxy.base_url
    await _chat_through_a_node_killed([proxy], survivor=proxy, doomed=behind_nginx.nodes[1])


async def _chat_through_a_node_killed(
    entries: list[str], *, survivor: str, doomed: LiveServer
) -> None:
    """Clients connect to ``entries`` in turn and send; ``doomed`` is killed on the way;
    whoever loses their connection reconnects to ``survivor``."""
    async with httpx.AsyncClient(base_url=survivor, timeout=10.0) as http:
        names = [f"u{n}" for n in range(NODES * USERS_PER_NODE)]
        tokens = [await _register(http, name) for name in names]
        rooms = []
        for title in ("alpha", "beta"):
            created = await http.post(
                "/api/chat/rooms",
                json={"name": title, "kind": "public"},
                headers={"Authorization": f"Token {tokens[0]}"},
            )
            assert created.status_code == 201, created.text
            rooms.append(created.json()["id"])
        for token in tokens[1:]:
            for room in rooms:
                joined = await http.post(
                    f"/api/chat/rooms/{room}/join", headers={"Authorization": f"Token {token}"}
                )
                assert joined.status_code == 200, joined.text

    members = [
        Member(name, token, entries[index % len(entries)])
        for index, (name, token) in enumerate(zip(names, tokens, strict=True))
    ]
    await asyncio.gather(*(member.connect(member.base_url, rooms) for member in members))

    acks = 0
    kill_now = asyncio.Event()

    async def talk(member: Member) -> None:
        nonlocal acks
        for n in range(MESSAGES_PER_USER):
            room, client_id = rooms[n % 2], f"{member.name}-{n}"
            while True:
                try:
                    result = await member.client.call(
                        "send", room=room, body=f"{member.name} says {n}", clientId=client_id
                    )
                    break
                except Disconnected:
                    # the node died: another one, from what we have; the same message again
                    await member.connect(survivor, rooms)
            assert result["seq"] > 0
            assert result["at"].endswith("Z")
            member.acked.append((room, result["seq"], client_id))
            acks += 1
            if acks >= KILL_AFTER_ACKS:
                kill_now.set()

    async def kill() -> None:
        await kill_now.wait()
        doomed.process.kill()  # SIGKILL: no goodbye to anyone

    async with asyncio.timeout(DEADLINE):
        await asyncio.gather(kill(), *(talk(member) for member in members))

    async with httpx.AsyncClient(base_url=survivor, timeout=10.0) as http:
        logs = {room: await _database_log(http, tokens[0], room) for room in rooms}

    async with asyncio.timeout(DEADLINE):
        for member in members:
            for room in rooms:
                last = logs[room][-1]["seq"]
                if member.last_seq(room) < last:
                    await member.client.wait_events(room, last)

    for member in members:
        for room in rooms:
            seen = member.seen(room)
            assert [event["seq"] for event in seen] == list(range(1, len(logs[room]) + 1)), (
                f"{member.name} in room {room}: a gap or a duplicate"
            )
            assert [_shape(event) for event in seen] == [_shape(event) for event in logs[room]]
        for room, seq, client_id in member.acked:
            assert _shape(logs[room][seq - 1]) == (seq, "message", client_id)

    sent = [_shape(e)[2] for room in rooms for e in logs[room] if e["kind"] == "message"]
    assert len(sent) == len(set(sent)) == len(members) * MESSAGES_PER_USER
    assert await asyncio.to_thread(doomed.process.wait, 10) == -9
    assert any(len(member.clients) > 1 for member in members), "the killed node had clients"
    for member in members:
        for client in member.clients:
            await client.close()
