"""Atom 1.0 feeds (XML) of the newest articles, bodies rendered from Markdown to safe HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

from feedgen.feed import FeedGenerator
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.blog.markdown import render_markdown
from agora.blog.queries import ArticleFilter, latest_articles
from agora.blog.schemas import Article
from agora.identity.models import User
from agora.platform.errors import NotFound

FEED_SIZE = 20
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


def _atom(
    articles: list[Article], *, feed_id: str, title: str, self_url: str, base_url: str
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
    for article in articles:
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
        entry.content(_xml(render_markdown(article.body)), type="html")
        for tag in article.tag_list:
            if term := _xml(tag):
                entry.category(term=term)
    xml: bytes = feed.atom_str(pretty=True)
    return xml


async def site_feed(*, session: AsyncSession, base_url: str, title: str) -> bytes:
    articles = await latest_articles(session, where=ArticleFilter(), limit=FEED_SIZE)
    return _atom(
        articles,
        feed_id=f"{base_url}/api/feeds/articles.atom",
        title=f"{title}: latest articles",
        self_url=f"{base_url}/api/feeds/articles.atom",
        base_url=base_url,
    )


async def profile_feed(*, session: AsyncSession, base_url: str, title: str, username: str) -> bytes:
    if not await session.scalar(select(exists().where(User.username == username))):
        raise NotFound("not found", field="profile")
    articles = await latest_articles(session, where=ArticleFilter(author=username), limit=FEED_SIZE)
    url = f"{base_url}/api/feeds/profiles/{_url_segment(username)}.atom"
    return _atom(
        articles,
        feed_id=url,
        title=f"{title}: articles by {username}",
        self_url=url,
        base_url=base_url,
    )
