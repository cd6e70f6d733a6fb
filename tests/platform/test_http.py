"""What every HTTP response carries: security headers, CORS for allowed origins, a request id."""

from __future__ import annotations

import io
import uuid
from urllib.parse import urlsplit

import pytest
from httpx import AsyncClient
from PIL import Image

from tests.conftest import auth, register
from tests.support.apps import ClientFor

ALLOWED = "https://app.example"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tags"),
        ("GET", "/api/user"),  # 401
        ("GET", "/api/nope"),  # 404
        ("POST", "/api/users"),  # 422
        ("GET", "/healthz"),
    ],
)
async def test_security_headers_are_on_every_response(
    client: AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    # outside production there is no HSTS: local http must keep working
    assert "strict-transport-security" not in response.headers


async def test_production_adds_hsts(client_for: ClientFor) -> None:
    # production refuses the tests' cheap password hashing: OWASP's least cost instead
    client = await client_for(
        environment="production", password_memory_kib=19456, password_time_cost=2
    )

    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=")
    max_age = int(response.headers["strict-transport-security"].split("=")[1].split(";")[0])
    assert max_age >= 31_536_000


async def test_uploaded_files_are_served_with_the_same_headers(client: AsyncClient) -> None:
    token = await register(client, "jake")
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    png = buffer.getvalue()
    uploaded = await client.post(
        "/api/user/image", files={"image": ("a.png", png, "image/png")}, headers=auth(token)
    )
    assert uploaded.status_code == 200, uploaded.text
    path = urlsplit(uploaded.json()["user"]["image"]).path

    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_docs_pages_get_a_policy_that_lets_them_load(client: AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src" in response.headers["content-security-policy"]


async def test_cors_preflight_from_an_allowed_origin(client_for: ClientFor) -> None:
    client = await client_for(cors_origins=[ALLOWED])

    response = await client.options(
        "/api/user",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "PUT" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers


async def test_cors_preflight_from_another_origin_is_not_allowed(client_for: ClientFor) -> None:
    client = await client_for(cors_origins=[ALLOWED])

    response = await client.options(
        "/api/user",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"},
    )

    assert response.status_code >= 400
    assert "access-control-allow-origin" not in response.headers


async def test_cors_headers_on_an_actual_request(client_for: ClientFor) -> None:
    client = await client_for(cors_origins=[ALLOWED])

    allowed = await client.get("/api/tags", headers={"Origin": ALLOWED})
    other = await client.get("/api/tags", headers={"Origin": "https://evil.example"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    exposed = allowed.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed
    assert "retry-after" in exposed
    # the server still answers; the browser withholds the body from the other origin
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers


async def test_a_request_id_is_echoed(client: AsyncClient) -> None:
    request_id = uuid.uuid4().hex

    response = await client.get("/api/tags", headers={"X-Request-ID": request_id})

    assert response.headers["x-request-id"] == request_id


async def test_a_request_id_is_echoed_on_errors_too(client: AsyncClient) -> None:
    request_id = str(uuid.uuid4())

    response = await client.get("/api/user", headers={"X-Request-ID": request_id})

    assert response.status_code == 401
    assert response.headers["x-request-id"] == request_id


async def test_a_request_id_is_generated_when_missing(client: AsyncClient) -> None:
    first = await client.get("/api/tags")
    second = await client.get("/api/tags")

    assert first.headers["x-request-id"]
    assert second.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    "supplied",
    ["not-a-uuid", "x" * 300, "abc\u00e9"],
    ids=["not-a-uuid", "very-long", "non-ascii"],
)
async def test_a_bogus_request_id_is_replaced(client: AsyncClient, supplied: str) -> None:
    response = await client.get("/api/tags", headers=[(b"X-Request-ID", supplied.encode("utf-8"))])

    assert response.status_code == 200
    generated = response.headers["x-request-id"]
    assert generated != supplied
    assert uuid.UUID(generated)
