"""Atom 1.0 feeds (XML) of the newest articles, bodies rendered from Markdown to safe HTML.

Rendering is the one costly thing a read of the blog does, and its cost is in the writers' hands:
a 100 KB body of nested brackets takes markdown-it seconds. So a feed is built once per state of
the articles and kept in the read cache under their generations (like a page of articles), each
body is rendered once and kept under its own digest, only the first ``CONTENT_MAX_CHARS`` of a
body are rendered, and the rendering runs in a worker thread after the database session is
closed: neither the event loop nor a pooled connection waits for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import quote

from feedgen.feed import FeedGenerator
from sqlalchemy import exists, select

from agora.blog import markdown
from agora.blog.queries import ArticleFilter, latest_articles
from agora.blog.read_cache import ARTICLES
from agora.blog.schemas import Article
from agora.identity.models import User
from agora.identity.read_cache import PROFILES
from agora.platform.cache import Cache, generations
from agora.platform.db import SessionFactory
from agora.platform.errors import NotFound

FEED_SIZE = 20
# a feed shows the beginning of a long body; the entry's link leads to the whole article
CONTENT_MAX_CHARS = 20_000
CONTINUED = "<p>…</p>"
ATOM_MEDIA_TYPE = "application/atom+xml; charset=utf-8"
# Stand-ins for text that has nothing left to show: Atom requires an entry's title and author name.
UNTITLED = "Untitled"
UNNAMED = "unnamed"
# characters XML 1.0 forbids (most C0 controls, U+FFFE/FFFF, surrogates), which JSON strings may
# hold; the API refuses them in titles, descriptions and tags now, but not in bodies, and rows
# written before the rule may hold them anywhere: whatever is stored, the feed must stay valid
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str, fallback: str = "") -> str:
    """``text`` as XML 1.0 can carry it, or ``fallback`` if no visible character is left."""
    cleaned = _NOT_XML.sub("", text)
    return cleaned if cleaned.strip() else fallback


def _url_segment(value: str) -> str:
    # percent-encoded: an IRI cannot carry spaces or controls either
    return quote(value, safe="")


def _content(body: str) -> str:
    """The HTML a feed carries for ``body``: its beginning, rendered and sanitized."""
    if len(body) <= CONTENT_MAX_CHARS:
        return _xml(markdown.render_markdown(body))
    return _xml(markdown.render_markdown(body[:CONTENT_MAX_CHARS])) + CONTINUED


def _html_key(body: str) -> str:
    return "blog:html:" + hashlib.blake2b(body.encode(errors="replace"), digest_size=16).hexdigest()


async def _contents(cache: Cache, ttl_seconds: int, bodies: list[str]) -> list[str]:
    """Each body's feed HTML: from the cache, else rendered in a worker thread (then cached)."""
    keys = [_html_key(body) for body in bodies]
    cached = await cache.get_many(*keys) if ttl_seconds > 0 and keys else [None] * len(keys)
    missing = [index for index, html in enumerate(cached) if html is None]
    rendered = await asyncio.to_thread(lambda: [_content(bodies[index]) for index in missing])
    contents = [html.decode() if html is not None else "" for html in cached]
    for index, html in zip(missing, rendered, strict=True):
        contents[index] = html
        if ttl_seconds > 0:
            await cache.set(keys[index], html.encode(), ttl_seconds=ttl_seconds)
    return contents


def _atom(
    articles: list[Article],
    contents: list[str],
    *,
    feed_id: str,
    title: str,
    self_url: str,
    base_url: str,
) -> bytes:
    feed = FeedGenerator()
    feed.id(feed_id)
    feed.title(_xml(title, UNTITLED))
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=base_url, rel="alternate")
    feed.generator("Agora")
    newest = max(
        (article.updated_at for article in articles), default=datetime(2026, 1, 1, tzinfo=UTC)
    )
    feed.updated(newest)
    for article, content in zip(articles, contents, strict=True):
        entry = feed.add_entry(order="append")
        url = f"{base_url}/api/articles/{_url_segment(article.slug)}"
        entry.id(url)
        entry.title(_xml(article.title, UNTITLED))
        entry.link(href=url, rel="alternate")
        entry.author({"name": _xml(article.author.username, UNNAMED)})
        entry.published(article.created_at)
        entry.updated(article.updated_at)
        if summary := _xml(article.description):
            entry.summary(summary)
        entry.content(content, type="html")
        for tag in article.tag_list:
            if term := _xml(tag):
                entry.category(term=term)
    xml: bytes = feed.atom_str(pretty=True)
    return xml


async def _feed(
    *,
    cache: Cache,
    ttl_seconds: int,
    identity: tuple[str, ...],
    load: Callable[[], Awaitable[list[Article]]],
    feed_id: str,
    title: str,
    self_url: str,
    base_url: str,
) -> bytes:
    """The feed from the cache, else built: ``load`` reads the articles (and checks what it must),
    and the XML is made off the event loop. ``identity`` names what the feed shows."""
    key = ""
    if ttl_seconds > 0:
        articles_generation, profiles_generation = await generations(cache, ARTICLES, PROFILES)
        parts = [articles_generation, profiles_generation, base_url, title, *identity]
        digest = hashlib.blake2b("\x00".join(parts).encode(errors="replace"), digest_size=16)
        key = f"blog:feed:{digest.hexdigest()}"
        if (cached := await cache.get(key)) is not None:
            return cached
    articles = await load()
    contents = await _contents(cache, ttl_seconds, [article.body for article in articles])
    xml = await asyncio.to_thread(
        _atom,
        articles,
        contents,
        feed_id=feed_id,
        title=title,
        self_url=self_url,
        base_url=base_url,
    )
    if key:
        await cache.set(key, xml, ttl_seconds=ttl_seconds)
    return xml


async def site_feed(
    *, sessions: SessionFactory, cache: Cache, ttl_seconds: int, base_url: str, title: str
) -> bytes:
    async def load() -> list[Article]:
        async with sessions() as session:
            return await latest_articles(session, where=ArticleFilter(), limit=FEED_SIZE)

    url = f"{base_url}/api/feeds/articles.atom"
    return await _feed(
        cache=cache,
        ttl_seconds=ttl_seconds,
        identity=("site",),
        load=load,
        feed_id=url,
        title=f"{title}: latest articles",
        self_url=url,
        base_url=base_url,
    )


async def profile_feed(
    *,
    sessions: SessionFactory,
    cache: Cache,
    ttl_seconds: int,
    base_url: str,
    title: str,
    username: str,
) -> bytes:
    async def load() -> list[Article]:
        async with sessions() as session:
            if not await session.scalar(select(exists().where(User.username == username))):
                raise NotFound("not found", field="profile")
            return await latest_articles(
                session, where=ArticleFilter(author=username), limit=FEED_SIZE
            )

    url = f"{base_url}/api/feeds/profiles/{_url_segment(username)}.atom"
    return await _feed(
        cache=cache,
        ttl_seconds=ttl_seconds,
        identity=("profile", username),
        load=load,
        feed_id=url,
        title=f"{title}: articles by {username}",
        self_url=url,
        base_url=base_url,
    )
