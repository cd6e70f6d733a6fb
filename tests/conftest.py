"""Shared fixtures: one app per test on a clean database — SQLite by default, PostgreSQL and Redis
when ``AGORA_TEST_DATABASE_URL`` / ``AGORA_TEST_REDIS_URL`` are set (CI sets both)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete

from agora.app import create_app
from agora.migrations.runner import upgrade
from agora.migrations.schema import target_metadata
from agora.platform.container import Platform
from agora.settings import Settings

TEST_DATABASE_URL = os.environ.get("AGORA_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("AGORA_TEST_REDIS_URL") or None
TEST_JWT_SECRET = "test-secret-" + "x" * 32
# Argon2id at its cheapest: the tests are about what hashing does, not what it costs (the
# default cost takes ~0.1 s a hash, and the suite registers and logs in hundreds of users)
CHEAP_PASSWORD_HASHING = {
    "password_memory_kib": 8,
    "password_time_cost": 1,
    "password_parallelism": 1,
}


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
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "redis_url": TEST_REDIS_URL,
            "jwt_secret": TEST_JWT_SECRET,
            "media_dir": tmp_path / "media",
            "public_url": "http://test",
            "rate_limits_enabled": False,
            "log_json": True,
            "access_log": False,
            **CHEAP_PASSWORD_HASHING,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


async def _empty_tables(platform: Platform) -> None:
    async with platform.db.engine.begin() as connection:
        for table in reversed(target_metadata.sorted_tables):
            await connection.execute(delete(table))


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Callable[..., FastAPI]:
    """Builds an app on the clean test database, with its own Redis namespace."""

    def build(**overrides: Any) -> FastAPI:
        settings = make_settings(
            **{"redis_namespace": f"agora-test-{uuid.uuid4().hex}", **overrides}
        )
        return create_app(settings, platform=Platform.from_settings(settings))

    return build


@pytest.fixture
async def app(make_app: Callable[..., FastAPI]) -> AsyncIterator[FastAPI]:
    application = make_app()
    platform: Platform = application.state.platform
    await _empty_tables(platform)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        yield http


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
