"""Blog rules: writing articles, tags, favorites and comments. One commit per call.

A write takes the request's unit of work, commits it, and emits ``ArticlesChanged`` for what
follows the commit (the read cache forgets its pages: a handler the composition root registers).

Authorization lives here, not only in the routes: only an article's author may change or delete
it, only a comment's author may delete it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import timedelta
from functools import cache

from slugify import slugify
from sqlalchemy import Integer, Text, bindparam, delete, exists, select, update
from sqlalchemy import insert as insert_rows
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from agora.blog.events import ArticlesChanged
from agora.blog.models import SLUG_MAX, Article, ArticleTag, Comment, Tag
from agora.blog.schemas import Comment as CommentOut
from agora.blog.schemas import NewArticle, UpdateArticle
from agora.identity.models import Follow, User
from agora.identity.schemas import Profile
from agora.identity.service import profile_of
from agora.platform.db import UTCDateTime, dialect_insert, utcnow
from agora.platform.errors import DomainError, Forbidden, NotFound, Unauthorized
from agora.platform.uow import UnitOfWork

# a new title's slug taken by another request at the same moment: try another this many times
SLUG_ATTEMPTS = 3

# --- articles ---------------------------------------------------------------------------------


async def _article_by_slug(session: AsyncSession, slug: str) -> Article:
    article = await session.scalar(select(Article).where(Article.slug == slug))
    if article is None:
        raise NotFound("not found", field="article")
    return article


async def missing_reference(connection: AsyncConnection | AsyncSession, slug: str) -> DomainError:
    """What a write that failed a foreign key should answer: its article was deleted meanwhile
    (404), or else the signed-in user's account (a token that is no longer valid, 401)."""
    if await connection.scalar(select(exists().where(Article.slug == slug))):
        return Unauthorized("is invalid", field="token")
    return NotFound("not found", field="article")


def _slug_base(title: str) -> str:
    return slugify(title, max_length=SLUG_MAX - 8) or "article"


def _slug_fits(slug: str, title: str) -> bool:
    # "Hello world" -> "Hello World!" slugifies the same, so the article keeps its links
    return re.fullmatch(rf"{re.escape(_slug_base(title))}(-[0-9a-f]{{6}})?", slug) is not None


# GET /api/articles/feed is the feed route: an article slugged "feed" could never be read
_ROUTE_WORDS = {"feed"}


def _suffixed(base: str) -> str:
    return f"{base}-{secrets.token_hex(3)}"


async def _free_slug(session: AsyncSession, title: str, *, suffixed: bool = False) -> str:
    # a readable slug from the title; an equal title gets a short random suffix
    base = _slug_base(title)
    candidate = _suffixed(base) if suffixed or base in _ROUTE_WORDS else base
    while await session.scalar(select(exists().where(Article.slug == candidate))):
        candidate = _suffixed(base)
    return candidate


async def _tag_ids(session: AsyncSession, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    insert = dialect_insert(session)
    # ON CONFLICT DO NOTHING: two articles may introduce the same new tag at the same moment
    await session.execute(
        insert(Tag).values([{"name": name} for name in names]).on_conflict_do_nothing()
    )
    rows = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))
    return dict(rows.all())


async def _set_tags(session: AsyncSession, article_id: int, names: Sequence[str]) -> None:
    unique = sorted(set(names))
    ids = await _tag_ids(session, unique)
    await session.execute(delete(ArticleTag).where(ArticleTag.article_id == article_id))
    if unique:
        await session.execute(
            insert_rows(ArticleTag),
            [{"article_id": article_id, "tag_id": ids[name]} for name in unique],
        )


async def create_article(*, uow: UnitOfWork, author: User, new_article: NewArticle) -> str:
    """Creates the article and returns its slug."""
    session = uow.session
    insert = dialect_insert(session)
    slug = await _free_slug(session, new_article.title)
    while True:
        # ON CONFLICT: a concurrent request (a double-clicked "Publish") may take the slug first
        article_id = await session.scalar(
            insert(Article)
            .values(
                slug=slug,
                title=new_article.title,
                description=new_article.description,
                body=new_article.body,
                author_id=author.id,
            )
            .on_conflict_do_nothing(index_elements=[Article.slug])
            .returning(Article.id)
        )
        if article_id is not None:
            break
        slug = _suffixed(_slug_base(new_article.title))
    await _set_tags(session, article_id, new_article.tag_list)
    uow.emit(ArticlesChanged())
    await uow.commit()
    return slug


async def _update(
    session: AsyncSession, *, user_id: int, slug: str, changes: UpdateArticle, suffixed: bool
) -> str:
    # FOR UPDATE (PostgreSQL): edits and the deletion of this article wait for each other instead
    # of interleaving; SQLite has one writer at a time anyway
    article = (
        await session.execute(
            select(Article.id, Article.author_id, Article.title, Article.slug, Article.updated_at)
            .where(Article.slug == slug)
            .with_for_update()
        )
    ).first()
    if article is None:
        raise NotFound("not found", field="article")
    if article.author_id != user_id:
        raise Forbidden("forbidden", field="article")
    new_slug: str = article.slug
    values: dict[str, object] = {}
    if changes.title is not None and changes.title != article.title:
        values["title"] = changes.title
        if suffixed or not _slug_fits(article.slug, changes.title):
            new_slug = values["slug"] = await _free_slug(session, changes.title, suffixed=suffixed)
    if changes.description is not None:
        values["description"] = changes.description
    if changes.body is not None:
        values["body"] = changes.body
    # strictly later than before, even for two edits within one clock tick
    values["updated_at"] = max(utcnow(), article.updated_at + timedelta(milliseconds=1))
    updated = await session.execute(update(Article).where(Article.id == article.id).values(values))
    if not updated.rowcount:  # type: ignore[attr-defined]
        # SQLite: deleted between the read above and this write (its reads run before the lock)
        raise NotFound("not found", field="article")
    if "tag_list" in changes.model_fields_set:
        await _set_tags(session, article.id, changes.tag_list)
    return new_slug


