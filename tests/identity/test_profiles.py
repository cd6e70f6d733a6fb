"""Profiles and follows: ``/api/profiles/{username}`` and ``/api/profiles/{username}/follow``."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from tests.conftest import auth, register


async def test_a_profile_for_an_anonymous_reader(client: AsyncClient) -> None:
    token = await register(client, "jake")
    await client.put("/api/user", json={"user": {"bio": "I skate"}}, headers=auth(token))

    response = await client.get("/api/profiles/jake")

    assert response.status_code == 200
    assert response.json() == {
        "profile": {"username": "jake", "bio": "I skate", "image": None, "following": False}
    }


async def test_a_new_users_profile_has_null_bio_and_image(client: AsyncClient) -> None:
    await register(client, "jake")
    jane = await register(client, "jane")

    response = await client.get("/api/profiles/jake", headers=auth(jane))

    assert response.json() == {
        "profile": {"username": "jake", "bio": None, "image": None, "following": False}
    }


async def test_follow_then_unfollow_is_persisted(client: AsyncClient) -> None:
    await register(client, "jake")
    jane = await register(client, "jane")

    followed = await client.post("/api/profiles/jake/follow", headers=auth(jane))

    assert followed.status_code == 200
    assert followed.json()["profile"] == {
        "username": "jake",
        "bio": None,
        "image": None,
        "following": True,
    }
    seen = await client.get("/api/profiles/jake", headers=auth(jane))
    assert seen.json()["profile"]["following"] is True

    unfollowed = await client.delete("/api/profiles/jake/follow", headers=auth(jane))

    assert unfollowed.status_code == 200
    assert unfollowed.json()["profile"]["following"] is False
    seen = await client.get("/api/profiles/jake", headers=auth(jane))
    assert seen.json()["profile"]["following"] is False


async def test_following_is_relative_to_the_viewer(client: AsyncClient) -> None:
    jake = await register(client, "jake")
    jane = await register(client, "jane")
    ada = await register(client, "ada")
    await client.post("/api/profiles/jake/follow", headers=auth(jane))

    async def following(username: str, headers: dict[str, str]) -> bool:
        response = await client.get(f"/api/profiles/{username}", headers=headers)
        value: bool = response.json()["profile"]["following"]
        return value

    assert await following("jake", auth(jane)) is True
    assert await following("jake", auth(ada)) is False
    assert await following("jake", {}) is False
    # following is one-way
    assert await following("jane", auth(jake)) is False


async def test_follow_and_unfollow_are_idempotent(client: AsyncClient) -> None:
    await register(client, "jake")
    jane = await register(client, "jane")

    for _ in range(2):
        response = await client.post("/api/profiles/jake/follow", headers=auth(jane))
        assert response.status_code == 200
        assert response.json()["profile"]["following"] is True
    for _ in range(2):
        response = await client.delete("/api/profiles/jake/follow", headers=auth(jane))
        assert response.status_code == 200
        assert response.json()["profile"]["following"] is False
    # unfollowing someone you never followed is fine too
    await register(client, "ada")
    response = await client.delete("/api/profiles/ada/follow", headers=auth(jane))
    assert response.status_code == 200
    assert response.json()["profile"]["following"] is False


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/profiles/nobody"),
        ("POST", "/api/profiles/nobody/follow"),
        ("DELETE", "/api/profiles/nobody/follow"),
    ],
)
async def test_an_unknown_profile_is_not_found(client: AsyncClient, method: str, path: str) -> None:
    token = await register(client, "jake")

    response = await client.request(method, path, headers=auth(token))

    assert response.status_code == 404
    assert response.json() == {"errors": {"profile": ["not found"]}}


async def test_usernames_are_matched_exactly(client: AsyncClient) -> None:
    await register(client, "jake")

    assert (await client.get("/api/profiles/jake")).status_code == 200
    assert (await client.get("/api/profiles/ja")).status_code == 404
    assert (await client.get("/api/profiles/ja%25")).status_code == 404


async def test_you_cannot_follow_yourself(client: AsyncClient) -> None:
    jake = await register(client, "jake")

    response = await client.post("/api/profiles/jake/follow", headers=auth(jake))

    assert response.status_code == 422
    assert "profile" in response.json()["errors"]
    seen = await client.get("/api/profiles/jake", headers=auth(jake))
    assert seen.json()["profile"]["following"] is False


@pytest.mark.parametrize("username", ["jake", "nobody"])
@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_following_needs_a_token_before_anything_else(
    client: AsyncClient, method: str, username: str
) -> None:
    await register(client, "jake")

    response = await client.request(method, f"/api/profiles/{username}/follow")

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is missing"]}}
