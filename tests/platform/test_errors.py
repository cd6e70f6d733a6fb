"""Bad requests get a clear 4xx in the ``{"errors": {...}}`` shape, and leave nothing written."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient, Response

from tests.conftest import auth, register
from tests.support.apps import ClientFor

LIMIT = 2048


def assert_error_shape(response: Response) -> dict[str, list[str]]:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errors"}
    errors: dict[str, list[str]] = body["errors"]
    assert errors
    for messages in errors.values():
        assert messages
        assert all(isinstance(message, str) and message for message in messages)
    return errors


def user_json(username: str, *, padding: int = 0) -> dict[str, Any]:
    return {
        "user": {
            "username": username,
            "email": f"{username}@example.com",
            "password": "password123",
            "bio": "x" * padding,  # ignored by register, but it is read and counted
        }
    }


async def chunks(data: bytes, size: int = 512) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def username_is_free(client: AsyncClient, username: str) -> bool:
    response = await client.get(f"/api/profiles/{username}")
    return response.status_code == 404


@pytest.mark.parametrize(
    "content",
    [b'{"user": {"username": "jake",', b"{'user': {}}", b"not json at all", b"\xff\xfe"],
    ids=["truncated", "single-quotes", "text", "bom-only"],
)
async def test_malformed_json_is_a_422(client: AsyncClient, content: bytes) -> None:
    response = await client.post(
        "/api/users", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert_error_shape(response)
    assert await username_is_free(client, "jake")


async def test_undecodable_bytes_are_a_4xx(client: AsyncClient) -> None:
    response = await client.post(
        "/api/users", content=b"\xff\xfe\x00", headers={"Content-Type": "application/json"}
    )

    assert 400 <= response.status_code < 500
    assert_error_shape(response)
    assert await username_is_free(client, "jake")


async def test_malformed_json_says_so(client: AsyncClient) -> None:
    response = await client.post(
        "/api/users", content=b'{"user": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json() == {"errors": {"body": ["is not valid JSON"]}}


@pytest.mark.parametrize(
    "body", [[user_json("jake")], "jake", 42, None], ids=["array", "string", "number", "null"]
)
async def test_json_that_is_not_an_object_is_a_422(client: AsyncClient, body: Any) -> None:
    response = await client.post("/api/users", json=body)

    assert response.status_code == 422
    assert_error_shape(response)
    assert await username_is_free(client, "jake")


async def test_an_empty_body_is_a_422(client: AsyncClient) -> None:
    response = await client.post("/api/users", headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert_error_shape(response)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"user": {"username": "jake"}}', "text/plain"),
        (b"user[username]=jake&user[email]=jake@example.com", "application/x-www-form-urlencoded"),
        (b"<user><username>jake</username></user>", "application/xml"),
    ],
    ids=["text-plain", "form", "xml"],
)
async def test_a_body_that_is_not_json_is_refused(
    client: AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(
        "/api/users", content=content, headers={"Content-Type": content_type}
    )

    assert 400 <= response.status_code < 500
    assert_error_shape(response)
    assert await username_is_free(client, "jake")


async def test_a_body_over_the_limit_with_content_length_is_a_413(client_for: ClientFor) -> None:
    client = await client_for(max_body_bytes=LIMIT)

    response = await client.post("/api/users", json=user_json("jake", padding=LIMIT))

    assert response.status_code == 413
    assert "content-length" in response.request.headers
    assert "body" in assert_error_shape(response)
    assert await username_is_free(client, "jake")
    # the same request, under the limit, goes through
    assert (await client.post("/api/users", json=user_json("jake"))).status_code == 201


async def test_a_chunked_body_over_the_limit_is_a_413(client_for: ClientFor) -> None:
    client = await client_for(max_body_bytes=LIMIT)
    token = await register(client, "jake")
    payload = b'{"user": {"bio": "' + b"x" * (LIMIT * 2) + b'"}}'

    response = await client.put(
        "/api/user",
        content=chunks(payload),
        headers={**auth(token), "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "body" in assert_error_shape(response)
    me = await client.get("/api/user", headers=auth(token))
    assert me.json()["user"]["bio"] is None


async def test_a_chunked_register_over_the_limit_creates_nobody(client_for: ClientFor) -> None:
    client = await client_for(max_body_bytes=LIMIT)
    payload = json.dumps(user_json("jake", padding=LIMIT)).encode()

    response = await client.post(
        "/api/users", content=chunks(payload), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert await username_is_free(client, "jake")


async def test_a_chunked_body_under_the_limit_is_accepted(client_for: ClientFor) -> None:
    client = await client_for(max_body_bytes=LIMIT)
    payload = json.dumps(user_json("jake")).encode()

    response = await client.post(
        "/api/users", content=chunks(payload, 16), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 201
    assert response.json()["user"]["username"] == "jake"


@pytest.mark.parametrize("content_length", ["abc", "-1", "99999999999999999999"])
async def test_a_nonsense_content_length_is_refused(
    client_for: ClientFor, content_length: str
) -> None:
    client = await client_for(max_body_bytes=LIMIT)

    response = await client.post(
        "/api/users",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": content_length},
    )

    assert 400 <= response.status_code < 500
    assert_error_shape(response)


async def test_a_failed_validation_leaves_nothing_written(client: AsyncClient) -> None:
    token = await register(client, "jake")

    refused = await client.put(
        "/api/user",
        json={"user": {"username": "jacob", "bio": "new", "password": "short"}},
        headers=auth(token),
    )

    assert refused.status_code == 422
    me = (await client.get("/api/user", headers=auth(token))).json()["user"]
    assert (me["username"], me["bio"]) == ("jake", None)
    assert await username_is_free(client, "jacob")


async def test_a_conflict_leaves_nothing_written(client: AsyncClient) -> None:
    token = await register(client, "jake")
    await register(client, "jane")

    refused = await client.put(
        "/api/user",
        json={"user": {"bio": "changed", "email": "jane@example.com"}},
        headers=auth(token),
    )

    assert refused.status_code == 409
    me = (await client.get("/api/user", headers=auth(token))).json()["user"]
    assert (me["email"], me["bio"]) == ("jake@example.com", None)


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/api/profiles", "/api/users/jake/x"])
async def test_an_unknown_route_is_a_json_404(client: AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.json() == {"errors": {"body": ["not found"]}}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/users", {"POST"}),
        ("GET", "/api/users", {"POST"}),
        # several routes share these paths: the header names the methods of all of them
        ("PATCH", "/api/user", {"GET", "PUT"}),
        ("DELETE", "/api/articles", {"GET", "POST"}),
        ("PATCH", "/api/articles/some-slug", {"GET", "PUT", "DELETE"}),
        ("PUT", "/api/articles/some-slug/favorite", {"POST", "DELETE"}),
        # the feed is a resource of its own, not an article slugged "feed" (none can be)
        ("PATCH", "/api/articles/feed", {"GET"}),
        ("POST", "/docs", {"GET", "HEAD"}),
    ],
)
async def test_a_wrong_method_is_a_json_405_that_names_every_allowed_method(
    client: AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path)

    assert response.status_code == 405
    assert response.json() == {"errors": {"body": ["method not allowed"]}}
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


async def test_a_wrong_query_parameter_type_is_a_422(client: AsyncClient) -> None:
    response = await client.get("/api/articles", params={"limit": "many"})

    assert response.status_code == 422
    assert "limit" in assert_error_shape(response)
