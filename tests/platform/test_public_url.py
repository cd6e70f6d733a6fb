"""Links the server hands out (avatars, feed links) point where the client reached it: the
configured public URL, else the request's own scheme and host, which only a trusted proxy may
override with ``X-Forwarded-Proto`` / ``X-Forwarded-Host``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol

import pytest
from httpx import ASGITransport, AsyncClient

from agora.platform.provided import ProvidingApp
from tests.conftest import auth, register
from tests.identity.test_avatars import image_bytes
from tests.support.apps import platform_of
from tests.support.database import empty_tables

PROXY = "10.0.0.2"
STRANGER = "203.0.113.7"
# what a client behind the proxy asked for, as the proxy forwards it
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "blog.example"}


class ClientFrom(Protocol):
    def __call__(self, peer: str, **settings: Any) -> Awaitable[AsyncClient]: ...


@pytest.fixture
async def client_from(make_app: Callable[..., ProvidingApp]) -> AsyncIterator[ClientFrom]:
    """``await client_from(peer, **settings)``: a client connecting from the address ``peer``
    to ``http://agora.local:9000``, an app that trusts only PROXY and has no public URL set."""
    async with AsyncExitStack() as stack:

        async def build(peer: str, **settings: Any) -> AsyncClient:
            app = make_app(**{"public_url": None, "forwarded_allow_ips": PROXY, **settings})
            await empty_tables(platform_of(app).db)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = ASGITransport(app=app, client=(peer, 50000))
            return await stack.enter_async_context(
                AsyncClient(transport=transport, base_url="http://agora.local:9000")
            )

        yield build


async def avatar_url(client: AsyncClient, headers: dict[str, str] | None = None) -> str:
    token = await register(client, "jake")
    response = await client.post(
        "/api/user/image",
        files={"image": ("avatar.png", image_bytes(), "image/png")},
        headers={**auth(token), **(headers or {})},
    )
    assert response.status_code == 200
    url: str = response.json()["user"]["image"]
    return url


async def feed_text(client: AsyncClient, headers: dict[str, str] | None = None) -> str:
    response = await client.get("/api/feeds/articles.atom", headers=headers or {})
    assert response.status_code == 200
    return response.text


async def test_without_a_public_url_links_follow_the_request(client_from: ClientFrom) -> None:
    client = await client_from(STRANGER)

    assert (await avatar_url(client)).startswith("http://agora.local:9000/media/avatars/")
    assert 'href="http://agora.local:9000/api/feeds/articles.atom"' in await feed_text(client)


async def test_a_trusted_proxy_says_where_the_client_reached_us(client_from: ClientFrom) -> None:
    client = await client_from(PROXY)

    assert (await avatar_url(client, FORWARDED)).startswith("https://blog.example/media/avatars/")
    assert 'href="https://blog.example/api/feeds/articles.atom"' in await feed_text(
        client, FORWARDED
    )


async def test_forwarded_headers_from_anyone_else_are_ignored(client_from: ClientFrom) -> None:
    client = await client_from(STRANGER)

    assert (await avatar_url(client, FORWARDED)).startswith("http://agora.local:9000/media/")
    feed = await feed_text(client, FORWARDED)
    assert "blog.example" not in feed
    assert "https:" not in feed


async def test_a_malformed_forwarded_host_is_ignored(client_from: ClientFrom) -> None:
    client = await client_from(PROXY)

    url = await avatar_url(client, {"X-Forwarded-Host": "evil.example/@x"})

    assert url.startswith("http://agora.local:9000/media/avatars/")


async def test_a_configured_public_url_wins(client_from: ClientFrom) -> None:
    client = await client_from(PROXY, public_url="https://configured.example/")

    assert (await avatar_url(client, FORWARDED)).startswith(
        "https://configured.example/media/avatars/"
    )
