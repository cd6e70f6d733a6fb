"""Who may write what: every write route needs a token, and only authors change their articles.

The token check comes first — before the article is looked up and before the body is validated —
so an anonymous client learns nothing about which slugs exist.
"""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.blog.conftest import (
    FORBIDDEN_ARTICLE,
    NOT_FOUND_ARTICLE,
    TOKEN_MISSING,
    add_comment,
    favorite,
    get_article,
    list_articles,
)
from tests.conftest import auth, create_article

VALID_ARTICLE = {"article": {"title": "T", "description": "D", "body": "B"}}
VALID_COMMENT = {"comment": {"body": "Hi"}}

# (method, path with {slug}/{id}, a valid body or None)
WRITE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/articles", VALID_ARTICLE),
    ("PUT", "/api/articles/{slug}", {"article": {"body": "Changed"}}),
    ("DELETE", "/api/articles/{slug}", None),
    ("POST", "/api/articles/{slug}/favorite", None),
    ("DELETE", "/api/articles/{slug}/favorite", None),
    ("POST", "/api/articles/{slug}/comments", VALID_COMMENT),
    ("DELETE", "/api/articles/{slug}/comments/{id}", None),
    ("GET", "/api/articles/feed", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in WRITE_ROUTES]
INVALID_BODIES = [{}, {"article": {"title": ""}}, {"comment": {"body": ""}}, "not json"]


async def _send(
    client: AsyncClient,
    method: str,
    path: str,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
) -> Any:
    if isinstance(body, str):
        return await client.request(
            method,
            path,
            content=body.encode(),
            headers={**(headers or {}), "Content-Type": "application/json"},
        )
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ROUTES, ids=ROUTE_IDS)
async def test_anonymous_writes_are_401_and_change_nothing(
    client: AsyncClient, alice: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    created = await create_article(client, alice, tags=["kept"])
    comment = await add_comment(client, alice, created["slug"], "Kept")

    response = await _send(
        client, method, path.format(slug=created["slug"], id=comment["id"]), body
    )

    assert response.status_code == 401
    assert response.json() == TOKEN_MISSING
    assert (await get_article(client, created["slug"])).json() == {"article": created}
    comments = (await client.get(f"/api/articles/{created['slug']}/comments")).json()
    assert comments == {"comments": [comment]}
    assert (await list_articles(client))["articlesCount"] == 1


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ROUTES, ids=ROUTE_IDS)
async def test_anonymous_is_401_even_for_an_unknown_slug(
    client: AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await _send(client, method, path.format(slug="no-such-article", id=99999), body)

    assert response.status_code == 401
    assert response.json() == TOKEN_MISSING


@pytest.mark.parametrize("body", INVALID_BODIES, ids=["empty", "blank-title", "blank", "not-json"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param(method, path, id=f"{method} {path}")
        for method, path, body in WRITE_ROUTES
        if body is not None
    ],
)
async def test_anonymous_is_401_even_with_an_invalid_body(
    client: AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await _send(client, method, path.format(slug="some-slug", id=1), body)

    assert response.status_code == 401
    assert response.json() == TOKEN_MISSING


@pytest.mark.parametrize(
    "header",
    ["Token not-a-jwt", "Token ", "Basic dXNlcjpwYXNz", "Token a.b.c"],
    ids=["garbage", "empty", "basic", "bad-signature"],
)
@pytest.mark.parametrize(("method", "path", "body"), WRITE_ROUTES[:3], ids=ROUTE_IDS[:3])
async def test_a_bad_token_is_401_invalid(
    client: AsyncClient, method: str, path: str, body: dict[str, Any] | None, header: str
) -> None:
    response = await _send(
        client, method, path.format(slug="some-slug"), body, headers={"Authorization": header}
    )

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


# --- another user's article -------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [{"body": "Hijacked"}, {"title": "Hijacked title"}, {"tagList": []}, {"tagList": ["theirs"]}],
    ids=["body", "title", "clear-tags", "new-tags"],
)
async def test_another_user_cannot_edit_an_article(
    client: AsyncClient, alice: str, bob: str, changes: dict[str, Any]
) -> None:
    created = await create_article(client, alice, tags=["mine"])

    response = await client.put(
        f"/api/articles/{created['slug']}", json={"article": changes}, headers=auth(bob)
    )

    assert response.status_code == 403
    assert response.json() == FORBIDDEN_ARTICLE
    assert (await get_article(client, created["slug"])).json() == {"article": created}
    assert (await client.get("/api/tags")).json() == {"tags": ["mine"]}


async def test_another_user_cannot_delete_an_article(
    client: AsyncClient, alice: str, bob: str
) -> None:
    created = await create_article(client, alice)
    await favorite(client, bob, created["slug"])
    comment = await add_comment(client, bob, created["slug"], "Still here")

    response = await client.delete(f"/api/articles/{created['slug']}", headers=auth(bob))

    assert response.status_code == 403
    assert response.json() == FORBIDDEN_ARTICLE
    after = (await get_article(client, created["slug"], bob)).json()["article"]
    assert after == {**created, "favorited": True, "favoritesCount": 1}
    comments = (await client.get(f"/api/articles/{created['slug']}/comments")).json()
    assert comments == {"comments": [comment]}


async def test_an_unknown_slug_is_404_before_ownership(client: AsyncClient, bob: str) -> None:
    for method in ("PUT", "DELETE"):
        response = await client.request(
            method,
            "/api/articles/no-such-article",
            json={"article": {"body": "x"}} if method == "PUT" else None,
            headers=auth(bob),
        )
        assert response.status_code == 404, method
        assert response.json() == NOT_FOUND_ARTICLE


async def test_anyone_signed_in_may_favorite_and_comment(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]

    assert (await favorite(client, bob, slug))["favoritesCount"] == 1
    assert (await add_comment(client, bob, slug, "Great"))["author"]["username"] == "bob"
