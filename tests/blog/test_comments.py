"""Comments on an article: add, list, delete (RealWorld §5)."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.blog.conftest import (
    NOT_FOUND_ARTICLE,
    TIMESTAMP,
    add_comment,
    follow,
)
from tests.conftest import auth, create_article

FORBIDDEN_COMMENT = {"errors": {"comment": ["forbidden"]}}
NOT_FOUND_COMMENT = {"errors": {"comment": ["not found"]}}


async def comments_of(
    client: AsyncClient, slug: str, token: str | None = None
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/articles/{slug}/comments", headers=auth(token) if token else None
    )
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["comments"]
    comments: list[dict[str, Any]] = response.json()["comments"]
    return comments


async def test_add_returns_201_and_the_comment(client: AsyncClient, alice: str, bob: str) -> None:
    slug = (await create_article(client, alice))["slug"]

    response = await client.post(
        f"/api/articles/{slug}/comments",
        json={"comment": {"body": "Thank you so much!"}},
        headers=auth(bob),
    )

    assert response.status_code == 201
    comment = response.json()["comment"]
    assert set(comment) == {"id", "createdAt", "updatedAt", "body", "author"}
    assert isinstance(comment["id"], int)
    assert comment["body"] == "Thank you so much!"
    assert comment["author"] == {"username": "bob", "bio": None, "image": None, "following": False}
    assert TIMESTAMP.match(comment["createdAt"])
    assert TIMESTAMP.match(comment["updatedAt"])
    assert await comments_of(client, slug) == [comment]


async def test_list_is_newest_first_with_and_without_a_token(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    written = [
        await add_comment(client, bob, slug, "First"),
        await add_comment(client, alice, slug, "Second"),
        await add_comment(client, bob, slug, "Third"),
    ]

    anonymous = await comments_of(client, slug)
    signed_in = await comments_of(client, slug, alice)

    assert [comment["body"] for comment in anonymous] == ["Third", "Second", "First"]
    assert [comment["id"] for comment in anonymous] == [c["id"] for c in reversed(written)]
    assert [comment["id"] for comment in signed_in] == [c["id"] for c in anonymous]


async def test_comment_authors_show_whether_the_viewer_follows_them(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    await add_comment(client, bob, slug, "From bob")
    await add_comment(client, alice, slug, "From alice")
    await follow(client, alice, "bob")

    def following(comments: list[dict[str, Any]]) -> dict[str, bool]:
        return {c["author"]["username"]: c["author"]["following"] for c in comments}

    assert following(await comments_of(client, slug, alice)) == {"bob": True, "alice": False}
    assert following(await comments_of(client, slug, bob)) == {"bob": False, "alice": False}
    assert following(await comments_of(client, slug)) == {"bob": False, "alice": False}


async def test_comments_belong_to_their_article(client: AsyncClient, alice: str) -> None:
    one = (await create_article(client, alice, title="One"))["slug"]
    two = (await create_article(client, alice, title="Two"))["slug"]
    await add_comment(client, alice, one, "On one")

    assert [c["body"] for c in await comments_of(client, one)] == ["On one"]
    assert await comments_of(client, two) == []


async def test_delete_own_comment(client: AsyncClient, alice: str, bob: str) -> None:
    slug = (await create_article(client, alice))["slug"]
    first = await add_comment(client, bob, slug, "First comment")
    await add_comment(client, bob, slug, "Second comment")

    response = await client.delete(
        f"/api/articles/{slug}/comments/{first['id']}", headers=auth(bob)
    )

    assert response.status_code == 204
    assert response.content == b""
    assert [c["body"] for c in await comments_of(client, slug)] == ["Second comment"]
    again = await client.delete(f"/api/articles/{slug}/comments/{first['id']}", headers=auth(bob))
    assert again.status_code == 404
    assert again.json() == NOT_FOUND_COMMENT


async def test_cannot_delete_another_users_comment(
    client: AsyncClient, alice: str, bob: str
) -> None:
    # not even the article's author may delete a reader's comment
    slug = (await create_article(client, alice))["slug"]
    comment = await add_comment(client, bob, slug, "Mine")

    response = await client.delete(
        f"/api/articles/{slug}/comments/{comment['id']}", headers=auth(alice)
    )

    assert response.status_code == 403
    assert response.json() == FORBIDDEN_COMMENT
    assert await comments_of(client, slug) == [comment]


async def test_unknown_comment_id_is_404(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice))["slug"]

    response = await client.delete(f"/api/articles/{slug}/comments/99999", headers=auth(alice))

    assert response.status_code == 404
    assert response.json() == NOT_FOUND_COMMENT


async def test_a_comment_is_found_only_under_its_own_article(
    client: AsyncClient, alice: str
) -> None:
    one = (await create_article(client, alice, title="One"))["slug"]
    two = (await create_article(client, alice, title="Two"))["slug"]
    comment = await add_comment(client, alice, one, "On one")

    response = await client.delete(
        f"/api/articles/{two}/comments/{comment['id']}", headers=auth(alice)
    )

    assert response.status_code == 404
    assert response.json() == NOT_FOUND_COMMENT
    assert await comments_of(client, one) == [comment]


async def test_unknown_article_is_404_on_every_comment_route(
    client: AsyncClient, alice: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    comment = await add_comment(client, alice, slug, "Real")

    listing = await client.get("/api/articles/nope/comments")
    adding = await client.post(
        "/api/articles/nope/comments", json={"comment": {"body": "x"}}, headers=auth(alice)
    )
    # the article is checked first, even for a comment id that exists elsewhere
    deleting = await client.delete(
        f"/api/articles/nope/comments/{comment['id']}", headers=auth(alice)
    )

    for response in (listing, adding, deleting):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND_ARTICLE
    assert await comments_of(client, slug) == [comment]


@pytest.mark.parametrize("comment_id", ["abc", "1.5", "1e3"])
async def test_non_integer_comment_id_is_422(
    client: AsyncClient, alice: str, comment_id: str
) -> None:
    slug = (await create_article(client, alice))["slug"]

    response = await client.delete(
        f"/api/articles/{slug}/comments/{comment_id}", headers=auth(alice)
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["comment_id"]


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        pytest.param({"comment": {"body": ""}}, {"body": ["can't be blank"]}, id="blank"),
        pytest.param({"comment": {"body": " \n "}}, {"body": ["can't be blank"]}, id="spaces"),
        pytest.param({"comment": {}}, {"body": ["can't be blank"]}, id="missing"),
        pytest.param({"comment": {"body": None}}, {"body": ["can't be blank"]}, id="null"),
        pytest.param({"comment": {"body": 5}}, {"body": ["must be a string"]}, id="number"),
        pytest.param({}, {"comment": ["can't be blank"]}, id="no-envelope"),
    ],
)
async def test_invalid_comment_is_422_and_nothing_is_added(
    client: AsyncClient,
    alice: str,
    payload: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    slug = (await create_article(client, alice))["slug"]

    response = await client.post(
        f"/api/articles/{slug}/comments", json=payload, headers=auth(alice)
    )

    assert response.status_code == 422
    assert response.json() == {"errors": errors}
    assert await comments_of(client, slug) == []


async def test_markdown_in_a_comment_is_stored_as_written(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice))["slug"]
    text = "  indented\n\n<b>raw</b> **bold**"

    comment = await add_comment(client, alice, slug, text)

    assert comment["body"] == text
    assert (await comments_of(client, slug))[0]["body"] == text
