"""Every blog write, raced against itself and against the deletion of what it touches.

Most tests fire real concurrent requests (``asyncio.gather``) at the in-process app; they
interleave on the real database (SQLite, or PostgreSQL in CI's second tier) at every statement.
A race window is narrow, so each race is run for several rounds. The narrowest window — an article
deleted while a statement that found it is still running — is opened on purpose on PostgreSQL:
the deletion is made and held uncommitted until the request waits for its lock. Whatever the
interleaving, every answer is a 2xx or a clear 4xx (the article is gone: 404), and what is left in
the database adds up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import delete, func, select

from agora.blog.models import Article, ArticleTag, Comment, Favorite
from agora.platform.db import on_postgresql
from agora.platform.provided import ProvidingApp
from tests.blog.conftest import NOT_FOUND_ARTICLE, add_comment, favorite, get_article, new_user
from tests.conftest import auth, create_article
from tests.support.apps import platform_of
from tests.support.concurrency import ROUNDS, at_once, statuses
from tests.support.database import someone_waits_for_a_lock

NOT_FOUND_COMMENT = {"errors": {"comment": ["not found"]}}


def assert_answers(responses: list[Response], allowed: dict[int, Any]) -> None:
    """Every answer has an allowed status, and an error says what it is about."""
    for response in responses:
        assert response.status_code in allowed, response.text
        body = allowed[response.status_code]
        if body is not None:
            assert response.json() == body


async def rows(app: ProvidingApp, model: type[Any], *where: Any) -> int:
    async with platform_of(app).db.autocommit_sessions() as session:
        count = await session.scalar(select(func.count()).select_from(model).where(*where))
        return int(count or 0)


async def fans(app: ProvidingApp, count: int) -> list[str]:
    return [await new_user(app, f"fan{number}") for number in range(count)]


# --- against the deletion of the article -------------------------------------------------------


async def amid_deletion(
    client: AsyncClient, author: str, slug: str, requests: list[Awaitable[Response]]
) -> list[Response]:
    """The requests at once, the article's deletion in their midst; the deletion's 204 aside."""
    half = len(requests) // 2
    deletion = client.delete(f"/api/articles/{slug}", headers=auth(author))
    answers = await at_once(*requests[:half], deletion, *requests[half:])
    assert answers.pop(half).status_code == 204
    return answers


@pytest.mark.parametrize("method", ["POST", "DELETE"], ids=["favorite", "unfavorite"])
async def test_favorites_racing_the_deletion_of_their_article_answer_200_or_404(
    app: ProvidingApp, client: AsyncClient, alice: str, method: str
) -> None:
    tokens = await fans(app, 6)
    for round_ in range(ROUNDS):
        slug = (await create_article(client, alice, title=f"Doomed {round_}"))["slug"]
        path = f"/api/articles/{slug}/favorite"
        if method == "DELETE":
            for token in tokens:
                await favorite(client, token, slug)

        answers = await amid_deletion(
            client, alice, slug, [client.request(method, path, headers=auth(t)) for t in tokens]
        )

        assert_answers(answers, {200: None, 404: NOT_FOUND_ARTICLE})
        assert (await get_article(client, slug)).status_code == 404
    assert await rows(app, Favorite) == 0


async def test_comments_racing_the_deletion_of_their_article_answer_201_or_404(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    for round_ in range(ROUNDS):
        slug = (await create_article(client, alice, title=f"Doomed {round_}"))["slug"]
        path = f"/api/articles/{slug}/comments"

        answers = await amid_deletion(
            client,
            alice,
            slug,
            [
                client.post(path, json={"comment": {"body": f"#{n}"}}, headers=auth(bob))
                for n in range(6)
            ],
        )

        # the article is gone, not the commenter's token
        assert_answers(answers, {201: None, 404: NOT_FOUND_ARTICLE})
    assert await rows(app, Comment) == 0


async def test_updates_racing_the_deletion_of_their_article_answer_200_or_404(
    app: ProvidingApp, client: AsyncClient, alice: str
) -> None:
    for round_ in range(ROUNDS):
        slug = (await create_article(client, alice, title=f"Doomed {round_}"))["slug"]
        edits = [{"article": {"body": f"edit {n}", "tagList": [f"t{n}", "both"]}} for n in range(4)]

        answers = await amid_deletion(
            client,
            alice,
            slug,
            [client.put(f"/api/articles/{slug}", json=e, headers=auth(alice)) for e in edits],
        )

        assert_answers(answers, {200: None, 404: NOT_FOUND_ARTICLE})
    assert await rows(app, Article) == await rows(app, ArticleTag) == 0


async def test_comment_deletions_racing_the_deletion_of_their_article_answer_204_or_404(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    for round_ in range(ROUNDS):
        slug = (await create_article(client, alice, title=f"Doomed {round_}"))["slug"]
        ids = [(await add_comment(client, bob, slug, f"c{number}"))["id"] for number in range(4)]
        path = f"/api/articles/{slug}/comments"

        answers = await amid_deletion(
            client, alice, slug, [client.delete(f"{path}/{i}", headers=auth(bob)) for i in ids]
        )

        assert_answers(answers, {204: None, 404: NOT_FOUND_ARTICLE})
    assert await rows(app, Comment) == 0


async def while_deleted_uncommitted(
    app: ProvidingApp, slug: str, send: Callable[[], Awaitable[Response]]
) -> Response:
    """Sends a request while another transaction has deleted the article but not committed:
    the request's statement sees the article, then waits for that transaction's lock, and must
    find the article gone when the deletion commits."""
    if not on_postgresql(platform_of(app).db.engine):
        pytest.skip("SQLite runs each write statement whole under its one write lock")
    async with platform_of(app).db.engine.connect() as deleting:
        await deleting.execute(delete(Article).where(Article.slug == slug))
        answer = asyncio.ensure_future(send())
        await someone_waits_for_a_lock(platform_of(app).db)
        await deleting.commit()
    return await answer


async def test_a_favorite_of_an_article_deleted_under_it_is_a_404(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]

    answer = await while_deleted_uncommitted(
        app, slug, lambda: client.post(f"/api/articles/{slug}/favorite", headers=auth(bob))
    )

    assert (answer.status_code, answer.json()) == (404, NOT_FOUND_ARTICLE)
    assert await rows(app, Favorite) == 0


async def test_a_comment_on_an_article_deleted_under_it_is_a_404(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]

    answer = await while_deleted_uncommitted(
        app,
        slug,
        lambda: client.post(
            f"/api/articles/{slug}/comments", json={"comment": {"body": "Hi"}}, headers=auth(bob)
        ),
    )

    # the article is gone, not the commenter's token
    assert (answer.status_code, answer.json()) == (404, NOT_FOUND_ARTICLE)
    assert await rows(app, Comment) == 0


async def test_an_edit_of_an_article_deleted_under_it_is_a_404(
    app: ProvidingApp, client: AsyncClient, alice: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    edit = {"article": {"title": "Renamed", "tagList": ["new"]}}

    answer = await while_deleted_uncommitted(
        app, slug, lambda: client.put(f"/api/articles/{slug}", json=edit, headers=auth(alice))
    )

    assert (answer.status_code, answer.json()) == (404, NOT_FOUND_ARTICLE)
    assert await rows(app, Article) == await rows(app, ArticleTag) == 0


# --- against itself ------------------------------------------------------------------------------


async def test_deleting_one_article_several_times_at_once_is_one_204_and_404s(
    client: AsyncClient, alice: str
) -> None:
    for round_ in range(ROUNDS):
        slug = (await create_article(client, alice, title=f"Twice {round_}", tags=["x"]))["slug"]

        answers = await at_once(
            *(client.delete(f"/api/articles/{slug}", headers=auth(alice)) for _ in range(4))
        )

        assert sorted(statuses(answers)) == [204, 404, 404, 404]
        assert_answers(answers, {204: None, 404: NOT_FOUND_ARTICLE})


async def test_deleting_one_comment_several_times_at_once_is_one_204_and_404s(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    for round_ in range(ROUNDS):
        comment_id = (await add_comment(client, bob, slug, f"once {round_}"))["id"]
        path = f"/api/articles/{slug}/comments/{comment_id}"

        answers = await at_once(*(client.delete(path, headers=auth(bob)) for _ in range(4)))

        assert sorted(statuses(answers)) == [204, 404, 404, 404]
        assert_answers(answers, {204: None, 404: NOT_FOUND_COMMENT})


async def test_two_articles_retitled_to_one_title_at_once_both_get_a_slug(
    client: AsyncClient, alice: str, bob: str
) -> None:
    for round_ in range(ROUNDS):
        first = (await create_article(client, alice, title=f"First {round_}"))["slug"]
        second = (await create_article(client, bob, title=f"Second {round_}"))["slug"]
        title = {"article": {"title": f"The same title {round_}"}}

        answers = await at_once(
            client.put(f"/api/articles/{first}", json=title, headers=auth(alice)),
            client.put(f"/api/articles/{second}", json=title, headers=auth(bob)),
        )

        assert statuses(answers) == [200, 200]
        new_slugs = [answer.json()["article"]["slug"] for answer in answers]
        assert len(set(new_slugs)) == 2
        for new_slug, author in zip(new_slugs, ("alice", "bob"), strict=True):
            article = (await get_article(client, new_slug)).json()["article"]
            assert article["author"]["username"] == author


async def test_one_article_updated_by_several_requests_at_once_keeps_one_of_their_tag_lists(
    client: AsyncClient, alice: str
) -> None:
    for round_ in range(ROUNDS):
        slug = (await create_article(client, alice, title=f"Edited {round_}"))["slug"]
        tag_lists = [[f"tag{number}", "common"] for number in range(4)]

        answers = await at_once(
            *(
                client.put(
                    f"/api/articles/{slug}",
                    json={"article": {"tagList": tags}},
                    headers=auth(alice),
                )
                for tags in tag_lists
            )
        )

        assert statuses(answers) == [200] * 4
        tags = (await get_article(client, slug)).json()["article"]["tagList"]
        assert tags in [sorted(tag_list) for tag_list in tag_lists]


async def test_unfavoriting_in_several_requests_at_once_counts_once(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    await favorite(client, alice, slug)
    for _ in range(ROUNDS):
        await favorite(client, bob, slug)

        answers = await at_once(
            *(client.delete(f"/api/articles/{slug}/favorite", headers=auth(bob)) for _ in range(4))
        )

        assert statuses(answers) == [200] * 4
        assert {answer.json()["article"]["favoritesCount"] for answer in answers} == {1}
        article = (await get_article(client, slug)).json()["article"]
        assert article["favoritesCount"] == 1


async def test_favorites_and_unfavorites_by_one_user_at_once_keep_the_count_true(
    app: ProvidingApp, client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice))["slug"]
    for _ in range(ROUNDS):
        answers = await at_once(
            *(
                client.request(method, f"/api/articles/{slug}/favorite", headers=auth(bob))
                for method in ("POST", "DELETE", "POST", "DELETE", "POST")
            )
        )

        assert statuses(answers) == [200] * 5
        stored = await rows(app, Favorite)
        article = (await get_article(client, slug, bob)).json()["article"]
        assert (article["favoritesCount"], article["favorited"]) == (stored, stored == 1)
