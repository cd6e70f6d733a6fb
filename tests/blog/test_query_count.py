"""The N+1 guard: a page of articles costs a few SQL statements, however long the page is.

Every statement the app sends is counted with a SQLAlchemy ``before_cursor_execute`` listener on
the app's own engine, so the numbers hold on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient

from agora.platform.db import on_postgresql
from agora.platform.provided import ProvidingApp
from agora.settings import Settings
from tests.blog.conftest import add_comment, favorite, follow, list_articles, new_user
from tests.conftest import auth, create_article
from tests.support.apps import platform_of
from tests.support.statements import recorded_statements

MAX_STATEMENTS = 4
AUTHORS = ("ada", "grace", "linus", "guido")
TAGS = ("python", "sql", "web", "async", "testing", "rust")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # the database path: with the read cache on, a warm page costs no statement at all
    # (tests/blog/test_read_cache.py shows that)
    return make_settings(read_cache_seconds=0)


@dataclass
class StatementLog:
    """What the app executed (the jobs runtime's background polls left out)."""

    statements: list[str]


@dataclass
class Blog:
    """25 articles by four authors, with tags, favorites and follows; ``reader`` follows two."""

    reader: str
    tokens: dict[str, str]
    slugs: list[str]


@pytest.fixture
async def blog(app: ProvidingApp, client: AsyncClient) -> Blog:
    tokens = {name: await new_user(app, name) for name in AUTHORS}
    reader = await new_user(app, "reader")
    slugs = []
    for number in range(25):
        author = AUTHORS[number % len(AUTHORS)]
        tags = [TAGS[(number + offset) % len(TAGS)] for offset in range(1 + number % 3)]
        article = await create_article(client, tokens[author], title=f"Post {number}", tags=tags)
        slugs.append(article["slug"])
    for number, slug in enumerate(slugs):
        if number % 2:
            await favorite(client, reader, slug)
        if number % 3 == 0:
            await favorite(client, tokens["ada"], slug)
    await follow(client, reader, "ada")
    await follow(client, reader, "grace")
    await follow(client, tokens["ada"], "linus")
    return Blog(reader=reader, tokens=tokens, slugs=slugs)


@pytest.fixture
def statements(app: ProvidingApp) -> Iterator[StatementLog]:
    with recorded_statements(app) as executed:
        yield StatementLog(executed)


async def count(
    client: AsyncClient,
    statements: StatementLog,
    path: str,
    token: str | None = None,
    **params: Any,
) -> tuple[int, dict[str, Any]]:
    """Statements executed while serving one GET, and its JSON."""
    statements.statements.clear()
    response = await client.get(path, params=params, headers=auth(token) if token else None)
    assert response.status_code == 200, response.text
    return len(statements.statements), response.json()


@pytest.mark.parametrize(
    ("path", "viewer", "params"),
    [
        pytest.param("/api/articles", None, {}, id="anonymous"),
        pytest.param("/api/articles", "reader", {}, id="signed-in"),
        pytest.param("/api/articles/feed", "reader", {}, id="feed"),
        pytest.param("/api/articles", "reader", {"tag": "python"}, id="by-tag"),
        pytest.param("/api/articles", None, {"author": "ada"}, id="by-author"),
        pytest.param("/api/articles", "reader", {"favorited": "reader"}, id="favorited"),
    ],
)
async def test_a_page_costs_the_same_few_statements_whatever_its_size(
    client: AsyncClient,
    blog: Blog,
    statements: StatementLog,
    path: str,
    viewer: str | None,
    params: dict[str, str],
) -> None:
    token = blog.reader if viewer == "reader" else None
    await count(client, statements, path, token, **params)  # warm the pool up

    small, small_page = await count(client, statements, path, token, limit=5, **params)
    large, large_page = await count(client, statements, path, token, limit=20, **params)

    assert len(small_page["articles"]) == 5
    assert len(large_page["articles"]) >= 6, "the large page must really be larger"
    assert large_page["articles"][:5] == small_page["articles"]
    assert small == large, statements.statements
    assert large <= MAX_STATEMENTS, statements.statements


async def test_the_seeded_pages_really_carry_tags_flags_and_authors(
    client: AsyncClient, blog: Blog
) -> None:
    # the counts above only mean something if the page holds everything it shows
    page = await list_articles(client, blog.reader, limit=20)

    articles = page["articles"]
    assert page["articlesCount"] == 25
    assert {article["author"]["username"] for article in articles} == set(AUTHORS)
    assert any(article["favorited"] for article in articles)
    assert any(not article["favorited"] for article in articles)
    assert {a["author"]["following"] for a in articles} == {True, False}
    assert any(len(article["tagList"]) >= 2 for article in articles)
    assert any(article["favoritesCount"] == 2 for article in articles)
    feed = await list_articles(client, blog.reader, "/api/articles/feed", limit=20)
    assert feed["articlesCount"] == 13  # ada 7 + grace 6


async def test_comments_cost_the_same_however_many(
    client: AsyncClient, blog: Blog, statements: StatementLog
) -> None:
    few, many = blog.slugs[0], blog.slugs[1]
    await add_comment(client, blog.tokens["ada"], few, "Only one")
    for number in range(8):
        author = AUTHORS[number % len(AUTHORS)]
        await add_comment(client, blog.tokens[author], many, f"Comment {number}")
    path = "/api/articles/{}/comments"
    await count(client, statements, path.format(few), blog.reader)

    one, one_page = await count(client, statements, path.format(few), blog.reader)
    eight, eight_page = await count(client, statements, path.format(many), blog.reader)

    assert (len(one_page["comments"]), len(eight_page["comments"])) == (1, 8)
    assert one == eight, statements.statements
    assert eight <= MAX_STATEMENTS, statements.statements


async def test_one_article_costs_a_few_statements(
    client: AsyncClient, blog: Blog, statements: StatementLog
) -> None:
    await count(client, statements, f"/api/articles/{blog.slugs[0]}", blog.reader)

    used, payload = await count(client, statements, f"/api/articles/{blog.slugs[5]}", blog.reader)

    assert payload["article"]["tagList"] == ["python", "rust", "sql"]
    assert payload["article"]["favorited"] is True
    assert used <= MAX_STATEMENTS, statements.statements


async def test_a_favorite_and_an_unfavorite_cost_one_statement_each(
    app: ProvidingApp, client: AsyncClient, blog: Blog, statements: StatementLog
) -> None:
    # the write and the article as the viewer then sees it, in one statement (two on SQLite,
    # which has no data-modifying CTEs); no user row, no transaction around it
    expected = 1 if on_postgresql(platform_of(app).db.engine) else 2
    slug = blog.slugs[0]
    token = blog.tokens["linus"]
    # a user's first signed-in request (then once per cache lifetime) also reads when the user's
    # tokens were last revoked (agora.identity.token_validity); counted are the requests after it
    assert (await client.get("/api/user", headers=auth(token))).status_code == 200

    for method in ("POST", "DELETE"):
        statements.statements.clear()
        response = await client.request(
            method, f"/api/articles/{slug}/favorite", headers=auth(token)
        )
        assert response.status_code == 200, response.text
        assert response.json()["article"]["favorited"] is (method == "POST")
        assert len(statements.statements) == expected, statements.statements
