"""The blog's wire shapes, exactly as the RealWorld spec names them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from agora.blog.models import TAG_MAX, TITLE_MAX
from agora.identity.schemas import Profile
from agora.platform.wire import NotBlank, SingleLine, Timestamp, omittable

MAX_TAGS = 20
MAX_BODY = 100_000

# lengths count what the client sent; title, description and tags are stored stripped
Title = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX), SingleLine]
Description = Annotated[str, StringConstraints(min_length=1, max_length=1000), SingleLine]
Body = Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY), NotBlank]
TagName = Annotated[str, StringConstraints(min_length=1, max_length=TAG_MAX), SingleLine]
TagList = Annotated[list[TagName], Field(max_length=MAX_TAGS)]


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NewArticle(Request):
    title: Title
    description: Description
    body: Body
    tag_list: TagList = Field(default_factory=list, alias="tagList")


class NewArticleRequest(Request):
    article: NewArticle


class UpdateArticle(Request):
    """Only the fields sent change; ``tagList: []`` removes every tag, ``null`` is refused."""

    model_config = ConfigDict(populate_by_name=True)

    title: Title | None = omittable()
    description: Description | None = omittable()
    body: Body | None = omittable()
    # absent: tags unchanged (see model_fields_set); a list, even [], replaces them; null is a 422
    tag_list: TagList = Field(default_factory=list, alias="tagList")

    @field_validator("title", "description", "body", mode="before")
    @classmethod
    def _refuse_null(cls, value: object) -> object:
        # absent means "unchanged"; an explicit null would mean "remove", which these can't be
        if value is None:
            raise ValueError("can't be blank")
        return value


class UpdateArticleRequest(Request):
    article: UpdateArticle


class NewComment(Request):
    body: Body


class NewCommentRequest(Request):
    comment: NewComment


class ArticlePreview(BaseModel):
    """An article in a list: everything but the body (spec v2)."""

    model_config = ConfigDict(serialize_by_alias=True)

    slug: str
    title: str
    description: str
    tag_list: list[str] = Field(alias="tagList")
    created_at: Timestamp = Field(alias="createdAt")
    updated_at: Timestamp = Field(alias="updatedAt")
    favorited: bool
    favorites_count: int = Field(alias="favoritesCount")
    author: Profile


class Article(ArticlePreview):
    body: str


class SingleArticleResponse(BaseModel):
    article: Article


class MultipleArticlesResponse(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    articles: list[ArticlePreview]
    articles_count: int = Field(alias="articlesCount")


class Comment(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    id: int
    created_at: Timestamp = Field(alias="createdAt")
    updated_at: Timestamp = Field(alias="updatedAt")
    body: str
    author: Profile


class SingleCommentResponse(BaseModel):
    comment: Comment


class MultipleCommentsResponse(BaseModel):
    comments: list[Comment]


class TagsResponse(BaseModel):
    tags: list[str]
