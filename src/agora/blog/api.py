"""Blog routes under ``/api``: articles, the feed, favorites, comments and tags (RealWorld)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Response, status

from agora.blog import favorites, feeds, service
from agora.blog.deps import BlogReadsDep
from agora.blog.queries import ArticleFilter
from agora.blog.reads import BlogReads
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
from agora.identity.deps import CurrentProfile, CurrentUser, CurrentUserId, OptionalUserId
from agora.identity.routing import TokenFirstRoute
from agora.platform.db import INTEGER_MAX
from agora.platform.deps import (
    EventsDep,
    PlatformDep,
    PublicUrl,
    ReadSessionDep,
    UnitOfWorkDep,
)
from agora.platform.error_formats import REALWORLD, Api
from agora.platform.openapi import errors
from agora.platform.wire import SafeStr

# a missing token is a 401 even when the body is not JSON at all
router = APIRouter(prefix="/api", tags=["blog"], route_class=TokenFirstRoute)

Limit = Annotated[int, Query(ge=1, le=100, description="Articles per page")]
Offset = Annotated[int, Query(ge=0, le=INTEGER_MAX, description="Articles to skip")]
CommentId = Annotated[int, Path(ge=1, le=INTEGER_MAX, description="The comment's id")]


def _json(content: object, status_code: int = status.HTTP_200_OK) -> Response:
    """Articles go out as JSON encoded once, from the query's rows (see `queries`): the route
    declares the response model for the documentation, and FastAPI skips validating it again."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


async def _page(
    reads: BlogReads, where: ArticleFilter, viewer_id: int | None, *, limit: int, offset: int
) -> Response:
    page = await reads.page(where, viewer_id, limit=limit, offset=offset)
    return _json({"articles": page["articles"], "articlesCount": page["count"]})


async def _article(
    reads: BlogReads, slug: str, viewer_id: int | None, status_code: int = status.HTTP_200_OK
) -> Response:
    """One article as the viewer sees it; after a write, what was just committed."""
    return _json({"article": await reads.article(slug, viewer_id)}, status_code=status_code)


