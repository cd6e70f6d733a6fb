"""Chat test helpers: signed-in users (added straight to the database, as the blog's tests do) and
a small client that speaks the chat's REST API as a user would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient, Response

from agora.platform.provided import ProvidingApp
from tests.blog.conftest import new_user
from tests.conftest import auth

PROBLEM_JSON = "application/problem+json"


@dataclass
class Chatter:
    """One signed-in user of the chat API."""

    http: AsyncClient
    token: str
    username: str

    async def call(self, method: str, path: str, **options: Any) -> Response:
        return await self.http.request(
            method, f"/api/chat{path}", headers=auth(self.token), **options
        )

    async def ok(self, method: str, path: str, status: int = 200, **options: Any) -> Any:
        response = await self.call(method, path, **options)
        assert response.status_code == status, response.text
        return response.json()

    async def create_room(self, name: str = "general", kind: str = "public") -> dict[str, Any]:
        room: dict[str, Any] = await self.ok(
            "POST", "/rooms", 201, json={"name": name, "kind": kind}
        )
        return room

    async def send(self, room_id: int, body: str, client_id: str | None = None) -> dict[str, Any]:
        payload = {"body": body, "clientId": client_id or f"{self.username}-{body}"}
        result = await self.ok("POST", f"/rooms/{room_id}/messages", 201, json=payload)
        event: dict[str, Any] = result["event"]
        return event

    async def events(self, room_id: int, **params: Any) -> dict[str, Any]:
        page: dict[str, Any] = await self.ok("GET", f"/rooms/{room_id}/events", params=params)
        return page

    async def room(self, room_id: int) -> dict[str, Any]:
        room: dict[str, Any] = await self.ok("GET", f"/rooms/{room_id}")
        return room

    async def me_id(self, room_id: int) -> int:
        room = await self.room(room_id)
        return int(next(m["id"] for m in room["members"] if m["username"] == self.username))


def problem(response: Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem of ``status``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def chatter(app: ProvidingApp, client: AsyncClient, username: str) -> Chatter:
    return Chatter(client, await new_user(app, username), username)


@pytest.fixture
async def ann(app: ProvidingApp, client: AsyncClient) -> Chatter:
    return await chatter(app, client, "ann")


@pytest.fixture
async def bob(app: ProvidingApp, client: AsyncClient) -> Chatter:
    return await chatter(app, client, "bob")


@pytest.fixture
async def cid(app: ProvidingApp, client: AsyncClient) -> Chatter:
    return await chatter(app, client, "cid")
