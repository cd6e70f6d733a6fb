"""The blog's read side: articles as the API shows them, in one statement per request.

A page of articles is a single SELECT: the page's ids are picked first along the newest-first
index, then each row gets its author, ``favorited``, ``following`` and its tags (aggregated in a
correlated subquery), and every row carries the total count (an uncorrelated subquery that the
database computes once). Only a page past the end needs a second statement, for the count.
Round trips to the database are what a request pays most for, so this is the shape to keep.

Statements are built once per shape (which filters are set, signed in or not) with bound
parameters, so a request only binds values: building a SELECT this size costs more than running it.

Tags come sorted by name (both RealWorld suites expect that order).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypedDict

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Text,
    bindparam,
    exists,
    false,
    func,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from agora.blog.models import Article, ArticleTag, Favorite, Tag
from agora.blog.schemas import Article as ArticleOut
from agora.identity.models import Follow, User
from agora.identity.schemas import Profile
from agora.platform.errors import NotFound
from agora.platform.wire import iso_utc_millis


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """Exact matches, as the spec asks: author ``john`` does not match ``johnny``."""

    tag: str | None = None
    author: str | None = None
    favorited_by: str | None = None
    feed_of: int | None = None

    @property
    def shape(self) -> _Shape:
        return _Shape(
            tag=self.tag is not None,
            author=self.author is not None,
            favorited_by=self.favorited_by is not None,
            feed_of=self.feed_of is not None,
        )

    def params(self) -> dict[str, object]:
        """The values for the bound parameters of ``shape.conditions()``."""
        values = {
            "tag": self.tag,
            "author": self.author,
            "favorited_by": self.favorited_by,
            "feed_of": self.feed_of,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class _Shape:
    """Which filters are set; their values are bound parameters named after them."""

    tag: bool
    author: bool
    favorited_by: bool
    feed_of: bool

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.tag:
            tagged = select(ArticleTag.article_id).join(Tag, Tag.id == ArticleTag.tag_id)
            conditions.append(Article.id.in_(tagged.where(Tag.name == bindparam("tag"))))
        if self.author:
            author_id = select(User.id).where(User.username == bindparam("author"))
            conditions.append(Article.author_id == author_id.scalar_subquery())
        if self.favorited_by:
            favorites = select(Favorite.article_id).join(User, User.id == Favorite.user_id)
            favorited = favorites.where(User.username == bindparam("favorited_by"))
            conditions.append(Article.id.in_(favorited))
        if self.feed_of:
            followed = select(Follow.followee_id).where(Follow.follower_id == bindparam("feed_of"))
            conditions.append(Article.author_id.in_(followed))
        return conditions


# --- one article's tag names as one column ------------------------------------------------------


class _TagNames(TypeDecorator[list[str]]):
    """A PostgreSQL array (already in the database's order), or SQLite's JSON array text."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            # SQLite aggregates in no promised order; its BINARY collation is code point order
            return sorted(json.loads(value))
        return list(value)


class tag_names(FunctionElement[list[str]]):  # noqa: N801 — SQL functions read in lower case
    """``array_agg(name ORDER BY name)`` on PostgreSQL, ``json_group_array(name)`` elsewhere."""

    type = _TagNames()
    inherit_cache = True


@compiles(tag_names, "postgresql")
def _tag_names_postgresql(element: tag_names, compiler: SQLCompiler, **kw: Any) -> str:
    name = compiler.process(element.clauses, **kw)
    return f"array_agg({name} ORDER BY {name})"


@compiles(tag_names)
def _tag_names_default(element: tag_names, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


# --- the statements -----------------------------------------------------------------------------

_NEWEST_FIRST = (Article.created_at.desc(), Article.id.desc())


def _select_articles(
    *,
    signed_in: bool,
    with_body: bool,
    favorited: ColumnElement[bool] | None = None,
    favorites_count: ColumnElement[int] | None = None,
) -> Select[*tuple[Any, ...]]:
    """Articles as the API shows them; ``:viewer_id`` is bound when ``signed_in``.

    ``favorited`` and ``favorites_count`` replace the columns of those names: a favorite knows
    better than its statement's snapshot (see `article_after_favorite`).
    """
    following: ColumnElement[bool]
    if signed_in:
        viewer_id = bindparam("viewer_id", type_=Integer)
        if favorited is None:
            favorited = exists().where(
                Favorite.article_id == Article.id, Favorite.user_id == viewer_id
            )
        following = exists().where(
            Follow.follower_id == viewer_id, Follow.followee_id == Article.author_id
        )
    else:
        favorited = following = false()
    tags = (
        select(tag_names(Tag.name))
        .select_from(ArticleTag)
        .join(Tag, Tag.id == ArticleTag.tag_id)
        .where(ArticleTag.article_id == Article.id)
        .scalar_subquery()
    )
    columns: list[Any] = [  # `_preview_json` reads the first thirteen by position
        Article.id,
        Article.slug,
        Article.title,
        Article.description,
        Article.created_at,
        Article.updated_at,
        Article.favorites_count
        if favorites_count is None
        else favorites_count.label("favorites_count"),
        User.username,
        User.bio,
        User.image,
        favorited.label("favorited"),
        following.label("following"),
        tags.label("tags"),
        Article.author_id.label("author_id"),
    ]
    if with_body:
        columns.append(Article.body)
    return select(*columns).join(User, User.id == Article.author_id)


@cache
def _page_statement(
    shape: _Shape, *, signed_in: bool, with_body: bool, with_total: bool
) -> Select[*tuple[Any, ...]]:
    """A page (``:limit``, ``:offset``) of the articles matching ``shape``, newest first."""
    conditions = shape.conditions()
    # The page's ids first, along the newest-first index; everything else for those rows only.
    # LIMIT and OFFSET go into the SQL text (`literal_execute`): with them known, PostgreSQL can
    # keep one plan per prepared statement instead of planning this SELECT on every execution.
    page = (
        select(Article.id)
        .where(*conditions)
        .order_by(*_NEWEST_FIRST)
        .limit(bindparam("limit", type_=Integer, literal_execute=True))
        .offset(bindparam("offset", type_=Integer, literal_execute=True))
        .subquery("page")
    )
    statement = _select_articles(signed_in=signed_in, with_body=with_body)
    if with_total:
        # not correlated with the page: its own scan of `articles`, computed once per statement
        total = select(func.count()).select_from(Article).where(*conditions).correlate(None)
        statement = statement.add_columns(total.scalar_subquery().label("total"))
    return statement.join(page, page.c.id == Article.id).order_by(*_NEWEST_FIRST)


@cache
def _count_statement(shape: _Shape) -> Select[int]:
    return select(func.count()).select_from(Article).where(*shape.conditions())


@cache
def _article_statement(*, signed_in: bool) -> Select[*tuple[Any, ...]]:
    return _select_articles(signed_in=signed_in, with_body=True).where(
        Article.slug == bindparam("slug")
    )


@cache
def _counts_statement() -> Select[*tuple[Any, ...]]:
    return select(Article.id, Article.favorites_count).where(
        Article.id.in_(bindparam("ids", expanding=True))
    )


def article_after_favorite(
    *, favorited: ColumnElement[bool] | None, favorites_count: ColumnElement[int] | None
) -> Select[*tuple[Any, ...]]:
    """The article ``:slug`` as ``:viewer_id`` sees it, for the statement of a favorite or an
    unfavorite, which may know the two columns better (None: as stored); rows go to `entry_of`."""
    return _select_articles(
        signed_in=True, with_body=True, favorited=favorited, favorites_count=favorites_count
    ).where(Article.slug == bindparam("slug"))


# --- rows to wire shapes ------------------------------------------------------------------------
#
# The API's hot routes answer with JSON built right here from the rows: validating every article
# into a pydantic model first and serializing it afterwards cost more than the query. The shapes
# are exactly those of `agora.blog.schemas` (declared on the routes as their response models);
# the Atom feeds, which want objects, get those models.


class ProfileJSON(TypedDict):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ArticlePreviewJSON(TypedDict):
    slug: str
    title: str
    description: str
    tagList: list[str]
    createdAt: str
    updatedAt: str
    favorited: bool
    favoritesCount: int
    author: ProfileJSON


class ArticleJSON(ArticlePreviewJSON):
    body: str


class PageJSON(TypedDict):
    """A page of articles, with each one's id and author id (to mark them for a viewer)."""

    articles: list[ArticlePreviewJSON]
    ids: list[int]
    author_ids: list[int]
    count: int


class EntryJSON(TypedDict):
    article: ArticleJSON
    id: int
    author_id: int


def _preview_json(row: Row[*tuple[Any, ...]]) -> ArticlePreviewJSON:
    # by position (the order of `_select_articles`): a list builds twenty of these per request
    (
        _id,
        slug,
        title,
        description,
        created_at,
        updated_at,
        favorites_count,
        username,
        bio,
        image,
        favorited,
        following,
        tags,
    ) = row[:13]
    return {
        "slug": slug,
        "title": title,
        "description": description,
        "tagList": tags,
        "createdAt": iso_utc_millis(created_at),
        "updatedAt": iso_utc_millis(updated_at),
        "favorited": bool(favorited),
        "favoritesCount": favorites_count,
        "author": {
            "username": username,
            "bio": bio,
            "image": image,
            "following": bool(following),
        },
    }


def _article_json(row: Row[*tuple[Any, ...]]) -> ArticleJSON:
    return {**_preview_json(row), "body": row.body}


def _article_model(row: Row[*tuple[Any, ...]]) -> ArticleOut:
    return ArticleOut(
        slug=row.slug,
        title=row.title,
        description=row.description,
        tagList=row.tags,
        createdAt=row.created_at,
        updatedAt=row.updated_at,
        favorited=bool(row.favorited),
        favoritesCount=row.favorites_count,
        author=Profile(
            username=row.username, bio=row.bio, image=row.image, following=bool(row.following)
        ),
        body=row.body,
    )


# --- the queries --------------------------------------------------------------------------------


async def _rows(
    session: AsyncSession, statement: Select[Any], params: dict[str, object]
) -> Sequence[Row[*tuple[Any, ...]]]:
    # Core execution on the session's connection: these rows are plain tuples, and the ORM's
    # result machinery (entities, identity map) would only add cost
    connection = await session.connection()
    rows: Sequence[Row[*tuple[Any, ...]]] = (await connection.execute(statement, params)).all()
    return rows


async def _page(
    session: AsyncSession,
    where: ArticleFilter,
    *,
    viewer_id: int | None,
    limit: int,
    offset: int,
    with_body: bool,
    with_total: bool,
) -> Sequence[Row[*tuple[Any, ...]]]:
    statement = _page_statement(
        where.shape, signed_in=viewer_id is not None, with_body=with_body, with_total=with_total
    )
    params = {**where.params(), "viewer_id": viewer_id, "limit": limit, "offset": offset}
    return await _rows(session, statement, params)


async def list_articles(
    session: AsyncSession,
    *,
    where: ArticleFilter,
    viewer_id: int | None,
    limit: int,
    offset: int,
) -> PageJSON:
    """A page of articles as the API shows them, and how many match in all."""
    rows = await _page(
        session,
        where,
        viewer_id=viewer_id,
        limit=limit,
        offset=offset,
        with_body=False,
        with_total=True,
    )
    if rows:
        total = int(rows[0].total)
    elif offset == 0:
        total = 0
    else:  # a page past the end still reports how many there are
        counted = await _rows(session, _count_statement(where.shape), where.params())
        total = int(counted[0][0])
    return {
        "articles": [_preview_json(row) for row in rows],
        "ids": [row.id for row in rows],
        "author_ids": [row.author_id for row in rows],
        "count": total,
    }


async def latest_articles(
    session: AsyncSession, *, where: ArticleFilter, limit: int
) -> list[ArticleOut]:
    """The newest articles with their bodies, for feeds."""
    rows = await _page(
        session,
        where,
        viewer_id=None,
        limit=limit,
        offset=0,
        with_body=True,
        with_total=False,
    )
    return [_article_model(row) for row in rows]


async def get_article(session: AsyncSession, *, slug: str, viewer_id: int | None) -> EntryJSON:
    statement = _article_statement(signed_in=viewer_id is not None)
    rows = await _rows(session, statement, {"slug": slug, "viewer_id": viewer_id})
    if not rows:
        raise NotFound("not found", field="article")
    return entry_of(rows[0])


def entry_of(row: Row[*tuple[Any, ...]]) -> EntryJSON:
    """One row of `_article_statement` or `article_after_favorite` as the API shows it."""
    return {"article": _article_json(row), "id": row.id, "author_id": row.author_id}


async def favorites_counts(session: AsyncSession, ids: Sequence[int]) -> list[int]:
    """The current ``favoritesCount`` of each article, in the order asked (0: deleted since)."""
    rows = await _rows(session, _counts_statement(), {"ids": list(ids)})
    counts: dict[int, int] = {row[0]: row[1] for row in rows}
    return [counts.get(article_id, 0) for article_id in ids]