async def update_article(
    *, uow: UnitOfWork, user_id: int, slug: str, changes: UpdateArticle
) -> str:
    """Applies the fields sent and returns the (possibly new) slug."""
    attempt = 1
    while True:
        try:
            new_slug = await _update(
                uow.session, user_id=user_id, slug=slug, changes=changes, suffixed=attempt > 1
            )
            uow.emit(ArticlesChanged())
            await uow.commit()
            return new_slug
        except IntegrityError:
            # the only unique value an edit writes is the slug: another request took it between
            # our look and our write; try again with a suffixed one (the rollback drops the event)
            await uow.rollback()
            if attempt == SLUG_ATTEMPTS:
                raise
            attempt += 1


async def delete_article(*, uow: UnitOfWork, user_id: int, slug: str) -> None:
    session = uow.session
    # one statement: two deletions at once delete once, the other finds nothing (404)
    deleted = await session.execute(
        delete(Article).where(Article.slug == slug, Article.author_id == user_id)
    )
    if not deleted.rowcount:  # type: ignore[attr-defined]
        author_id = await session.scalar(select(Article.author_id).where(Article.slug == slug))
        if author_id is not None and author_id != user_id:
            raise Forbidden("forbidden", field="article")
        raise NotFound("not found", field="article")
    uow.emit(ArticlesChanged())
    await uow.commit()


# --- comments ---------------------------------------------------------------------------------


def _comment_out(comment: Comment, author: Profile) -> CommentOut:
    return CommentOut(
        id=comment.id,
        createdAt=comment.created_at,
        updatedAt=comment.updated_at,
        body=comment.body,
        author=author,
    )


@cache
def _insert_comment() -> ReturningInsert[tuple[int]]:
    """One statement finds the article by its slug and inserts the comment (no row: no article).

    Built once with bound parameters: building it per request cost more than running it.
    """
    now = bindparam("now", type_=UTCDateTime())
    from_article = select(
        Article.id,
        bindparam("author_id", type_=Integer),
        bindparam("body", type_=Text),
        now,
        now,
    ).where(Article.slug == bindparam("slug"))
    columns = ["article_id", "author_id", "body", "created_at", "updated_at"]
    return insert_rows(Comment).from_select(columns, from_article).returning(Comment.id)


async def add_comment(
    *, connection: AsyncConnection, author_id: int, author: Profile, slug: str, body: str
) -> CommentOut:
    """One statement, atomic on its own: the connection may (and should) be autocommit."""
    now = utcnow()
    values = {"author_id": author_id, "body": body, "now": now, "slug": slug}
    try:
        comment_id = await connection.scalar(_insert_comment(), values)
    except IntegrityError:
        # a foreign key: the article was deleted meanwhile, or the author's account
        raise await missing_reference(connection, slug) from None
    if comment_id is None:
        raise NotFound("not found", field="article")
    return CommentOut(id=comment_id, createdAt=now, updatedAt=now, body=body, author=author)


async def list_comments(
    *, session: AsyncSession, slug: str, viewer_id: int | None
) -> list[CommentOut]:
    article = await _article_by_slug(session, slug)
    rows = await session.execute(
        select(Comment, User)
        .join(User, User.id == Comment.author_id)
        .where(Comment.article_id == article.id)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
    )
    pairs = rows.all()
    followed: set[int] = set()
    if viewer_id is not None and pairs:
        followed = set(
            await session.scalars(
                select(Follow.followee_id).where(
                    Follow.follower_id == viewer_id,
                    Follow.followee_id.in_({user.id for _, user in pairs}),
                )
            )
        )
    return [
        _comment_out(comment, profile_of(user, following=user.id in followed))
        for comment, user in pairs
    ]


async def delete_comment(*, uow: UnitOfWork, user_id: int, slug: str, comment_id: int) -> None:
    session = uow.session
    # one statement: two deletions at once delete once, the other finds nothing (404)
    article_id = select(Article.id).where(Article.slug == slug).scalar_subquery()
    deleted = await session.execute(
        delete(Comment).where(
            Comment.id == comment_id, Comment.article_id == article_id, Comment.author_id == user_id
        )
    )
    if not deleted.rowcount:  # type: ignore[attr-defined]
        raise await _why_not_deleted(session, user_id=user_id, slug=slug, comment_id=comment_id)
    # comments are not cached: nothing follows the commit
    await uow.commit()


async def _why_not_deleted(
    session: AsyncSession, *, user_id: int, slug: str, comment_id: int
) -> DomainError:
    found = (
        await session.execute(
            select(Article.id, Comment.author_id)
            .outerjoin(Comment, (Comment.article_id == Article.id) & (Comment.id == comment_id))
            .where(Article.slug == slug)
        )
    ).first()
    if found is None:
        return NotFound("not found", field="article")
    if found.author_id is not None and found.author_id != user_id:
        return Forbidden("forbidden", field="comment")
    return NotFound("not found", field="comment")
