"""GET /api/tags: the tags in use, most used first (RealWorld §6), never stale after a write."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import update

from agora.blog.events import ArticlesChanged
from agora.blog.models import Tag
from agora.platform.provided import ProvidingApp
from tests.conftest import auth, create_article
from tests.support.apps import events_of, platform_of


async def tags(client: AsyncClient) -> list[str]:
    response = await client.get("/api/tags")
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["tags"]
    names: list[str] = response.json()["tags"]
    return names


async def test_no_articles_no_tags(client: AsyncClient) -> None:
    assert await tags(client) == []


async def test_each_tag_once_most_used_first_then_by_name(
    client: AsyncClient, alice: str, bob: str
) -> None:
    await create_article(client, alice, tags=["python", "web", "zebra"])
    await create_article(client, alice, tags=["python", "web"])
    await create_article(client, bob, tags=["python", "asyncio", "beta"])
    await create_article(client, bob, tags=["web", "python"])

    # python 4, web 3, then the ones used once alphabetically
    assert await tags(client) == ["python", "web", "asyncio", "beta", "zebra"]


async def test_tags_need_no_token(client: AsyncClient, alice: str) -> None:
    await create_article(client, alice, tags=["open"])

    assert await tags(client) == ["open"]
    signed_in = await client.get("/api/tags", headers=auth(alice))
    assert signed_in.json() == {"tags": ["open"]}


async def test_a_new_tag_shows_up_right_after_create(client: AsyncClient, alice: str) -> None:
    await create_article(client, alice, tags=["old"])
    assert await tags(client) == ["old"]  # now it is cached

    await create_article(client, alice, tags=["new", "old"])

    assert await tags(client) == ["old", "new"]


async def test_tags_of_a_deleted_article_disappear(client: AsyncClient, alice: str) -> None:
    await create_article(client, alice, title="Stays", tags=["shared"])
    doomed = await create_article(client, alice, title="Goes", tags=["shared", "only-here"])
    assert await tags(client) == ["shared", "only-here"]

    response = await client.delete(f"/api/articles/{doomed['slug']}", headers=auth(alice))

    assert response.status_code == 204
    assert await tags(client) == ["shared"]


async def test_retagging_updates_the_list(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice, tags=["before"]))["slug"]
    assert await tags(client) == ["before"]

    response = await client.put(
        f"/api/articles/{slug}", json={"article": {"tagList": ["after"]}}, headers=auth(alice)
    )

    assert response.status_code == 200
    assert await tags(client) == ["after"]
    await client.put(
        f"/api/articles/{slug}", json={"article": {"tagList": []}}, headers=auth(alice)
    )
    assert await tags(client) == []


async def test_a_refused_write_leaves_the_tags_alone(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice, tags=["kept"]))["slug"]

    await client.put(f"/api/articles/{slug}", json={"article": {"tagList": []}}, headers=auth(bob))
    await client.post(
        "/api/articles",
        json={"article": {"title": "", "description": "d", "body": "b", "tagList": ["ghost"]}},
        headers=auth(alice),
    )

    assert await tags(client) == ["kept"]


async def test_tags_are_case_sensitive_and_returned_as_written(
    client: AsyncClient, alice: str
) -> None:
    await create_article(client, alice, tags=["Python", "python", "C++", "日本語"])

    assert sorted(await tags(client)) == sorted(["Python", "python", "C++", "日本語"])
    response = await client.get("/api/articles", params={"tag": "C++"})
    assert response.json()["articlesCount"] == 1


async def test_a_tag_with_a_line_break_survives_the_cache(
    app: ProvidingApp, client: AsyncClient, alice: str
) -> None:
    # a line break in a tag is refused now, but rows written before may still hold one
    await create_article(client, alice, tags=["two lines", "plain"])
    async with platform_of(app).db.engine.begin() as connection:
        await connection.execute(
            update(Tag).values(name="two\nlines").where(Tag.name == "two lines")
        )
    await events_of(app).publish(ArticlesChanged())

    first = await tags(client)
    cached = await tags(client)

    assert sorted(first) == ["plain", "two\nlines"]
    assert cached == first
