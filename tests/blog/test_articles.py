"""Writing, reading, changing and deleting one article (RealWorld §3)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from httpx import AsyncClient

from tests.blog.conftest import (
    ARTICLE_KEYS,
    NOT_FOUND_ARTICLE,
    TIMESTAMP,
    add_comment,
    favorite,
    get_article,
    list_articles,
    slugs,
)
from tests.conftest import auth, create_article

VALID = {"title": "T", "description": "D", "body": "B"}
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


async def put(client: AsyncClient, token: str, slug: str, **changes: Any) -> Any:
    return await client.put(f"/api/articles/{slug}", json={"article": changes}, headers=auth(token))


# --- create -----------------------------------------------------------------------------------


async def test_create_returns_the_full_article(client: AsyncClient, alice: str) -> None:
    response = await client.post(
        "/api/articles",
        json={
            "article": {
                "title": "How to train your dragon",
                "description": "Ever wonder how?",
                "body": "You have to believe.",
                "tagList": ["training", "dragons", "training", "angular"],
            }
        },
        headers=auth(alice),
    )

    assert response.status_code == 201, response.text
    article = response.json()["article"]
    assert set(article) == ARTICLE_KEYS
    assert article["slug"] == "how-to-train-your-dragon"
    assert article["title"] == "How to train your dragon"
    assert article["description"] == "Ever wonder how?"
    assert article["body"] == "You have to believe."
    assert article["tagList"] == ["angular", "dragons", "training"]
    assert article["favorited"] is False
    assert article["favoritesCount"] == 0
    assert article["author"] == {
        "username": "alice",
        "bio": None,
        "image": None,
        "following": False,
    }
    assert TIMESTAMP.match(article["createdAt"])
    assert TIMESTAMP.match(article["updatedAt"])


async def test_create_without_tag_list_has_no_tags(client: AsyncClient, alice: str) -> None:
    article = await create_article(client, alice)

    assert article["tagList"] == []


async def test_tags_are_trimmed_before_they_are_deduplicated(
    client: AsyncClient, alice: str
) -> None:
    article = await create_article(client, alice, tags=[" zeta", "alpha ", "zeta"])

    assert article["tagList"] == ["alpha", "zeta"]


async def test_equal_titles_get_different_slugs(client: AsyncClient, alice: str, bob: str) -> None:
    first = await create_article(client, alice, title="Same title")
    second = await create_article(client, alice, title="Same title")
    third = await create_article(client, bob, title="Same title")

    assert first["slug"] == "same-title"
    assert len({first["slug"], second["slug"], third["slug"]}) == 3
    for article in (first, second, third):
        assert article["slug"].startswith("same-title")
        response = await get_article(client, article["slug"])
        assert response.json()["article"]["author"]["username"] == article["author"]["username"]


async def test_equal_titles_published_at_the_same_moment_all_succeed(
    client: AsyncClient, alice: str
) -> None:
    # a double-clicked "Publish": both requests find the slug free, only one can have it
    article = {"article": {**VALID, "title": "Rushed", "tagList": ["fresh", "new"]}}

    responses = await asyncio.gather(
        *(client.post("/api/articles", json=article, headers=auth(alice)) for _ in range(4))
    )

    assert [response.status_code for response in responses] == [201] * 4
    created = {response.json()["article"]["slug"] for response in responses}
    assert len(created) == 4
    assert "rushed" in created
    listed = await list_articles(client)
    assert set(slugs(listed)) == created
    assert {tuple(a["tagList"]) for a in listed["articles"]} == {("fresh", "new")}


@pytest.mark.parametrize(
    "title",
    [
        "Hello, World!",
        "  Spaces   everywhere  ",
        "Ünïcödé – Привет",
        "100% C++ & Rust?",
        "!!!",
        "Long " * 51,
    ],
)
async def test_slug_is_safe_to_put_in_a_url(client: AsyncClient, alice: str, title: str) -> None:
    article = await create_article(client, alice, title=title)

    assert SLUG.match(article["slug"]), article["slug"]
    assert (await get_article(client, article["slug"])).status_code == 200


@pytest.mark.parametrize("title", ["Feed", "feed!"])
async def test_an_article_titled_feed_can_still_be_read(
    client: AsyncClient, alice: str, title: str
) -> None:
    # /api/articles/feed is the feed route, so the slug must be something else
    created = await create_article(client, alice, title=title)

    response = await get_article(client, created["slug"])

    assert created["slug"] != "feed"
    assert created["slug"].startswith("feed-")
    assert response.status_code == 200
    assert response.json() == {"article": created}
    retitled = await put(client, alice, created["slug"], title="FEED")
    assert retitled.json()["article"]["slug"] == created["slug"]


# --- read -------------------------------------------------------------------------------------


async def test_get_by_slug_includes_the_body(client: AsyncClient, alice: str) -> None:
    created = await create_article(
        client, alice, body="# Title\n\nSome *markdown*.", tags=["b", "a"]
    )

    response = await get_article(client, created["slug"])

    assert response.status_code == 200
    assert response.json() == {"article": created}
    assert response.json()["article"]["body"] == "# Title\n\nSome *markdown*."


async def test_unknown_slug_is_404(client: AsyncClient) -> None:
    response = await get_article(client, "no-such-article")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND_ARTICLE


async def test_favorited_and_following_are_seen_from_the_viewer(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    await favorite(client, bob, slug)
    await client.post("/api/profiles/alice/follow", headers=auth(bob))

    as_bob = (await get_article(client, slug, bob)).json()["article"]
    as_alice = (await get_article(client, slug, alice)).json()["article"]
    anonymous = (await get_article(client, slug)).json()["article"]

    assert (as_bob["favorited"], as_bob["author"]["following"]) == (True, True)
    assert (as_alice["favorited"], as_alice["author"]["following"]) == (False, False)
    assert (anonymous["favorited"], anonymous["author"]["following"]) == (False, False)
    assert (
        as_bob["favoritesCount"] == as_alice["favoritesCount"] == anonymous["favoritesCount"] == 1
    )


# --- update -----------------------------------------------------------------------------------


async def test_update_body_keeps_slug_title_and_created_at(client: AsyncClient, alice: str) -> None:
    created = await create_article(client, alice, tags=["one", "two"])

    response = await put(client, alice, created["slug"], body="A new body.")

    assert response.status_code == 200, response.text
    updated = response.json()["article"]
    assert updated["body"] == "A new body."
    assert updated["slug"] == created["slug"]
    assert updated["title"] == created["title"]
    assert updated["description"] == created["description"]
    assert updated["tagList"] == ["one", "two"]
    assert updated["createdAt"] == created["createdAt"]
    assert updated["updatedAt"] != created["updatedAt"]
    assert updated["updatedAt"] > created["updatedAt"]
    assert (await get_article(client, created["slug"])).json() == {"article": updated}


async def test_each_update_moves_updated_at_forward(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice))["slug"]

    first = (await put(client, alice, slug, description="one")).json()["article"]
    second = (await put(client, alice, slug, description="two")).json()["article"]

    assert second["updatedAt"] > first["updatedAt"]
    assert second["createdAt"] == first["createdAt"]


async def test_update_title_gives_a_new_slug_and_the_old_one_is_gone(
    client: AsyncClient, alice: str
) -> None:
    created = await create_article(client, alice, title="Old title")

    response = await put(client, alice, created["slug"], title="New title")

    assert response.status_code == 200
    assert response.json()["article"]["slug"] == "new-title"
    assert response.json()["article"]["title"] == "New title"
    assert (await get_article(client, "new-title")).status_code == 200
    old = await get_article(client, "old-title")
    assert old.status_code == 404
    assert old.json() == NOT_FOUND_ARTICLE


async def test_retitling_to_a_taken_title_keeps_both_articles_reachable(
    client: AsyncClient, alice: str
) -> None:
    first = await create_article(client, alice, title="Taken")
    second = await create_article(client, alice, title="Free")

    renamed = (await put(client, alice, second["slug"], title="Taken")).json()["article"]

    assert renamed["slug"] != first["slug"]
    assert (await get_article(client, first["slug"])).json()["article"]["body"] == first["body"]
    assert (await get_article(client, renamed["slug"])).json()["article"]["title"] == "Taken"


async def test_a_title_with_the_same_slug_keeps_the_slug(client: AsyncClient, alice: str) -> None:
    created = await create_article(client, alice, title="Hello world")

    response = await put(client, alice, created["slug"], title="Hello World!")

    assert response.status_code == 200
    assert response.json()["article"]["title"] == "Hello World!"
    assert response.json()["article"]["slug"] == created["slug"]
    assert (await get_article(client, created["slug"])).status_code == 200


async def test_a_suffixed_slug_survives_a_cosmetic_retitle(client: AsyncClient, alice: str) -> None:
    await create_article(client, alice, title="Same title")
    second = await create_article(client, alice, title="Same title")

    response = await put(client, alice, second["slug"], title="Same Title!")

    assert response.json()["article"]["slug"] == second["slug"]
    assert (await get_article(client, second["slug"])).json()["article"]["title"] == "Same Title!"


async def test_tag_list_absent_keeps_the_tags(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice, tags=["a", "b"]))["slug"]

    response = await put(client, alice, slug, description="changed")

    assert response.json()["article"]["tagList"] == ["a", "b"]
    assert (await get_article(client, slug)).json()["article"]["tagList"] == ["a", "b"]


async def test_empty_tag_list_removes_every_tag(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice, tags=["a", "b"]))["slug"]

    response = await put(client, alice, slug, tagList=[])

    assert response.json()["article"]["tagList"] == []
    assert (await get_article(client, slug)).json()["article"]["tagList"] == []
    assert (await list_articles(client, tag="a"))["articlesCount"] == 0


async def test_tag_list_replaces_the_tags(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice, tags=["a", "b"]))["slug"]

    response = await put(client, alice, slug, tagList=["c", "b", "c"])

    assert response.json()["article"]["tagList"] == ["b", "c"]
    assert (await get_article(client, slug)).json()["article"]["tagList"] == ["b", "c"]


@pytest.mark.parametrize("field", ["tagList", "title", "description", "body"])
async def test_null_in_an_update_is_refused_and_changes_nothing(
    client: AsyncClient, alice: str, field: str
) -> None:
    created = await create_article(client, alice, tags=["a", "b"])

    response = await put(client, alice, created["slug"], **{field: None})

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert (await get_article(client, created["slug"])).json() == {"article": created}


@pytest.mark.parametrize("field", ["title", "description", "body"])
@pytest.mark.parametrize("value", ["", "   "])
async def test_blank_field_in_an_update_is_refused(
    client: AsyncClient, alice: str, field: str, value: str
) -> None:
    created = await create_article(client, alice)

    response = await put(client, alice, created["slug"], **{field: value})

    assert response.status_code == 422
    assert response.json() == {"errors": {field: ["can't be blank"]}}
    assert (await get_article(client, created["slug"])).json() == {"article": created}


async def test_update_of_an_unknown_slug_is_404(client: AsyncClient, alice: str) -> None:
    response = await put(client, alice, "nope", body="x")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND_ARTICLE


# --- delete -----------------------------------------------------------------------------------


async def test_delete_then_the_article_is_gone(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice))["slug"]

    response = await client.delete(f"/api/articles/{slug}", headers=auth(alice))

    assert response.status_code == 204
    assert response.content == b""
    gone = await get_article(client, slug)
    assert gone.status_code == 404
    assert gone.json() == NOT_FOUND_ARTICLE
    assert (await list_articles(client))["articlesCount"] == 0
    again = await client.delete(f"/api/articles/{slug}", headers=auth(alice))
    assert again.status_code == 404
    assert again.json() == NOT_FOUND_ARTICLE


async def test_delete_takes_comments_favorites_and_tags_with_it(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice, tags=["doomed"]))["slug"]
    await add_comment(client, bob, slug, "Nice one")
    await add_comment(client, alice, slug, "Thanks")
    await favorite(client, bob, slug)
    await favorite(client, alice, slug)

    response = await client.delete(f"/api/articles/{slug}", headers=auth(alice))

    assert response.status_code == 204
    assert (await get_article(client, slug)).status_code == 404
    comments = await client.get(f"/api/articles/{slug}/comments")
    assert comments.status_code == 404
    assert comments.json() == NOT_FOUND_ARTICLE
    assert (await list_articles(client, favorited="bob"))["articlesCount"] == 0
    assert (await list_articles(client, tag="doomed"))["articlesCount"] == 0
    assert (await client.get("/api/tags")).json() == {"tags": []}
    # the same title is free again and starts clean
    again = await create_article(client, alice)
    assert again["slug"] == slug
    assert (again["favoritesCount"], again["tagList"]) == (0, [])
    assert (await client.get(f"/api/articles/{slug}/comments")).json() == {"comments": []}


# --- validation -------------------------------------------------------------------------------


def without(field: str) -> dict[str, Any]:
    return {key: value for key, value in VALID.items() if key != field}


@pytest.mark.parametrize(
    ("article", "errors"),
    [
        pytest.param({**VALID, "title": ""}, {"title": ["can't be blank"]}, id="blank-title"),
        pytest.param({**VALID, "title": "  "}, {"title": ["can't be blank"]}, id="space-title"),
        pytest.param(without("title"), {"title": ["can't be blank"]}, id="missing-title"),
        pytest.param({**VALID, "title": None}, {"title": ["can't be blank"]}, id="null-title"),
        pytest.param(
            {**VALID, "description": ""}, {"description": ["can't be blank"]}, id="blank-desc"
        ),
        pytest.param(
            without("description"), {"description": ["can't be blank"]}, id="missing-desc"
        ),
        pytest.param({**VALID, "body": ""}, {"body": ["can't be blank"]}, id="blank-body"),
        pytest.param({**VALID, "body": " \n\t "}, {"body": ["can't be blank"]}, id="space-body"),
        pytest.param(without("body"), {"body": ["can't be blank"]}, id="missing-body"),
        pytest.param(
            {},
            {
                "title": ["can't be blank"],
                "description": ["can't be blank"],
                "body": ["can't be blank"],
            },
            id="empty-article",
        ),
        pytest.param({**VALID, "title": 123}, {"title": ["must be a string"]}, id="int-title"),
        pytest.param({**VALID, "body": ["x"]}, {"body": ["must be a string"]}, id="list-body"),
        pytest.param({**VALID, "tagList": "a,b"}, {"tagList": ["must be a list"]}, id="str-tags"),
        pytest.param({**VALID, "tagList": [1]}, {"tagList": ["must be a string"]}, id="int-tag"),
        pytest.param({**VALID, "tagList": [""]}, {"tagList": ["can't be blank"]}, id="blank-tag"),
        pytest.param(
            {**VALID, "tagList": [f"t{i}" for i in range(21)]},
            {"tagList": ["has too many items (maximum is 20)"]},
            id="21-tags",
        ),
        pytest.param(
            {**VALID, "tagList": ["x" * 65]},
            {"tagList": ["is too long (maximum is 64 characters)"]},
            id="long-tag",
        ),
        pytest.param(
            {**VALID, "title": "x" * 256},
            {"title": ["is too long (maximum is 255 characters)"]},
            id="long-title",
        ),
    ],
)
async def test_invalid_article_is_refused_with_the_field_named(
    client: AsyncClient, alice: str, article: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    response = await client.post("/api/articles", json={"article": article}, headers=auth(alice))

    assert response.status_code == 422
    assert response.json() == {"errors": errors}
    assert (await list_articles(client))["articlesCount"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({}, "article", id="no-envelope"),
        pytest.param({"article": "text"}, "article", id="envelope-not-object"),
        pytest.param([VALID], "body", id="top-level-list"),
    ],
)
async def test_malformed_envelope_is_422(
    client: AsyncClient, alice: str, payload: Any, field: str
) -> None:
    response = await client.post("/api/articles", json=payload, headers=auth(alice))

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]


async def test_invalid_json_is_422_not_500(client: AsyncClient, alice: str) -> None:
    response = await client.post(
        "/api/articles",
        content=b'{"article": {"title": ',
        headers={**auth(alice), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert "errors" in response.json()


async def test_twenty_tags_are_fine(client: AsyncClient, alice: str) -> None:
    tags = [f"t{i:02d}" for i in range(20)]

    article = await create_article(client, alice, tags=list(reversed(tags)))

    assert article["tagList"] == tags


async def test_extra_fields_are_ignored(client: AsyncClient, alice: str) -> None:
    response = await client.post(
        "/api/articles",
        json={"article": {**VALID, "slug": "chosen", "favoritesCount": 99, "author": "bob"}},
        headers=auth(alice),
    )

    assert response.status_code == 201
    article = response.json()["article"]
    assert (article["slug"], article["favoritesCount"]) == ("t", 0)
    assert article["author"]["username"] == "alice"


# --- text no database can store ---------------------------------------------------------------

NUL_REQUESTS = [
    ("POST", "/api/articles", {"article": {**VALID, "title": "a\x00b"}}, "title"),
    ("POST", "/api/articles", {"article": {**VALID, "description": "\x00"}}, "description"),
    ("POST", "/api/articles", {"article": {**VALID, "body": "x\x00"}}, "body"),
    ("POST", "/api/articles", {"article": {**VALID, "tagList": ["a\x00"]}}, "tagList"),
    ("PUT", "/api/articles/{slug}", {"article": {"body": "x\x00"}}, "body"),
    ("POST", "/api/articles/{slug}/comments", {"comment": {"body": "x\x00"}}, "body"),
    ("GET", "/api/articles?tag=%00", None, "tag"),
    ("GET", "/api/articles?author=a%00", None, "author"),
    ("GET", "/api/articles?favorited=a%00", None, "favorited"),
    ("GET", "/api/articles/a%00b", None, "slug"),
    ("PUT", "/api/articles/a%00b", {"article": {"body": "x"}}, "slug"),
    ("DELETE", "/api/articles/a%00b", None, "slug"),
    ("POST", "/api/articles/a%00b/favorite", None, "slug"),
    ("GET", "/api/articles/a%00b/comments", None, "slug"),
    ("DELETE", "/api/articles/a%00b/comments/1", None, "slug"),
    ("GET", "/api/feeds/profiles/a%00.atom", None, "username"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    NUL_REQUESTS,
    ids=[f"{method} {path} {field}" for method, path, _, field in NUL_REQUESTS],
)
async def test_a_nul_character_is_422_not_500(
    client: AsyncClient, alice: str, method: str, path: str, body: Any, field: str
) -> None:
    # SQLite would store it, PostgreSQL cannot: refused the same way on both
    created = await create_article(client, alice)

    response = await client.request(
        method, path.format(slug=created["slug"]), json=body, headers=auth(alice)
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert (await get_article(client, created["slug"])).json() == {"article": created}
