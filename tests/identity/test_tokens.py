"""Who is asking: the ``Authorization`` header, and every way a token can be wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from httpx import AsyncClient

from agora.identity.tokens import TokenCodec
from agora.platform.errors import Unauthorized
from tests.conftest import auth, register
from tests.support.config import TEST_JWT_SECRET

CODEC = TokenCodec(TEST_JWT_SECRET, ttl_seconds=3600)
ARTICLE = {"article": {"title": "Ghosts", "description": "boo", "body": "Who wrote this?"}}


def user_id_of(token: str) -> int:
    """The subject of one of our own tokens (read without checking, to forge variants of it)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return int(claims["sub"])


async def test_a_missing_header_is_reported_as_missing(client: AsyncClient) -> None:
    response = await client.get("/api/user")

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is missing"]}}


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "BEARER"])
async def test_token_and_bearer_schemes_are_accepted(client: AsyncClient, scheme: str) -> None:
    token = await register(client, "jake")

    response = await client.get("/api/user", headers={"Authorization": f"{scheme} {token}"})

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "jake"


async def test_a_token_from_login_works_like_one_from_register(client: AsyncClient) -> None:
    await register(client, "jake")
    login = await client.post(
        "/api/users/login", json={"user": {"email": "jake@example.com", "password": "password123"}}
    )

    response = await client.get("/api/user", headers=auth(login.json()["user"]["token"]))

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "jake"


@pytest.mark.parametrize(
    "header",
    [
        "Basic {token}",
        "{token}",
        "Token",
        "Token ",
        "Bearer",
        "Token not-a-jwt",
        "Token a.b.c",
        "Token {token}x",
        "Token {token}.extra",
    ],
    ids=[
        "basic-scheme",
        "no-scheme",
        "scheme-only",
        "scheme-and-space",
        "bearer-only",
        "garbage",
        "three-garbage-parts",
        "tampered-signature",
        "four-parts",
    ],
)
async def test_a_malformed_header_or_token_is_invalid(client: AsyncClient, header: str) -> None:
    token = CODEC.issue(1)  # well-formed and well-signed; each variant spoils it

    response = await client.get("/api/user", headers={"Authorization": header.format(token=token)})

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


async def test_a_token_signed_with_another_secret_is_invalid(client: AsyncClient) -> None:
    token = await register(client, "jake")
    forged = TokenCodec("another-secret-" + "y" * 32, ttl_seconds=3600).issue(user_id_of(token))

    response = await client.get("/api/user", headers=auth(forged))

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


async def test_an_unsigned_token_is_invalid(client: AsyncClient) -> None:
    token = await register(client, "jake")
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")

    response = await client.get("/api/user", headers=auth(unsigned))

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "{user_id}", "iss": "someone-else"},
        {"sub": "{user_id}"},
        {"iss": "agora"},
        {"sub": "not-a-number", "iss": "agora"},
    ],
    ids=["foreign-issuer", "no-issuer", "no-subject", "subject-not-an-id"],
)
async def test_a_well_signed_token_with_wrong_claims_is_invalid(
    client: AsyncClient, claims: dict[str, str]
) -> None:
    payload: dict[str, object] = {key: value.format(user_id=1) for key, value in claims.items()}
    payload["exp"] = datetime.now(UTC) + timedelta(hours=1)
    token = jwt.encode(payload, TEST_JWT_SECRET, algorithm="HS256")

    response = await client.get("/api/user", headers=auth(token))

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


def signed(**claims: object) -> str:
    """A token signed with the server's own secret, with whatever claims the test wants."""
    payload = {"iss": "agora", "exp": datetime.now(UTC) + timedelta(hours=1), **claims}
    return jwt.encode(payload, TEST_JWT_SECRET, algorithm="HS256")


