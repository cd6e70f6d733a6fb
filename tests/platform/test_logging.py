"""The access log: one JSON line per request, with who and what, and never a secret."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from httpx import ASGITransport, AsyncClient

from agora.platform.provided import ProvidingApp
from tests.conftest import auth
from tests.support.apps import ClientFor

PASSWORD = "hunter2-is-not-a-password"
NEW_PASSWORD = "correct-horse-battery-staple"


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every line written to stdout since the last call; each must be one JSON object."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert all(isinstance(record, dict) for record in records)
    return records


def access_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [record for record in log_lines(capsys) if record.get("event") == "request"]


async def sign_up(client: AsyncClient, username: str = "jake") -> str:
    response = await client.post(
        "/api/users",
        json={
            "user": {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        },
    )
    assert response.status_code == 201
    token: str = response.json()["user"]["token"]
    return token


async def test_one_json_line_per_request(
    client_for: ClientFor, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await client_for(access_log=True)
    log_lines(capsys)  # whatever starting the app printed
    request_id = uuid.uuid4().hex

    response = await client.get("/api/profiles/nobody", headers={"X-Request-ID": request_id})

    assert response.status_code == 404
    [line] = access_lines(capsys)
    assert line["request_id"] == request_id
    assert line["user_id"] is None
    assert line["method"] == "GET"
    assert line["route"] == "/api/profiles/{username}"
    assert line["path"] == "/api/profiles/nobody"
    assert line["status"] == 404
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")


async def test_the_line_names_the_signed_in_user(
    client_for: ClientFor, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await client_for(access_log=True)
    token = await sign_up(client)
    user_id = int(jwt.decode(token, options={"verify_signature": False})["sub"])
    log_lines(capsys)

    response = await client.get("/api/user", headers=auth(token))

    assert response.status_code == 200
    [line] = access_lines(capsys)
    assert line["user_id"] == user_id
    assert line["route"] == "/api/user"
    assert line["status"] == 200
    assert line["request_id"] == response.headers["x-request-id"]


async def test_each_request_gets_its_own_line_and_id(
    client_for: ClientFor, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await client_for(access_log=True)
    log_lines(capsys)

    responses = [
        await client.get("/api/tags"),
        await client.get("/nope"),
        await client.get("/healthz"),
    ]

    lines = access_lines(capsys)
    assert [line["status"] for line in lines] == [200, 404, 200]
    assert [line["request_id"] for line in lines] == [r.headers["x-request-id"] for r in responses]
    assert [line["route"] for line in lines] == ["/api/tags", "<unmatched>", "/healthz"]


async def test_no_access_lines_when_turned_off(
    client_for: ClientFor, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await client_for(access_log=False)
    log_lines(capsys)

    await client.get("/api/tags")

    assert access_lines(capsys) == []


async def test_passwords_and_tokens_never_reach_the_log(
    client_for: ClientFor, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await client_for(access_log=True, log_level="DEBUG")
    log_lines(capsys)

    token = await sign_up(client)
    login = await client.post(
        "/api/users/login", json={"user": {"email": "jake@example.com", "password": PASSWORD}}
    )
    second_token = login.json()["user"]["token"]
    await client.post(
        "/api/users/login",
        json={"user": {"email": "jake@example.com", "password": "wrong-" + PASSWORD}},
    )
    await client.put("/api/user", json={"user": {"password": NEW_PASSWORD}}, headers=auth(token))
    await client.put("/api/user", json={"user": {"password": "shortpw"}}, headers=auth(token))
    await client.get("/api/user", headers=auth(token + "tampered"))
    await client.post(
        "/api/articles",
        json={"article": {"title": "T", "description": "D", "body": "B"}},
        headers=auth(second_token),
    )

    output = capsys.readouterr()
    written = output.out + output.err
    assert written.count('"event": "request"') == 7
    for secret in (PASSWORD, NEW_PASSWORD, "shortpw", token, second_token, "$argon2"):
        assert secret not in written
    # nor any piece of a token long enough to be useful
    for part in token.split("."):
        assert part not in written


@pytest.mark.parametrize("attempt", [1, 2])  # twice: each test captures its own stdout
async def test_an_unexpected_error_is_a_json_500_and_logged(
    make_app: Callable[..., ProvidingApp], capsys: pytest.CaptureFixture[str], attempt: int
) -> None:
    app = make_app(access_log=True)

    async def broken() -> None:
        raise RuntimeError(f"a bug, attempt {attempt}")

    app.add_api_route("/api/broken", broken)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        log_lines(capsys)
        response = await client.get("/api/broken")

    assert response.status_code == 500
    assert response.json() == {"errors": {"body": ["internal error"]}}
    assert f"a bug, attempt {attempt}" not in response.text
    lines = log_lines(capsys)
    [error] = [line for line in lines if line.get("event") == "unhandled error"]
    assert error["level"] == "error"
    assert error["path"] == "/api/broken"
    assert f"RuntimeError: a bug, attempt {attempt}" in error["exception"]
    [access] = [line for line in lines if line.get("event") == "request"]
    assert access["status"] == 500
    assert access["route"] == "/api/broken"
