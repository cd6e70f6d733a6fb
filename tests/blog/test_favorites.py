"""POST/DELETE /api/articles/{slug}/favorite (RealWorld §4)."""

from __future__ import annotations

import asyncio
from typing import Any

from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete

from agora.identity.models import User
from agora.platform.provided import ProvidingApp
from tests.blog.conftest import (
    NOT_FOUND_ARTICLE,
    TOKEN_MISSING,
    favorite,
    get_article,
    list_articles,
    new_user,
)
from tests.conftest import auth, create_article
from tests.support.apps import platform_of


async def unfavorite(client: AsyncClient, token: str, slug: str) -> dict[str, Any]:
    response = await client.delete(f"/api/articles/{slug}/favorite", headers=auth(token))
    assert response.status_code == 200, response.text
    article: dict[str, Any] = response.json()["article"]
    return article


async def test_favorite_returns_the_article_with_its_body(
    client: AsyncClient, alice: str, bob: str
) -> None:
    created = await create_article(client, alice, body="Body text", tags=["x"])

    article = await favorite(client, bob, created["slug"])

    assert article["favorited"] is True
    assert article["favoritesCount"] == 1
    assert article["body"] == "Body text"
    assert article["slug"] == created["slug"]
    assert article["tagList"] == ["x"]
    assert article["author"]["username"] == "alice"
    # favoriting is not editing
    assert article["updatedAt"] == created["updatedAt"]


async def test_favorite_is_persisted_per_viewer(client: AsyncClient, alice: str, bob: str) -> None:
    slug = (await create_article(client, alice))["slug"]

    await favorite(client, bob, slug)

    as_bob = (await get_article(client, slug, bob)).json()["article"]
    as_alice = (await get_article(client, slug, alice)).json()["article"]
    anonymous = (await get_article(client, slug)).json()["article"]
    assert (as_bob["favorited"], as_bob["favoritesCount"]) == (True, 1)
    assert (as_alice["favorited"], as_alice["favoritesCount"]) == (False, 1)
    assert (anonymous["favorited"], anonymous["favoritesCount"]) == (False, 1)
    (listed,) = (await list_articles(client, bob, favorited="bob"))["articles"]
    assert (listed["favorited"], listed["favoritesCount"]) == (True, 1)


async def test_favoriting_twice_counts_once(client: AsyncClient, alice: str, bob: str) -> None:
    slug = (await create_article(client, alice))["slug"]

    await favorite(client, bob, slug)
    again = await favorite(client, bob, slug)

    assert (again["favorited"], again["favoritesCount"]) == (True, 1)
    assert (await get_article(client, slug)).json()["article"]["favoritesCount"] == 1


async def test_counts_add_up_across_users(client: AsyncClient, alice: str, bob: str) -> None:
    slug = (await create_article(client, alice))["slug"]

    assert (await favorite(client, bob, slug))["favoritesCount"] == 1
    assert (await favorite(client, alice, slug))["favoritesCount"] == 2
    after = await unfavorite(client, bob, slug)

    assert (after["favorited"], after["favoritesCount"]) == (False, 1)
    as_alice = (await get_article(client, slug, alice)).json()["article"]
    assert (as_alice["favorited"], as_alice["favoritesCount"]) == (True, 1)


async def test_unfavorite_returns_the_article_and_is_persisted(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice, body="Body text"))["slug"]
    await favorite(client, bob, slug)

    article = await unfavorite(client, bob, slug)

    assert (article["favorited"], article["favoritesCount"]) == (False, 0)
    assert article["body"] == "Body text"
    as_bob = (await get_article(client, slug, bob)).json()["article"]
    assert (as_bob["favorited"], as_bob["favoritesCount"]) == (False, 0)
    assert (await list_articles(client, favorited="bob"))["articlesCount"] == 0


