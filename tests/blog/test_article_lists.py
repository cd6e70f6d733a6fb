"""GET /api/articles: order, paging, exact filters and viewer-relative flags (RealWorld §3)."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from agora.platform.provided import ProvidingApp
from tests.blog.conftest import (
    PREVIEW_KEYS,
    TIMESTAMP,
    favorite,
    follow,
    list_articles,
    new_user,
    slugs,
)
from tests.conftest import create_article


async def write(client: AsyncClient, token: str, count: int, *, prefix: str = "Post") -> list[str]:
    """Creates ``count`` articles in order and returns their slugs, oldest first."""
    return [
        (await create_article(client, token, title=f"{prefix} {number}"))["slug"]
        for number in range(count)
    ]


async def test_an_empty_blog_lists_nothing(client: AsyncClient) -> None:
    assert await list_articles(client) == {"articles": [], "articlesCount": 0}


async def test_newest_first_and_the_same_order_every_time(client: AsyncClient, alice: str) -> None:
    written = await write(client, alice, 6)

    first = await list_articles(client)
    second = await list_articles(client)

    assert slugs(first) == list(reversed(written))
    assert slugs(second) == slugs(first)
    stamps = [article["createdAt"] for article in first["articles"]]
    assert stamps == sorted(stamps, reverse=True)


async def test_list_items_have_no_body(client: AsyncClient, alice: str) -> None:
    await create_article(client, alice, tags=["b", "a"])

    (article,) = (await list_articles(client))["articles"]

    assert set(article) == PREVIEW_KEYS
    assert "body" not in article
    assert article["tagList"] == ["a", "b"]
    assert TIMESTAMP.match(article["createdAt"])
    assert TIMESTAMP.match(article["updatedAt"])
    assert article["author"] == {
        "username": "alice",
        "bio": None,
        "image": None,
        "following": False,
    }


async def test_default_page_is_twenty(client: AsyncClient, alice: str) -> None:
    written = await write(client, alice, 21)

    payload = await list_articles(client)

    assert payload["articlesCount"] == 21
    assert slugs(payload) == list(reversed(written))[:20]


@pytest.mark.parametrize(("limit", "offset"), [(1, 0), (2, 3), (10, 0), (3, 6), (5, 7), (100, 0)])
async def test_count_ignores_limit_and_offset(
    client: AsyncClient, alice: str, limit: int, offset: int
) -> None:
    written = list(reversed(await write(client, alice, 7)))

    payload = await list_articles(client, limit=limit, offset=offset)

    assert payload["articlesCount"] == 7
    assert slugs(payload) == written[offset : offset + limit]


async def test_pages_cover_every_article_exactly_once(client: AsyncClient, alice: str) -> None:
    written = list(reversed(await write(client, alice, 8)))

    paged: list[str] = []
    for offset in range(0, 9, 3):
        paged += slugs(await list_articles(client, limit=3, offset=offset))

    assert paged == written


async def test_paging_by_author_matches_the_spec_example(
    client: AsyncClient, alice: str, bob: str
) -> None:
    first, second = await write(client, alice, 2)
    await write(client, bob, 2, prefix="Noise")

    page_one = await list_articles(client, author="alice", limit=1)
    page_two = await list_articles(client, author="alice", limit=1, offset=1)

    assert (slugs(page_one), page_one["articlesCount"]) == ([second], 2)
    assert (slugs(page_two), page_two["articlesCount"]) == ([first], 2)


# --- filters ----------------------------------------------------------------------------------


async def test_author_filter_is_exact(app: ProvidingApp, client: AsyncClient) -> None:
    john = await new_user(app, "john")
    johnny = await new_user(app, "johnny")
    by_john = await write(client, john, 2, prefix="John")
    await write(client, johnny, 2, prefix="Johnny")

    payload = await list_articles(client, author="john")

    assert payload["articlesCount"] == 2
    assert sorted(slugs(payload)) == sorted(by_john)
    assert {article["author"]["username"] for article in payload["articles"]} == {"john"}
    assert (await list_articles(client, author="JOHN"))["articlesCount"] == 0
    assert (await list_articles(client, author="joh"))["articlesCount"] == 0


async def test_tag_filter_is_exact(client: AsyncClient, alice: str) -> None:
    py = await create_article(client, alice, title="Py", tags=["py"])
    await create_article(client, alice, title="Python", tags=["python"])
    both = await create_article(client, alice, title="Both", tags=["python", "py"])

    payload = await list_articles(client, tag="py")

    assert slugs(payload) == [both["slug"], py["slug"]]
    assert payload["articlesCount"] == 2
    # the whole tag list comes back, not only the matching tag
    assert payload["articles"][0]["tagList"] == ["py", "python"]
    assert (await list_articles(client, tag="p"))["articlesCount"] == 0
    assert (await list_articles(client, tag="py%"))["articlesCount"] == 0


async def test_favorited_filter_is_exact(
    app: ProvidingApp, client: AsyncClient, alice: str
) -> None:
    ann = await new_user(app, "ann")
    anna = await new_user(app, "anna")
    one, two, three = await write(client, alice, 3)
    await favorite(client, ann, one)
    await favorite(client, ann, three)
    await favorite(client, anna, two)
    await favorite(client, anna, three)

    payload = await list_articles(client, favorited="ann")

    assert slugs(payload) == [three, one]
    assert payload["articlesCount"] == 2
    assert [article["favoritesCount"] for article in payload["articles"]] == [2, 1]
    # anonymous viewer: nothing is favorited *by the viewer*
    assert {article["favorited"] for article in payload["articles"]} == {False}


@pytest.mark.parametrize(
    "params",
    [
        {"tag": "nope"},
        {"author": "nobody"},
        {"favorited": "nobody"},
        {"tag": ""},
        {"author": ""},
        {"tag": "x", "author": "nobody"},
    ],
)
async def test_unknown_filter_values_give_an_empty_list(
    client: AsyncClient, alice: str, params: dict[str, str]
) -> None:
    await create_article(client, alice, tags=["x"])

    assert await list_articles(client, **params) == {"articles": [], "articlesCount": 0}


async def test_favorited_by_someone_who_favorited_nothing_is_empty(
    client: AsyncClient, alice: str, bob: str
) -> None:
    await create_article(client, alice)

    assert await list_articles(client, favorited="bob") == {"articles": [], "articlesCount": 0}


async def test_filters_combine_with_and(client: AsyncClient, alice: str, bob: str) -> None:
    a_red = await create_article(client, alice, title="A red", tags=["red"])
    a_red_blue = await create_article(client, alice, title="A red blue", tags=["red", "blue"])
    b_red = await create_article(client, bob, title="B red", tags=["red"])
    await create_article(client, alice, title="A blue", tags=["blue"])
    await favorite(client, bob, a_red["slug"])
    await favorite(client, bob, b_red["slug"])
    await favorite(client, alice, a_red_blue["slug"])

    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"tag": "red", "author": "alice"}, [a_red_blue["slug"], a_red["slug"]]),
        ({"tag": "red", "favorited": "bob"}, [b_red["slug"], a_red["slug"]]),
        ({"author": "alice", "favorited": "bob"}, [a_red["slug"]]),
        ({"tag": "blue", "author": "alice", "favorited": "alice"}, [a_red_blue["slug"]]),
        ({"tag": "blue", "author": "bob"}, []),
    ]
    for params, expected in cases:
        payload = await list_articles(client, **params)
        assert slugs(payload) == expected, params
        assert payload["articlesCount"] == len(expected), params
        first_only = await list_articles(client, **params, limit=1)
        assert first_only["articlesCount"] == len(expected), params


# --- the viewer -------------------------------------------------------------------------------


async def test_flags_are_relative_to_the_signed_in_viewer(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    carol = await new_user(app, "carol")
    by_alice = (await create_article(client, alice, title="By alice"))["slug"]
    by_bob = (await create_article(client, bob, title="By bob"))["slug"]
    await favorite(client, carol, by_alice)
    await favorite(client, bob, by_alice)
    await follow(client, carol, "bob")

    def flags(payload: dict[str, Any]) -> dict[str, tuple[bool, bool, int]]:
        return {
            article["slug"]: (
                article["favorited"],
                article["author"]["following"],
                article["favoritesCount"],
            )
            for article in payload["articles"]
        }

    assert flags(await list_articles(client, carol)) == {
        by_alice: (True, False, 2),
        by_bob: (False, True, 0),
    }
    assert flags(await list_articles(client, bob)) == {
        by_alice: (True, False, 2),
        by_bob: (False, False, 0),
    }
    assert flags(await list_articles(client, alice)) == {
        by_alice: (False, False, 2),
        by_bob: (False, False, 0),
    }
    assert flags(await list_articles(client)) == {
        by_alice: (False, False, 2),
        by_bob: (False, False, 0),
    }


async def test_an_invalid_token_on_a_public_list_is_401(client: AsyncClient) -> None:
    response = await client.get("/api/articles", headers={"Authorization": "Token not-a-jwt"})

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


# --- bad paging -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "abc"}, "offset"),
    ],
)
async def test_invalid_limit_or_offset_is_422(
    client: AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get("/api/articles", params=params)

    assert response.status_code == 422
    (messages,) = response.json()["errors"].values()
    assert list(response.json()["errors"]) == [field]
    assert messages


async def test_the_largest_page_and_a_far_offset_are_fine(client: AsyncClient, alice: str) -> None:
    await create_article(client, alice)

    assert (await list_articles(client, limit=100))["articlesCount"] == 1
    far = await list_articles(client, offset=1000)
    assert far == {"articles": [], "articlesCount": 1}
