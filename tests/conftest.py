"""Shared fixtures: one app per test on a clean database — SQLite by default, PostgreSQL and Redis
when ``AGORA_TEST_DATABASE_URL`` / ``AGORA_TEST_REDIS_URL`` are set (CI sets both). The machinery
behind them is in ``tests/support``; the helpers at the end speak the API as a user would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient

from agora.app import create_app
from agora.container import Container
from agora.migrations.runner import upgrade
from agora.platform.provided import ProvidingApp
from agora.settings import Settings
from tests.support.apps import ClientFor, client_of, clients_for
from tests.support.config import TEST_DATABASE_URL, settings_under_test
from tests.support.database import empty_tables


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrated to head once per session; each test then starts from empty tables."""
    url = TEST_DATABASE_URL or (
        f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'agora-test.db'}"
    )
    upgrade(url)
    return url


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings for an app on the test database, with its own Redis namespace."""

    def build(**overrides: Any) -> Settings:
        namespace = f"agora-test-{uuid.uuid4().hex}"
        defaults = {"database_url": database_url, "redis_namespace": namespace}
        return settings_under_test(tmp_path, **{**defaults, **overrides})

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Callable[..., ProvidingApp]:
    """Builds an app (on a container of its own) with these settings on the test database."""

    def build(**overrides: Any) -> ProvidingApp:
        return create_app(make_settings(**overrides))

    return build


@pytest.fixture
def container(settings: Settings) -> Container:
    """What the ``app`` is built of: its database, cache, token codec, hasher, read side."""
    return Container.from_settings(settings)


@pytest.fixture
async def app(container: Container) -> AsyncIterator[ProvidingApp]:
    """The app on a clean test database, started (and its container closed at the end)."""
    application = create_app(container=container)
    await empty_tables(container.platform.db)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: ProvidingApp) -> AsyncIterator[AsyncClient]:
    async with client_of(app) as http:
        yield http


@pytest.fixture
async def client_for(make_app: Callable[..., ProvidingApp]) -> AsyncIterator[ClientFor]:
    """``await client_for(avatar_max_bytes=2048)``: a client of an app with those settings."""
    async for build in clients_for(make_app):
        yield build


# --- helpers that speak the API, so tests read like what a user does ----------------------------


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


async def register(client: AsyncClient, username: str, *, password: str = "password123") -> str:
    response = await client.post(
        "/api/users",
        json={
            "user": {"username": username, "email": f"{username}@example.com", "password": password}
        },
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["user"]["token"]
    return token


async def create_article(
    client: AsyncClient,
    token: str,
    *,
    title: str = "How to train your dragon",
    description: str = "Ever wonder how?",
    body: str = "You have to believe.",
    tags: list[str] | None = None,
) -> dict[str, Any]:
    article: dict[str, Any] = {"title": title, "description": description, "body": body}
    if tags is not None:
        article["tagList"] = tags
    response = await client.post("/api/articles", json={"article": article}, headers=auth(token))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["article"]
    return created
