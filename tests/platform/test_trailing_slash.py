"""Every route answers its path with a trailing slash too, at once: no redirect, no second trip."""

from __future__ import annotations

import re

import pytest
from httpx import AsyncClient
from starlette.routing import Route

from agora.platform.provided import ProvidingApp
from tests.conftest import auth, register

ARTICLE = {"article": {"title": "Slashes", "description": "d", "body": "b"}}
# a value for each path parameter, so every route can be asked for
SAMPLE_PARAMETERS = {
    "slug": "no-such-article",
    "username": "nobody",
    "comment_id": "1",
    # the chat
    "room_id": "1",
    "message_id": "1",
    "member_id": "1",
    "emoji": "ok",
    # the shop
    "sku": "NO-SUCH-SKU",
    "order_id": "1",
    "image_id": "1",
}


def every_route(app: ProvidingApp) -> list[tuple[str, str]]:
    """Each method and path the app serves: the documented API and the documentation itself."""
    templates = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]
    templates += [
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.methods
        for method in route.methods
    ]
    return sorted(
        (method, re.sub(r"{(\w+)}", lambda name: SAMPLE_PARAMETERS[name[1]], path))
        for method, path in templates
    )


async def test_an_article_posted_to_the_slash_spelling_is_created_at_once(
    client: AsyncClient,
) -> None:
    # what the Angular RealWorld front end sends
    token = await register(client, "jake")

    response = await client.post("/api/articles/", json=ARTICLE, headers=auth(token))

    assert response.status_code == 201
    assert response.json()["article"]["title"] == "Slashes"
    assert (await client.get("/api/articles/slashes/")).json()["article"]["title"] == "Slashes"


async def test_every_route_answers_both_spellings_the_same(
    app: ProvidingApp, client: AsyncClient
) -> None:
    routes = every_route(app)
    assert {("POST", "/api/articles"), ("GET", "/docs"), ("GET", "/healthz")} <= set(routes)

    for method, path in routes:
        plain = await client.request(method, path)
        slashed = await client.request(method, f"{path}/")

        assert slashed.status_code == plain.status_code, f"{method} {path}/"
        assert not slashed.is_redirect, f"{method} {path}/"


async def test_the_documentation_lists_each_route_once(client: AsyncClient) -> None:
    paths = (await client.get("/openapi.json/")).json()["paths"]

    assert "/api/articles" in paths
    assert not [path for path in paths if path.endswith("/")]


@pytest.mark.parametrize("path", ["/", "/media/", "/api/nothing/"])
async def test_a_slash_is_kept_where_no_route_would_answer_without_it(
    client: AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 404
