"""Each context's routes answer failures in the format their clients read.

The blog and identity speak RealWorld's ``{"errors": {...}}``; the shop and the chat will speak
RFC 9457 problem details. Until they exist, a small router that declares problem details stands in
for them, mounted beside the real contexts: every failure under its prefix, whether its own route
raised it or the framework did (an unknown path, a 405, a body over the limit, a validation
error, a bug, a database that cannot serve), is ``application/problem+json``, and the OpenAPI
document says so; everything else is still RealWorld's, byte for byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from httpx import AsyncClient, Response
from pydantic import BaseModel, Field

from agora.app import APIS, create_app
from agora.container import Container
from agora.platform.deps import PlatformDep
from agora.platform.error_formats import (
    HTTP_STATUS,
    PROBLEM_DETAILS,
    REALWORLD,
    Api,
    ErrorFormats,
)
from agora.platform.errors import Conflict, ErrorKind, NotFound, Unavailable
from agora.platform.openapi import errors
from agora.platform.provided import ProvidingApp
from agora.settings import Settings
from tests.conftest import register
from tests.support.apps import client_of, platform_of
from tests.support.database import empty_tables

PROBLEM_JSON = "application/problem+json"
SHOP = "/api/demo-shop"
LIMIT = 2048


class NewItem(BaseModel):
    name: str = Field(min_length=1)
    price: int = Field(ge=0)


demo = APIRouter(prefix=SHOP, tags=["demo-shop"])


@demo.get("/items/{item_id}", responses=errors(404))
async def get_item(item_id: int) -> dict[str, int]:
    if item_id != 1:
        raise NotFound("not found", field="item")
    return {"id": 1}


@demo.post("/items", status_code=201, responses=errors(409, 422))
async def add_item(item: NewItem) -> dict[str, str]:
    if item.name == "taken":
        raise Conflict("has already been taken", field="name")
    return {"name": item.name}


@demo.get("/busy", responses=errors(503))
async def busy() -> None:
    raise Unavailable("the shop is closed for a moment", retry_after=3)


@demo.get("/bug")
async def bug() -> None:
    raise RuntimeError("a bug in the shop")


@demo.get("/database")
async def database(platform: PlatformDep) -> dict[str, str]:
    await platform.db.ping()
    return {"status": "ok"}


DEMO_SHOP = Api(demo, errors=PROBLEM_DETAILS)


@pytest.fixture
def make_demo_app(make_settings: Callable[..., Settings]) -> Callable[..., ProvidingApp]:
    def build(**overrides: Any) -> ProvidingApp:
        settings = make_settings(max_body_bytes=LIMIT, **overrides)
        return create_app(container=Container.from_settings(settings), apis=[*APIS, DEMO_SHOP])

    return build


@pytest.fixture
async def shop(make_demo_app: Callable[..., ProvidingApp]) -> AsyncIterator[AsyncClient]:
    app = make_demo_app()
    await empty_tables(platform_of(app).db)
    async with app.router.lifespan_context(app), client_of(app) as client:
        yield client


def problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


# --- the formats on their own -------------------------------------------------------------------


def test_every_kind_of_domain_error_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(ErrorKind)


def test_realworld_reports_a_failure_of_no_field_on_body() -> None:
    assert REALWORLD.body(404, {"article": ["not found"]}) == {"errors": {"article": ["not found"]}}
    assert REALWORLD.body(500, {None: ["internal error"]}) == {
        "errors": {"body": ["internal error"]}
    }


def test_problem_details_name_the_status_and_every_field() -> None:
    body = PROBLEM_DETAILS.body(422, {"name": ["can't be blank"], "price": ["must be an integer"]})

    assert body == {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "name can't be blank; price must be an integer",
        "errors": [
            {"field": "name", "detail": "can't be blank"},
            {"field": "price", "detail": "must be an integer"},
        ],
    }


def test_problem_details_of_the_request_as_a_whole_have_no_field_list() -> None:
    body = PROBLEM_DETAILS.body(503, {None: ["try again in 2 seconds"]})

    assert body == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "try again in 2 seconds",
    }


def test_a_domain_error_keeps_its_retry_after_in_every_format() -> None:
    error = Unavailable("busy", retry_after=7)
    for error_format in (REALWORLD, PROBLEM_DETAILS):
        response = error_format.error_response(error)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"
        assert response.media_type == error_format.media_type


def test_the_longest_prefix_owns_a_path_and_only_whole_segments_count() -> None:
    formats = ErrorFormats(default=REALWORLD)
    formats.own("/api", REALWORLD)
    formats.own("/api/shop/", PROBLEM_DETAILS)

    assert formats.for_path("/api/shop") is PROBLEM_DETAILS
    assert formats.for_path("/api/shop/orders/7") is PROBLEM_DETAILS
    assert formats.for_path("/api/shopping") is REALWORLD
    assert formats.for_path("/api/articles") is REALWORLD
    assert formats.for_path("/elsewhere") is REALWORLD


def test_two_formats_cannot_claim_the_same_paths() -> None:
    formats = ErrorFormats(default=REALWORLD)
    formats.own("/api", REALWORLD)
    formats.own("/api", REALWORLD)  # two contexts under one prefix, one format: fine

    with pytest.raises(ValueError, match="/api"):
        formats.own("/api/", PROBLEM_DETAILS)


# --- a problem-details router beside the RealWorld ones ------------------------------------------


async def test_a_domain_error_of_the_shop_is_a_problem(shop: AsyncClient) -> None:
    body = problem(await shop.get(f"{SHOP}/items/2"), 404)

    assert body["title"] == "Not Found"
    assert body["detail"] == "item not found"
    assert body["errors"] == [{"field": "item", "detail": "not found"}]


async def test_a_conflict_of_the_shop_is_a_problem(shop: AsyncClient) -> None:
    response = await shop.post(f"{SHOP}/items", json={"name": "taken", "price": 1})

    assert problem(response, 409)["errors"] == [
        {"field": "name", "detail": "has already been taken"}
    ]


async def test_invalid_input_to_the_shop_is_a_problem_naming_each_field(shop: AsyncClient) -> None:
    response = await shop.post(f"{SHOP}/items", json={"name": "", "price": "free"})

    body = problem(response, 422)
    assert {error["field"] for error in body["errors"]} == {"name", "price"}


async def test_malformed_json_to_the_shop_is_a_problem(shop: AsyncClient) -> None:
    response = await shop.post(
        f"{SHOP}/items", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )

    assert problem(response, 422)["errors"][0]["field"] == "body"


async def test_an_unknown_path_under_the_shop_is_a_problem_elsewhere_realworld(
    shop: AsyncClient,
) -> None:
    assert problem(await shop.get(f"{SHOP}/nothing-here"), 404)["detail"] == "not found"

    elsewhere = await shop.get("/api/nothing-here")
    assert elsewhere.status_code == 404
    assert elsewhere.content == b'{"errors":{"body":["not found"]}}'


async def test_a_wrong_method_on_the_shop_is_a_problem_with_allow(shop: AsyncClient) -> None:
    response = await shop.delete(f"{SHOP}/items")

    problem(response, 405)
    assert response.headers["allow"] == "POST"


async def test_a_body_over_the_limit_is_a_problem(shop: AsyncClient) -> None:
    declared = await shop.post(
        f"{SHOP}/items", content=b"x" * (LIMIT + 1), headers={"Content-Type": "application/json"}
    )
    assert problem(declared, 413)["errors"] == [
        {"field": "body", "detail": f"is too large (the limit is {LIMIT} bytes)"}
    ]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(LIMIT // 512 + 2):
            yield b" " * 512

    streamed = await shop.post(
        f"{SHOP}/items", content=chunks(), headers={"Content-Type": "application/json"}
    )
    problem(streamed, 413)


async def test_a_bug_in_the_shop_is_a_500_problem(shop: AsyncClient) -> None:
    body = problem(await shop.get(f"{SHOP}/bug"), 500)

    assert body["detail"] == "internal error"  # the bug's own words stay in the log


async def test_an_unavailable_shop_is_a_503_problem_with_retry_after(shop: AsyncClient) -> None:
    response = await shop.get(f"{SHOP}/busy")

    assert problem(response, 503)["detail"] == "the shop is closed for a moment"
    assert response.headers["retry-after"] == "3"


async def test_a_database_that_cannot_serve_is_a_503_problem_for_the_shop_only(
    make_demo_app: Callable[..., ProvidingApp], tmp_path: Path
) -> None:
    # a directory where the SQLite file should be: no connection can be opened
    app = make_demo_app(database_url=f"sqlite+aiosqlite:///{tmp_path}", redis_url=None)
    async with app.router.lifespan_context(app), client_of(app) as client:
        response = await client.get(f"{SHOP}/database")
        problem(response, 503)
        assert "retry-after" in response.headers

        blog = await client.get("/api/tags")
        assert blog.status_code == 503
        assert set(blog.json()) == {"errors"}


async def test_the_realworld_routes_beside_it_answer_as_before(shop: AsyncClient) -> None:
    token = await register(shop, "jake")
    missing = await shop.get("/api/articles/nothing", headers={"Authorization": f"Token {token}"})

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"
    assert missing.content == b'{"errors":{"article":["not found"]}}'
    invalid = await shop.post("/api/users", json={"user": {}})
    assert invalid.status_code == 422
    assert set(invalid.json()) == {"errors"}


async def test_the_openapi_document_shows_each_routes_error_format(shop: AsyncClient) -> None:
    document = (await shop.get("/openapi.json")).json()
    paths, schemas = document["paths"], document["components"]["schemas"]

    def error_content(path: str, method: str, status: str) -> dict[str, Any]:
        content: dict[str, Any] = paths[path][method]["responses"][status]["content"]
        return content

    problem_ref = {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}
    generic_ref = {"schema": {"$ref": "#/components/schemas/GenericError"}}
    assert error_content(f"{SHOP}/items/{{item_id}}", "get", "404") == {PROBLEM_JSON: problem_ref}
    # FastAPI's own 422 and the platform's 413 and 503 too
    for status in ("409", "413", "422", "503"):
        assert error_content(f"{SHOP}/items", "post", status) == {PROBLEM_JSON: problem_ref}
    assert error_content("/api/articles/{slug}", "get", "404") == {"application/json": generic_ref}
    assert error_content("/api/users", "post", "422") == {"application/json": generic_ref}
    assert set(schemas["ProblemDetail"]["required"]) == {"title", "status", "detail"}
    assert "FieldProblem" in schemas
    assert "HTTPValidationError" not in schemas
