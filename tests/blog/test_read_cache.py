"""The read cache: a warm page costs no database statement, and every write is seen at once.

The rest of the blog suite runs with the cache on too, so each write-then-read test there checks
invalidation as well; these tests name the promises directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import delete

from agora.identity.models import User
from agora.platform.provided import ProvidingApp
from tests.blog.conftest import (
    add_comment,
    favorite,
    follow,
    get_article,
    list_articles,
    new_user,
)
from tests.blog.conftest import slugs as slugs_of
from tests.conftest import auth, create_article
from tests.support.apps import platform_of
from tests.support.statements import recorded_statements


@pytest.fixture
async def statements(app: ProvidingApp) -> AsyncIterator[list[str]]:
    with recorded_statements(app) as executed:
        yield executed


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        pytest.param("/api/articles", False, id="list-anonymous"),
        pytest.param("/api/articles", True, id="list-signed-in"),
        pytest.param("/api/articles/feed", True, id="feed"),
        pytest.param("ARTICLE", False, id="article-anonymous"),
        pytest.param("ARTICLE", True, id="article-signed-in"),
    ],
)
async def test_a_warm_read_costs_no_statement(
    app: ProvidingApp, client: AsyncClient, statements: list[str], path: str, signed_in: bool
) -> None:
    author = await new_user(app, "author")
    reader = await new_user(app, "reader")
    article = await create_article(client, author, tags=["python"])
    await follow(client, reader, "author")
    if path == "ARTICLE":
        path = f"/api/articles/{article['slug']}"
    headers = auth(reader) if signed_in else None

    first = await client.get(path, headers=headers)
    statements.clear()
    second = await client.get(path, headers=headers)

    assert second.status_code == first.status_code == 200
    assert second.json() == first.json()
    assert statements == []


async def test_writes_are_seen_by_the_next_read(app: ProvidingApp, client: AsyncClient) -> None:
    author = await new_user(app, "author")
    reader = await new_user(app, "reader")
    article = await create_article(client, author, title="Cached", tags=["python"])
    slug = article["slug"]
    await list_articles(client, reader)  # warm every cache this reader uses
    await get_article(client, slug, reader)

    await favorite(client, reader, slug)
    await follow(client, reader, "author")
    bio = await client.put("/api/user", json={"user": {"bio": "new bio"}}, headers=auth(author))
    assert bio.status_code == 200

    listed = (await list_articles(client, reader))["articles"][0]
    single = (await get_article(client, slug, reader)).json()["article"]
    for seen in (listed, single):
        assert seen["favorited"] is True
        assert seen["favoritesCount"] == 1
        assert seen["author"]["following"] is True
        assert seen["author"]["bio"] == "new bio"
    anonymous = (await list_articles(client))["articles"][0]
    assert anonymous["favorited"] is False
    assert anonymous["author"]["following"] is False
    assert anonymous["favoritesCount"] == 1
    feed = (await list_articles(client, reader, "/api/articles/feed"))["articles"]
    assert [entry["slug"] for entry in feed] == [slug]

    deleted = await client.delete(f"/api/articles/{slug}", headers=auth(author))
    assert deleted.status_code == 204
    assert (await list_articles(client, reader))["articles"] == []
    assert (await get_article(client, slug, reader)).status_code == 404
    assert (await client.get("/api/tags")).json() == {"tags": []}


async def test_a_favorite_keeps_cached_pages_and_refreshes_only_their_counts(
    app: ProvidingApp, client: AsyncClient, statements: list[str]
) -> None:
    # favorites are the most frequent write: each one must not cost every page its cache
    author = await new_user(app, "author")
    reader = await new_user(app, "reader")
    slug = (await create_article(client, author, tags=["python"]))["slug"]
    await list_articles(client)
    await get_article(client, slug)
    assert (await list_articles(client, favorited="reader"))["articlesCount"] == 0

    await favorite(client, reader, slug)

    async def article() -> dict[str, Any]:
        body: dict[str, Any] = (await get_article(client, slug)).json()
        return body

    async def page() -> dict[str, Any]:
        return await list_articles(client)

    reads = {}
    for name, read in (("page", page), ("article", article)):
        statements.clear()
        reads[name] = await read()
        # one small statement for the counts, not the page's or the article's own
        assert len(statements) == 1, statements
        assert "favorites_count" in statements[0]
        assert "tags" not in statements[0]
    assert reads["page"]["articles"][0]["favoritesCount"] == 1
    assert reads["article"]["article"]["favoritesCount"] == 1
    # a page filtered by favorites changes members: it is read again
    assert slugs_of(await list_articles(client, favorited="reader")) == [slug]


async def test_a_comment_shows_its_authors_current_profile(
    app: ProvidingApp, client: AsyncClient
) -> None:
    author = await new_user(app, "author")
    slug = (await create_article(client, author))["slug"]
    await add_comment(client, author, slug, "first")  # the author's profile is cached now

    changed = await client.put(
        "/api/user",
        json={"user": {"username": "renamed", "bio": "changed"}},
        headers=auth(author),
    )
    assert changed.status_code == 200
    comment = await add_comment(client, author, slug, "second")

    assert comment["author"] == {
        "username": "renamed",
        "bio": "changed",
        "image": None,
        "following": False,
    }


@pytest.mark.parametrize("commented_before", [False, True], ids=["cold", "cached-profile"])
async def test_a_token_of_a_deleted_user_cannot_comment(
    app: ProvidingApp, client: AsyncClient, commented_before: bool
) -> None:
    author = await new_user(app, "author")
    ghost = await new_user(app, "ghost")
    slug = (await create_article(client, author))["slug"]
    if commented_before:
        await add_comment(client, ghost, slug, "still here")
    async with platform_of(app).db.engine.begin() as connection:
        await connection.execute(delete(User).where(User.username == "ghost"))

    response = await client.post(
        f"/api/articles/{slug}/comments",
        json={"comment": {"body": "boo"}},
        headers=auth(ghost),
    )

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}
    comments = (await client.get(f"/api/articles/{slug}/comments")).json()["comments"]
    assert [comment["body"] for comment in comments] == []
