"""Blog test helpers: signed-in users and the API calls the blog tests repeat.

Registration is identity's business, tested there: blog tests add their users straight to the
database, with a password hashed by the app's own hasher, and sign them in with a token from the
app's codec.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from httpx import AsyncClient, Response

from agora.identity.deps import IDENTITY
from agora.identity.models import User
from agora.platform.provided import ProvidingApp
from tests.conftest import auth
from tests.support.apps import platform_of

TIMESTAMP = re.compile(r"^\d{4,}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d{3}Z$")

NOT_FOUND_ARTICLE = {"errors": {"article": ["not found"]}}
FORBIDDEN_ARTICLE = {"errors": {"article": ["forbidden"]}}
TOKEN_MISSING = {"errors": {"token": ["is missing"]}}


PASSWORD = "password123"


# every key of an article in a list; a single article has its body too
PREVIEW_KEYS = {
    "slug",
    "title",
    "description",
    "tagList",
    "createdAt",
    "updatedAt",
    "favorited",
    "favoritesCount",
    "author",
}
ARTICLE_KEYS = PREVIEW_KEYS | {"body"}


async def new_user(app: ProvidingApp, username: str) -> str:
    """Adds a user who can log in with ``password123`` and returns their token."""
    identity = IDENTITY.of(app)
    async with platform_of(app).db.sessions() as session:
        user = User(
            username=username,
            email=f"{username}@example.com",
            password_hash=await identity.passwords.hash(PASSWORD),
        )
        session.add(user)
        await session.commit()
        user_id = user.id
    return identity.tokens.issue(user_id)


@pytest.fixture
async def alice(app: ProvidingApp) -> str:
    return await new_user(app, "alice")


@pytest.fixture
async def bob(app: ProvidingApp) -> str:
    return await new_user(app, "bob")


async def follow(client: AsyncClient, token: str, username: str) -> None:
    response = await client.post(f"/api/profiles/{username}/follow", headers=auth(token))
    assert response.status_code == 200, response.text
    assert response.json()["profile"]["following"] is True


async def favorite(client: AsyncClient, token: str, slug: str) -> dict[str, Any]:
    response = await client.post(f"/api/articles/{slug}/favorite", headers=auth(token))
    assert response.status_code == 200, response.text
    article: dict[str, Any] = response.json()["article"]
    return article


async def add_comment(client: AsyncClient, token: str, slug: str, body: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=auth(token)
    )
    assert response.status_code == 201, response.text
    comment: dict[str, Any] = response.json()["comment"]
    return comment


async def list_articles(
    client: AsyncClient, token: str | None = None, path: str = "/api/articles", **params: Any
) -> dict[str, Any]:
    """GET a list and check the envelope every list shares; returns the parsed JSON."""
    response = await client.get(path, params=params, headers=auth(token) if token else None)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    assert set(payload) == {"articles", "articlesCount"}
    assert isinstance(payload["articlesCount"], int)
    return payload


def slugs(payload: dict[str, Any]) -> list[str]:
    return [article["slug"] for article in payload["articles"]]


async def get_article(client: AsyncClient, slug: str, token: str | None = None) -> Response:
    return await client.get(f"/api/articles/{slug}", headers=auth(token) if token else None)