@router.get(
    "/articles",
    response_model=MultipleArticlesResponse,
    summary="List articles, newest first",
    responses=errors(401, 422),
)
async def list_articles(
    reads: BlogReadsDep,
    viewer: OptionalUserId,
    tag: Annotated[SafeStr | None, Query(description="Only articles with this tag")] = None,
    author: Annotated[SafeStr | None, Query(description="Only articles by this username")] = None,
    favorited: Annotated[
        SafeStr | None, Query(description="Only articles this user favorited")
    ] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    where = ArticleFilter(tag=tag, author=author, favorited_by=favorited)
    return await _page(reads, where, viewer, limit=limit, offset=offset)


@router.get(
    "/articles/feed",
    response_model=MultipleArticlesResponse,
    summary="Articles by the users you follow, newest first",
    responses=errors(401, 422),
)
async def feed(
    reads: BlogReadsDep,
    viewer: CurrentUserId,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    where = ArticleFilter(feed_of=viewer)
    return await _page(reads, where, viewer, limit=limit, offset=offset)


@router.get(
    "/articles/{slug}",
    response_model=SingleArticleResponse,
    summary="One article",
    responses=errors(401, 404),
)
async def get_article(slug: SafeStr, reads: BlogReadsDep, viewer: OptionalUserId) -> Response:
    return await _article(reads, slug, viewer)


@router.post(
    "/articles",
    status_code=status.HTTP_201_CREATED,
    response_model=SingleArticleResponse,
    summary="Write an article",
    responses=errors(401, 422),
)
async def create_article(
    body: NewArticleRequest,
    uow: UnitOfWorkDep,
    user: CurrentUser,
    reads: BlogReadsDep,
) -> Response:
    slug = await service.create_article(uow=uow, author=user, new_article=body.article)
    return await _article(reads, slug, user.id, status.HTTP_201_CREATED)


@router.put(
    "/articles/{slug}",
    response_model=SingleArticleResponse,
    summary="Change your article",
    responses=errors(401, 403, 404, 422),
)
async def update_article(
    slug: SafeStr,
    body: UpdateArticleRequest,
    uow: UnitOfWorkDep,
    user: CurrentUser,
    reads: BlogReadsDep,
) -> Response:
    # read before the service runs: a retry there rolls the session back, which expires `user`
    user_id = user.id
    new_slug = await service.update_article(
        uow=uow, user_id=user_id, slug=slug, changes=body.article
    )
    return await _article(reads, new_slug, user_id)


@router.delete(
    "/articles/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete your article",
    responses=errors(401, 403, 404),
)
async def delete_article(slug: SafeStr, uow: UnitOfWorkDep, user: CurrentUser) -> Response:
    await service.delete_article(uow=uow, user_id=user.id, slug=slug)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/articles/{slug}/favorite",
    response_model=SingleArticleResponse,
    summary="Favorite an article",
    responses=errors(401, 404),
)
async def favorite(
    slug: SafeStr, platform: PlatformDep, events: EventsDep, user_id: CurrentUserId
) -> Response:
    async with platform.db.autocommit_connection() as connection:
        article = await favorites.favorite(
            connection=connection, events=events, user_id=user_id, slug=slug
        )
    return _json({"article": article})


@router.delete(
    "/articles/{slug}/favorite",
    response_model=SingleArticleResponse,
    summary="Unfavorite an article",
    responses=errors(401, 404),
)
async def unfavorite(
    slug: SafeStr, platform: PlatformDep, events: EventsDep, user_id: CurrentUserId
) -> Response:
    async with platform.db.autocommit_connection() as connection:
        article = await favorites.unfavorite(
            connection=connection, events=events, user_id=user_id, slug=slug
        )
    return _json({"article": article})


@router.get(
    "/articles/{slug}/comments",
    summary="Comments on an article, newest first",
    responses=errors(401, 404),
)
async def list_comments(
    slug: SafeStr, session: ReadSessionDep, viewer: OptionalUserId
) -> MultipleCommentsResponse:
    comments = await service.list_comments(session=session, slug=slug, viewer_id=viewer)
    return MultipleCommentsResponse(comments=comments)


@router.post(
    "/articles/{slug}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=SingleCommentResponse,
    summary="Comment on an article",
    responses=errors(401, 404, 422),
)
async def add_comment(
    slug: SafeStr,
    body: NewCommentRequest,
    platform: PlatformDep,
    user_id: CurrentUserId,
    author: CurrentProfile,
) -> Response:
    async with platform.db.autocommit_connection() as connection:
        comment = await service.add_comment(
            connection=connection,
            author_id=user_id,
            author=author,
            slug=slug,
            body=body.comment.body,
        )
    # serialized once here; FastAPI would validate the model again on the way out
    return Response(
        SingleCommentResponse(comment=comment).model_dump_json(by_alias=True),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
    )


@router.delete(
    "/articles/{slug}/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete your comment",
    responses=errors(401, 403, 404, 422),
)
async def delete_comment(
    slug: SafeStr, comment_id: CommentId, uow: UnitOfWorkDep, user: CurrentUser
) -> Response:
    await service.delete_comment(uow=uow, user_id=user.id, slug=slug, comment_id=comment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/tags", summary="Tags in use, most used first")
async def list_tags(reads: BlogReadsDep) -> TagsResponse:
    return TagsResponse(tags=await reads.tags())


@router.get(
    "/feeds/articles.atom",
    summary="Atom feed of the latest articles",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}, "description": "Atom 1.0"}},
)
async def site_feed(reads: BlogReadsDep, public_url: PublicUrl) -> Response:
    xml = await reads.site_feed(base_url=public_url)
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
async def profile_feed(username: SafeStr, reads: BlogReadsDep, public_url: PublicUrl) -> Response:
    xml = await reads.profile_feed(username, base_url=public_url)
    return Response(xml, media_type=feeds.ATOM_MEDIA_TYPE)


# RealWorld's clients read failures as {"errors": {field: [message]}}
api = Api(router, errors=REALWORLD)
