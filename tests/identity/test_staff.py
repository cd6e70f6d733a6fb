"""The staff role: granted and revoked by an operator on the command line, required by staff
routes (401 without a token, 403 for a customer), and never part of a RealWorld answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import APIRouter
from httpx import AsyncClient

from agora.app import APIS, create_app
from agora.cli import main
from agora.container import Container
from agora.identity.deps import StaffUserId
from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.settings import Settings
from tests.conftest import auth, register
from tests.support.apps import client_of, platform_of
from tests.support.database import empty_tables

staff_only = APIRouter(prefix="/api/staff-demo")


@staff_only.get("/whoami")
async def whoami(user_id: StaffUserId) -> dict[str, int]:
    return {"id": user_id}


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[AsyncClient]:
    container = Container.from_settings(make_settings())
    app = create_app(container=container, apis=[*APIS, Api(staff_only, errors=PROBLEM_DETAILS)])
    await empty_tables(platform_of(app).db)
    async with app.router.lifespan_context(app), client_of(app) as http:
        yield http


async def agora(monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str) -> int:
    """``agora ARGS`` as an operator runs it, on the test database."""
    monkeypatch.setenv("AGORA_DATABASE_URL", database_url)
    # the command runs its own event loop, as it does from a shell
    return await asyncio.to_thread(main, list(args))


async def test_staff_routes_refuse_anonymous_and_customers(client: AsyncClient) -> None:
    assert (await client.get("/api/staff-demo/whoami")).status_code == 401
    token = await register(client, "customer")

    response = await client.get("/api/staff-demo/whoami", headers=auth(token))

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "user is for staff only"


async def test_an_operator_grants_and_revokes_the_role(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    token = await register(client, "clerk")

    assert await agora(monkeypatch, database_url, "users", "staff", "Clerk@Example.com") == 0
    granted = await client.get("/api/staff-demo/whoami", headers=auth(token))
    assert granted.status_code == 200
    user: dict[str, Any] = (await client.get("/api/user", headers=auth(token))).json()["user"]
    assert set(user) == {"email", "token", "username", "bio", "image", "verified"}

    assert (
        await agora(monkeypatch, database_url, "users", "staff", "clerk@example.com", "--revoke")
        == 0
    )
    assert (await client.get("/api/staff-demo/whoami", headers=auth(token))).status_code == 403


async def test_an_unknown_address_is_an_error_of_the_command(
    client: AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await agora(monkeypatch, database_url, "users", "staff", "nobody@example.com") == 1
    assert "no account" in capsys.readouterr().err
