"""The blog's read side: articles as the API shows them, in a constant number of queries.

Tags come sorted by name (both RealWorld suites expect that order). A page of articles costs
three statements whatever its size — the count, the page (author,
`favorited` and `following` joined in as subqueries), and the tags of every article on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, exists, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.blog.models import Article, ArticleTag, Favorite, Tag
from agora.blog.schemas import Article as ArticleOut
from agora.blog.schemas import ArticlePreview
from agora.identity.models import Follow, User
from agora.identity.schemas import Profile
from agora.platform.errors import NotFound


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """Exact matches, as the spec asks: author ``john`` does not match ``johnny``."""

    tag: str | None = None
    author: str | None = None
    favorited_by: str | None = None
    feed_of: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.tag is not None:
            tagged = select(ArticleTag.article_id).join(Tag, Tag.id == ArticleTag.tag_id)
            conditions.append(Article.id.in_(tagged.where(Tag.name == self.tag)))
        if self.author is not None:
            author_id = select(User.id).where(User.username == self.author).scalar_subquery()
            conditions.append(Article.author_id == author_id)
        if self.favorited_by is not None:
            favorites = select(Favorite.article_id).join(User, User.id == Favorite.user_id)
            conditions.append(Article.id.in_(favorites.where(User.username == self.favorited_by)))
        if self.feed_of is not None:
            followed = select(Follow.followee_id).where(Follow.follower_id == self.feed_of)
            conditions.append(Article.author_id.in_(followed))
        return conditions


def _select_articles(viewer_id: int | None, *, with_body: bool) -> Select[*tuple[Any, ...]]:
    if viewer_id is None:
        favorited: ColumnElement[bool] = false()
        following: ColumnElement[bool] = false()
    else:
        favorited = exists().where(Favorite.article_id == Article.id, Favorite.user_id == viewer_id)
        following = exists().where(
            Follow.follower_id == viewer_id, Follow.followee_id == Article.author_id
        )
    columns = [
        Article.id,
        Article.slug,
        Article.title,
        Article.description,
        Article.created_at,
        Article.updated_at,
        Article.favorites_count,
        User.username,
        User.bio,
        User.image,
        favorited.label("favorited"),
        following.label("following"),
    ]
    if with_body:
        columns.append(Article.body)
    return select(*columns).join(User, User.id == Article.author_id)


async def _tags_by_article(
    session: AsyncSession, article_ids: Sequence[int]
) -> dict[int, list[str]]:
    if not article_ids:
        return {}
    rows = await session.execute(
        select(ArticleTag.article_id, Tag.name)
        .join(Tag, Tag.id == ArticleTag.tag_id)
        .where(ArticleTag.article_id.in_(article_ids))
        .order_by(ArticleTag.article_id, Tag.name)
    )
    tags: dict[int, list[str]] = defaultdict(list)
    for article_id, name in rows:
        tags[article_id].append(name)
    return tags


def _preview_fields(row: Row[Any], tags: list[str]) -> dict[str, object]:
    return {
        "slug": row.slug,
        "title": row.title,
        "description": row.description,
        "tagList": tags,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "favorited": bool(row.favorited),
        "favoritesCount": row.favorites_count,
        "author": Profile(
            username=row.username,
            bio=row.bio,
            image=row.image,
            following=bool(row.following),
        ),
    }


async def _page(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    *,
    viewer_id: int | None,
    limit: int,
    offset: int,
    with_body: bool,
) -> tuple[Sequence[Row[Any]], dict[int, list[str]]]:
    rows = (
        await session.execute(
            _select_articles(viewer_id, with_body=with_body)
            .where(*conditions)
            .order_by(Article.created_at.desc(), Article.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return rows, await _tags_by_article(session, [row.id for row in rows])


async def list_articles(
    session: AsyncSession,
    *,
    where: ArticleFilter,
    viewer_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[ArticlePreview], int]:
    conditions = where.conditions()
    total = await session.scalar(select(func.count()).select_from(Article).where(*conditions))
    rows, tags = await _page(
        session, conditions, viewer_id=viewer_id, limit=limit, offset=offset, with_body=False
    )
    articles = [ArticlePreview(**_preview_fields(row, tags.get(row.id, []))) for row in rows]
    return articles, int(total or 0)


async def latest_articles(
    session: AsyncSession, *, where: ArticleFilter, limit: int
) -> list[ArticleOut]:
    """The newest articles with their bodies, for feeds."""
    rows, tags = await _page(
        session, where.conditions(), viewer_id=None, limit=limit, offset=0, with_body=True
    )
    return [ArticleOut(**_preview_fields(row, tags.get(row.id, [])), body=row.body) for row in rows]


async def get_article(session: AsyncSession, *, slug: str, viewer_id: int | None) -> ArticleOut:
    row = (
        await session.execute(
            _select_articles(viewer_id, with_body=True).where(Article.slug == slug)
        )
    ).first()
    if row is None:
        raise NotFound("not found", field="article")
    tags = await _tags_by_article(session, [row.id])
    return ArticleOut(**_preview_fields(row, tags.get(row.id, [])), body=row.body)
