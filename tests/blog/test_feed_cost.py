"""What a feed costs the server: rendering a writer's Markdown must not stall the other readers.

A body of 100 KB of nested brackets takes markdown-it seconds, and anyone who can sign up can
write twenty of them. So the feed renders off the event loop with no pooled connection held,
each state of the blog is rendered once (later reads come from the read cache), and only the
beginning of a long body goes into the feed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from httpx import AsyncClient

from agora.blog import feeds, markdown
from agora.platform.provided import ProvidingApp
from tests.blog.atom import ATOM, SITE_FEED, content_of, entries, fetch_feed, parse_atom, titles
from tests.conftest import auth, create_article
from tests.support.apps import platform_of
from tests.support.statements import recorded_statements

RELEASE_TIMEOUT = 10.0  # seconds: a bound on waiting for the stalled renderer, not a speed claim


class StalledRenderer:
    """Stands for a body that takes long to render: renders only once the test lets it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self._render = markdown.render_markdown

    def __call__(self, source: str) -> str:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(RELEASE_TIMEOUT), "the test never released the renderer"
        return self._render(source)


@pytest.fixture
def renderer(monkeypatch: pytest.MonkeyPatch) -> Iterator[StalledRenderer]:
    stalled = StalledRenderer()
    monkeypatch.setattr(markdown, "render_markdown", stalled)
    yield stalled
    stalled.release.set()  # never leave a worker thread waiting


async def test_other_requests_are_served_while_a_feed_renders(
    app: ProvidingApp, client: AsyncClient, alice: str, renderer: StalledRenderer
) -> None:
    await create_article(client, alice, title="Heavy", body="[" * 50_000)
    feed = asyncio.create_task(client.get(SITE_FEED))
    assert await asyncio.to_thread(renderer.entered.wait, RELEASE_TIMEOUT)

    # the renderer is stuck, yet the event loop serves, and no connection waits for it
    pool: Any = platform_of(app).db.engine.pool
    assert pool.checkedout() == 0
    listed = await client.get("/api/articles")
    assert listed.status_code == 200
    assert listed.json()["articlesCount"] == 1

    renderer.release.set()
    response = await feed
    assert response.status_code == 200
    assert titles(parse_atom(response.content)) == ["Heavy"]


async def test_a_feed_is_rendered_once_per_state_of_the_blog(
    app: ProvidingApp, client: AsyncClient, alice: str, renderer: StalledRenderer
) -> None:
    renderer.release.set()
    await create_article(client, alice, title="First")
    await fetch_feed(client)
    assert renderer.calls == 1

    with recorded_statements(app) as statements:
        again = await fetch_feed(client)
    assert statements == []  # a warm feed costs neither a statement nor a render
    assert renderer.calls == 1
    assert len(entries(again)) == 1

    # a new article: the feed shows it at once, and only the new body is rendered
    await create_article(client, alice, title="Second", body="Another body")
    feed = await fetch_feed(client)
    assert titles(feed) == ["Second", "First"]
    assert renderer.calls == 2


async def test_a_long_body_shows_its_beginning_in_the_feed(client: AsyncClient, alice: str) -> None:
    paragraphs = [f"Paragraph {number} " + "word " * 200 for number in range(40)]
    body = "\n\n".join(paragraphs)
    assert len(body) > 2 * feeds.CONTENT_MAX_CHARS
    await create_article(client, alice, title="Long", body=body)

    content = content_of(entries(await fetch_feed(client))[0])

    assert "Paragraph 0 " in content
    assert "Paragraph 39 " not in content
    assert content.endswith(feeds.CONTINUED)
    # the whole body is still the article's
    article = await client.get("/api/articles?author=alice", headers=auth(alice))
    assert article.status_code == 200


async def test_a_renamed_author_has_a_feed_under_the_new_name_only(
    client: AsyncClient, alice: str
) -> None:
    await create_article(client, alice, title="Mine")
    await fetch_feed(client, "/api/feeds/profiles/alice.atom")

    renamed = await client.put(
        "/api/user", json={"user": {"username": "alicia"}}, headers=auth(alice)
    )
    assert renamed.status_code == 200

    assert (await client.get("/api/feeds/profiles/alice.atom")).status_code == 404
    feed = await fetch_feed(client, "/api/feeds/profiles/alicia.atom")
    assert [entry.findtext(f"{ATOM}author/{ATOM}name") for entry in entries(feed)] == ["alicia"]