ARABIC_INDIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize(
    "subject",
    [
        "0{user_id}",
        "+{user_id}",
        " {user_id}",
        "{user_id} ",
        "{user_id}\n",
        "{user_id}.0",
        "arabic-indic {user_id}",
        "0",
        "-1",
        "",
        str(2**31),
        str(2**63),
        "9" * 40,
    ],
    ids=[
        "leading-zero",
        "plus-sign",
        "leading-space",
        "trailing-space",
        "trailing-newline",
        "decimal-point",
        "other-digits",
        "zero",
        "negative",
        "empty",
        "past-int32",
        "past-int64",
        "forty-digits",
    ],
)
@pytest.mark.parametrize("path", ["/api/user", "/api/articles"])
async def test_a_signed_subject_that_is_not_a_user_id_as_we_write_it_is_invalid(
    client: AsyncClient, subject: str, path: str
) -> None:
    user_id = user_id_of(await register(client, "jake"))
    if subject.startswith("arabic-indic "):
        subject = str(user_id).translate(ARABIC_INDIC_DIGITS)
    token = signed(sub=subject.format(user_id=user_id))

    response = await client.get(path, headers=auth(token))

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}
    # the id itself, as we write it, is let in
    assert (await client.get(path, headers=auth(signed(sub=str(user_id))))).status_code == 200


@pytest.mark.parametrize(
    "expiry",
    [float("nan"), float("inf"), 10**400, "2100-01-01", True],
    ids=["nan", "infinity", "past-any-float", "a-string", "a-boolean"],
)
async def test_a_signed_expiry_that_is_not_a_finite_time_is_invalid(
    client: AsyncClient, expiry: object
) -> None:
    user_id = user_id_of(await register(client, "jake"))

    response = await client.get("/api/user", headers=auth(signed(sub=str(user_id), exp=expiry)))

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


async def test_an_expired_token_is_reported_as_expired(client: AsyncClient) -> None:
    token = await register(client, "jake")
    expired = CODEC.issue(user_id_of(token), now=datetime.now(UTC) - timedelta(hours=2))

    response = await client.get("/api/user", headers=auth(expired))

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["has expired"]}}
    # the same user, with a fresh token from the same codec, is let in
    fresh = CODEC.issue(user_id_of(token))
    assert (await client.get("/api/user", headers=auth(fresh))).status_code == 200


async def test_a_bad_token_is_refused_even_where_signing_in_is_optional(
    client: AsyncClient,
) -> None:
    await register(client, "jake")

    assert (await client.get("/api/profiles/jake")).status_code == 200
    response = await client.get("/api/profiles/jake", headers=auth("not-a-jwt"))

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


async def test_a_token_for_a_user_who_does_not_exist_is_invalid(client: AsyncClient) -> None:
    token = await register(client, "jake")
    ghost = CODEC.issue(user_id_of(token) + 1000)

    requests = [
        await client.get("/api/user", headers=auth(ghost)),
        await client.put("/api/user", json={"user": {"bio": "boo"}}, headers=auth(ghost)),
        await client.post("/api/articles", json=ARTICLE, headers=auth(ghost)),
        await client.post("/api/profiles/jake/follow", headers=auth(ghost)),
        await client.delete("/api/profiles/jake/follow", headers=auth(ghost)),
    ]

    for response in requests:
        assert response.status_code == 401, response.request.url
        assert response.json() == {"errors": {"token": ["is invalid"]}}
    # nothing was written on the ghost's behalf
    assert (await client.get("/api/articles")).json()["articlesCount"] == 0


async def test_a_token_in_a_cookie_does_not_sign_you_in(client: AsyncClient) -> None:
    # Tokens travel only in the Authorization header: a browser attaches cookies to requests any
    # other site makes, so a cookie-borne session would need CSRF defences; a header does not.
    token = await register(client, "cookiejar")
    client.cookies.set("token", token)
    client.cookies.set("Authorization", f"Token {token}")
    response = await client.get("/api/user")
    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is missing"]}}
    client.cookies.clear()
    assert (await client.get("/api/user", headers=auth(token))).status_code == 200


def test_a_remembered_token_still_expires_on_time() -> None:
    # verified tokens are remembered to spare the signature check, never past their expiry
    now = [1_700_000_000.0]
    codec = TokenCodec(TEST_JWT_SECRET, ttl_seconds=60, clock=lambda: now[0])
    token = codec.issue(7)
    assert codec.user_id(token) == 7
    now[0] += 59
    assert codec.user_id(token) == 7
    now[0] += 1
    with pytest.raises(Unauthorized) as refused:
        codec.user_id(token)
    assert refused.value.message == "has expired"


def test_a_forged_token_is_never_remembered() -> None:
    codec = TokenCodec(TEST_JWT_SECRET, ttl_seconds=60)
    forged = TokenCodec("another-secret-" + "y" * 32, ttl_seconds=60).issue(7)
    for _ in range(2):
        with pytest.raises(Unauthorized) as refused:
            codec.user_id(forged)
        assert refused.value.message == "is invalid"
