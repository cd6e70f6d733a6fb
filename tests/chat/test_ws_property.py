"""What a client ends with equals what the database holds, as a property (Hypothesis, stateful):
for any interleaving of sends, edits, deletions, and the observing client's disconnects and
reconnects (each resubscribing with the last sequence number it has), the observer's events are
the room's log, 1, 2, 3 … with no gap and no duplicate, and folding them gives every message's
final state exactly as folding the database's log does.

Each example runs a server of its own on uvicorn, in the machine's own event loop.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, ClassVar

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from agora.app import create_app
from agora.container import Container
from tests.support.chat_ws import RpcClient, open_client, ws_url
from tests.support.config import settings_under_test
from tests.support.database import empty_tables
from tests.support.serving import serving

BODIES = st.text(alphabet="abc xyz", min_size=1, max_size=6).filter(str.strip)

MessageState = tuple[str | None, bool, bool]  # body, edited, deleted


def fold(events: list[dict[str, Any]]) -> dict[int, MessageState]:
    """Every message's last state, as the events say it."""
    state: dict[int, MessageState] = {}
    for event in events:
        if event["kind"] in ("message", "edit", "delete"):
            message = event["message"]
            body = None if message["deleted"] else message["body"]
            state[message["id"]] = (body, message["editedAt"] is not None, message["deleted"])
    return state


class ObservedRoom(RuleBasedStateMachine):
    database_url: ClassVar[str]
    workdir: ClassVar[Path]

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.stack = AsyncExitStack()
        self.messages: list[int] = []  # the ids of the messages not deleted
        self.seen: list[dict[str, Any]] = []  # the observer's events over all its connections
        self.observer: RpcClient | None = None
        self.sent = 0
        self.runner.run(self._start())

    async def _start(self) -> None:
        container = Container.from_settings(
            settings_under_test(self.workdir, database_url=self.database_url)
        )
        await empty_tables(container.platform.db)
        app = create_app(container=container)
        self.base_url = await self.stack.enter_async_context(serving(app))
        self.http = await self.stack.enter_async_context(
            httpx.AsyncClient(base_url=self.base_url, timeout=10.0)
        )
        self.tokens = [await self._register(name) for name in ("ann", "bob")]
        created = await self.http.post(
            "/api/chat/rooms", json={"name": "observed"}, headers=self._auth(0)
        )
        self.room = created.json()["id"]
        joined = await self.http.post(f"/api/chat/rooms/{self.room}/join", headers=self._auth(1))
        assert joined.status_code == 200, joined.text
        self.writer = await self._client(0)
        await self._observe()

    def _auth(self, user: int) -> dict[str, str]:
        return {"Authorization": f"Token {self.tokens[user]}"}

    async def _register(self, name: str) -> str:
        user = {"username": name, "email": f"{name}@example.com", "password": "x" * 12}
        response = await self.http.post("/api/users", json={"user": user})
        assert response.status_code == 201, response.text
        token: str = response.json()["user"]["token"]
        return token

    async def _client(self, user: int) -> RpcClient:
        client = await open_client(ws_url(self.base_url), additional_headers=self._auth(user))
        self.stack.push_async_callback(client.close)
        return client

    async def _observe(self) -> None:
        self.observer = await self._client(1)
        since = self.seen[-1]["seq"] if self.seen else 0
        await self.observer.call("subscribe", room=self.room, since=since)

    def _collect(self) -> None:
        if self.observer is not None:
            self.seen += self.observer.events(self.room)

    # --- the steps --------------------------------------------------------------------------

    @rule(body=BODIES)
    def send(self, body: str) -> None:
        result = self.runner.run(
            self.writer.call("send", room=self.room, body=body, clientId=f"c{self.sent}")
        )
        self.messages.append(result["message"]["id"])
        self.sent += 1

    @precondition(lambda self: self.messages)
    @rule(index=st.integers(min_value=0), body=BODIES)
    def edit(self, index: int, body: str) -> None:
        message = self.messages[index % len(self.messages)]
        self.runner.run(self.writer.call("edit", room=self.room, message=message, body=body))

    @precondition(lambda self: self.messages)
    @rule(index=st.integers(min_value=0))
    def delete(self, index: int) -> None:
        message = self.messages.pop(index % len(self.messages))  # gone: not edited again
        self.runner.run(self.writer.call("delete", room=self.room, message=message))

    @precondition(lambda self: self.observer is not None)
    @rule()
    def disconnect(self) -> None:
        assert self.observer is not None
        self.runner.run(self.observer.close())
        self._collect()
        self.observer = None

    @precondition(lambda self: self.observer is None)
    @rule()
    def reconnect(self) -> None:
        self.runner.run(self._observe())

    # --- the end ----------------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            self.runner.run(self._check())
        finally:
            self.runner.run(self.stack.aclose())
            self.runner.close()

    async def _check(self) -> None:
        if self.observer is None:
            await self._observe()
        assert self.observer is not None
        log: list[dict[str, Any]] = []
        while True:
            page = await self.http.get(
                f"/api/chat/rooms/{self.room}/events",
                params={"after": log[-1]["seq"] if log else 0, "limit": 200},
                headers=self._auth(0),
            )
            log += page.json()["events"]
            if len(page.json()["events"]) < 200:
                break
        if (self.seen[-1]["seq"] if self.seen else 0) < log[-1]["seq"]:
            await self.observer.wait_events(self.room, log[-1]["seq"])
        self._collect()
        assert [event["seq"] for event in self.seen] == list(range(1, len(log) + 1))
        assert fold(self.seen) == fold(log)


def test_what_a_client_ends_with_is_what_the_database_holds(
    database_url: str, tmp_path: Path
) -> None:
    ObservedRoom.database_url = database_url
    ObservedRoom.workdir = tmp_path
    test = ObservedRoom.TestCase
    test.settings = settings(
        max_examples=12,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    test().runTest()
