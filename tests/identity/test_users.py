"""Register, log in, read and change yourself: ``/api/users``, ``/users/login``, ``/api/user``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import hypothesis
import pytest
from httpx import AsyncClient, Response
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from agora.identity.schemas import Username
from tests.conftest import auth, register

USERNAME: TypeAdapter[str] = TypeAdapter(Username)

PASSWORD = "password123"


def new_user(username: str = "jake", /, **fields: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "username": username,
        "email": f"{username}@example.com",
        "password": PASSWORD,
    }
    user.update(fields)
    return {"user": user}


async def login(client: AsyncClient, email: str, password: str = PASSWORD) -> Response:
    return await client.post(
        "/api/users/login", json={"user": {"email": email, "password": password}}
    )


async def update(client: AsyncClient, token: str, **fields: Any) -> Response:
    return await client.put("/api/user", json={"user": fields}, headers=auth(token))


def assert_no_secrets(response: Response, *passwords: str) -> None:
    text = response.text
    for secret in (*passwords, "$argon2"):
        assert secret not in text
    assert not set(response.json().get("user", {})) & {"password", "password_hash", "hash"}


# --- register ------------------------------------------------------------------------------------


async def test_register_returns_the_new_user_with_a_working_token(client: AsyncClient) -> None:
    response = await client.post("/api/users", json=new_user("jake"))

    assert response.status_code == 201
    user = response.json()["user"]
    assert set(user) == {"email", "token", "username", "bio", "image", "verified"}
    assert user["username"] == "jake"
    assert user["email"] == "jake@example.com"
    assert user["bio"] is None
    assert user["image"] is None
    assert isinstance(user["token"], str)
    assert user["token"]
    assert_no_secrets(response, PASSWORD)

    me = await client.get("/api/user", headers=auth(user["token"]))
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "jake"
    assert me.json()["user"]["email"] == "jake@example.com"


async def test_register_accepts_a_long_passphrase(client: AsyncClient) -> None:
    passphrase = "correct horse battery staple " * 2 + "x" * 6  # 64 characters
    assert len(passphrase) == 64

    response = await client.post("/api/users", json=new_user("jake", password=passphrase))

    assert response.status_code == 201
    assert (await login(client, "jake@example.com", passphrase)).status_code == 200


@pytest.mark.parametrize(
    ("second", "field"),
    [
        (new_user("jake", email="other@example.com"), "username"),
        (new_user("other", email="jake@example.com"), "email"),
        (new_user("other", email="JAKE@Example.COM"), "email"),
    ],
    ids=["same-username", "same-email", "same-email-other-case"],
)
async def test_register_refuses_a_taken_username_or_email(
    client: AsyncClient, second: dict[str, Any], field: str
) -> None:
    await register(client, "jake")

    response = await client.post("/api/users", json=second)

    assert response.status_code == 409
    assert response.json() == {"errors": {field: ["has already been taken"]}}
    # the refused registration created nobody
    assert (await client.get("/api/profiles/other")).status_code == 404


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"username": ""}, "username", "can't be blank"),
        ({"username": "   "}, "username", "can't be blank"),
        ({"username": None}, "username", "can't be blank"),
        ({"username": 42}, "username", "must be a string"),
        ({"email": ""}, "email", "can't be blank"),
        ({"email": None}, "email", "can't be blank"),
        ({"email": "not-an-email"}, "email", "is invalid"),
        # one rule, the document's: an address alone (not "Name <address>", not padded), and
        # at a domain that can receive mail
        ({"email": "Jake <jake@example.com>"}, "email", "is invalid"),
        ({"email": " jake@example.com"}, "email", "is invalid"),
        ({"email": "jake@example.test"}, "email", "is invalid"),
        (
            {"email": "jake@" + "a" * 250 + ".com"},
            "email",
            "is too long (maximum is 254 characters)",
        ),
        ({"email": ["jake@example.com"]}, "email", "must be a string"),
        ({"password": ""}, "password", "can't be blank"),
        ({"password": None}, "password", "can't be blank"),
        ({"password": 12345678}, "password", "must be a string"),
        ({"password": "short7c"}, "password", "is too short (minimum is 8 characters)"),
    ],
)
async def test_register_refuses_an_invalid_field(
    client: AsyncClient, fields: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post("/api/users", json=new_user("jake", **fields))

    assert response.status_code == 422
    assert response.json()["errors"][field] == [message]
    assert (await client.get("/api/profiles/jake")).status_code == 404


DOT_SEGMENT_MESSAGE = "can't be '.' or '..': a browser would drop it from the profile's address"


@pytest.mark.parametrize("username", [".", "..", " .. "])
async def test_a_username_that_a_url_cannot_carry_is_refused(
    client: AsyncClient, username: str
) -> None:
    response = await client.post("/api/users", json=new_user("dots", username=username))

    assert response.status_code == 422
    assert response.json() == {"errors": {"username": [DOT_SEGMENT_MESSAGE]}}
    token = await register(client, "jake")
    changed = await update(client, token, username=username)
    assert changed.status_code == 422
    assert changed.json() == {"errors": {"username": [DOT_SEGMENT_MESSAGE]}}
    assert (await client.get("/api/profiles/jake")).status_code == 200


@pytest.mark.parametrize("username", ["...", ".jake", "jake.", "a..b", "jäke", "jake_2", "李"])
async def test_a_username_with_dots_or_any_script_reaches_its_profile(
    client: AsyncClient, username: str
) -> None:
    await client.post("/api/users", json=new_user("x", username=username))

    response = await client.get(f"/api/profiles/{quote(username, safe='')}")

    assert response.status_code == 200
    assert response.json()["profile"]["username"] == username


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("ｊａｋｅ", "jake"), ("jose\u0301", "josé"), ("ﬁsh", "fish")],
    ids=["fullwidth", "combining-accent", "ligature"],
)
async def test_a_username_has_one_spelling(client: AsyncClient, sent: str, kept: str) -> None:
    response = await client.post("/api/users", json=new_user("first", username=sent))
    assert response.status_code == 201, response.text
    assert response.json()["user"]["username"] == kept

    # the look-alike is the same name, taken
    again = await client.post("/api/users", json=new_user("second", username=kept))
    assert again.status_code == 409
    assert (await client.get(f"/api/profiles/{quote(kept, safe='')}")).status_code == 200


@pytest.mark.parametrize(
    "username",
    ["ja\u200dke", "ja\u200cke", "\u0301jake", "jake\u20dd"],
    ids=["zwj", "zwnj", "mark", "enclosing"],
)
async def test_a_username_with_invisible_or_stray_characters_is_refused(
    client: AsyncClient, username: str
) -> None:
    response = await client.post("/api/users", json=new_user("x", username=username))

    assert response.status_code == 422
    assert response.json() == {
        "errors": {"username": ["may contain only letters, digits, '_', '.' and '-'"]}
    }


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.from_regex(r"\A[\w.\-]{1,64}\Z").map(str.strip))
@hypothesis.example(".")
@hypothesis.example("..")
def test_every_accepted_username_survives_a_trip_through_a_url(username: str) -> None:
    try:
        USERNAME.validate_python(username)
    except ValidationError:
        return
    # an RFC 3986 client (httpx here, a browser alike) sends the path it is given, unaltered
    path = httpx.URL(f"http://agora.test/api/profiles/{quote(username, safe='')}").path
    assert path == f"/api/profiles/{username}"


@pytest.mark.parametrize("missing", ["username", "email", "password"])
async def test_register_refuses_a_missing_field(client: AsyncClient, missing: str) -> None:
    body = new_user("jake")
    del body["user"][missing]

    response = await client.post("/api/users", json=body)

    assert response.status_code == 422
    assert response.json() == {"errors": {missing: ["can't be blank"]}}


@pytest.mark.parametrize(
    "body",
    [{}, {"user": None}, {"user": "jake"}, {"username": "jake", "password": PASSWORD}],
    ids=["empty", "user-null", "user-string", "not-wrapped"],
)
async def test_register_refuses_a_body_without_a_user_object(
    client: AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/api/users", json=body)

    assert response.status_code == 422
    assert "user" in response.json()["errors"]


async def test_register_reports_every_invalid_field_at_once(client: AsyncClient) -> None:
    response = await client.post(
        "/api/users", json={"user": {"username": "", "email": "", "password": ""}}
    )

    assert response.status_code == 422
    assert response.json() == {
        "errors": {
            "username": ["can't be blank"],
            "email": ["can't be blank"],
            "password": ["can't be blank"],
        }
    }


# --- login ---------------------------------------------------------------------------------------


async def test_login_returns_the_user_with_a_working_token(client: AsyncClient) -> None:
    await register(client, "jake")

    response = await login(client, "jake@example.com")

    assert response.status_code == 200
    user = response.json()["user"]
    assert set(user) == {"email", "token", "username", "bio", "image", "verified"}
    assert (user["username"], user["email"], user["bio"], user["image"]) == (
        "jake",
        "jake@example.com",
        None,
        None,
    )
    assert_no_secrets(response, PASSWORD)
    me = await client.get("/api/user", headers=auth(user["token"]))
    assert me.json()["user"]["username"] == "jake"


async def test_an_internationalized_email_is_accepted(client: AsyncClient) -> None:
    response = await client.post("/api/users", json=new_user("jose", email="josé@exämple.com"))

    assert response.status_code == 201, response.text
    assert response.json()["user"]["email"] == "josé@exämple.com"


async def test_email_ignores_case_for_login_and_uniqueness(client: AsyncClient) -> None:
    response = await client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "Jake@Example.com", "password": PASSWORD}},
    )
    assert response.status_code == 201

    assert (await login(client, "jake@example.com")).status_code == 200
    assert (await login(client, "JAKE@EXAMPLE.COM")).status_code == 200
    again = await client.post("/api/users", json=new_user("jacob", email="jake@example.com"))
    assert again.status_code == 409
    assert again.json() == {"errors": {"email": ["has already been taken"]}}


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("jake@example.com", "wrong-password"),
        ("jake@example.com", PASSWORD.upper()),
        ("nobody@example.com", PASSWORD),
    ],
    ids=["wrong-password", "password-other-case", "unknown-email"],
)
async def test_login_refuses_bad_credentials_the_same_way(
    client: AsyncClient, email: str, password: str
) -> None:
    await register(client, "jake")

    response = await login(client, email, password)

    assert response.status_code == 401
    assert response.json() == {"errors": {"credentials": ["invalid"]}}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": ""}, "email"),
        ({"password": ""}, "password"),
        ({"email": None}, "email"),
        ({"password": None}, "password"),
    ],
)
async def test_login_refuses_a_blank_field(
    client: AsyncClient, fields: dict[str, Any], field: str
) -> None:
    body = {"email": "jake@example.com", "password": PASSWORD} | fields

    response = await client.post("/api/users/login", json={"user": body})

    assert response.status_code == 422
    assert response.json() == {"errors": {field: ["can't be blank"]}}


# --- the current user ----------------------------------------------------------------------------


async def test_current_user_needs_a_token(client: AsyncClient) -> None:
    response = await client.get("/api/user")

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is missing"]}}


async def test_update_needs_a_token_even_with_a_valid_body(client: AsyncClient) -> None:
    response = await client.put("/api/user", json={"user": {"bio": "hi"}})

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is missing"]}}


async def test_update_changes_only_the_fields_sent_and_persists(client: AsyncClient) -> None:
    token = await register(client, "jake")

    response = await update(client, token, bio="I like to skateboard")

    assert response.status_code == 200
    user = response.json()["user"]
    assert (user["username"], user["email"], user["bio"], user["image"]) == (
        "jake",
        "jake@example.com",
        "I like to skateboard",
        None,
    )
    response = await update(client, token, image="https://example.com/photo.jpg")
    assert response.json()["user"]["bio"] == "I like to skateboard"
    assert response.json()["user"]["image"] == "https://example.com/photo.jpg"

    me = (await client.get("/api/user", headers=auth(token))).json()["user"]
    assert me["bio"] == "I like to skateboard"
    assert me["image"] == "https://example.com/photo.jpg"
    profile = (await client.get("/api/profiles/jake")).json()["profile"]
    assert profile["bio"] == "I like to skateboard"
    assert profile["image"] == "https://example.com/photo.jpg"


@pytest.mark.parametrize("cleared", ["", None])
async def test_update_clears_bio_and_image_to_null(
    client: AsyncClient, cleared: str | None
) -> None:
    token = await register(client, "jake")
    await update(client, token, bio="something", image="https://example.com/photo.jpg")

    response = await update(client, token, bio=cleared, image=cleared)

    assert response.status_code == 200
    assert response.json()["user"]["bio"] is None
    assert response.json()["user"]["image"] is None
    me = (await client.get("/api/user", headers=auth(token))).json()["user"]
    assert (me["bio"], me["image"]) == (None, None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": None}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": " "}, "email"),
        ({"username": None}, "username"),
        ({"username": "  "}, "username"),
        ({"password": None}, "password"),
        ({"password": "short7c"}, "password"),
        ({"bio": 42}, "bio"),
    ],
)
async def test_update_refuses_an_invalid_field_and_changes_nothing(
    client: AsyncClient, fields: dict[str, Any], field: str
) -> None:
    token = await register(client, "jake")

    response = await update(client, token, **({"bio": "new bio"} | fields))

    assert response.status_code == 422
    assert field in response.json()["errors"]
    me = (await client.get("/api/user", headers=auth(token))).json()["user"]
    assert (me["username"], me["email"], me["bio"]) == ("jake", "jake@example.com", None)


async def test_update_takes_empty_email_username_and_password_as_not_sent(
    client: AsyncClient,
) -> None:
    # what the Angular front end's settings page sends when only the bio was changed
    token = await register(client, "jake")

    response = await update(
        client, token, image="", username="", bio="I like to skateboard", email="", password=""
    )

    assert response.status_code == 200
    user = response.json()["user"]
    assert (user["username"], user["email"], user["bio"], user["image"]) == (
        "jake",
        "jake@example.com",
        "I like to skateboard",
        None,
    )
    assert (await login(client, "jake@example.com")).status_code == 200
    assert (await client.get("/api/profiles/jake")).status_code == 200


@pytest.mark.parametrize(
    "blanks",
    [
        {"email": ""},
        {"username": ""},
        {"password": ""},
        {"email": "", "username": "", "password": ""},
    ],
    ids=["email", "username", "password", "all-three"],
)
async def test_an_update_of_nothing_but_blanks_is_refused(
    client: AsyncClient, blanks: dict[str, str]
) -> None:
    # no form sends only these: it asks to blank the field (RealWorld's suite wants a 422)
    token = await register(client, "jake")

    response = await update(client, token, **blanks)

    assert response.status_code == 422
    assert response.json() == {"errors": {field: ["can't be blank"] for field in blanks}}
    assert (await login(client, "jake@example.com")).status_code == 200


async def test_the_documentation_says_an_empty_string_is_not_sent(client: AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["UpdateUser"]

    for field in ("email", "username", "password"):
        documented = schema["properties"][field]
        assert "empty string" in documented["description"]
        assert {"type": "string", "const": ""} in documented["anyOf"]


async def test_a_refused_password_change_keeps_the_old_password(client: AsyncClient) -> None:
    token = await register(client, "jake")

    assert (await update(client, token, password="short7c")).status_code == 422

    assert (await login(client, "jake@example.com")).status_code == 200


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"username": "jane"}, "username"), ({"email": "JANE@example.com"}, "email")],
)
async def test_update_refuses_another_users_username_or_email(
    client: AsyncClient, fields: dict[str, Any], field: str
) -> None:
    token = await register(client, "jake")
    await register(client, "jane")

    response = await update(client, token, **fields)

    assert response.status_code == 409
    assert response.json() == {"errors": {field: ["has already been taken"]}}
    me = (await client.get("/api/user", headers=auth(token))).json()["user"]
    assert (me["username"], me["email"]) == ("jake", "jake@example.com")


async def test_update_with_your_own_email_and_username_is_fine(client: AsyncClient) -> None:
    token = await register(client, "jake")

    response = await update(client, token, email="jake@example.com", username="jake")

    assert response.status_code == 200
    assert response.json()["user"]["email"] == "jake@example.com"


async def test_update_username_and_email_together(client: AsyncClient) -> None:
    token = await register(client, "jake")
    await update(client, token, bio="kept")

    response = await update(client, token, username="jacob", email="jacob@example.com")

    assert response.status_code == 200
    user = response.json()["user"]
    assert (user["username"], user["email"], user["bio"], user["image"]) == (
        "jacob",
        "jacob@example.com",
        "kept",
        None,
    )
    me = await client.get("/api/user", headers=auth(user["token"]))
    assert me.json()["user"]["username"] == "jacob"
    # the token issued before the change still speaks for the same user
    me = await client.get("/api/user", headers=auth(token))
    assert me.json()["user"]["username"] == "jacob"
    assert (await client.get("/api/profiles/jake")).status_code == 404
    assert (await client.get("/api/profiles/jacob")).status_code == 200
    assert (await login(client, "jacob@example.com")).status_code == 200
    assert (await login(client, "jake@example.com")).status_code == 401


async def test_update_password_new_one_works_old_one_fails(client: AsyncClient) -> None:
    token = await register(client, "jake")

    response = await update(client, token, password="bonjour1")

    assert response.status_code == 200
    assert_no_secrets(response, "bonjour1", PASSWORD)
    assert (await login(client, "jake@example.com", "bonjour1")).status_code == 200
    old = await login(client, "jake@example.com", PASSWORD)
    assert old.status_code == 401
    assert old.json() == {"errors": {"credentials": ["invalid"]}}
    # tokens are not revoked by a password change
    assert (await client.get("/api/user", headers=auth(token))).status_code == 200


async def test_no_response_ever_contains_a_password_or_its_hash(client: AsyncClient) -> None:
    password, new_password = "first-secret-123", "second-secret-456"
    responses = [await client.post("/api/users", json=new_user("jake", password=password))]
    token = responses[0].json()["user"]["token"]
    responses += [
        await login(client, "jake@example.com", password),
        await client.get("/api/user", headers=auth(token)),
        await update(client, token, password=new_password, bio="hello"),
        await client.get("/api/profiles/jake"),
        await login(client, "jake@example.com", "wrong-password"),
        await client.post("/api/users", json=new_user("jake", password=password)),
    ]

    for response in responses:
        assert response.status_code < 500
        assert_no_secrets(response, password, new_password)
