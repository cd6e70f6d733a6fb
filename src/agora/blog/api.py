"""Blog routes under ``/api``: articles, the feed, favorites, comments and tags (RealWorld)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from agora.blog import feeds, queries, service
from agora.blog.queries import ArticleFilter
from agora.blog.schemas import (
    MultipleArticlesResponse,
    MultipleCommentsResponse,
    NewArticleRequest,
    NewCommentRequest,
    SingleArticleResponse,
    SingleCommentResponse,
    TagsResponse,
    UpdateArticleRequest,
)
from agora.identity.deps import CurrentUser, CurrentUserId, OptionalUserId
from agora.platform.deps import PlatformDep, SessionDep
from agora.platform.openapi import errors

router = APIRouter(prefix="/api", tags=["blog"])

Limit = Annotated[int, Query(ge=1, le=100, description="Articles per page")]
Offset = Annotated[int, Query(ge=0, description="Articles to skip")]


@router.get("/articles", summary="List articles, newest first", responses=errors(401, 422))
async def list_articles(
    session: SessionDep,
    viewer: OptionalUserId,
    tag: Annotated[str | None, Query(description="Only articles with this tag")] = None,
    author: Annotated[str | None, Query(description="Only articles by this username")] = None,
    favorited: Annotated[str | None, Query(description="Only articles this user favorited")] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> MultipleArticlesResponse:
    where = ArticleFilter(tag=tag, author=author, favorited_by=favorited)
    articles, count = await queries.list_articles(
        session, where=where, viewer_id=viewer, limit=limit, offset=offset
    )
    return MultipleArticlesResponse(articles=articles, articlesCount=count)


@router.get(
    "/articles/feed",
    summary="Articles by the users you follow, newest first",
    responses=errors(401, 422),
)
async def feed(
    session: SessionDep, viewer: CurrentUserId, limit: Limit = 20, offset: Offset = 0
) -> MultipleArticlesResponse:
    articles, count = await queries.list_articles(
        session, where=ArticleFilter(feed_of=viewer), viewer_id=viewer, limit=limit, offset=offset
    )
    return MultipleArticlesResponse(articles=articles, articlesCount=count)


@router.get("/articles/{slug}", summary="One article", responses=errors(401, 404))
async def get_article(
    slug: str, session: SessionDep, viewer: OptionalUserId
) -> SingleArticleResponse:
    article = await queries.get_article(session, slug=slug, viewer_id=viewer)
    return SingleArticleResponse(article=article)


@router.post(
    "/articles",
    status_code=status.HTTP_201_CREATED,
    summary="Write an article",
    responses=errors(401, 422),
)
async def create_article(
    body: NewArticleRequest, session: SessionDep, user: CurrentUser, platform: PlatformDep
) -> SingleArticleResponse:
    slug = await service.create_article(
        session=session, cache=platform.cache, author=user, new_article=body.article
    )
    article = await queries.get_article(session, slug=slug, viewer_id=user.id)
    return SingleArticleResponse(article=article)


@router.put("/articles/{slug}", summary="Change your article", responses=errors(401, 403, 404, 422))
async def update_article(
    slug: str,
    body: UpdateArticleRequest,
    session: SessionDep,
    user_id: CurrentUserId,
    platform: PlatformDep,
) -> SingleArticleResponse:
    new_slug = await service.update_article(
        session=session, cache=platform.cache, user_id=user_id, slug=slug, changes=body.article
    )
    article = await queries.get_article(session, slug=new_slug, viewer_id=user_id)
    return SingleArticleResponse(article=article)


@router.delete(
    "/articles/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete your article",
    responses=errors(401, 403, 404),
)
async def delete_article(
    slug: str, session: SessionDep, user_id: CurrentUserId, platform: PlatformDep
) -> Response:
    await service.delete_article(session=session, cache=platform.cache, user_id=user_id, slug=slug)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/articles/{slug}/favorite", summary="Favorite an article", responses=errors(401, 404))
async def favorite(slug: str, session: SessionDep, user: CurrentUser) -> SingleArticleResponse:
    await service.favorite(session=session, user_id=user.id, slug=slug)
    article = await queries.get_article(session, slug=slug, viewer_id=user.id)
    return SingleArticleResponse(article=article)


@router.delete(
    "/articles/{slug}/favorite", summary="Unfavorite an article", responses=errors(401, 404)
)
async def unfavorite(
    slug: str, session: SessionDep, user_id: CurrentUserId
) -> SingleArticleResponse:
    await service.unfavorite(session=session, user_id=user_id, slug=slug)
    article = await queries.get_article(session, slug=slug, viewer_id=user_id)
    return SingleArticleResponse(article=article)


@router.get(
    "/articles/{slug}/comments",
    summary="Comments on an article, newest first",
    responses=errors(401, 404),
)
async def list_comments(
    slug: str, session: SessionDep, viewer: OptionalUserId
) -> MultipleCommentsResponse:
    comments = await service.list_comments(session=session, slug=slug, viewer_id=viewer)
    return MultipleCommentsResponse(comments=comments)


@router.post(
    "/articles/{slug}/comments",
    status_code=status.HTTP_201_CREATED,
    summary="Comment on an article",
    responses=errors(401, 404, 422),
)
async def add_comment(
    slug: str, body: NewCommentRequest, session: SessionDep, user: CurrentUser
) -> SingleCommentResponse:
    comment = await service.add_comment(
        session=session, author=user, slug=slug, body=body.comment.body
    )
    return SingleCommentResponse(comment=comment)


@router.delete(
    "/articles/{slug}/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete your comment",
    responses=errors(401, 403, 404, 422),
)
async def delete_comment(
    slug: str, comment_id: int, session: SessionDep, user_id: CurrentUserId
) -> Response:
    await service.delete_comment(session=session, user_id=user_id, slug=slug, comment_id=comment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/tags", summary="Tags in use, most used first")
async def list_tags(session: SessionDep, platform: PlatformDep) -> TagsResponse:
    return TagsResponse(tags=await service.list_tags(session=session, cache=platform.cache))


@router.get(
    "/feeds/articles.atom",
    summary="Atom feed of the latest articles",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}, "description": "Atom 1.0"}},
)
async def site_feed(session: SessionDep, platform: PlatformDep) -> Response:
    xml = await feeds.site_feed(
        session=session, base_url=platform.settings.public_url, title=platform.settings.site_title
    )
    return Response(xml, media_type=feeds.ATOM_MEDIA_TYPE)


@router.get(
    "/feeds/profiles/{username}.atom",
    summary="Atom feed of one author's latest articles",
    response_class=Response,
    responses={
        200: {"content": {"application/atom+xml": {}}, "description": "Atom 1.0"},
        **errors(404),
    },
)
async def profile_feed(username: str, session: SessionDep, platform: PlatformDep) -> Response:
    xml = await feeds.profile_feed(
        session=session,
        base_url=platform.settings.public_url,
        title=platform.settings.site_title,
        username=username,
    )
    return Response(xml, media_type=feeds.ATOM_MEDIA_TYPE)
