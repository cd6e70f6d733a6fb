"""Cached reads of articles: pages and single articles, marked for each viewer.

Every list is the same for all readers except two flags: ``favorited`` and the author's
``following``. So a page is computed once as an anonymous reader sees it and cached, and a
signed-in viewer's flags are laid over it from two small per-viewer sets (what they favorited,
whom they follow), cached too. A warm page costs no database round trip at all.

Entries are keyed by two generations: ``ARTICLES`` (advanced after any write to articles, tags or
favorites) and identity's ``PROFILES`` (advanced after a profile change), so a write is seen by
the next read — on every node, when the cache is Redis. With ``AGORA_READ_CACHE_SECONDS=0``
everything here goes straight to the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson
from sqlalchemy import select

from agora.blog import queries
from agora.blog.models import Favorite
from agora.blog.queries import ArticleFilter, ArticleJSON, ArticlePreviewJSON, EntryJSON, PageJSON
from agora.identity.read_cache import PROFILES, followee_ids
from agora.platform.cache import Cache, cached_ids, generations, start_generation
from agora.platform.db import SessionFactory

ARTICLES = "blog:articles"
# a viewer with more favorites than this is answered from the database on every request
MAX_CACHED_FAVORITES = 5_000


def _favorites_key(user_id: int) -> str:
    return f"blog:favorites:{user_id}"


async def articles_changed(cache: Cache) -> None:
    """After the commit of any write that a list or an article could show."""
    await start_generation(cache, ARTICLES)


async def favorites_changed(cache: Cache, user_id: int) -> None:
    await cache.delete(_favorites_key(user_id))
    await articles_changed(cache)  # favoritesCount moved


async def _favorite_ids(
    *, sessions: SessionFactory, cache: Cache, ttl_seconds: int, user_id: int
) -> frozenset[int] | None:
    async def load(limit: int) -> list[int]:
        query = select(Favorite.article_id).where(Favorite.user_id == user_id).limit(limit)
        async with sessions() as session:
            return list(await session.scalars(query))

    return await cached_ids(
        cache,
        _favorites_key(user_id),
        ttl_seconds=ttl_seconds,
        load=load,
        limit=MAX_CACHED_FAVORITES,
    )


class _Marks:
    """One viewer's favorites and followees, to set the per-viewer flags of cached articles."""

    def __init__(self, favorites: frozenset[int], followees: frozenset[int]) -> None:
        self.favorites = favorites
        self.followees = followees

    def apply(
        self, article: ArticleJSON | ArticlePreviewJSON, article_id: int, author_id: int
    ) -> None:
        article["favorited"] = article_id in self.favorites
        article["author"]["following"] = author_id in self.followees


async def _marks(
    *, sessions: SessionFactory, cache: Cache, ttl_seconds: int, viewer_id: int
) -> _Marks | None:
    favorites = await _favorite_ids(
        sessions=sessions, cache=cache, ttl_seconds=ttl_seconds, user_id=viewer_id
    )
    followees = await followee_ids(
        sessions=sessions, cache=cache, ttl_seconds=ttl_seconds, user_id=viewer_id
    )
    if favorites is None or followees is None:
        return None
    return _Marks(favorites, followees)


async def _query_page(
    sessions: SessionFactory,
    where: ArticleFilter,
    viewer_id: int | None,
    *,
    limit: int,
    offset: int,
) -> PageJSON:
    async with sessions() as session:
        return await queries.list_articles(
            session, where=where, viewer_id=viewer_id, limit=limit, offset=offset
        )


async def _query_article(sessions: SessionFactory, slug: str, viewer_id: int | None) -> EntryJSON:
    async with sessions() as session:
        return await queries.get_article(session, slug=slug, viewer_id=viewer_id)


def _key(kind: str, parts: Iterable[object]) -> str:
    digest = hashlib.blake2b(orjson.dumps(list(parts)), digest_size=16).hexdigest()
    return f"blog:{kind}:{digest}"


async def article_page(
    *,
    sessions: SessionFactory,
    cache: Cache,
    ttl_seconds: int,
    where: ArticleFilter,
    viewer_id: int | None,
    limit: int,
    offset: int,
) -> PageJSON:
    """A page of articles as ``viewer_id`` sees it (see the module's docstring).

    A session is opened (from ``sessions``) only for what the cache cannot answer.
    """
    if ttl_seconds <= 0:
        return await _query_page(sessions, where, viewer_id, limit=limit, offset=offset)
    marks = None
    feed_scope: list[int] = []
    if viewer_id is not None:
        marks = await _marks(
            sessions=sessions, cache=cache, ttl_seconds=ttl_seconds, viewer_id=viewer_id
        )
        if marks is None:  # too many to cache: the database marks them
            return await _query_page(sessions, where, viewer_id, limit=limit, offset=offset)
        if where.feed_of is not None:
            # a feed page depends on whom the viewer follows: a follow gives another key
            feed_scope = sorted(marks.followees)
    articles_generation, profiles_generation = await generations(cache, ARTICLES, PROFILES)
    key = _key(
        "page",
        (
            articles_generation,
            profiles_generation,
            where.tag,
            where.author,
            where.favorited_by,
            where.feed_of,
            feed_scope,
            limit,
            offset,
        ),
    )
    cached = await cache.get(key)
    if cached is not None:
        page: PageJSON = orjson.loads(cached)
    else:
        page = await _query_page(sessions, where, None, limit=limit, offset=offset)
        await cache.set(key, orjson.dumps(page), ttl_seconds=ttl_seconds)
    if marks is not None:
        for article, article_id, author_id in zip(
            page["articles"], page["ids"], page["author_ids"], strict=True
        ):
            marks.apply(article, article_id, author_id)
    return page


async def article(
    *, sessions: SessionFactory, cache: Cache, ttl_seconds: int, slug: str, viewer_id: int | None
) -> ArticleJSON:
    """One article, with its body, as ``viewer_id`` sees it."""
    if ttl_seconds <= 0:
        return (await _query_article(sessions, slug, viewer_id))["article"]
    marks = None
    if viewer_id is not None:
        marks = await _marks(
            sessions=sessions, cache=cache, ttl_seconds=ttl_seconds, viewer_id=viewer_id
        )
        if marks is None:
            return (await _query_article(sessions, slug, viewer_id))["article"]
    articles_generation, profiles_generation = await generations(cache, ARTICLES, PROFILES)
    key = _key("article", (articles_generation, profiles_generation, slug))
    cached = await cache.get(key)
    entry: EntryJSON
    if cached is not None:
        entry = orjson.loads(cached)
    else:
        # a missing slug raises NotFound and caches nothing
        entry = await _query_article(sessions, slug, None)
        await cache.set(key, orjson.dumps(entry), ttl_seconds=ttl_seconds)
    if marks is not None:
        marks.apply(entry["article"], entry["id"], entry["author_id"])
    return entry["article"]