async def test_unfavoriting_what_you_never_favorited_changes_nothing(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    await favorite(client, alice, slug)

    first = await unfavorite(client, bob, slug)
    second = await unfavorite(client, bob, slug)

    assert (first["favorited"], first["favoritesCount"]) == (False, 1)
    assert (second["favorited"], second["favoritesCount"]) == (False, 1)


async def test_favorite_again_after_unfavorite(client: AsyncClient, alice: str, bob: str) -> None:
    slug = (await create_article(client, alice))["slug"]
    await favorite(client, bob, slug)
    await unfavorite(client, bob, slug)

    article = await favorite(client, bob, slug)

    assert (article["favorited"], article["favoritesCount"]) == (True, 1)


async def test_unknown_slug_is_404(client: AsyncClient, alice: str) -> None:
    for method in ("POST", "DELETE"):
        response = await client.request(method, "/api/articles/nope/favorite", headers=auth(alice))
        assert response.status_code == 404, method
        assert response.json() == NOT_FOUND_ARTICLE


async def test_anonymous_cannot_favorite(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice))["slug"]

    for method in ("POST", "DELETE"):
        response = await client.request(method, f"/api/articles/{slug}/favorite")
        assert response.status_code == 401, method
        assert response.json() == TOKEN_MISSING
    assert (await get_article(client, slug)).json()["article"]["favoritesCount"] == 0


async def test_concurrent_favorites_by_different_users_all_count(
    app: ProvidingApp, client: AsyncClient, alice: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    tokens = [await new_user(app, f"fan{number}") for number in range(6)]
    transport = ASGITransport(app=app)
    clients = [AsyncClient(transport=transport, base_url="http://test") for _ in tokens]

    try:
        # everyone favorites at once, and a second time at once (idempotent under races too)
        for _ in range(2):
            responses = await asyncio.gather(
                *(
                    fan_client.post(f"/api/articles/{slug}/favorite", headers=auth(token))
                    for fan_client, token in zip(clients, tokens, strict=True)
                )
            )
            assert [response.status_code for response in responses] == [200] * len(tokens)
            assert all(response.json()["article"]["favorited"] for response in responses)
    finally:
        for fan_client in clients:
            await fan_client.aclose()

    assert (await get_article(client, slug)).json()["article"]["favoritesCount"] == len(tokens)
    assert (await list_articles(client, favorited="fan3"))["articlesCount"] == 1


async def test_concurrent_favorite_and_unfavorite_keep_the_count_true(
    app: ProvidingApp, client: AsyncClient, alice: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    tokens = [await new_user(app, f"fan{number}") for number in range(6)]
    for token in tokens[:3]:
        await favorite(client, token, slug)

    # the first three take theirs back while the other three add theirs
    responses = await asyncio.gather(
        *(
            client.request(
                "DELETE" if number < 3 else "POST",
                f"/api/articles/{slug}/favorite",
                headers=auth(token),
            )
            for number, token in enumerate(tokens)
        )
    )

    assert [response.status_code for response in responses] == [200] * 6
    assert (await get_article(client, slug)).json()["article"]["favoritesCount"] == 3
    for number, token in enumerate(tokens):
        article = (await get_article(client, slug, token)).json()["article"]
        assert article["favorited"] is (number >= 3)


async def test_one_user_favoriting_in_several_requests_at_once_counts_once(
    client: AsyncClient, alice: str, bob: str
) -> None:
    # a double click sends the same favorite twice before either answer arrives
    slug = (await create_article(client, alice))["slug"]

    responses = await asyncio.gather(
        *(client.post(f"/api/articles/{slug}/favorite", headers=auth(bob)) for _ in range(4))
    )

    assert [response.status_code for response in responses] == [200] * 4
    assert {response.json()["article"]["favoritesCount"] for response in responses} == {1}
    article = (await get_article(client, slug, bob)).json()["article"]
    assert (article["favorited"], article["favoritesCount"]) == (True, 1)


async def test_favorites_of_a_deleted_account_no_longer_count(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    # the count follows the favorites however they go: here by cascade, with no request at all
    slug = (await create_article(client, alice))["slug"]
    await favorite(client, alice, slug)
    await favorite(client, bob, slug)
    async with platform_of(app).db.engine.begin() as connection:
        await connection.execute(delete(User).where(User.username == "bob"))
    await favorite(client, alice, slug)  # a favorite changed nothing: the cache must move on

    article = (await get_article(client, slug)).json()["article"]

    assert article["favoritesCount"] == 1


async def test_a_token_of_a_deleted_account_cannot_favorite(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    await favorite(client, bob, slug)
    async with platform_of(app).db.engine.begin() as connection:
        await connection.execute(delete(User).where(User.username == "bob"))

    for method in ("POST", "DELETE"):
        response = await client.request(method, f"/api/articles/{slug}/favorite", headers=auth(bob))
        assert response.status_code == 401, method
        assert response.json() == {"errors": {"token": ["is invalid"]}}
    assert (await get_article(client, slug)).json()["article"]["favoritesCount"] == 0
