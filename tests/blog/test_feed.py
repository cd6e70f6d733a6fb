"""GET /api/articles/feed: the articles of the authors you follow (RealWorld §3)."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from agora.platform.provided import ProvidingApp
from tests.blog.conftest import TOKEN_MISSING, follow, list_articles, new_user, slugs
from tests.conftest import auth, create_article

FEED = "/api/articles/feed"


@pytest.mark.parametrize("query", ["", "?limit=1", "?limit=abc"])
async def test_feed_needs_a_token_and_is_not_an_article_slug(
    client: AsyncClient, query: str
) -> None:
    response = await client.get(FEED + query)

    assert response.status_code == 401
    assert response.json() == TOKEN_MISSING


async def test_feed_of_a_new_user_is_empty(client: AsyncClient, alice: str, bob: str) -> None:
    await create_article(client, bob)
    await create_article(client, alice)

    assert await list_articles(client, alice, FEED) == {"articles": [], "articlesCount": 0}


async def test_feed_shows_only_followed_authors_newest_first(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    carol = await new_user(app, "carol")
    dave = await new_user(app, "dave")
    expected: list[str] = []
    for number in range(3):
        expected.append((await create_article(client, bob, title=f"Bob {number}"))["slug"])
        await create_article(client, dave, title=f"Dave {number}")
        expected.append((await create_article(client, carol, title=f"Carol {number}"))["slug"])
        await create_article(client, alice, title=f"Alice {number}")
    await follow(client, alice, "bob")
    await follow(client, alice, "carol")

    payload = await list_articles(client, alice, FEED)

    assert slugs(payload) == list(reversed(expected))
    assert payload["articlesCount"] == 6
    authors = {article["author"]["username"] for article in payload["articles"]}
    assert authors == {"bob", "carol"}
    assert all(article["author"]["following"] is True for article in payload["articles"])
    assert all("body" not in article for article in payload["articles"])


async def test_feed_pages_and_counts(client: AsyncClient, alice: str, bob: str) -> None:
    first = (await create_article(client, bob, title="First"))["slug"]
    second = (await create_article(client, bob, title="Second"))["slug"]
    await follow(client, alice, "bob")

    page_one = await list_articles(client, alice, FEED, limit=1)
    page_two = await list_articles(client, alice, FEED, limit=1, offset=1)
    past_end = await list_articles(client, alice, FEED, limit=1, offset=2)

    assert (slugs(page_one), page_one["articlesCount"]) == ([second], 2)
    assert page_one["articles"][0]["author"]["following"] is True
    assert (slugs(page_two), page_two["articlesCount"]) == ([first], 2)
    assert past_end == {"articles": [], "articlesCount": 2}


async def test_feed_is_per_viewer(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    carol = await new_user(app, "carol")
    by_bob = (await create_article(client, bob))["slug"]
    by_carol = (await create_article(client, carol))["slug"]
    await follow(client, alice, "bob")
    await follow(client, bob, "carol")

    assert slugs(await list_articles(client, alice, FEED)) == [by_bob]
    assert slugs(await list_articles(client, bob, FEED)) == [by_carol]
    assert slugs(await list_articles(client, carol, FEED)) == []


async def test_unfollowing_removes_the_author_from_the_feed(
    client: AsyncClient, alice: str, bob: str
) -> None:
    await create_article(client, bob)
    await follow(client, alice, "bob")
    assert (await list_articles(client, alice, FEED))["articlesCount"] == 1

    response = await client.delete("/api/profiles/bob/follow", headers=auth(alice))

    assert response.status_code == 200
    assert await list_articles(client, alice, FEED) == {"articles": [], "articlesCount": 0}


async def test_following_yourself_does_not_put_you_in_your_feed(
    client: AsyncClient, alice: str
) -> None:
    await create_article(client, alice)

    response = await client.post("/api/profiles/alice/follow", headers=auth(alice))

    # refused (422) or a no-op: either way your own articles never fill your feed
    assert response.status_code in {200, 422}
    assert (await list_articles(client, alice, FEED))["articlesCount"] == 0


async def test_feed_favorited_flag_is_the_viewers(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, bob))["slug"]
    await follow(client, alice, "bob")
    await client.post(f"/api/articles/{slug}/favorite", headers=auth(alice))

    (article,) = (await list_articles(client, alice, FEED))["articles"]

    assert (article["favorited"], article["favoritesCount"]) == (True, 1)


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "101"}, {"offset": "-1"}])
async def test_feed_refuses_bad_paging(
    client: AsyncClient, alice: str, params: dict[str, str]
) -> None:
    response = await client.get(FEED, params=params, headers=auth(alice))

    assert response.status_code == 422
    assert list(response.json()["errors"]) == list(params)
