"""The blog's read side as one object: what the routes read, and what it reads through.

Pages, articles, tags and feeds are all cached reads (``read_cache``, ``feeds``) that take the
same three things: a factory of autocommit sessions (opened only for what the cache cannot
answer), the cache, and the cache's lifetime. The composition root binds them once
(``agora.container``); a route gets this object injected (``blog/deps.py``) and passes only
what the request says.
"""

from __future__ import annotations

from dataclasses import dataclass

from agora.blog import feeds, read_cache
from agora.blog.queries import ArticleFilter, ArticleJSON, PageJSON
from agora.platform.cache import Cache
from agora.platform.db import SessionFactory


@dataclass(frozen=True, slots=True)
class BlogReads:
    sessions: SessionFactory
    cache: Cache
    ttl_seconds: int
    # the title of the Atom feeds
    site_title: str

    async def page(
        self, where: ArticleFilter, viewer_id: int | None, *, limit: int, offset: int
    ) -> PageJSON:
        return await read_cache.article_page(
            sessions=self.sessions,
            cache=self.cache,
            ttl_seconds=self.ttl_seconds,
            where=where,
            viewer_id=viewer_id,
            limit=limit,
            offset=offset,
        )

    async def article(self, slug: str, viewer_id: int | None) -> ArticleJSON:
        return await read_cache.article(
            sessions=self.sessions,
            cache=self.cache,
            ttl_seconds=self.ttl_seconds,
            slug=slug,
            viewer_id=viewer_id,
        )

    async def tags(self) -> list[str]:
        return await read_cache.tags(
            sessions=self.sessions, cache=self.cache, ttl_seconds=self.ttl_seconds
        )

    async def site_feed(self, *, base_url: str) -> bytes:
        return await feeds.site_feed(
            sessions=self.sessions,
            cache=self.cache,
            ttl_seconds=self.ttl_seconds,
            base_url=base_url,
            title=self.site_title,
        )

    async def profile_feed(self, username: str, *, base_url: str) -> bytes:
        return await feeds.profile_feed(
            sessions=self.sessions,
            cache=self.cache,
            ttl_seconds=self.ttl_seconds,
            base_url=base_url,
            title=self.site_title,
            username=username,
        )
