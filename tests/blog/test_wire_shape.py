"""The article's wire shape is written twice, and both say the same.

``blog/schemas.py`` declares it as pydantic models (the OpenAPI document, the Atom feeds); the hot
routes send JSON built straight from rows into the TypedDicts of ``blog/queries.py``, because
validating twenty models per page cost more than the query. These tests hold the two together:
the same keys with the same JSON types, and what the routes really send is exactly what the
documented model makes of it.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict

from httpx import AsyncClient
from pydantic import BaseModel

from agora.blog.queries import ArticleJSON, ArticlePreviewJSON
from agora.blog.schemas import (
    Article,
    ArticlePreview,
    MultipleArticlesResponse,
    SingleArticleResponse,
)
from tests.blog.conftest import favorite
from tests.conftest import auth, create_article

_JSON_TYPES = {str: "string", int: "integer", bool: "boolean", float: "number", type(None): "null"}


def typed_dict_shape(annotation: Any) -> Any:
    """The JSON a TypedDict describes: keys, and each value's JSON type."""
    if is_typeddict(annotation):
        return {key: typed_dict_shape(value) for key, value in get_type_hints(annotation).items()}
    origin = get_origin(annotation)
    if origin is list:
        return ["array", typed_dict_shape(get_args(annotation)[0])]
    if origin in (Union, types.UnionType):
        return frozenset(typed_dict_shape(member) for member in get_args(annotation))
    return _JSON_TYPES[annotation]


def model_shape(model: type[BaseModel]) -> Any:
    """The JSON a model serializes to, by its JSON schema: keys, and each value's JSON type."""
    schema = model.model_json_schema(mode="serialization", by_alias=True)
    definitions = schema.get("$defs", {})

    def shape(node: dict[str, Any]) -> Any:
        if "$ref" in node:
            return shape(definitions[node["$ref"].rsplit("/", 1)[-1]])
        if "anyOf" in node:
            return frozenset(shape(member) for member in node["anyOf"])
        if node["type"] == "object":
            return {key: shape(value) for key, value in node["properties"].items()}
        if node["type"] == "array":
            return ["array", shape(node["items"])]
        return node["type"]

    return shape(schema)


def test_the_rows_json_has_the_documented_keys_and_types() -> None:
    assert typed_dict_shape(ArticlePreviewJSON) == model_shape(ArticlePreview)
    assert typed_dict_shape(ArticleJSON) == model_shape(Article)


def test_the_shape_check_sees_a_difference() -> None:
    class Renamed(BaseModel):
        slug: str
        favorites: int

    assert typed_dict_shape(ArticlePreviewJSON) != model_shape(Renamed)


def same_after_the_model(model: type[BaseModel], sent: dict[str, Any]) -> None:
    """What the route sent is what the model, validating it, would send: nothing more or less."""
    assert model.model_validate(sent).model_dump(mode="json", by_alias=True) == sent


async def test_what_the_routes_send_is_what_the_models_document(
    client: AsyncClient, alice: str, bob: str
) -> None:
    slug = (await create_article(client, alice, tags=["dragons", "training"]))["slug"]
    await favorite(client, bob, slug)
    await client.post("/api/profiles/alice/follow", headers=auth(bob))

    for token in (None, bob):
        headers = auth(token) if token else None
        page = (await client.get("/api/articles", headers=headers)).json()
        same_after_the_model(MultipleArticlesResponse, page)
        single = (await client.get(f"/api/articles/{slug}", headers=headers)).json()
        same_after_the_model(SingleArticleResponse, single)
    favorited = await client.post(f"/api/articles/{slug}/favorite", headers=auth(alice))
    same_after_the_model(SingleArticleResponse, favorited.json())
