"""Favorites: one statement writes the favorite and reads the article back as the viewer sees it.

A favorite used to be a transaction (BEGIN, the user's row, the article, the insert, the count,
COMMIT) and then a read of the article on a second pooled connection. Now it is what a comment
is: one prebuilt statement on an autocommit connection. ``articles.favorites_count`` follows the
``favorites`` rows through a trigger (migration ``7c2f0e4d9b1a``), so the count can never drift
from the rows, however they change.

On PostgreSQL the statement locks the article's row, writes the favorite in a data-modifying CTE
and returns the article around it. Its SELECT sees the database as it was when the statement
began, so the write's effect is laid over it (see `_after`). SQLite has no data-modifying CTEs:
there the write and the read are two statements.

Races are settled by the database, never by a read before the write: favoriting twice inserts
once (``ON CONFLICT DO NOTHING``), an unfavorite deletes what is there, and an article deleted
at the same moment is a 404.

No unit of work: the one statement is durable as soon as it ran, so its ``FavoritesChanged``
goes straight to the handlers (``EventHandlers.publish``), the same ones a unit of work would run
after its commit.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    CTE,
    Executable,
    Integer,
    Row,
    Select,
    bindparam,
    delete,
    exists,
    false,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from agora.blog import queries
from agora.blog.events import FavoritesChanged
from agora.blog.models import Article, Favorite
from agora.blog.queries import ArticleJSON
from agora.blog.service import missing_reference
from agora.identity.models import User
from agora.platform.db import UTCDateTime, on_postgresql, utcnow
from agora.platform.errors import NotFound, Unauthorized
from agora.platform.events import EventHandlers

_COLUMNS = ["user_id", "article_id", "created_at"]


def _viewer_id() -> Any:
    return bindparam("viewer_id", type_=Integer)


def _article(
    *, favorited: bool | None, favorites_count: Any, changed: Any
) -> Select[tuple[Any, ...]]:
    viewer = aliased(User)
    # a token of a deleted account finds no viewer: 401, as everywhere else
    viewer_exists = exists().where(viewer.id == _viewer_id()).correlate(None)
    flag = None if favorited is None else true() if favorited else false()
    return queries.article_after_favorite(
        favorited=flag, favorites_count=favorites_count
    ).add_columns(changed.label("changed"), viewer_exists.label("viewer_exists"))


def _locked() -> CTE:
    # The article's row is locked before the favorite's: the order its deletion takes them in
    # (the article, then its favorites by cascade), so the two cannot deadlock. Requests for one
    # article queue here, and each then reads the count the one before it left.
    return (
        select(Article.id, Article.favorites_count)
        .where(Article.slug == bindparam("slug"))
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE
        .cte("locked")
    )


def _after(locked: CTE, changes: CTE, *, favorited: bool) -> Select[tuple[Any, ...]]:
    """The article as the write left it. The SELECT sees the database as it was when the statement
    began, so the write's effect is laid over it: ``favorited`` as the request made it, the count
    of the locked (latest) row plus or minus the rows the write changed."""
    changed = select(func.count()).select_from(changes).scalar_subquery()
    count = locked.c.favorites_count + changed if favorited else locked.c.favorites_count - changed
    # an article deleted while the statement waited for its lock is gone: no row, a 404
    return _article(favorited=favorited, favorites_count=count, changed=changed).where(
        Article.id == locked.c.id
    )


@cache
def _favorite_postgresql() -> Select[tuple[Any, ...]]:
    locked = _locked()
    from_locked = select(_viewer_id(), locked.c.id, bindparam("now", type_=UTCDateTime()))
    added = (
        postgresql_insert(Favorite)
        .from_select(_COLUMNS, from_locked)
        .on_conflict_do_nothing()
        .returning(Favorite.article_id)
        .cte("added")
    )
    return _after(locked, added, favorited=True)


@cache
def _unfavorite_postgresql() -> Select[tuple[Any, ...]]:
    locked = _locked()
    removed = (
        delete(Favorite)
        .where(Favorite.user_id == _viewer_id(), Favorite.article_id.in_(select(locked.c.id)))
        .returning(Favorite.article_id)
        .cte("removed")
    )
    return _after(locked, removed, favorited=False)


@cache
def _favorite_sqlite() -> Executable:
    from_article = select(_viewer_id(), Article.id, bindparam("now", type_=UTCDateTime())).where(
        Article.slug == bindparam("slug")
    )
    return sqlite_insert(Favorite).from_select(_COLUMNS, from_article).on_conflict_do_nothing()


@cache
def _unfavorite_sqlite() -> Executable:
    article_id = select(Article.id).where(Article.slug == bindparam("slug")).scalar_subquery()
    return delete(Favorite).where(
        Favorite.user_id == _viewer_id(), Favorite.article_id == article_id
    )


@cache
def _read_back_sqlite() -> Select[tuple[Any, ...]]:
    # after the write, as committed: flag and count read together, so they always agree
    return _article(favorited=None, favorites_count=None, changed=bindparam("changed"))


async def _run(
    connection: AsyncConnection, *, favorited: bool, values: dict[str, Any]
) -> Row[Any] | None:
    if on_postgresql(connection):
        statement = _favorite_postgresql() if favorited else _unfavorite_postgresql()
    else:
        write = _favorite_sqlite() if favorited else _unfavorite_sqlite()
        written = await connection.execute(write, values)
        statement = _read_back_sqlite()
        values = {**values, "changed": written.rowcount}
    row: Row[Any] | None = (await connection.execute(statement, values)).first()
    return row


async def _set(
    *, connection: AsyncConnection, events: EventHandlers, user_id: int, slug: str, favorited: bool
) -> ArticleJSON:
    values = {"viewer_id": user_id, "slug": slug, "now": utcnow()}
    try:
        row = await _run(connection, favorited=favorited, values=values)
    except IntegrityError:
        # a foreign key: the article was deleted meanwhile, or the viewer's account
        raise await missing_reference(connection, slug) from None
    if row is None:
        raise NotFound("not found", field="article")
    if not row.viewer_exists:
        raise Unauthorized("is invalid", field="token")
    if row.changed:
        await events.publish(FavoritesChanged(user_id))
    return queries.entry_of(row)["article"]


async def favorite(
    *, connection: AsyncConnection, events: EventHandlers, user_id: int, slug: str
) -> ArticleJSON:
    """Favorites the article (once, however often asked) and returns it as the user sees it.

    The connection may (and should) be autocommit: each statement is atomic on its own.
    """
    return await _set(
        connection=connection, events=events, user_id=user_id, slug=slug, favorited=True
    )


async def unfavorite(
    *, connection: AsyncConnection, events: EventHandlers, user_id: int, slug: str
) -> ArticleJSON:
    return await _set(
        connection=connection, events=events, user_id=user_id, slug=slug, favorited=False
    )
