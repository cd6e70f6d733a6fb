"""Cached reads of articles: pages and single articles, marked for each viewer.

Every list is the same for all readers except two flags: ``favorited`` and the author's
``following``. So a page is computed once as an anonymous reader sees it and cached, and a
signed-in viewer's flags are laid over it from two small per-viewer sets (what they favorited,
whom they follow), cached too. A warm page costs no database round trip at all.

Entries are keyed by two generations: ``ARTICLES`` (advanced after any write to articles or
tags: the ``ArticlesChanged`` event) and identity's ``PROFILES`` (advanced after a profile
change), so a write is seen by the
next read — on every node, when the cache is Redis. With ``AGORA_READ_CACHE_SECONDS=0``
everything here goes straight to the database.

A favorite changes one number, ``favoritesCount``, but in every page that shows the article, and
favorites are the most frequent write. So they do not start a new ``ARTICLES`` generation: each
cached entry has a small companion, its articles' counts, keyed by the ``FAVORITES`` generation,
which a favorite advances; an entry is stamped with the generation its own counts are from, and
while that is current (no favorite since) the companion is not needed. Both come in one round
trip; after a favorite, the next read of a cached page fetches its twenty counts (one small
indexed statement) instead of the whole page.
Only the pages filtered by ``favorited=``, whose members a favorite changes, are keyed by
``FAVORITES`` themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson
from sqlalchemy import func, select

from agora.blog import queries
from agora.blog.events import ArticlesChanged, FavoritesChanged
from agora.blog.models import ArticleTag, Favorite, Tag
from agora.blog.queries import ArticleFilter, ArticleJSON, ArticlePreviewJSON, EntryJSON, PageJSON
from agora.identity.read_cache import PROFILES, followee_ids
from agora.platform.cache import Cache, cached_ids, generations, start_generation
from agora.platform.db import SessionFactory
from agora.platform.events import EventHandlers

ARTICLES = "blog:articles"
# advanced after any favorite or unfavorite (see the module's docstring)
FAVORITES = "blog:favorites"
# a viewer with more favorites than this is answered from the database on every request
MAX_CACHED_FAVORITES = 5_000


def _favorites_key(user_id: int) -> str:
    return f"blog:favorites:{user_id}"


def register_event_handlers(events: EventHandlers, cache: Cache) -> None:
    """What the cache forgets after the blog's writes; called once, by the composition root."""

    async def articles_changed(_: ArticlesChanged) -> None:
        await start_generation(cache, ARTICLES)

    async def favorites_changed(event: FavoritesChanged) -> None:
        await cache.delete(_favorites_key(event.user_id))
        await start_generation(cache, FAVORITES)

    events.on(ArticlesChanged, articles_changed)
    events.on(FavoritesChanged, favorites_changed)


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


class _Entry:
    """A cached entry, stamped with the ``FAVORITES`` generation its counts are from, and the
    companion counts for a later generation (see the module's docstring)."""

    def __init__(self, key: str, favorites_generation: str) -> None:
        self.key = key
        self.counts_key = f"{key}:counts:{favorites_generation}"
        self._stamp = favorites_generation.encode()

    async def get(self, cache: Cache) -> tuple[memoryview | None, bool, list[int] | None]:
        """The entry's JSON, whether its own counts are current, and the companion counts."""
        cached, counts = await cache.get_many(self.key, self.counts_key)
        if cached is None:
            return None, False, None
        # every generation has the same length; a memoryview spares copying the JSON
        current = cached[: len(self._stamp)] == self._stamp
        entry = memoryview(cached)[len(self._stamp) :]
        return entry, current, None if counts is None else orjson.loads(counts)

    async def set(self, cache: Cache, entry: bytes, ttl_seconds: int) -> None:
        await cache.set(self.key, self._stamp + entry, ttl_seconds=ttl_seconds)

    async def set_counts(self, cache: Cache, counts: list[int], ttl_seconds: int) -> None:
        await cache.set(self.counts_key, orjson.dumps(counts), ttl_seconds=ttl_seconds)


async def _counts(
    *,
    sessions: SessionFactory,
    cache: Cache,
    ttl_seconds: int,
    entry: _Entry,
    counts: list[int] | None,
    ids: list[int],
) -> list[int]:
    """The current counts of a cached entry's articles: its companion's, else the database's."""
    if counts is not None or not ids:
        return counts or []
    async with sessions() as session:
        counts = await queries.favorites_counts(session, ids)
    await entry.set_counts(cache, counts, ttl_seconds)
    return counts


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
    articles, profiles, favorites = await generations(cache, ARTICLES, PROFILES, FAVORITES)
    entry = _Entry(
        _key(
            "page",
            (
                articles,
                profiles,
                # a favorite changes which articles this page holds
                favorites if where.favorited_by is not None else None,
                where.tag,
                where.author,
                where.favorited_by,
                where.feed_of,
                feed_scope,
                limit,
                offset,
            ),
        ),
        favorites,
    )
    cached, counts_current, counts = await entry.get(cache)
    if cached is not None:
        page: PageJSON = orjson.loads(cached)
        if not counts_current:  # a favorite since the page was cached
            counts = await _counts(
                sessions=sessions,
                cache=cache,
                ttl_seconds=ttl_seconds,
                entry=entry,
                counts=counts,
                ids=page["ids"],
            )
            for article, count in zip(page["articles"], counts, strict=True):
                article["favoritesCount"] = count
    else:
        page = await _query_page(sessions, where, None, limit=limit, offset=offset)
        await entry.set(cache, orjson.dumps(page), ttl_seconds)
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
    articles, profiles, favorites = await generations(cache, ARTICLES, PROFILES, FAVORITES)
    entry = _Entry(_key("article", (articles, profiles, slug)), favorites)
    cached, counts_current, counts = await entry.get(cache)
    found: EntryJSON
    if cached is not None:
        found = orjson.loads(cached)
        if not counts_current:  # a favorite since the article was cached
            (found["article"]["favoritesCount"],) = await _counts(
                sessions=sessions,
                cache=cache,
                ttl_seconds=ttl_seconds,
                entry=entry,
                counts=counts,
                ids=[found["id"]],
            )
    else:
        # a missing slug raises NotFound and caches nothing
        found = await _query_article(sessions, slug, None)
        await entry.set(cache, orjson.dumps(found), ttl_seconds)
    if marks is not None:
        marks.apply(found["article"], found["id"], found["author_id"])
    return found["article"]


async def tags(*, sessions: SessionFactory, cache: Cache, ttl_seconds: int) -> list[str]:
    """Tags in use, most used first; cached, because every front page asks for them."""
    key = ""
    if ttl_seconds > 0:
        # JSON, because a tag may hold any character, a line break included
        (generation,) = await generations(cache, ARTICLES)
        key = f"blog:tags:{generation}"
        if (cached := await cache.get(key)) is not None:
            names: list[str] = orjson.loads(cached)
            return names
    usage = func.count(ArticleTag.article_id)
    async with sessions() as session:
        rows = await session.scalars(
            select(Tag.name)
            .join(ArticleTag, ArticleTag.tag_id == Tag.id)
            .group_by(Tag.id, Tag.name)
            .order_by(usage.desc(), Tag.name)
        )
        names = list(rows)
    if key:
        await cache.set(key, orjson.dumps(names), ttl_seconds=ttl_seconds)
    return names
